#pragma once
// Per-action request rate limits as the real API enforces them (a token bucket of one second's
// worth of requests per action), answering RequestLimitExceeded when a bucket is empty.

#include <map>
#include <mutex>
#include <string>

#include "base/clock.h"

namespace weft::emulator {

class RateLimiter {
public:
  // default_per_second <= 0 turns limits off for actions without an override.
  RateLimiter(const base::Clock& clock, double default_per_second);

  void set_default(double per_second);
  void set_action_limit(const std::string& action, double per_second);
  // Takes one token of `action`'s bucket; false when the request is over the limit.
  bool admit(const std::string& action);

private:
  struct Bucket {
    double tokens = 0;
    base::Clock::TimePoint last{};
    bool started = false;
  };

  double limit_of(const std::string& action) const;

  const base::Clock& clock_;
  std::mutex mu_;
  double default_per_second_;
  std::map<std::string, double> overrides_;
  std::map<std::string, Bucket> buckets_;
};

} // namespace weft::emulator
