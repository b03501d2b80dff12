#include "kernel/netlink.h"

namespace weft::kernel {

std::vector<int> Netlink::direct_links(const std::vector<IpAddr>& addrs) {
  const std::vector<std::optional<RouteAnswer>> answers = route_get(addrs);
  std::vector<int> out(addrs.size(), 0);
  for (std::size_t i = 0; i < out.size() && i < answers.size(); ++i) {
    if (answers[i] && !answers[i]->via) {
      out[i] = answers[i]->ifindex;
    }
  }
  return out;
}

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
