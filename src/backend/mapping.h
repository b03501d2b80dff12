#pragma once
// The pure part of each backend: from the set of leases to the kernel entries it wants. No I/O, so
// it is tested exhaustively without root.

#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "kernel/types.h"
#include "lease/lease.h"
#include "net/ip_net.h"
#include "net/mac.h"

namespace weft::backend {

// host-gw: a route to each remote lease's subnet via its public IP on the uplink. Leases of other
// backend types and the node's own subnet are skipped (as flanneld's RouteNetwork does).
std::vector<kernel::Route> host_gw_routes(const std::vector<lease::Lease>& leases,
                                          const std::optional<net::Ip4Net>& own_subnet,
                                          const std::optional<net::Ip6Net>& own_ipv6_subnet,
                                          int uplink_ifindex);
// The routes of one lease, appended to `out`.
void append_host_gw_routes(const lease::Lease& lease, const std::optional<net::Ip4Net>& own_subnet,
                           const std::optional<net::Ip6Net>& own_ipv6_subnet, int uplink_ifindex,
                           std::vector<kernel::Route>& out);

// vxlan settings from the Backend object (flannel's field names, case-insensitive keys).
struct VxlanConfig {
  std::uint32_t vni = 1;
  int port = 0; // 0: the kernel's default, 8472
  int mtu = 0;  // 0: uplink MTU - 50
  bool gbp = false;
  bool learning = false;
  bool direct_routing = false;
};
base::Result<VxlanConfig> parse_vxlan_config(const std::string& backend_json);

// flannel's vxlan BackendData: {"VNI":1,"VtepMAC":"aa:bb:cc:dd:ee:ff"}.
std::string vxlan_backend_data(std::uint32_t vni, const net::MacAddr& mac);
// The VtepMAC of a BackendData: flannel's own form is read directly, any other through JSON
// (parse_vtep_mac_json, which gives the same result for every input; tests compare the two).
base::Result<net::MacAddr> parse_vtep_mac(const std::string& backend_data);
base::Result<net::MacAddr> parse_vtep_mac_json(const std::string& backend_data);

// Whether a lease is the node's own (its subnet, or for an IPv6-only lease its IPv6 subnet): the
// backends make no entries for it.
bool is_own(const lease::Lease& l, const std::optional<net::Ip4Net>& own,
            const std::optional<net::Ip6Net>& own6);

struct VxlanEntries {
  std::vector<kernel::Route> routes;
  std::vector<kernel::Neighbour> neighbours;
  std::vector<kernel::FdbEntry> fdb;
  std::vector<std::string> skipped; // leases with unusable backend data, for one log line each
};

struct VxlanDevices {
  int v4_ifindex = 0; // flannel.<vni>, 0 when IPv4 is off
  int v6_ifindex = 0; // flannel-v6.<vni>, 0 when IPv6 is off
  int uplink_ifindex = 0;
  // With DirectRouting: the interface a peer's public address is directly reachable through
  // (the kernel's route to it has no gateway), 0 when it is not. Unset without DirectRouting.
  std::function<int(const kernel::IpAddr&)> direct_link;
};

// vxlan: per remote lease a route "subnet via subnet.ip dev flannel.<vni> onlink", a permanent
// neighbour "subnet.ip -> VtepMAC" and an FDB entry "VtepMAC -> PublicIP"; with DirectRouting a
// peer whose PublicIP is directly reachable gets "subnet via PublicIP dev <that interface>"
// instead (IPv6 alike, via its PublicIPv6), as flanneld.
VxlanEntries vxlan_entries(const std::vector<lease::Lease>& leases,
                           const std::optional<net::Ip4Net>& own_subnet,
                           const std::optional<net::Ip6Net>& own_ipv6_subnet,
                           const VxlanDevices& devices);
// The entries of one lease, appended to `out`.
void append_vxlan_entries(const lease::Lease& lease, const std::optional<net::Ip4Net>& own_subnet,
                          const std::optional<net::Ip6Net>& own_ipv6_subnet,
                          const VxlanDevices& devices, VxlanEntries& out);

} // namespace weft::backend
