#include "base/backoff.h"

#include <algorithm>

namespace weft::base {

Backoff::Duration Backoff::next() {
  Duration base = current_;
  current_ = std::min(max_, current_ * 2);
  ++attempts_;
  const auto lo = base.count() / 2;
  std::uniform_int_distribution<std::int64_t> dist(lo, std::max<std::int64_t>(lo, base.count()));
  return Duration{dist(rng_)};
}

} // namespace weft::base
