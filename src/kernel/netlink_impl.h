#pragma once
// NetlinkImpl: the Netlink interface over libnl-route-3, one NETLINK_ROUTE socket per instance.
// Batches are pipelined (many requests in flight, acks matched by sequence number), so 5000
// routes cost one round of sends and reads, not 5000 round trips. libnl stays inside the .cc.

#include <memory>
#include <mutex>

#include "kernel/netlink.h"

namespace weft::kernel {

class NetlinkImpl final : public Netlink {
public:
  // Opens and connects the socket in the calling thread's network namespace.
  static base::Result<std::unique_ptr<NetlinkImpl>> open();
  ~NetlinkImpl() override;

  base::Result<std::vector<Route>> list_routes(int family, int table,
                                               std::optional<int> protocol) override;
  std::vector<base::Status> replace_routes(const std::vector<Route>& routes) override;
  std::vector<base::Status> delete_routes(const std::vector<Route>& routes) override;
  base::Status add_blackhole(const IpNet& dst) override;
  base::Result<std::vector<Neighbour>> list_neighbours(int ifindex) override;
  std::vector<base::Status> replace_neighbours(const std::vector<Neighbour>& n) override;
  std::vector<base::Status> delete_neighbours(const std::vector<Neighbour>& n) override;
  base::Result<std::vector<FdbEntry>> list_fdb(int ifindex) override;
  std::vector<base::Status> replace_fdb(const std::vector<FdbEntry>& f) override;
  std::vector<base::Status> delete_fdb(const std::vector<FdbEntry>& f) override;
  base::Result<std::vector<LinkInfo>> list_links() override;
  base::Result<LinkInfo> link_by_name(const std::string& name) override;
  base::Result<LinkInfo> link_by_index(int ifindex) override;
  base::Result<LinkInfo> ensure_vxlan(const VxlanSpec& spec) override;
  base::Status delete_link(int ifindex) override;
  base::Status set_mtu(int ifindex, int mtu) override;
  base::Status set_up(int ifindex) override;
  std::vector<std::optional<RouteAnswer>> route_get(const std::vector<IpAddr>& addrs) override;
  base::Result<std::vector<AddrInfo>> list_addresses(int family) override;
  base::Status add_address(const AddrInfo& addr) override;
  base::Status delete_address(const AddrInfo& addr) override;

  struct State; // libnl objects, defined in the .cc

private:
  NetlinkImpl(std::unique_ptr<State> state, std::unique_ptr<State> lookups);
  base::Result<LinkInfo> link_locked(int ifindex, const char* name);

  std::mutex mu_;
  std::unique_ptr<State> state_;
  // route_get's own socket: a lookup (vxlan DirectRouting, on a lease event) does not wait
  // behind a batch of thousands of routes on the main one.
  std::mutex lookup_mu_;
  std::unique_ptr<State> lookups_;
};

} // namespace weft::kernel
