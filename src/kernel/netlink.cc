#include "kernel/netlink.h"

namespace weft::kernel {

std::optional<Route> lookup_route(const std::vector<Route>& routes, const IpAddr& dst) {
  const Route* best = nullptr;
  for (const Route& r : routes) {
    if (!contains(r.dst, dst)) {
      continue;
    }
    if (best == nullptr || prefix_len_of(r.dst) > prefix_len_of(best->dst) ||
        (prefix_len_of(r.dst) == prefix_len_of(best->dst) && r.metric < best->metric)) {
      best = &r;
    }
  }
  if (best == nullptr) {
    return std::nullopt;
  }
  return *best;
}

} // namespace weft::kernel
