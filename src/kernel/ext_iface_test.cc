#include "kernel/ext_iface.h"

#include <gtest/gtest.h>

namespace weft::kernel {
namespace {

IpAddr ip(const char* s) {
  return *parse_ip(s);
}

Route default_route(int ifindex, const char* dst = "0.0.0.0/0", int metric = 0) {
  Route r;
  r.dst = *parse_net(dst);
  r.ifindex = ifindex;
  r.metric = metric;
  return r;
}

IfaceSnapshot snapshot() {
  IfaceSnapshot s;
  s.ifaces = {
      Iface{1, "lo", 65536, {ip("127.0.0.1")}, {ip("::1")}},
      Iface{2, "eth0", 1500, {ip("192.168.1.10"), ip("192.168.1.11")}, {ip("fd00::10")}},
      Iface{3, "eth1", 9000, {ip("10.0.0.5")}, {}},
      Iface{4, "ens5", 1450, {}, {ip("fd01::5")}},
  };
  s.routes = {default_route(2), default_route(3, "0.0.0.0/0", 100), default_route(2, "::/0"),
              default_route(3, "10.0.0.0/24")};
  return s;
}

TEST(ExtIface, DefaultsToTheDefaultRouteInterfaceAndItsFirstAddress) {
  auto r = select_ext_iface(ExtIfaceOptions{}, snapshot());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->iface.name, "eth0");
  EXPECT_EQ(r->iface_addr, ip("192.168.1.10"));
  EXPECT_EQ(r->ext_addr, ip("192.168.1.10"));
  EXPECT_FALSE(r->ext_v6_addr.has_value());
}

TEST(ExtIface, RoutesAreReadOnlyWhenTheChoiceCanDependOnThem) {
  EXPECT_TRUE(ext_iface_needs_routes(ExtIfaceOptions{})); // the default route's interface
  ExtIfaceOptions reach;
  reach.iface = {"eth0"};
  reach.iface_can_reach = "10.0.0.1"; // tried after the names
  EXPECT_TRUE(ext_iface_needs_routes(reach));
  ExtIfaceOptions pub;
  pub.public_ip = "10.0.0.5";
  EXPECT_TRUE(ext_iface_needs_routes(pub));

  // With --iface or --iface-regex alone, the same choice (or error) without any route.
  IfaceSnapshot no_routes = snapshot();
  no_routes.routes.clear();
  std::vector<ExtIfaceOptions> cases(4);
  cases[0].iface = {"eth1"};
  cases[1].iface = {"nonexistent", "192.168.1.11"};
  cases[2].iface_regex = {"^ens"};
  cases[2].ipv4 = false;
  cases[2].ipv6 = true;
  cases[3].iface = {"nonexistent"};
  for (const auto& o : cases) {
    EXPECT_FALSE(ext_iface_needs_routes(o));
    const auto with = select_ext_iface(o, snapshot());
    const auto without = select_ext_iface(o, no_routes);
    ASSERT_EQ(with.ok(), without.ok()) << with.status().to_string();
    if (with.ok()) {
      EXPECT_EQ(with->iface.name, without->iface.name);
      EXPECT_EQ(with->iface_addr, without->iface_addr);
      EXPECT_EQ(with->iface_v6_addr, without->iface_v6_addr);
    } else {
      EXPECT_EQ(with.status().message(), without.status().message());
    }
  }
}

TEST(ExtIface, PublicIpWithoutIfaceFlagsPicksItsOwnerAndIsTheExtAddr) {
  ExtIfaceOptions o;
  o.public_ip = "10.0.0.5";
  auto r = select_ext_iface(o, snapshot());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->iface.name, "eth1");
  EXPECT_EQ(r->ext_addr, ip("10.0.0.5"));
  o.public_ip = "203.0.113.9"; // not local: flanneld exits
  EXPECT_FALSE(select_ext_iface(o, snapshot()).ok());
}

TEST(ExtIface, IfaceByNameOrIpInOrderFirstMatchWins) {
  ExtIfaceOptions o;
  o.iface = {"nonexistent", "192.168.1.11", "eth1"};
  auto r = select_ext_iface(o, snapshot());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->iface.name, "eth0");
  EXPECT_EQ(r->iface_addr, ip("192.168.1.11"));
  o.iface = {"eth1"};
  o.public_ip = "198.51.100.7"; // NAT: public differs from the interface's address
  r = select_ext_iface(o, snapshot());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->iface_addr, ip("10.0.0.5"));
  EXPECT_EQ(r->ext_addr, ip("198.51.100.7"));
}

TEST(ExtIface, RegexMatchesAddressesFirstThenNames) {
  ExtIfaceOptions o;
  o.iface_regex = {"^10\\.0\\."};
  auto r = select_ext_iface(o, snapshot());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->iface.name, "eth1");
  EXPECT_EQ(r->iface_addr, ip("10.0.0.5"));
  o.iface_regex = {"^eth1$"};
  r = select_ext_iface(o, snapshot());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->iface.name, "eth1");
  o.iface_regex = {"(", "^nomatch$"};
  EXPECT_FALSE(select_ext_iface(o, snapshot()).ok());
}

TEST(ExtIface, IfacesAreTriedBeforeRegexes) {
  ExtIfaceOptions o;
  o.iface = {"missing"};
  o.iface_regex = {"^eth1$"};
  auto r = select_ext_iface(o, snapshot());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->iface.name, "eth1");
}

TEST(ExtIface, CanReachUsesTheRoutingTable) {
  ExtIfaceOptions o;
  o.iface_can_reach = "10.0.0.77";
  auto r = select_ext_iface(o, snapshot());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->iface.name, "eth1");
  o.iface_can_reach = "8.8.8.8";
  r = select_ext_iface(o, snapshot());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->iface.name, "eth0");
}

TEST(ExtIface, DualStackNeedsTheSameDefaultInterface) {
  ExtIfaceOptions o;
  o.ipv6 = true;
  auto r = select_ext_iface(o, snapshot());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->iface_v6_addr, ip("fd00::10"));
  EXPECT_EQ(r->ext_v6_addr, ip("fd00::10"));
  auto s = snapshot();
  s.routes[2].ifindex = 4;
  EXPECT_FALSE(select_ext_iface(o, s).ok());
}

TEST(ExtIface, Ipv6OnlyAndErrors) {
  ExtIfaceOptions o;
  o.ipv4 = false;
  o.ipv6 = true;
  o.iface = {"ens5"};
  auto r = select_ext_iface(o, snapshot());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->iface_v6_addr, ip("fd01::5"));
  EXPECT_FALSE(r->ext_addr.has_value());
  o.ipv6 = false;
  EXPECT_FALSE(select_ext_iface(o, snapshot()).ok());
  ExtIfaceOptions v4;
  v4.iface = {"ens5"}; // no IPv4 address
  EXPECT_FALSE(select_ext_iface(v4, snapshot()).ok());
  IfaceSnapshot none;
  EXPECT_FALSE(select_ext_iface(ExtIfaceOptions{}, none).ok());
}

} // namespace
} // namespace weft::kernel
