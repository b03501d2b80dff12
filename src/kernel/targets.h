#pragma once
// Reconcile targets over Netlink: routes (ours by protocol number), and the permanent
// neighbours and FDB entries on a vxlan device (ours because the device is ours).

#include <string>
#include <vector>

#include "kernel/netlink.h"
#include "reconcile/target.h"

namespace weft::kernel {

// Routes in one table carrying kWeftRouteProtocol. Creates and updates are NLM_F_REPLACE, so a
// route flanneld left for the same subnet (protocol boot, same destination and metric) is
// adopted: replaced in place and stamped with our protocol, never duplicated.
class RouteTarget final : public reconcile::Target<Route> {
public:
  RouteTarget(Netlink& netlink, int family, int table = kMainTable)
      : netlink_(netlink), family_(family), table_(table) {}
  // flanneld's routes (protocol boot, via a next hop, to a subnet strictly inside one of these
  // networks) are listed as well, so one that is not wanted exactly as it is (another metric,
  // another next hop) is deleted once ours is in. Routes of other protocols, boot routes outside
  // them, for a whole network or without a next hop (a blackhole) are never touched.
  void adopt_flannel_routes_within(std::vector<IpNet> networks) {
    adopt_within_ = std::move(networks);
  }
  std::string name() const override;
  base::Result<std::vector<Route>> list() override;
  std::vector<base::Status> apply(const std::vector<reconcile::Change<Route>>& batch) override;

private:
  Netlink& netlink_;
  int family_;
  int table_;
  std::vector<IpNet> adopt_within_;
};

class NeighTarget final : public reconcile::Target<Neighbour> {
public:
  NeighTarget(Netlink& netlink, int ifindex) : netlink_(netlink), ifindex_(ifindex) {}
  std::string name() const override;
  base::Result<std::vector<Neighbour>> list() override;
  std::vector<base::Status> apply(const std::vector<reconcile::Change<Neighbour>>& batch) override;

private:
  Netlink& netlink_;
  int ifindex_;
};

class FdbTarget final : public reconcile::Target<FdbEntry> {
public:
  FdbTarget(Netlink& netlink, int ifindex) : netlink_(netlink), ifindex_(ifindex) {}
  std::string name() const override;
  base::Result<std::vector<FdbEntry>> list() override;
  std::vector<base::Status> apply(const std::vector<reconcile::Change<FdbEntry>>& batch) override;

private:
  Netlink& netlink_;
  int ifindex_;
};

} // namespace weft::kernel
