#pragma once
// Family-agnostic address and prefix types for the kernel room: a variant over net's IPv4 and IPv6
// value types, so one Route/Neighbour type serves both families.

#include <sys/socket.h>

#include <string>
#include <variant>

#include "base/status.h"
#include "net/ip.h"
#include "net/ip_net.h"

namespace weft::kernel {

using IpAddr = std::variant<net::Ip4Addr, net::Ip6Addr>;
using IpNet = std::variant<net::Ip4Net, net::Ip6Net>;

inline int family_of(const IpAddr& a) {
  return a.index() == 0 ? AF_INET : AF_INET6;
}
inline int family_of(const IpNet& n) {
  return n.index() == 0 ? AF_INET : AF_INET6;
}

std::string to_string(const IpAddr& a);
std::string to_string(const IpNet& n);

// "10.0.0.1" or "fe80::1".
base::Result<IpAddr> parse_ip(std::string_view text);
// "10.0.0.0/24" or "fd00::/64"; a bare address gets a host prefix (/32 or /128).
base::Result<IpNet> parse_net(std::string_view text);

// The address part of a prefix, and whether a prefix contains an address (false across families).
IpAddr ip_of(const IpNet& n);
int prefix_len_of(const IpNet& n);
bool contains(const IpNet& n, const IpAddr& a);

} // namespace weft::kernel
