#pragma once
// Backoff: jittered exponential delays for retrying transient failures (etcd, cloud API, kernel).
// Full jitter in [base/2, base] around a doubling base, capped; reset() after a success.

#include <chrono>
#include <cstdint>
#include <random>

namespace weft::base {

class Backoff {
public:
  using Duration = std::chrono::milliseconds;

  Backoff(Duration initial, Duration max, std::uint64_t seed = std::random_device{}())
      : initial_(initial), max_(max), current_(initial), rng_(seed) {}

  // The delay before the next attempt; each call doubles the base up to max.
  Duration next();
  void reset() { current_ = initial_; }
  // Number of next() calls since the last reset.
  int attempts() const { return attempts_; }

private:
  Duration initial_;
  Duration max_;
  Duration current_;
  int attempts_ = 0;
  std::mt19937_64 rng_;
};

} // namespace weft::base
