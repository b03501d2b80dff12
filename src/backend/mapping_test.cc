#include "backend/mapping.h"

#include <gtest/gtest.h>

namespace weft::backend {
namespace {

lease::Lease make_lease(const char* subnet, const char* public_ip, const char* type,
                        std::string data = "") {
  lease::Lease l;
  l.subnet = *net::Ip4Net::parse(subnet);
  l.attrs.public_ip = *net::Ip4Addr::parse(public_ip);
  l.attrs.backend_type = type;
  l.attrs.backend_data = std::move(data);
  return l;
}

TEST(HostGw, RouteViaPublicIpForEachRemoteLeaseOfItsType) {
  std::vector<lease::Lease> leases = {
      make_lease("10.244.1.0/24", "10.250.0.11", "host-gw"),
      make_lease("10.244.2.0/24", "10.250.0.12", "host-gw"),
      make_lease("10.244.3.0/24", "10.250.0.13", "vxlan",
                 R"({"VNI":1,"VtepMAC":"0e:00:00:00:00:03"})"),
  };
  auto routes = host_gw_routes(leases, *net::Ip4Net::parse("10.244.1.0/24"), std::nullopt, 7);
  ASSERT_EQ(routes.size(), 1u);
  EXPECT_EQ(kernel::to_string(routes[0].dst), "10.244.2.0/24");
  EXPECT_EQ(kernel::to_string(*routes[0].gateway), "10.250.0.12");
  EXPECT_EQ(routes[0].ifindex, 7);
  EXPECT_FALSE(routes[0].onlink);
  // 10.244.2.0/24 is subnet number 0x0af402 of the /24s: metric 1 + 0xf402.
  EXPECT_EQ(routes[0].metric, 1 + 0xf402);
}

TEST(HostGw, DualStackAddsV6RouteViaPublicIpv6) {
  auto l = make_lease("10.244.2.0/24", "10.250.0.12", "host-gw");
  l.ipv6_subnet = *net::Ip6Net::parse("fd00:244:0:2::/64");
  l.attrs.public_ipv6 = *net::Ip6Addr::parse("fd00:250::12");
  auto routes = host_gw_routes({l}, *net::Ip4Net::parse("10.244.1.0/24"),
                               *net::Ip6Net::parse("fd00:244:0:1::/64"), 3);
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(kernel::to_string(routes[1].dst), "fd00:244:0:2::/64");
  EXPECT_EQ(kernel::to_string(*routes[1].gateway), "fd00:250::12");
  EXPECT_EQ(routes[1].metric, 0); // IPv6 routes are not spread (see kernel::spread_metric)
}

TEST(Vxlan, ConfigDefaultsAndErrorsNameTheField) {
  auto c = parse_vxlan_config(R"({"Type":"vxlan"})");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->vni, 1u);
  EXPECT_EQ(c->port, 0);
  auto d = parse_vxlan_config(R"({"type":"vxlan","vni":42,"port":4789,"directrouting":true})");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->vni, 42u);
  EXPECT_EQ(d->port, 4789);
  EXPECT_TRUE(d->direct_routing);
  auto bad = parse_vxlan_config(R"({"VNI":"one"})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("Backend.VNI"), std::string::npos);
  EXPECT_NE(bad.status().message().find("\"one\""), std::string::npos);
  EXPECT_FALSE(parse_vxlan_config(R"({"Port":70000})").ok());
}

TEST(Vxlan, BackendDataIsFlannels) {
  auto mac = *net::MacAddr::parse("c6:d2:32:6f:6c:0e");
  EXPECT_EQ(vxlan_backend_data(1, mac), R"({"VNI":1,"VtepMAC":"c6:d2:32:6f:6c:0e"})");
  EXPECT_EQ(parse_vtep_mac(vxlan_backend_data(1, mac))->to_string(), "c6:d2:32:6f:6c:0e");
  EXPECT_FALSE(parse_vtep_mac("null").ok());
}

TEST(Vxlan, RouteNeighbourAndFdbPerRemoteLease) {
  std::vector<lease::Lease> leases = {
      make_lease("10.244.1.0/24", "10.250.0.11", "vxlan",
                 R"({"VNI":1,"VtepMAC":"0e:00:00:00:00:01"})"),
      make_lease("10.244.2.0/24", "10.250.0.12", "vxlan",
                 R"({"VNI":1,"VtepMAC":"0e:00:00:00:00:02"})"),
      make_lease("10.244.9.0/24", "10.250.0.19", "vxlan", R"({"VNI":1})"),
  };
  VxlanDevices dev{5, 0, 2, nullptr};
  auto e = vxlan_entries(leases, *net::Ip4Net::parse("10.244.1.0/24"), std::nullopt, dev);
  ASSERT_EQ(e.routes.size(), 1u);
  EXPECT_EQ(e.routes[0].to_string().find("10.244.2.0/24") != std::string::npos, true);
  EXPECT_EQ(kernel::to_string(*e.routes[0].gateway), "10.244.2.0");
  EXPECT_TRUE(e.routes[0].onlink);
  EXPECT_EQ(e.routes[0].ifindex, 5);
  ASSERT_EQ(e.neighbours.size(), 1u);
  EXPECT_EQ(e.neighbours[0].mac.to_string(), "0e:00:00:00:00:02");
  ASSERT_EQ(e.fdb.size(), 1u);
  EXPECT_EQ(kernel::to_string(e.fdb[0].dst), "10.250.0.12");
  ASSERT_EQ(e.skipped.size(), 1u); // the lease without a VtepMAC
}

TEST(Vxlan, DirectRoutingRoutesDirectlyReachablePeersThroughTheirLink) {
  // As flanneld: a peer whose public IP the kernel reaches without a gateway gets "subnet via
  // PublicIP" on the interface that route uses (here 2 and 7); any other goes through flannel.1.
  std::vector<lease::Lease> leases = {
      make_lease("10.244.2.0/24", "10.250.0.12", "vxlan",
                 R"({"VNI":1,"VtepMAC":"0e:00:00:00:00:02"})"),
      make_lease("10.244.3.0/24", "192.0.2.3", "vxlan",
                 R"({"VNI":1,"VtepMAC":"0e:00:00:00:00:03"})"),
      make_lease("10.244.4.0/24", "172.20.0.4", "vxlan",
                 R"({"VNI":1,"VtepMAC":"0e:00:00:00:00:04"})"),
  };
  std::vector<std::string> asked;
  VxlanDevices dev{5, 0, 2, [&](const kernel::IpAddr& a) {
                     asked.push_back(kernel::to_string(a));
                     const std::string s = kernel::to_string(a);
                     return s == "10.250.0.12" ? 2 : s == "172.20.0.4" ? 7 : 0;
                   }};
  auto e = vxlan_entries(leases, *net::Ip4Net::parse("10.244.1.0/24"), std::nullopt, dev);
  ASSERT_EQ(e.routes.size(), 3u);
  EXPECT_EQ(e.routes[0].to_string(), "10.244.2.0/24 via 10.250.0.12 dev #2 metric 62467");
  EXPECT_EQ(e.routes[1].ifindex, 5);
  EXPECT_TRUE(e.routes[1].onlink);
  EXPECT_EQ(e.routes[2].to_string(), "10.244.4.0/24 via 172.20.0.4 dev #7 metric 62469");
  EXPECT_EQ(e.neighbours.size(), 1u);
  EXPECT_EQ(e.fdb.size(), 1u);
  EXPECT_EQ(asked, (std::vector<std::string>{"10.250.0.12", "192.0.2.3", "172.20.0.4"}));
}

TEST(Vxlan, DirectRoutingAlsoForIpv6Peers) {
  // As flanneld's v6 direct route: a peer whose public IPv6 is directly reachable gets
  // "subnet via PublicIPv6" on the uplink; another gets the flannel-v6 route, neighbour and FDB.
  auto near = make_lease("10.244.2.0/24", "10.250.0.12", "vxlan",
                         R"({"VNI":1,"VtepMAC":"0e:00:00:00:00:02"})");
  near.ipv6_subnet = *net::Ip6Net::parse("fd00:244:0:2::/64");
  near.attrs.public_ipv6 = *net::Ip6Addr::parse("fd00:250::12");
  near.attrs.backend_v6_data = R"({"VNI":1,"VtepMAC":"0e:00:00:00:01:02"})";
  auto far = make_lease("10.244.3.0/24", "10.250.0.13", "vxlan",
                        R"({"VNI":1,"VtepMAC":"0e:00:00:00:00:03"})");
  far.ipv6_subnet = *net::Ip6Net::parse("fd00:244:0:3::/64");
  far.attrs.public_ipv6 = *net::Ip6Addr::parse("fd00:251::13");
  far.attrs.backend_v6_data = R"({"VNI":1,"VtepMAC":"0e:00:00:00:01:03"})";
  // The kernel reaches fd00:250::12 directly through interface 2; nothing else.
  VxlanDevices dev{5, 6, 2, [](const kernel::IpAddr& a) {
                     return kernel::to_string(a) == "fd00:250::12" ? 2 : 0;
                   }};
  auto e = vxlan_entries({near, far}, *net::Ip4Net::parse("10.244.1.0/24"),
                         *net::Ip6Net::parse("fd00:244:0:1::/64"), dev);
  std::vector<std::string> v6_routes;
  for (const auto& r : e.routes) {
    if (r.dst.index() == 1) {
      v6_routes.push_back(r.to_string());
    }
  }
  ASSERT_EQ(v6_routes.size(), 2u);
  EXPECT_EQ(v6_routes[0], "fd00:244:0:2::/64 via fd00:250::12 dev #2");
  EXPECT_EQ(v6_routes[1], "fd00:244:0:3::/64 via fd00:244:0:3:: dev #6 onlink");
  // Neither public IPv4 is direct here: both go through flannel.1.
  EXPECT_EQ(e.routes.size(), 4u);
  std::size_t v6_fdb = 0;
  for (const auto& f : e.fdb) {
    v6_fdb += f.ifindex == 6 ? 1 : 0;
  }
  EXPECT_EQ(v6_fdb, 1u);
}

TEST(Vxlan, VtepMacFastPathAgreesWithJson) {
  // flannel's own form, read without JSON, and forms that must go through JSON: all agree.
  const std::vector<std::string> inputs = {
      R"({"VNI":1,"VtepMAC":"0e:00:00:00:00:03"})",
      R"({"VNI":4096,"VtepMAC":"AA:bb:CC:dd:EE:ff"})",
      R"({"VNI":1,"VtepMAC":"0e:00:00:00:00"})",       // short MAC
      R"({"VNI":1,"VtepMAC":"0e:00:00:00:00:03:04"})", // long
      R"({"VNI":1,"VtepMAC":"zz:00:00:00:00:03"})",
      R"({"VNI":1,"VtepMAC":""})",
      R"({"VNI":1,"VtepMAC":"0e:00:00:00:00:0\u0033"})", // an escape: JSON decides
      R"({"VNI":1,"VtepMAC":"0e:00:00:00:00:03","VtepMAC":"0e:00:00:00:00:04"})",
      R"({"VNI":1, "VtepMAC":"0e:00:00:00:00:03"})",
      R"({"VtepMAC":"0e:00:00:00:00:03","VNI":1})",
      R"({"vtepmac":"0e:00:00:00:00:03"})",
      R"({"VNI":1})",
      R"({"VNI":1,"VtepMAC":"0e:00:00:00:00:03"}x)",
      R"({"VNI":,"VtepMAC":"0e:00:00:00:00:03"})",
      R"({"VNI":01,"VtepMAC":"0e:00:00:00:00:03"})", // not JSON: a leading zero
      R"({"VNI":0,"VtepMAC":"0e:00:00:00:00:03"})",
      R"({"VNI":1,"VtepMAC":"0e:00:00:00:00:03)",
      R"(null)",
      "",
  };
  for (const auto& in : inputs) {
    const auto fast = parse_vtep_mac(in);
    const auto slow = parse_vtep_mac_json(in);
    ASSERT_EQ(fast.ok(), slow.ok()) << in;
    if (fast.ok()) {
      EXPECT_EQ(*fast, *slow) << in;
    }
  }
  EXPECT_EQ(parse_vtep_mac(R"({"VNI":1,"VtepMAC":"0e:00:00:00:00:03"})")->to_string(),
            "0e:00:00:00:00:03");
}

} // namespace
} // namespace weft::backend
