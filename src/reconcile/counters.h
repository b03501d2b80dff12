#pragma once
// Counters a reconciler keeps for its target, read by the metrics endpoint as a snapshot.

#include <cstdint>
#include <optional>

#include "base/clock.h"

namespace weft::reconcile {

struct Counters {
  std::uint64_t created = 0;
  std::uint64_t updated = 0;
  std::uint64_t deleted = 0;
  std::uint64_t failed = 0; // changes the target rejected
  std::uint64_t list_failures = 0;
  std::uint64_t syncs = 0; // sync passes run
  std::uint64_t converged_syncs = 0;
  std::uint64_t rate_limited = 0; // passes cut short by the token bucket
  std::size_t pending = 0;        // changes still needed after the last pass
  std::optional<base::Clock::TimePoint> last_success;
  std::optional<base::Clock::WallTime> last_success_wall;
};

} // namespace weft::reconcile
