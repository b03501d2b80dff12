#pragma once
// Clock: where weft reads time. Code that schedules (renewals, resyncs, backoff, token buckets)
// takes a Clock& so tests drive it with ManualClock instead of sleeping.

#include <chrono>
#include <mutex>

namespace weft::base {

class Clock {
public:
  using Duration = std::chrono::steady_clock::duration;
  using TimePoint = std::chrono::steady_clock::time_point;
  using WallTime = std::chrono::system_clock::time_point;

  virtual ~Clock() = default;
  // Monotonic time, for deadlines and intervals.
  virtual TimePoint now() const = 0;
  // Wall-clock time, for expirations written to the store and for request timestamps.
  virtual WallTime wall_now() const = 0;
};

class SystemClock final : public Clock {
public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
  WallTime wall_now() const override { return std::chrono::system_clock::now(); }
};

// The process-wide real clock.
Clock& system_clock();

// A clock that moves only when told to. Thread-safe.
class ManualClock final : public Clock {
public:
  explicit ManualClock(WallTime wall_start = WallTime{std::chrono::hours(24 * 365 * 50)})
      : wall_start_(wall_start) {}

  TimePoint now() const override {
    std::lock_guard lock(mu_);
    return TimePoint{} + elapsed_;
  }
  WallTime wall_now() const override {
    std::lock_guard lock(mu_);
    return wall_start_ + std::chrono::duration_cast<WallTime::duration>(elapsed_);
  }
  void advance(Duration d) {
    std::lock_guard lock(mu_);
    elapsed_ += d;
  }

private:
  mutable std::mutex mu_;
  WallTime wall_start_;
  Duration elapsed_{};
};

} // namespace weft::base
