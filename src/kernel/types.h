#pragma once
// The kernel objects weft manages (routes, neighbours, FDB entries, links, addresses) as plain
// values with keys, so they can be diffed by the reconciler and compared in tests.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>

#include "kernel/ip_types.h"
#include "net/mac.h"

namespace weft::kernel {

// Our route protocol number (rtm_protocol). 247 is unassigned in <linux/rtnetlink.h> and in
// iproute2's rt_protos (which stop at 192, eigrp); `ip route show proto 247` lists weft's routes.
// Only routes carrying it are listed as ours and deleted.
inline constexpr int kWeftRouteProtocol = 247;
// What vishvananda/netlink's RouteAdd leaves in rtm_protocol, i.e. flanneld's routes.
inline constexpr int kFlannelRouteProtocol = 3; // RTPROT_BOOT

// The metric weft gives its IPv4 route to a pod subnet: 1 + the subnet's number (its address
// shifted right by the host bits), in 1..65536. Why not 0 as flanneld: the kernel files IPv4
// route attributes (struct fib_info) in a hash keyed by device, protocol, scope, preferred source
// and metric, but not by gateway. Thousands of routes on one device, each with its own gateway
// (host-gw, vxlan), then share one hash chain, and every insert walks it: installing 5000 routes
// took 380 ms in the kernel alone, against 150 ms when their metrics differ. A pod subnet has only
// this one route, so the metric changes no forwarding decision. (IPv6 routes are not hashed so.)
int spread_metric(const net::Ip4Net& subnet);
inline constexpr int kMainTable = 254; // RT_TABLE_MAIN
// The metric the kernel gives an IPv6 route added with metric 0 (IP6_RT_PRIO_USER).
inline constexpr int kIp6DefaultMetric = 1024;

struct RouteKey {
  int table = kMainTable;
  IpNet dst;
  int metric = 0;
  friend bool operator==(const RouteKey&, const RouteKey&) = default;
};

struct Route {
  IpNet dst;
  std::optional<IpAddr> gateway;
  int ifindex = 0;
  bool onlink = false;
  int table = kMainTable;
  int metric = 0;
  int protocol = kWeftRouteProtocol;

  // The kernel identifies a unicast route by table, destination and metric (and TOS, unused).
  RouteKey key() const { return {table, dst, metric}; }
  // Equality for diffing includes the protocol: a listed flanneld route (protocol boot) that is
  // otherwise as wanted is replaced in place, stamped with ours.
  friend bool operator==(const Route& a, const Route& b) {
    return std::tie(a.dst, a.gateway, a.ifindex, a.onlink, a.table, a.metric, a.protocol) ==
           std::tie(b.dst, b.gateway, b.ifindex, b.onlink, b.table, b.metric, b.protocol);
  }
  // "dev <name>" when the device's name is given, else "dev #<index>".
  std::string to_string(std::string_view dev = {}) const;
};

struct NeighKey {
  int ifindex = 0;
  IpAddr ip;
  friend bool operator==(const NeighKey&, const NeighKey&) = default;
};

// A permanent ARP/NDP entry (vxlan: remote VTEP's gateway address -> VTEP MAC).
struct Neighbour {
  int ifindex = 0;
  IpAddr ip;
  net::MacAddr mac;
  NeighKey key() const { return {ifindex, ip}; }
  friend bool operator==(const Neighbour&, const Neighbour&) = default;
  std::string to_string(std::string_view dev = {}) const;
};

struct FdbKey {
  int ifindex = 0;
  net::MacAddr mac;
  friend bool operator==(const FdbKey&, const FdbKey&) = default;
};

// A permanent bridge FDB entry on a vxlan device (VTEP MAC -> remote public IP), NTF_SELF.
struct FdbEntry {
  int ifindex = 0;
  net::MacAddr mac;
  IpAddr dst;
  FdbKey key() const { return {ifindex, mac}; }
  friend bool operator==(const FdbEntry&, const FdbEntry&) = default;
  std::string to_string(std::string_view dev = {}) const;
};

struct LinkInfo {
  int index = 0;
  std::string name;
  std::string kind; // "vxlan", "veth", "" for plain devices
  int mtu = 0;
  net::MacAddr mac;
  bool up = false;
  bool loopback = false;
};

struct AddrInfo {
  int ifindex = 0;
  IpNet local;             // address with its prefix length
  int scope = 0;           // RT_SCOPE_UNIVERSE (0), RT_SCOPE_LINK (253), RT_SCOPE_HOST (254)
  std::uint32_t flags = 0; // IFA_F_* as listed (permanent, temporary/secondary, deprecated...)
  friend bool operator==(const AddrInfo&, const AddrInfo&) = default;
};

// The route the kernel would use to reach one address (an RTM_GETROUTE answer).
struct RouteAnswer {
  int ifindex = 0;
  bool via = false;          // through a next hop (a gateway, an RTA_VIA, several paths)
  std::optional<IpAddr> src; // the source address the kernel prefers
};

struct VxlanSpec {
  std::string name; // flannel.<vni>
  std::uint32_t vni = 1;
  std::optional<IpAddr> local;
  int underlay_ifindex = 0; // vtep dev
  int port = 0;             // 0: kernel default (8472)
  bool learning = false;
  bool gbp = false; // VXLAN Group Based Policy extension (IFLA_VXLAN_GBP)
  int mtu = 0;      // 0: leave as the kernel sets it
  std::optional<net::MacAddr> mac;
  int ifindex = 0; // create it with this interface index (0: the kernel picks one)
};

} // namespace weft::kernel

template <> struct std::hash<weft::kernel::RouteKey> {
  std::size_t operator()(const weft::kernel::RouteKey& k) const noexcept {
    return std::hash<weft::kernel::IpNet>{}(k.dst) * 31 + static_cast<std::size_t>(k.table) * 7 +
           static_cast<std::size_t>(k.metric);
  }
};

template <> struct std::hash<weft::kernel::NeighKey> {
  std::size_t operator()(const weft::kernel::NeighKey& k) const noexcept {
    return std::hash<weft::kernel::IpAddr>{}(k.ip) * 31 + static_cast<std::size_t>(k.ifindex);
  }
};

template <> struct std::hash<weft::kernel::FdbKey> {
  std::size_t operator()(const weft::kernel::FdbKey& k) const noexcept {
    std::uint64_t v = static_cast<std::uint64_t>(k.ifindex);
    for (auto b : k.mac.bytes()) {
      v = (v << 8) ^ b ^ (v >> 56);
    }
    return std::hash<std::uint64_t>{}(v);
  }
};
