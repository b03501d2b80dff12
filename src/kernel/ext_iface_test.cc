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
      Iface{1, "lo", 65536, {ip("127.0.0.1")}, {ip("::1")}, {}, {}},
      Iface{2, "eth0", 1500, {ip("192.168.1.10"), ip("192.168.1.11")}, {ip("fd00::10")}, {}, {}},
      Iface{3, "eth1", 9000, {ip("10.0.0.5")}, {}, {}, {}},
      Iface{4, "ens5", 1450, {}, {ip("fd01::5")}, {}, {}},
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
  reach.iface_can_reach = "10.0.0.1"; // asks the kernel for its own route instead
  EXPECT_FALSE(ext_iface_needs_routes(reach));
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

TEST(ExtIface, CanReachUsesTheKernelsRouteAndTheSourceItPrefers) {
  // As flanneld (RouteGet): the route's interface, and its source address rather than the
  // interface's first.
  ExtIfaceOptions o;
  o.iface_can_reach = "10.0.0.77";
  IfaceSnapshot s = snapshot();
  s.can_reach_dst = ip("10.0.0.77");
  s.can_reach = RouteAnswer{3, false, ip("10.0.0.5")};
  auto r = select_ext_iface(o, s);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->iface.name, "eth1");
  EXPECT_EQ(r->iface_addr, ip("10.0.0.5"));
  o.iface_can_reach = "8.8.8.8";
  s.can_reach_dst = ip("8.8.8.8");
  s.can_reach = RouteAnswer{2, true, ip("192.168.1.11")};
  r = select_ext_iface(o, s);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->iface.name, "eth0");
  EXPECT_EQ(r->iface_addr, ip("192.168.1.11"));
  EXPECT_EQ(r->ext_addr, ip("192.168.1.11"));
  s.can_reach = RouteAnswer{2, true, std::nullopt}; // no source: the first
  r = select_ext_iface(o, s);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->iface_addr, ip("192.168.1.10"));
  s.can_reach.reset(); // the kernel has no route
  r = select_ext_iface(o, s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("route to 8.8.8.8"), std::string::npos)
      << r.status().message();
  o.iface_can_reach = "not-an-ip";
  r = select_ext_iface(o, s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not-an-ip"), std::string::npos) << r.status().message();
}

AddrInfo addr(const char* net, std::uint32_t flags) {
  return AddrInfo{2, *parse_net(net), 0, flags};
}

TEST(ExtIface, AddressesInFlanneldsOrderOfPreference) {
  // flanneld's compareAddrs: global before link-local, permanent before dynamic, non-temporary
  // (for IPv4 non-secondary) before temporary; kernel order between equals. Deprecated addresses,
  // loopback and IPv6 link-local ones are not used.
  constexpr std::uint32_t kPermanent = 0x80, kSecondary = 0x01, kDeprecated = 0x20;
  const auto v4 = preferred_addresses({
      addr("169.254.3.3/16", kPermanent),             // link-local: last
      addr("10.0.0.5/24", 0),                         // DHCP (a lifetime): after the permanent ones
      addr("10.0.0.100/24", kPermanent | kSecondary), // a permanent secondary
      addr("10.0.0.6/24", kPermanent),                // permanent primary: first
      addr("10.0.0.7/24", kDeprecated | kPermanent),  // deprecated: dropped
      addr("127.0.0.1/8", kPermanent),                // loopback: dropped
      addr("10.0.0.8/24", 0),                         // DHCP, after 10.0.0.5 (kernel order)
  });
  std::vector<std::string> got;
  for (const auto& a : v4) {
    got.push_back(to_string(a));
  }
  EXPECT_EQ(got, (std::vector<std::string>{"10.0.0.6", "10.0.0.100", "10.0.0.5", "10.0.0.8",
                                           "169.254.3.3"}));
  const auto v6 = preferred_addresses({
      addr("fe80::1/64", kPermanent),
      addr("2001:db8::aaaa/64", kSecondary), // temporary (privacy) address
      addr("2001:db8::1/64", 0),             // SLAAC
      addr("fd00::1/64", kPermanent),
      addr("2001:db8::dead/64", kDeprecated),
  });
  got.clear();
  for (const auto& a : v6) {
    got.push_back(to_string(a));
  }
  EXPECT_EQ(got, (std::vector<std::string>{"fd00::1", "2001:db8::1", "2001:db8::aaaa"}));
}

TEST(ExtIface, AnAddressNamedOutrightMayBeOneNotPreferred) {
  // --iface=<ip> (and --public-ip's interface) match every address, as flanneld's
  // GetInterfaceByIP; the first preferred one is still the default.
  IfaceSnapshot s = snapshot();
  s.ifaces[2].all_v4 = {ip("10.0.0.5"), ip("10.0.0.9")}; // 10.0.0.9 deprecated, say
  ExtIfaceOptions o;
  o.iface = {"10.0.0.9"};
  auto r = select_ext_iface(o, s);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->iface.name, "eth1");
  EXPECT_EQ(r->iface_addr, ip("10.0.0.9"));
  o.iface = {"eth1"};
  r = select_ext_iface(o, s);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->iface_addr, ip("10.0.0.5"));
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
