#pragma once
// External interface selection as flanneld does it (main.go + pkg/ipmatch LookupExtIface):
// --iface (names or IPs, in order), then --iface-regex (matched against addresses, then names),
// then --iface-can-reach, else the interface that owns --public-ip, else the default route's.
// select_ext_iface() is pure over a snapshot of links, addresses and routes.

#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "kernel/netlink.h"
#include "kernel/types.h"

namespace weft::kernel {

struct Iface {
  int index = 0;
  std::string name;
  int mtu = 0;
  // The addresses flanneld would use (ip.GetInterfaceIP4Addrs / IP6Addrs), best first: see
  // preferred_addresses. IPv6 link-local addresses are left out (flanneld lists them last).
  std::vector<IpAddr> v4;
  std::vector<IpAddr> v6;
  // Every address, in kernel order: an address named by --iface or --public-ip may be any of
  // them (flanneld's GetInterfaceByIP matches all). Empty: the same as v4 / v6.
  std::vector<IpAddr> all_v4;
  std::vector<IpAddr> all_v6;
};

struct IfaceSnapshot {
  std::vector<Iface> ifaces; // by index
  std::vector<Route> routes; // main table, both families, any protocol
  // --iface-can-reach: the target and the kernel's route to it (nullopt: it has none).
  std::optional<IpAddr> can_reach_dst;
  std::optional<RouteAnswer> can_reach;
};

// One family's addresses of an interface in flanneld's order of preference (ip.compareAddrs,
// flannel >= 0.28.0): global before link-local, then permanent (manually assigned, IFA_F_PERMANENT)
// before the rest, then non-temporary before temporary (IFA_F_TEMPORARY, which for IPv4 is
// IFA_F_SECONDARY); kernel order otherwise. Deprecated addresses and any that are neither global
// nor link-local unicast are dropped, and IPv6 link-local ones too (see Iface).
std::vector<IpAddr> preferred_addresses(const std::vector<AddrInfo>& addrs);

struct ExtIfaceOptions {
  std::vector<std::string> iface;       // --iface (repeatable): a name or an IP
  std::vector<std::string> iface_regex; // --iface-regex (repeatable)
  std::string iface_can_reach;          // --iface-can-reach
  std::string public_ip;                // --public-ip (or the node-public-ip annotation)
  std::string public_ipv6;              // --public-ipv6
  bool ipv4 = true;                     // EnableIPv4
  bool ipv6 = false;                    // EnableIPv6
};

struct ExternalInterface {
  Iface iface;
  std::optional<IpAddr> iface_addr;    // IfaceAddr
  std::optional<IpAddr> iface_v6_addr; // IfaceV6Addr
  std::optional<IpAddr> ext_addr;      // ExtAddr: --public-ip, else iface_addr
  std::optional<IpAddr> ext_v6_addr;   // ExtV6Addr
};

base::Result<ExternalInterface> select_ext_iface(const ExtIfaceOptions& options,
                                                 const IfaceSnapshot& snapshot);

// Whether select_ext_iface may look at routes: for the default route's interface (no --iface,
// --iface-regex or --iface-can-reach). Otherwise the snapshot can skip them, which matters on a
// restart, when the main table holds a route per node.
bool ext_iface_needs_routes(const ExtIfaceOptions& o);

// Reads the snapshot through Netlink: links, addresses, with `routes` the main-table routes, and
// with `can_reach` the kernel's route to it (as flanneld's RouteGet for --iface-can-reach).
base::Result<IfaceSnapshot> read_iface_snapshot(Netlink& netlink, bool routes = true,
                                                const std::optional<IpAddr>& can_reach = {});

} // namespace weft::kernel
