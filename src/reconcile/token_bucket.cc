#include "reconcile/token_bucket.h"

#include <algorithm>
#include <cmath>

namespace weft::reconcile {

TokenBucket::TokenBucket(const base::Clock& clock, double rate_per_second, double burst)
    : clock_(clock), rate_(rate_per_second), burst_(std::max(1.0, burst)), tokens_(burst_),
      last_(clock.now()) {}

void TokenBucket::refill() {
  const auto now = clock_.now();
  if (now <= last_) {
    return;
  }
  const double secs = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min(burst_, tokens_ + secs * rate_);
  last_ = now;
}

bool TokenBucket::try_take(double n) {
  if (unlimited()) {
    return true;
  }
  refill();
  if (tokens_ + 1e-9 < n) {
    return false;
  }
  tokens_ -= n;
  return true;
}

base::Clock::Duration TokenBucket::time_until(double n) {
  if (unlimited()) {
    return base::Clock::Duration::zero();
  }
  refill();
  if (tokens_ + 1e-9 >= n) {
    return base::Clock::Duration::zero();
  }
  const double secs = (n - tokens_) / rate_;
  return std::chrono::duration_cast<base::Clock::Duration>(
      std::chrono::duration<double>(std::ceil(secs * 1e6) / 1e6));
}

double TokenBucket::available() {
  if (unlimited()) {
    return burst_;
  }
  refill();
  return tokens_;
}

} // namespace weft::reconcile
