#pragma once
// The name of a lease key in the store, as flannel writes and reads it: "10.1.2.0-24" for IPv4,
// "10.1.2.0-24&fc00::-64" for dual stack (pkg/subnet MakeSubnetKey / ParseSubnetKey).

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "base/status.h"
#include "net/ip_net.h"

namespace weft::lease {

// The key for a lease. Without an IPv4 subnet flannel's empty IP4Net is written ("0.0.0.0-0"),
// so an IPv6-only lease is "0.0.0.0-0&fc00::-64".
std::string make_subnet_key(const std::optional<net::Ip4Net>& subnet,
                            const std::optional<net::Ip6Net>& ipv6_subnet);

using SubnetKey = std::pair<std::optional<net::Ip4Net>, std::optional<net::Ip6Net>>;

// Parses the trailing subnet part of a key (a full etcd key such as
// "/coreos.com/network/subnets/10.1.2.0-24" works too), with flannel's regular expression
// `(\d+\.\d+.\d+.\d+)-(\d+)(?:&([a-f\d:]+)-(\d+))?$` and its limits (IPv4 prefix 0..31, IPv6 prefix
// 0..127, as Go's ParseUint with 5 and 7 bits allows). "0.0.0.0-0" with an IPv6 part yields no
// IPv4 subnet. Errors (invalid_argument) name the key.
base::Result<SubnetKey> parse_subnet_key(std::string_view key);

} // namespace weft::lease
