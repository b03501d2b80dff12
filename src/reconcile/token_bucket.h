#pragma once
// TokenBucket: a rate limiter for targets whose API is throttled (cloud route tables). Tokens
// refill continuously at `rate` per second up to `burst`; time comes from a Clock.

#include <chrono>

#include "base/clock.h"

namespace weft::reconcile {

class TokenBucket {
public:
  // rate_per_second <= 0 means unlimited. burst is clamped to at least 1.
  TokenBucket(const base::Clock& clock, double rate_per_second, double burst);

  // Takes n tokens if available now; false (and takes nothing) otherwise.
  bool try_take(double n = 1.0);
  // How long until n tokens are available (zero if they are now).
  base::Clock::Duration time_until(double n = 1.0);
  double available();
  bool unlimited() const { return rate_ <= 0; }

private:
  void refill();

  const base::Clock& clock_;
  double rate_;
  double burst_;
  double tokens_;
  base::Clock::TimePoint last_;
};

} // namespace weft::reconcile
