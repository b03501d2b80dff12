#pragma once
// Subnet allocation as flannel's etcd subnet manager does it (tryAcquireLease/allocateSubnet), as
// pure functions over a snapshot of the existing leases: no I/O, randomness injected.

#include <cstddef>
#include <optional>
#include <random>
#include <span>
#include <vector>

#include "base/status.h"
#include "lease/lease.h"
#include "net/ip.h"
#include "net/ip_net.h"

namespace weft::lease {

// The IPv4 subnets a cluster hands out: blocks of subnet_len inside network, from the block
// starting at min to the one starting at max (flannel's Network, SubnetLen, SubnetMin, SubnetMax).
struct SubnetRange {
  net::Ip4Net network;
  int subnet_len = 24;
  net::Ip4Addr min;
  net::Ip4Addr max;
};

// The IPv6 twin of SubnetRange.
struct SubnetRange6 {
  net::Ip6Net network;
  int subnet_len = 64;
  net::Ip6Addr min;
  net::Ip6Addr max;
};

struct AllocationInput {
  std::optional<SubnetRange> v4;  // nullopt: no IPv4 subnet wanted
  std::optional<SubnetRange6> v6; // nullopt: no IPv6 subnet wanted
  net::Ip4Addr public_ip;
  std::optional<net::Ip6Addr> public_ipv6;
  std::vector<Lease> existing;
  // From subnet.env (the network form of FLANNEL_SUBNET / FLANNEL_IPV6_SUBNET).
  std::optional<net::Ip4Net> previous_subnet;
  std::optional<net::Ip6Net> previous_ipv6_subnet;
};

struct Allocation {
  std::optional<net::Ip4Net> subnet;
  std::optional<net::Ip6Net> ipv6_subnet;
  // True when an existing lease held by this node is reused (renew it instead of creating a key).
  bool reused = false;
  std::optional<std::size_t> reused_index; // into AllocationInput::existing
  // True when a subnet came from subnet.env's previous subnet.
  bool from_previous = false;
  // Indexes into existing of leases held by this node that no longer fit the config: delete them.
  std::vector<std::size_t> incompatible_to_delete;
};

// Whether a lease subnet fits the range: same length, aligned, its start within min..max.
bool is_compatible(const SubnetRange& range, const net::Ip4Net& subnet);
bool is_compatible(const SubnetRange6& range, const net::Ip6Net& subnet);

// Checks a range: subnet_len within network prefix..32 (128), min and max aligned blocks inside
// the network, min <= max. invalid_argument naming the value otherwise.
base::Status validate(const SubnetRange& range);
base::Status validate(const SubnetRange6& range);

// Picks this node's subnet(s), in flannel's order of preference:
//  1. an existing lease held by this node (same public IP; the IPv6 public IP when there is no
//     IPv4 range) that is compatible with the ranges; other leases it holds that are not
//     compatible are listed for deletion;
//  2. per family, the previous subnet from subnet.env if compatible and overlapping no lease;
//  3. per family, one chosen at random among the first 100 free blocks from min to max.
// out_of_range "out of subnets: no free /24 in 10.1.1.0..10.1.255.0 of 10.1.0.0/16" when a
// family has no free block. Runs in O(n log n) for n existing leases, independent of range size.
base::Result<Allocation> allocate_subnet(const AllocationInput& input, std::mt19937_64& rng);

// The same over leases held elsewhere (input.existing is ignored; indexes in the result are into
// `existing`), so a caller holding thousands of leases allocates without copying them.
base::Result<Allocation> allocate_subnet(const AllocationInput& input,
                                         std::span<const Lease* const> existing,
                                         std::mt19937_64& rng);

// What allocation reads of a lease: its subnets and public addresses. A caller allocating from
// a listing of thousands of values keeps these instead of building every Lease.
struct LeaseFacts {
  std::optional<net::Ip4Net> subnet;
  std::optional<net::Ip6Net> ipv6_subnet;
  net::Ip4Addr public_ip;
  std::optional<net::Ip6Addr> public_ipv6;
};

// The same over those facts (input.existing is ignored; indexes are into `existing`).
base::Result<Allocation> allocate_subnet(const AllocationInput& input,
                                         std::span<const LeaseFacts> existing,
                                         std::mt19937_64& rng);

} // namespace weft::lease
