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
  std::vector<IpAddr> v4; // in kernel order
  std::vector<IpAddr> v6; // global (not link-local) addresses, in kernel order
};

struct IfaceSnapshot {
  std::vector<Iface> ifaces; // by index
  std::vector<Route> routes; // main table, both families, any protocol
};

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

// Whether select_ext_iface may look at routes: for the default route's interface (no --iface or
// --iface-regex) and for --iface-can-reach. Otherwise the snapshot can skip them, which matters on
// a restart, when the main table holds a route per node.
bool ext_iface_needs_routes(const ExtIfaceOptions& o);

// Reads the snapshot through Netlink (links, addresses, and with `routes` the main-table routes).
base::Result<IfaceSnapshot> read_iface_snapshot(Netlink& netlink, bool routes = true);

} // namespace weft::kernel
