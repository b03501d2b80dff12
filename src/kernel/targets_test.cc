#include "kernel/targets.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "base/clock.h"
#include "reconcile/reconciler.h"

namespace weft::kernel {
namespace {

Route route(const char* dst, const char* gw, int ifindex, int protocol = kWeftRouteProtocol) {
  Route r;
  r.dst = *parse_net(dst);
  r.gateway = *parse_ip(gw);
  r.ifindex = ifindex;
  r.protocol = protocol;
  return r;
}

// Routes kept the way the kernel keys them (table, dst, metric); replace overwrites in place.
class FakeNetlink : public Netlink {
public:
  base::Result<std::vector<Route>> list_routes(int family, int table,
                                               std::optional<int> protocol) override {
    ++dumps;
    std::vector<Route> out;
    for (const auto& [k, r] : routes) {
      if ((family == AF_UNSPEC || family_of(r.dst) == family) && r.table == table &&
          (!protocol || r.protocol == *protocol)) {
        out.push_back(r);
      }
    }
    return out;
  }
  std::vector<base::Status> replace_routes(const std::vector<Route>& rs) override {
    replace_calls.push_back(rs.size());
    for (const auto& r : rs) {
      routes[to_string(r.dst)] = r;
    }
    return std::vector<base::Status>(rs.size());
  }
  std::vector<base::Status> delete_routes(const std::vector<Route>& rs) override {
    std::vector<base::Status> out;
    for (const auto& r : rs) {
      auto it = routes.find(to_string(r.dst));
      if (it != routes.end() && it->second.protocol == r.protocol) {
        routes.erase(it);
      }
      out.emplace_back();
    }
    return out;
  }
  base::Result<std::vector<Neighbour>> list_neighbours(int) override { return neigh; }
  std::vector<base::Status> replace_neighbours(const std::vector<Neighbour>& n) override {
    neigh.insert(neigh.end(), n.begin(), n.end());
    return std::vector<base::Status>(n.size());
  }
  std::vector<base::Status> delete_neighbours(const std::vector<Neighbour>& n) override {
    return std::vector<base::Status>(n.size(), base::unavailable("injected"));
  }
  base::Result<std::vector<FdbEntry>> list_fdb(int) override { return std::vector<FdbEntry>{}; }
  std::vector<base::Status> replace_fdb(const std::vector<FdbEntry>& f) override {
    return std::vector<base::Status>(f.size());
  }
  std::vector<base::Status> delete_fdb(const std::vector<FdbEntry>& f) override {
    return std::vector<base::Status>(f.size());
  }
  base::Result<std::vector<LinkInfo>> list_links() override { return base::internal_error("x"); }
  base::Result<LinkInfo> link_by_name(const std::string&) override {
    return base::internal_error("x");
  }
  base::Result<LinkInfo> link_by_index(int) override { return base::internal_error("x"); }
  base::Result<LinkInfo> ensure_vxlan(const VxlanSpec&) override {
    return base::internal_error("x");
  }
  base::Status delete_link(int) override { return base::internal_error("x"); }
  base::Status set_mtu(int, int) override { return base::internal_error("x"); }
  base::Status set_up(int) override { return base::internal_error("x"); }
  base::Status add_blackhole(const IpNet&) override { return base::internal_error("x"); }
  std::vector<std::optional<RouteAnswer>> route_get(const std::vector<IpAddr>& addrs) override {
    return std::vector<std::optional<RouteAnswer>>(addrs.size());
  }
  base::Result<std::vector<AddrInfo>> list_addresses(int) override {
    return base::internal_error("x");
  }
  base::Status add_address(const AddrInfo&) override { return base::internal_error("x"); }
  base::Status delete_address(const AddrInfo&) override { return base::internal_error("x"); }

  std::map<std::string, Route> routes;
  std::vector<Neighbour> neigh;
  std::vector<std::size_t> replace_calls;
  int dumps = 0;
};

TEST(RouteTarget, ListsOnlyOurProtocol) {
  FakeNetlink nl;
  nl.routes["a"] = route("10.244.1.0/24", "192.168.0.2", 2);
  nl.routes["b"] = route("10.244.2.0/24", "192.168.0.3", 2, kFlannelRouteProtocol);
  nl.routes["c"] = route("10.9.0.0/16", "192.168.0.1", 2, 4);
  RouteTarget t(nl, AF_INET);
  auto listed = t.list();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(to_string((*listed)[0].dst), "10.244.1.0/24");
}

TEST(RouteTarget, ReconcilerAdoptsFlannelRouteAndLeavesOthersAlone) {
  FakeNetlink nl;
  // A route flanneld made for a lease, and an admin's static route.
  nl.routes["10.244.2.0/24"] = route("10.244.2.0/24", "192.168.0.3", 2, kFlannelRouteProtocol);
  nl.routes["10.9.0.0/16"] = route("10.9.0.0/16", "192.168.0.1", 2, 4);
  RouteTarget t(nl, AF_INET);
  base::ManualClock clock;
  reconcile::Reconciler<Route> r(t, clock);
  r.set_desired(
      {route("10.244.2.0/24", "192.168.0.3", 2), route("10.244.3.0/24", "192.168.0.4", 2)});
  auto report = r.sync_once();
  EXPECT_TRUE(report.converged());
  ASSERT_EQ(nl.routes.size(), 3u);
  EXPECT_EQ(nl.routes.at("10.244.2.0/24").protocol, kWeftRouteProtocol);
  EXPECT_EQ(nl.routes.at("10.9.0.0/16").protocol, 4);
  EXPECT_EQ(nl.replace_calls, (std::vector<std::size_t>{2})); // one batch for both
  // Leases gone: only ours are removed, the static route stays.
  r.set_desired({});
  EXPECT_TRUE(r.sync_once().converged());
  ASSERT_EQ(nl.routes.size(), 1u);
  EXPECT_EQ(nl.routes.begin()->first, "10.9.0.0/16");
}

TEST(RouteTarget, ConvergedResyncDumpsOnceAndWritesNothing) {
  FakeNetlink nl;
  RouteTarget t(nl, AF_INET);
  base::ManualClock clock;
  reconcile::Reconciler<Route> r(t, clock);
  std::vector<Route> want;
  for (int i = 0; i < 1000; ++i) {
    want.push_back(
        route(fmt::format("10.{}.{}.0/24", 100 + i / 256, i % 256).c_str(), "192.168.0.2", 2));
  }
  r.set_desired(want);
  r.sync_once();
  const auto replaces = nl.replace_calls.size();
  const int dumps = nl.dumps;
  EXPECT_TRUE(r.sync_once().converged());
  EXPECT_EQ(nl.dumps, dumps + 1);
  EXPECT_EQ(nl.replace_calls.size(), replaces);
}

TEST(NeighTarget, ResultsComeBackInBatchOrder) {
  FakeNetlink nl;
  NeighTarget t(nl, 5);
  Neighbour a{5, *parse_ip("10.244.1.0"), *net::MacAddr::parse("0e:00:00:00:00:01")};
  Neighbour b{5, *parse_ip("10.244.2.0"), *net::MacAddr::parse("0e:00:00:00:00:02")};
  std::vector<reconcile::Change<Neighbour>> batch{{reconcile::Op::kCreate, a, std::nullopt},
                                                  {reconcile::Op::kDelete, b, std::nullopt},
                                                  {reconcile::Op::kCreate, b, std::nullopt}};
  auto results = t.apply(batch);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(results[0].ok());
  EXPECT_FALSE(results[1].ok());
  EXPECT_TRUE(results[2].ok());
}

TEST(LookupRoute, LongestPrefixThenLowestMetric) {
  std::vector<Route> routes{route("0.0.0.0/0", "192.168.0.1", 2),
                            route("10.0.0.0/8", "10.1.1.1", 3),
                            route("10.2.0.0/16", "10.1.1.2", 4)};
  routes.push_back(route("10.2.0.0/16", "10.1.1.3", 5));
  routes.back().metric = 0;
  routes[2].metric = 100;
  auto hit = lookup_route(routes, *parse_ip("10.2.3.4"));
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->ifindex, 5);
  EXPECT_EQ(lookup_route(routes, *parse_ip("10.3.0.1"))->ifindex, 3);
  EXPECT_EQ(lookup_route(routes, *parse_ip("8.8.8.8"))->ifindex, 2);
  EXPECT_FALSE(lookup_route(routes, *parse_ip("fd00::1")).has_value());
}

TEST(SpreadMetric, OnePlusTheSubnetNumberInSixteenBits) {
  EXPECT_EQ(spread_metric(*net::Ip4Net::parse("10.244.2.0/24")), 1 + 0xf402);
  EXPECT_EQ(spread_metric(*net::Ip4Net::parse("10.244.2.0/26")), 1 + ((0x0af40200 >> 6) & 0xffff));
  EXPECT_EQ(spread_metric(*net::Ip4Net::parse("0.0.0.0/0")), 1);
  EXPECT_EQ(spread_metric(*net::Ip4Net::parse("10.0.0.1/32")), 1 + 0x0001);
  // Neighbouring subnets never share a metric (the point of it).
  EXPECT_NE(spread_metric(*net::Ip4Net::parse("10.244.2.0/24")),
            spread_metric(*net::Ip4Net::parse("10.244.3.0/24")));
}

TEST(RouteTarget, ListsFlannelRoutesOnlyInsideAdoptedNetworks) {
  FakeNetlink nl;
  nl.routes["a"] = route("10.244.1.0/24", "192.168.0.2", 2);
  nl.routes["b"] = route("10.244.2.0/24", "192.168.0.3", 2, kFlannelRouteProtocol);
  nl.routes["c"] = route("10.9.0.0/16", "192.168.0.1", 2, kFlannelRouteProtocol);   // outside
  nl.routes["d"] = route("10.244.5.0/24", "192.168.0.1", 2, 4);                     // static
  nl.routes["e"] = route("10.0.0.0/8", "192.168.0.1", 2, kFlannelRouteProtocol);    // wider
  nl.routes["f"] = route("10.244.0.0/16", "192.168.0.1", 2, kFlannelRouteProtocol); // whole net
  Route blackhole = route("10.244.7.0/24", "192.168.0.1", 2, kFlannelRouteProtocol);
  blackhole.gateway.reset();
  nl.routes["g"] = blackhole;
  RouteTarget t(nl, AF_INET);
  t.adopt_flannel_routes_within({*parse_net("10.244.0.0/16")});
  auto listed = t.list();
  ASSERT_TRUE(listed.ok());
  std::vector<std::string> got;
  for (const auto& r : *listed) {
    got.push_back(to_string(r.dst));
  }
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"10.244.1.0/24", "10.244.2.0/24"}));
}

TEST(RouteTarget, AdoptedFlannelRouteWithTheSameKeyIsStampedOurs) {
  // An IPv6 route keeps metric 0 in both: flanneld's route is replaced in place, not duplicated.
  FakeNetlink nl;
  nl.routes["fd00:244:0:2::/64"] =
      route("fd00:244:0:2::/64", "fd00:250::12", 2, kFlannelRouteProtocol);
  RouteTarget t(nl, AF_INET6);
  t.adopt_flannel_routes_within({*parse_net("fd00:244::/48")});
  base::ManualClock clock;
  reconcile::Reconciler<Route> r(t, clock);
  r.set_desired({route("fd00:244:0:2::/64", "fd00:250::12", 2)});
  auto report = r.sync_once();
  EXPECT_TRUE(report.converged());
  EXPECT_EQ(report.applied, 1u);
  ASSERT_EQ(nl.routes.size(), 1u);
  EXPECT_EQ(nl.routes.begin()->second.protocol, kWeftRouteProtocol);
  r.trigger();
  EXPECT_EQ(r.sync_once().applied, 0u);
}

} // namespace
} // namespace weft::kernel
