#pragma once
// subnet.env, the file flanneld writes for the CNI plugin (and reads back on restart to keep its
// subnet): FLANNEL_NETWORK, FLANNEL_SUBNET, FLANNEL_IPV6_NETWORK, FLANNEL_IPV6_SUBNET, FLANNEL_MTU,
// FLANNEL_IPMASQ.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "net/ip_net.h"

namespace weft::lease {

// The values of a subnet.env file as read. subnet / ipv6_subnet are as written (the first usable
// address with the prefix, "10.244.3.1/24").
struct SubnetEnv {
  std::vector<net::Ip4Net> networks;
  std::optional<net::Ip4Net> subnet;
  std::vector<net::Ip6Net> ipv6_networks;
  std::optional<net::Ip6Net> ipv6_subnet;
  std::optional<int> mtu;
  std::optional<bool> ipmasq;

  friend bool operator==(const SubnetEnv&, const SubnetEnv&) = default;
};

// What flanneld writes (pkg/subnet WriteSubnetFile): the config networks and this node's lease
// subnets (block form, as leased), for the families enabled in the config.
struct SubnetFileParams {
  bool enable_ipv4 = true;
  bool enable_ipv6 = false;
  net::Ip4Net network;      // config Network
  net::Ip4Net subnet;       // lease subnet, e.g. 10.244.3.0/24
  net::Ip6Net ipv6_network; // config IPv6Network
  net::Ip6Net ipv6_subnet;  // lease IPv6 subnet
  int mtu = 0;
  bool ipmasq = false;
};

// flannel's exact bytes: the IPv4 pair if enable_ipv4, the IPv6 pair if enable_ipv6, then MTU and
// IPMASQ; each SUBNET is the lease subnet with its address plus one.
std::string format_subnet_env(const SubnetFileParams& params);

// Writes format_subnet_env(params) to path atomically, mode 0644.
base::Status write_subnet_env(const std::string& path, const SubnetFileParams& params);

// Reads subnet.env text tolerantly, as godotenv does: blank lines, # comments, "export " prefixes,
// KEY=VALUE or KEY: VALUE, surrounding spaces, single or double quotes, inline " #" comments after
// unquoted values; comma-separated CIDR lists in the NETWORK keys. Unknown keys are ignored; the
// last of a repeated key wins. Errors (invalid_argument) name the line, key and value.
base::Result<SubnetEnv> parse_subnet_env(std::string_view text);

// The previous lease subnets a restarting flanneld passes to its subnet manager: the network form
// of FLANNEL_SUBNET and FLANNEL_IPV6_SUBNET.
std::pair<std::optional<net::Ip4Net>, std::optional<net::Ip6Net>>
previous_subnets(const SubnetEnv& env);

} // namespace weft::lease
