#include "rate_limiter.h"

#include <algorithm>

namespace weft::emulator {

RateLimiter::RateLimiter(const base::Clock& clock, double default_per_second)
    : clock_(clock), default_per_second_(default_per_second) {}

void RateLimiter::set_default(double per_second) {
  std::lock_guard lock(mu_);
  default_per_second_ = per_second;
}

void RateLimiter::set_action_limit(const std::string& action, double per_second) {
  std::lock_guard lock(mu_);
  overrides_[action] = per_second;
}

double RateLimiter::limit_of(const std::string& action) const {
  auto it = overrides_.find(action);
  return it == overrides_.end() ? default_per_second_ : it->second;
}

bool RateLimiter::admit(const std::string& action) {
  std::lock_guard lock(mu_);
  double limit = limit_of(action);
  if (limit <= 0) {
    return true;
  }
  Bucket& b = buckets_[action];
  auto now = clock_.now();
  if (!b.started) {
    b = Bucket{limit, now, true};
  }
  double elapsed = std::chrono::duration<double>(now - b.last).count();
  b.tokens = std::min(limit, b.tokens + elapsed * limit);
  b.last = now;
  if (b.tokens < 1.0) {
    return false;
  }
  b.tokens -= 1.0;
  return true;
}

} // namespace weft::emulator
