#pragma once
// Netlink: the kernel's routing state as weft uses it, behind a small interface so backends and
// targets are unit-tested against a fake. NetlinkImpl (netlink_impl.h) is the libnl-route-3 one.
// Batch calls return one Status per element, in order; deleting something already gone is ok.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "kernel/types.h"

namespace weft::kernel {

class Netlink {
public:
  virtual ~Netlink() = default;

  // Unicast routes of a family (AF_INET, AF_INET6 or AF_UNSPEC for both) in `table`; with
  // `protocol`, only routes carrying it. One dump per call.
  virtual base::Result<std::vector<Route>> list_routes(int family, int table,
                                                       std::optional<int> protocol) = 0;
  // Create-or-replace (NLM_F_CREATE|NLM_F_REPLACE): a route with the same table, destination and
  // metric is replaced in place, whoever made it.
  virtual std::vector<base::Status> replace_routes(const std::vector<Route>& routes) = 0;
  // Deletes matching table, destination, metric, protocol and next hop.
  virtual std::vector<base::Status> delete_routes(const std::vector<Route>& routes) = 0;

  // A blackhole route to `dst` in the main table, as flanneld's --ip-blackhole-route adds it
  // (protocol boot, metric 0). Conflict when a route with that destination and metric exists
  // already: a blackhole added before, or, for IPv4, the connected route of the node's bridge.
  virtual base::Status add_blackhole(const IpNet& dst) = 0;

  // Permanent IPv4/IPv6 neighbours on a link.
  virtual base::Result<std::vector<Neighbour>> list_neighbours(int ifindex) = 0;
  virtual std::vector<base::Status> replace_neighbours(const std::vector<Neighbour>& n) = 0;
  virtual std::vector<base::Status> delete_neighbours(const std::vector<Neighbour>& n) = 0;

  // Permanent NTF_SELF bridge FDB entries with a remote dst on a (vxlan) link.
  virtual base::Result<std::vector<FdbEntry>> list_fdb(int ifindex) = 0;
  virtual std::vector<base::Status> replace_fdb(const std::vector<FdbEntry>& f) = 0;
  virtual std::vector<base::Status> delete_fdb(const std::vector<FdbEntry>& f) = 0;

  virtual base::Result<std::vector<LinkInfo>> list_links() = 0;
  virtual base::Result<LinkInfo> link_by_name(const std::string& name) = 0;
  virtual base::Result<LinkInfo> link_by_index(int ifindex) = 0;
  // Creates the vxlan device, or keeps an existing one whose VNI, local address, port, vtep
  // device and GBP match and that has no l2miss (recreating it otherwise, as flanneld); sets the
  // MTU and brings it up.
  virtual base::Result<LinkInfo> ensure_vxlan(const VxlanSpec& spec) = 0;
  virtual base::Status delete_link(int ifindex) = 0;
  virtual base::Status set_mtu(int ifindex, int mtu) = 0;
  virtual base::Status set_up(int ifindex) = 0;

  // The kernel's answer to `ip route get <addr>` for each address (policy rules included), or
  // nullopt where it has no unicast route to give (no route, a blackhole, a local address). One
  // RTM_GETROUTE each, pipelined.
  virtual std::vector<std::optional<RouteAnswer>> route_get(const std::vector<IpAddr>& addrs) = 0;

  // For each address, the interface the kernel sends it out of when that route has no next hop
  // (the address is on a network attached to this node: `ip route get` shows no "via"), else 0.
  // flanneld's DirectRouting test (ip.DirectRouting: RouteGet gives one route, no gateway).
  std::vector<int> direct_links(const std::vector<IpAddr>& addrs);

  // Addresses of every link (family AF_INET, AF_INET6 or AF_UNSPEC).
  virtual base::Result<std::vector<AddrInfo>> list_addresses(int family) = 0;
  virtual base::Status add_address(const AddrInfo& addr) = 0;
  virtual base::Status delete_address(const AddrInfo& addr) = 0;
};

// Makes the libnl implementation bound to the calling thread's network namespace.
base::Result<std::unique_ptr<Netlink>> make_netlink();

// The route (from a main-table listing, any protocol) that the kernel would pick for `dst` by
// longest prefix then lowest metric; policy rules are not consulted.
std::optional<Route> lookup_route(const std::vector<Route>& routes, const IpAddr& dst);

} // namespace weft::kernel
