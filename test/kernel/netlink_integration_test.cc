// NetlinkImpl and the kernel reconcile targets against a real kernel, inside network namespaces
// made by the test (two namespaces joined by a veth pair). Needs root; touches nothing outside.

#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include <fmt/format.h>

#include "base/clock.h"
#include "kernel/ext_iface.h"
#include "kernel/netlink_impl.h"
#include "kernel/targets.h"
#include "reconcile/reconciler.h"
#include "test/support/netns.h"

namespace weft::kernel {
namespace {

using test::Netns;

bool contains_text(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

int count_lines_with(const std::string& text, const std::string& needle) {
  int n = 0;
  std::size_t pos = 0;
  while ((pos = text.find(needle, pos)) != std::string::npos) {
    ++n;
    pos += needle.size();
  }
  return n;
}

class NetlinkTest : public ::testing::Test {
protected:
  void SetUp() override {
    if (::geteuid() != 0) {
      GTEST_SKIP() << "needs root (network namespaces)";
    }
    auto a = Netns::create();
    ASSERT_TRUE(a.ok()) << a.status().to_string();
    ns_ = std::move(a).value();
    auto b = Netns::create();
    ASSERT_TRUE(b.ok()) << b.status().to_string();
    peer_ = std::move(b).value();
    ASSERT_TRUE(test::make_veth_pair(*ns_, "veth0", *peer_, "veth1").ok());
    ASSERT_EQ(ns_->sh("ip addr add 192.168.77.1/24 dev veth0 && ip link set veth0 up").exit_code,
              0);
    ASSERT_EQ(peer_->sh("ip addr add 192.168.77.2/24 dev veth1 && ip link set veth1 up").exit_code,
              0);
    base::Status opened = ns_->run([this] {
      auto nl = NetlinkImpl::open();
      if (nl.ok()) {
        nl_ = std::move(nl).value();
      }
    });
    ASSERT_TRUE(opened.ok()) << opened.to_string();
    ASSERT_NE(nl_, nullptr);
    // Guard: the socket must see the test namespace (only lo and veth0), never the root one.
    auto links = nl_->list_links();
    ASSERT_TRUE(links.ok());
    ASSERT_EQ(links->size(), 2u);
    for (const auto& l : *links) {
      ASSERT_TRUE(l.name == "lo" || l.name == "veth0") << l.name;
    }
    auto veth = nl_->link_by_name("veth0");
    ASSERT_TRUE(veth.ok());
    veth_ = veth->index;
  }

  // flannel.1 on veth0, as the vxlan backend asks for it.
  VxlanSpec flannel1() const {
    VxlanSpec spec;
    spec.name = "flannel.1";
    spec.vni = 1;
    spec.local = *parse_ip("192.168.77.1");
    spec.underlay_ifindex = veth_;
    spec.mtu = 1450;
    return spec;
  }

  Route route(const std::string& dst, const std::string& gw) const {
    Route r;
    r.dst = *parse_net(dst);
    r.gateway = *parse_ip(gw);
    r.ifindex = veth_;
    return r;
  }

  std::unique_ptr<Netns> ns_;
  std::unique_ptr<Netns> peer_;
  std::unique_ptr<NetlinkImpl> nl_;
  int veth_ = 0;
};

TEST_F(NetlinkTest, RoutesConvergeAdoptFlannelRoutesAndSpareOthers) {
  // What flanneld would have left (protocol boot), and an admin's static route.
  ASSERT_EQ(ns_->sh("ip route add 10.244.9.0/24 via 192.168.77.2 dev veth0 proto boot").exit_code,
            0);
  ASSERT_EQ(ns_->sh("ip route add 10.50.0.0/16 via 192.168.77.2 dev veth0 proto static").exit_code,
            0);
  RouteTarget target(*nl_, AF_INET);
  base::ManualClock clock;
  reconcile::Reconciler<Route> r(target, clock);
  r.set_desired({route("10.244.1.0/24", "192.168.77.2"), route("10.244.2.0/24", "192.168.77.2"),
                 route("10.244.9.0/24", "192.168.77.2")});
  auto report = r.sync_once();
  EXPECT_TRUE(report.converged()) << report.failed;

  auto shown = ns_->exec({"ip", "route", "show"}).out;
  EXPECT_TRUE(contains_text(shown, "10.244.1.0/24 via 192.168.77.2 dev veth0 proto 247")) << shown;
  EXPECT_TRUE(contains_text(shown, "10.244.2.0/24 via 192.168.77.2 dev veth0 proto 247")) << shown;
  // Adopted: one route for 10.244.9.0/24, now ours.
  EXPECT_EQ(count_lines_with(shown, "10.244.9.0/24"), 1) << shown;
  EXPECT_TRUE(contains_text(shown, "10.244.9.0/24 via 192.168.77.2 dev veth0 proto 247")) << shown;

  // A route deleted by hand comes back on the next pass.
  ASSERT_EQ(ns_->sh("ip route del 10.244.1.0/24").exit_code, 0);
  r.trigger();
  EXPECT_EQ(r.sync_once().applied, 1u);
  EXPECT_TRUE(contains_text(ns_->exec({"ip", "route", "show"}).out, "10.244.1.0/24 via"));

  // A changed next hop is replaced in place.
  r.set_desired({route("10.244.1.0/24", "192.168.77.3"), route("10.244.9.0/24", "192.168.77.2")});
  report = r.sync_once();
  EXPECT_TRUE(report.converged());
  shown = ns_->exec({"ip", "route", "show"}).out;
  EXPECT_TRUE(contains_text(shown, "10.244.1.0/24 via 192.168.77.3 dev veth0 proto 247")) << shown;
  EXPECT_FALSE(contains_text(shown, "10.244.2.0/24")) << shown;
  EXPECT_TRUE(contains_text(shown, "10.50.0.0/16 via 192.168.77.2 dev veth0 proto static"))
      << shown;

  r.set_desired({});
  EXPECT_TRUE(r.sync_once().converged());
  shown = ns_->exec({"ip", "route", "show", "proto", "247"}).out;
  EXPECT_EQ(shown, "");
  EXPECT_TRUE(contains_text(ns_->exec({"ip", "route", "show"}).out, "10.50.0.0/16"));
  EXPECT_EQ(r.counters().deleted, 3u);
}

TEST_F(NetlinkTest, FlannelRoutesAreReplacedByOursWithSpreadMetric) {
  // flanneld's routes (metric 0, protocol boot) for two leases, a boot route outside the cluster
  // network and an admin's static route inside it.
  ASSERT_EQ(ns_->sh("ip route add 10.244.9.0/24 via 192.168.77.2 dev veth0 proto boot").exit_code,
            0);
  ASSERT_EQ(ns_->sh("ip route add 10.244.8.0/24 via 192.168.77.3 dev veth0 proto boot").exit_code,
            0);
  ASSERT_EQ(ns_->sh("ip route add 10.60.0.0/24 via 192.168.77.2 dev veth0 proto boot").exit_code,
            0);
  ASSERT_EQ(
      ns_->sh("ip route add 10.244.50.0/24 via 192.168.77.2 dev veth0 proto static").exit_code, 0);
  // An admin's blackhole inside the cluster network (proto boot by default): not flanneld's.
  ASSERT_EQ(ns_->sh("ip route add blackhole 10.244.77.0/24").exit_code, 0);
  RouteTarget target(*nl_, AF_INET);
  target.adopt_flannel_routes_within({*parse_net("10.244.0.0/16")});
  base::ManualClock clock;
  reconcile::Reconciler<Route> r(target, clock);
  auto spread = [&](const std::string& dst, const std::string& gw) {
    Route x = route(dst, gw);
    x.metric = spread_metric(*net::Ip4Net::parse(dst));
    return x;
  };
  // 10.244.8.0/24's lease is gone: flanneld's route for it goes too.
  r.set_desired({spread("10.244.9.0/24", "192.168.77.2"), spread("10.244.1.0/24", "192.168.77.2")});
  auto report = r.sync_once();
  EXPECT_TRUE(report.converged()) << report.failed;
  const auto shown = ns_->exec({"ip", "route", "show"}).out;
  EXPECT_EQ(count_lines_with(shown, "10.244.9.0/24"), 1) << shown;
  EXPECT_TRUE(contains_text(shown, fmt::format("10.244.9.0/24 via 192.168.77.2 dev veth0 proto 247 "
                                               "metric {}",
                                               1 + 0xf409)))
      << shown;
  EXPECT_TRUE(contains_text(shown, "10.244.1.0/24 via 192.168.77.2 dev veth0 proto 247 metric"))
      << shown;
  EXPECT_FALSE(contains_text(shown, "10.244.8.0/24")) << shown;
  // (ip route show prints no "proto boot": it is the default.)
  EXPECT_EQ(count_lines_with(shown, "10.60.0.0/24 via 192.168.77.2 dev veth0"), 1) << shown;
  EXPECT_TRUE(contains_text(shown, "10.244.50.0/24 via 192.168.77.2 dev veth0 proto static"))
      << shown;
  EXPECT_TRUE(contains_text(shown, "blackhole 10.244.77.0/24")) << shown;
  // A second pass finds nothing to do.
  r.trigger();
  EXPECT_EQ(r.sync_once().applied, 0u);
}

TEST_F(NetlinkTest, FiveThousandRoutesInOneSync) {
  std::vector<Route> want;
  for (int i = 0; i < 5000; ++i) {
    want.push_back(route(fmt::format("10.{}.{}.0/24", 100 + i / 256, i % 256), "192.168.77.2"));
  }
  RouteTarget target(*nl_, AF_INET);
  reconcile::ReconcilerOptions options;
  options.batch_size = 5000;
  reconcile::Reconciler<Route> r(target, base::system_clock(), options);
  r.set_desired(want);
  const auto t0 = std::chrono::steady_clock::now();
  auto report = r.sync_once();
  const auto t1 = std::chrono::steady_clock::now();
  EXPECT_TRUE(report.converged()) << report.failed;
  auto listed = nl_->list_routes(AF_INET, kMainTable, kWeftRouteProtocol);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 5000u);
  const auto t2 = std::chrono::steady_clock::now();
  auto again = r.sync_once();
  const auto t3 = std::chrono::steady_clock::now();
  EXPECT_EQ(again.changes, 0u);
  // One lease changes: one pass (a dump of 5000 routes and one replace).
  want[17] = route("10.100.17.0/24", "192.168.77.3");
  r.set_desired(want);
  const auto t4 = std::chrono::steady_clock::now();
  auto one = r.sync_once();
  const auto t5 = std::chrono::steady_clock::now();
  EXPECT_EQ(one.applied, 1u);
  EXPECT_TRUE(one.converged());
  auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
  std::printf("5000 routes: one changed route %.1f ms\n", ms(t5 - t4));
  std::printf("5000 routes: first sync %.1f ms, converged resync %.1f ms\n", ms(t1 - t0),
              ms(t3 - t2));
}

TEST_F(NetlinkTest, FailuresNameTheDeviceAndAnOffLinkNextHopSaysWhy) {
  // A host-gw route via a node that is not on veth0's network (192.168.77.0/24): the kernel
  // refuses it, and the error names the device (seen from the socket's namespace, not the
  // test's) and the reason.
  auto st = nl_->replace_routes({route("10.244.5.0/24", "10.251.0.9")});
  ASSERT_EQ(st.size(), 1u);
  ASSERT_FALSE(st[0].ok());
  const std::string msg = st[0].message();
  EXPECT_TRUE(contains_text(msg, "replacing route 10.244.5.0/24 via 10.251.0.9 dev veth0")) << msg;
  EXPECT_TRUE(contains_text(msg, "Network is unreachable")) << msg;
  EXPECT_TRUE(contains_text(msg, "(10.251.0.9 is not on a network of veth0: host-gw needs every "
                                 "node on one L2 segment"))
      << msg;
  // Through the reconciler, as weftd logs it.
  RouteTarget target(*nl_, AF_INET);
  base::ManualClock clock;
  reconcile::Reconciler<Route> r(target, clock);
  r.set_desired({route("10.244.5.0/24", "10.251.0.9"), route("10.244.6.0/24", "192.168.77.2")});
  auto report = r.sync_once();
  EXPECT_EQ(report.applied, 1u);
  ASSERT_EQ(report.failed, 1u);
  EXPECT_TRUE(contains_text(ns_->exec({"ip", "route", "show"}).out,
                            "10.244.6.0/24 via 192.168.77.2 dev veth0 proto 247"));
  EXPECT_FALSE(contains_text(ns_->exec({"ip", "route", "show"}).out, "10.244.5.0/24"));

  // Another error says no more than the kernel did; a device that does not exist is named by
  // its index.
  auto gone = nl_->replace_neighbours(
      {Neighbour{9999, *parse_ip("10.244.2.0"), *net::MacAddr::parse("0e:00:00:00:00:02")}});
  ASSERT_EQ(gone.size(), 1u);
  ASSERT_FALSE(gone[0].ok());
  EXPECT_TRUE(contains_text(gone[0].message(),
                            "replacing neighbour 10.244.2.0 lladdr 0e:00:00:00:00:02 dev #9999: "))
      << gone[0].message();
  EXPECT_FALSE(contains_text(gone[0].message(), "L2 segment")) << gone[0].message();
}

TEST_F(NetlinkTest, VxlanDeviceNeighboursAndFdb) {
  VxlanSpec spec = flannel1();
  auto link = nl_->ensure_vxlan(spec);
  ASSERT_TRUE(link.ok()) << link.status().to_string();
  EXPECT_EQ(link->name, "flannel.1");
  EXPECT_EQ(link->kind, "vxlan");
  EXPECT_EQ(link->mtu, 1450);
  EXPECT_TRUE(link->up);
  auto details = ns_->exec({"ip", "-d", "link", "show", "flannel.1"}).out;
  EXPECT_TRUE(contains_text(details, "vxlan id 1 local 192.168.77.1 dev veth0")) << details;
  EXPECT_TRUE(contains_text(details, "dstport 8472")) << details;
  EXPECT_TRUE(contains_text(details, "nolearning")) << details;
  // As flanneld: no IPv6 router advertisements on the device (a new device takes them by
  // default). Set in the socket's namespace, though this thread is in the root one.
  const std::string accept_ra = "/proc/sys/net/ipv6/conf/flannel.1/accept_ra";
  if (ns_->exec({"test", "-e", "/proc/sys/net/ipv6"}).exit_code == 0) {
    EXPECT_EQ(ns_->exec({"cat", "/proc/sys/net/ipv6/conf/default/accept_ra"}).out, "1\n");
    EXPECT_EQ(ns_->exec({"cat", accept_ra}).out, "0\n");
    // An admin's change is undone when weftd ensures the device again (every start).
    ASSERT_EQ(ns_->sh("echo 1 > " + accept_ra).exit_code, 0);
    ASSERT_TRUE(nl_->ensure_vxlan(spec).ok());
    EXPECT_EQ(ns_->exec({"cat", accept_ra}).out, "0\n");
  }

  // Same spec: kept (same index). Another VNI: recreated.
  auto again = nl_->ensure_vxlan(spec);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->index, link->index);
  EXPECT_EQ(again->mac, link->mac);
  // GBP, as flanneld's "GBP": set at creation; the kernel cannot change it, so a device whose
  // setting differs is recreated, and one that matches is kept.
  EXPECT_FALSE(contains_text(details, " gbp")) << details;
  spec.gbp = true;
  auto gbp = nl_->ensure_vxlan(spec);
  ASSERT_TRUE(gbp.ok()) << gbp.status().to_string();
  EXPECT_NE(gbp->index, link->index);
  details = ns_->exec({"ip", "-d", "link", "show", "flannel.1"}).out;
  EXPECT_TRUE(contains_text(details, " gbp")) << details;
  auto gbp_again = nl_->ensure_vxlan(spec);
  ASSERT_TRUE(gbp_again.ok());
  EXPECT_EQ(gbp_again->index, gbp->index);
  spec.gbp = false;
  spec.vni = 2;
  auto changed = nl_->ensure_vxlan(spec);
  ASSERT_TRUE(changed.ok());
  details = ns_->exec({"ip", "-d", "link", "show", "flannel.1"}).out;
  EXPECT_TRUE(contains_text(details, "vxlan id 2")) << details;
  EXPECT_FALSE(contains_text(details, " gbp")) << details;
  const int dev = changed->index;

  ASSERT_TRUE(nl_->add_address(AddrInfo{dev, *parse_net("10.244.1.0/32"), 0}).ok());
  auto addrs = nl_->list_addresses(AF_INET);
  ASSERT_TRUE(addrs.ok());
  bool found = false;
  for (const auto& a : *addrs) {
    found = found || (a.ifindex == dev && to_string(a.local) == "10.244.1.0/32");
  }
  EXPECT_TRUE(found);

  const auto mac = *net::MacAddr::parse("0e:00:00:00:00:02");
  NeighTarget neigh_target(*nl_, dev);
  FdbTarget fdb_target(*nl_, dev);
  base::ManualClock clock;
  reconcile::Reconciler<Neighbour> neigh(neigh_target, clock);
  reconcile::Reconciler<FdbEntry> fdb(fdb_target, clock);
  neigh.set_desired({Neighbour{dev, *parse_ip("10.244.2.0"), mac}});
  fdb.set_desired({FdbEntry{dev, mac, *parse_ip("192.168.77.2")}});
  EXPECT_TRUE(neigh.sync_once().converged());
  EXPECT_TRUE(fdb.sync_once().converged());
  auto neighs = ns_->exec({"ip", "neigh", "show", "dev", "flannel.1"}).out;
  EXPECT_TRUE(contains_text(neighs, "10.244.2.0 lladdr 0e:00:00:00:00:02 PERMANENT")) << neighs;
  auto fdbs = ns_->exec({"bridge", "fdb", "show", "dev", "flannel.1"}).out;
  EXPECT_TRUE(contains_text(fdbs, "0e:00:00:00:00:02 dst 192.168.77.2 self permanent")) << fdbs;
  // Converged passes list the same entries back and change nothing.
  EXPECT_EQ(neigh.sync_once().changes, 0u);
  EXPECT_EQ(fdb.sync_once().changes, 0u);

  // A vxlan route through the device, onlink, as flannel programs it.
  Route via;
  via.dst = *parse_net("10.244.2.0/24");
  via.gateway = *parse_ip("10.244.2.0");
  via.ifindex = dev;
  via.onlink = true;
  RouteTarget routes(*nl_, AF_INET);
  reconcile::Reconciler<Route> rr(routes, clock);
  rr.set_desired({via});
  EXPECT_TRUE(rr.sync_once().converged());
  EXPECT_TRUE(contains_text(ns_->exec({"ip", "route", "show"}).out,
                            "10.244.2.0/24 via 10.244.2.0 dev flannel.1 proto 247 onlink"));
  EXPECT_EQ(rr.sync_once().changes, 0u);

  neigh.set_desired({});
  fdb.set_desired({});
  EXPECT_TRUE(neigh.sync_once().converged());
  EXPECT_TRUE(fdb.sync_once().converged());
  EXPECT_FALSE(
      contains_text(ns_->exec({"ip", "neigh", "show", "dev", "flannel.1"}).out, "10.244.2.0"));
  EXPECT_FALSE(contains_text(ns_->exec({"bridge", "fdb", "show", "dev", "flannel.1"}).out,
                             "0e:00:00:00:00:02"));

  ASSERT_TRUE(nl_->set_mtu(dev, 1400).ok());
  EXPECT_EQ(nl_->link_by_index(dev)->mtu, 1400);
  ASSERT_TRUE(nl_->delete_link(dev).ok());
  EXPECT_FALSE(nl_->link_by_name("flannel.1").ok());
}

TEST_F(NetlinkTest, VxlanDeviceAnOldFlanneldMadeWithL2missIsRecreated) {
  // As flanneld's vxlanLinksIncompat: l2miss differs, so the device goes; l3miss is not compared.
  const std::string add = "ip link add flannel.1 type vxlan id 1 local 192.168.77.1 dev veth0 "
                          "dstport 8472 nolearning ";
  ASSERT_EQ(ns_->sh(add + "l2miss l3miss").exit_code, 0);
  auto old = nl_->link_by_name("flannel.1");
  ASSERT_TRUE(old.ok());
  VxlanSpec spec = flannel1();
  spec.port = 8472;
  auto link = nl_->ensure_vxlan(spec);
  ASSERT_TRUE(link.ok()) << link.status().to_string();
  EXPECT_NE(link->index, old->index);
  auto details = ns_->exec({"ip", "-d", "link", "show", "flannel.1"}).out;
  EXPECT_FALSE(contains_text(details, "l2miss")) << details;
  EXPECT_FALSE(contains_text(details, "l3miss")) << details;

  ASSERT_EQ(ns_->sh("ip link del flannel.1 && " + add + "l3miss").exit_code, 0);
  old = nl_->link_by_name("flannel.1");
  ASSERT_TRUE(old.ok());
  link = nl_->ensure_vxlan(spec);
  ASSERT_TRUE(link.ok()) << link.status().to_string();
  EXPECT_EQ(link->index, old->index);
  details = ns_->exec({"ip", "-d", "link", "show", "flannel.1"}).out;
  EXPECT_TRUE(contains_text(details, "l3miss")) << details;
}

TEST_F(NetlinkTest, IPv6Routes) {
  ASSERT_EQ(ns_->sh("ip -6 addr add fd77::1/64 dev veth0 nodad").exit_code, 0);
  Route r6;
  r6.dst = *parse_net("fd00:244:1::/64");
  r6.gateway = *parse_ip("fd77::2");
  r6.ifindex = veth_;
  RouteTarget target(*nl_, AF_INET6);
  base::ManualClock clock;
  reconcile::Reconciler<Route> r(target, clock);
  r.set_desired({r6});
  EXPECT_TRUE(r.sync_once().converged());
  auto shown = ns_->exec({"ip", "-6", "route", "show", "proto", "247"}).out;
  EXPECT_TRUE(contains_text(shown, "fd00:244:1::/64 via fd77::2 dev veth0")) << shown;
  EXPECT_EQ(r.sync_once().changes, 0u);
  r.set_desired({});
  EXPECT_TRUE(r.sync_once().converged());
  EXPECT_EQ(ns_->exec({"ip", "-6", "route", "show", "proto", "247"}).out, "");
}

TEST_F(NetlinkTest, DirectLinksAnswerAsIpRouteGetWithoutAGateway) {
  // flanneld's DirectRouting test: a peer is direct when the kernel's route to it has no gateway,
  // whatever its prefix and on whichever interface.
  ASSERT_EQ(ns_->sh("ip link add veth2 type veth peer name veth3 && "
                    "ip addr add 172.20.0.1/24 dev veth2 && ip link set veth3 up && "
                    "ip link set veth2 up && ip route add 10.99.0.0/16 dev veth0 && "
                    "ip route add 10.98.0.0/16 via 192.168.77.2 && "
                    "ip route add blackhole 10.96.0.0/16 && "
                    "ip -6 addr add fd77::1/64 dev veth0 nodad && "
                    "ip -6 route add fd98::/64 via fd77::2")
                .exit_code,
            0);
  auto other = nl_->link_by_name("veth2");
  ASSERT_TRUE(other.ok());
  const std::vector<std::pair<std::string, int>> cases = {
      {"192.168.77.2", veth_},      // on the uplink's subnet
      {"172.20.0.5", other->index}, // on another interface's subnet
      {"10.99.3.3", veth_},         // an on-link route wider than any address
      {"10.98.3.3", 0},             // via a gateway
      {"10.97.0.1", 0},             // no route at all
      {"10.96.0.1", 0},             // a blackhole
      {"192.168.77.1", 0},          // the node itself (a local route)
      {"fd77::5", veth_},           // IPv6 alike
      {"fd98::5", 0},
  };
  std::vector<IpAddr> addrs;
  for (const auto& [a, want] : cases) {
    addrs.push_back(*parse_ip(a));
  }
  // More than one pipelined window: every answer lands on its own address.
  for (int i = 0; i < 600; ++i) {
    addrs.push_back(*parse_ip(fmt::format("10.{}.{}.{}", i % 2 == 0 ? 99 : 98, i / 256, i % 256)));
  }
  const std::vector<int> got = nl_->direct_links(addrs);
  ASSERT_EQ(got.size(), addrs.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(got[i], cases[i].second) << cases[i].first;
  }
  for (int i = 0; i < 600; ++i) {
    EXPECT_EQ(got[cases.size() + i], i % 2 == 0 ? veth_ : 0) << to_string(addrs[cases.size() + i]);
  }
  EXPECT_TRUE(nl_->direct_links({}).empty());
}

TEST_F(NetlinkTest, BlackholeRoutesAsFlanneldAddsThem) {
  ASSERT_TRUE(nl_->add_blackhole(*parse_net("10.244.9.0/24")).ok());
  ASSERT_TRUE(nl_->add_blackhole(*parse_net("fd00:244:9::/64")).ok());
  // Protocol boot, as vishvananda/netlink's RouteAdd leaves it (`ip` does not print it).
  EXPECT_TRUE(
      contains_text(ns_->exec({"ip", "route", "show", "type", "blackhole", "proto", "boot"}).out,
                    "blackhole 10.244.9.0/24"));
  EXPECT_TRUE(contains_text(
      ns_->exec({"ip", "-6", "route", "show", "type", "blackhole", "proto", "boot"}).out,
      "blackhole fd00:244:9::/64"));
  // Again: the kernel keeps the one there (no duplicate), and says so.
  EXPECT_EQ(nl_->add_blackhole(*parse_net("10.244.9.0/24")).code(), base::Code::kConflict);
  EXPECT_EQ(count_lines_with(ns_->exec({"ip", "route", "show", "type", "blackhole"}).out,
                             "10.244.9.0/24"),
            1);
  // A subnet whose connected route (a bridge's, here veth0's) is there keeps it.
  EXPECT_EQ(nl_->add_blackhole(*parse_net("192.168.77.0/24")).code(), base::Code::kConflict);
  EXPECT_EQ(ns_->exec({"ip", "route", "show", "type", "blackhole", "192.168.77.0/24"}).out, "");
  EXPECT_TRUE(contains_text(ns_->exec({"ip", "route", "show", "192.168.77.0/24"}).out,
                            "dev veth0 proto kernel scope link"));
  // Our route reconcilers leave blackholes alone: they are no pod subnet routes of ours.
  RouteTarget target(*nl_, AF_INET);
  target.adopt_flannel_routes_within({*parse_net("10.244.0.0/16")});
  auto listed = target.list();
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
}

TEST_F(NetlinkTest, InterfaceAddressesInFlanneldsOrderOfPreference) {
  // From the kernel's own flags: the permanent primary first, a permanent secondary next, an
  // address with a lifetime (as DHCP gives) after them, a deprecated one not at all, though
  // --iface may still name it.
  ASSERT_EQ(ns_->sh("ip addr add 192.168.77.20/24 dev veth0 valid_lft 1000 preferred_lft 1000 && "
                    "ip addr add 192.168.77.9/24 dev veth0 && "
                    "ip addr add 192.168.77.30/24 dev veth0 preferred_lft 0")
                .exit_code,
            0);
  auto snap = read_iface_snapshot(*nl_, false);
  ASSERT_TRUE(snap.ok()) << snap.status().to_string();
  const Iface* veth = nullptr;
  for (const auto& i : snap->ifaces) {
    veth = i.name == "veth0" ? &i : veth;
  }
  ASSERT_NE(veth, nullptr);
  std::vector<std::string> got;
  for (const auto& a : veth->v4) {
    got.push_back(to_string(a));
  }
  EXPECT_EQ(got, (std::vector<std::string>{"192.168.77.1", "192.168.77.9", "192.168.77.20"}));
  EXPECT_EQ(veth->all_v4.size(), 4u);
  ExtIfaceOptions named;
  named.iface = {"192.168.77.30"};
  auto ext = select_ext_iface(named, *snap);
  ASSERT_TRUE(ext.ok()) << ext.status().to_string();
  EXPECT_EQ(ext->iface_addr, *parse_ip("192.168.77.30"));
}

TEST_F(NetlinkTest, ExternalInterfaceSelection) {
  ASSERT_EQ(ns_->sh("ip route add default via 192.168.77.2 dev veth0").exit_code, 0);
  ASSERT_EQ(ns_->sh("ip addr add 192.168.77.9/24 dev veth0").exit_code, 0);
  auto snap = read_iface_snapshot(*nl_);
  ASSERT_TRUE(snap.ok()) << snap.status().to_string();
  auto ext = select_ext_iface(ExtIfaceOptions{}, *snap);
  ASSERT_TRUE(ext.ok()) << ext.status().to_string();
  EXPECT_EQ(ext->iface.name, "veth0");
  EXPECT_EQ(ext->iface.mtu, 1500);
  EXPECT_EQ(ext->iface_addr, *parse_ip("192.168.77.1"));
  ExtIfaceOptions by_ip;
  by_ip.iface = {"192.168.77.9"};
  ext = select_ext_iface(by_ip, *snap);
  ASSERT_TRUE(ext.ok());
  EXPECT_EQ(ext->ext_addr, *parse_ip("192.168.77.9"));
  ExtIfaceOptions by_regex;
  by_regex.iface_regex = {"^192\\.168\\.77\\.9$"};
  ext = select_ext_iface(by_regex, *snap);
  ASSERT_TRUE(ext.ok());
  EXPECT_EQ(ext->iface.name, "veth0");
  EXPECT_EQ(ext->iface_addr, *parse_ip("192.168.77.9"));
  // --iface-can-reach: the kernel's route and the source it prefers, here the address on the
  // target's subnet rather than the interface's first.
  ASSERT_EQ(ns_->sh("ip addr add 10.66.0.1/24 dev veth0").exit_code, 0);
  ExtIfaceOptions reach;
  reach.iface_regex = {"^nothing$"};
  reach.iface_can_reach = "10.66.0.50";
  auto reach_snap = read_iface_snapshot(*nl_, false, parse_ip("10.66.0.50").value());
  ASSERT_TRUE(reach_snap.ok());
  ext = select_ext_iface(reach, *reach_snap);
  ASSERT_TRUE(ext.ok()) << ext.status().to_string();
  EXPECT_EQ(ext->iface.name, "veth0");
  EXPECT_EQ(ext->iface_addr, *parse_ip("10.66.0.1"));
  reach.iface_can_reach = "10.67.0.1"; // no route (the default goes via 192.168.77.2, though)
  ASSERT_EQ(ns_->sh("ip route del default").exit_code, 0);
  reach_snap = read_iface_snapshot(*nl_, false, parse_ip("10.67.0.1").value());
  ASSERT_TRUE(reach_snap.ok());
  EXPECT_FALSE(select_ext_iface(reach, *reach_snap).ok());
  ASSERT_EQ(ns_->sh("ip route add default via 192.168.77.2 dev veth0").exit_code, 0);
  ExtIfaceOptions v6;
  v6.ipv6 = true; // dual stack without a default IPv6 route
  EXPECT_FALSE(select_ext_iface(v6, *snap).ok());
}

} // namespace
} // namespace weft::kernel
