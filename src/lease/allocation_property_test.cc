#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "lease/allocation.h"

namespace weft::lease {
namespace {

// A small IPv4 range so that exhaustion happens often: network /16../24, subnets up to 6 bits
// longer, min/max somewhere inside.
rc::Gen<SubnetRange> gen_range() {
  return rc::gen::exec([] {
    const int prefix = *rc::gen::inRange(16, 25);
    const auto base = *rc::gen::arbitrary<std::uint32_t>();
    const net::Ip4Net network = net::Ip4Net(net::Ip4Addr(base), prefix).network();
    const int len = *rc::gen::inRange(prefix, std::min(prefix + 6, 32) + 1);
    const std::uint64_t count = std::uint64_t{1} << (len - prefix);
    const std::uint64_t i = *rc::gen::inRange<std::uint64_t>(0, count);
    const std::uint64_t j = *rc::gen::inRange<std::uint64_t>(i, count);
    const std::uint64_t step = std::uint64_t{1} << (32 - len);
    const auto first = network.first().value();
    return SubnetRange{network, len, net::Ip4Addr(static_cast<std::uint32_t>(first + i * step)),
                       net::Ip4Addr(static_cast<std::uint32_t>(first + j * step))};
  });
}

// Existing leases near the range: random blocks of random lengths, some inside, some around.
std::vector<Lease> gen_existing(const SubnetRange& r) {
  const int n = *rc::gen::inRange(0, 70);
  std::vector<Lease> out;
  const std::uint64_t span = r.network.size();
  for (int k = 0; k < n; ++k) {
    const auto offset = *rc::gen::inRange<std::uint64_t>(0, span);
    const int len = *rc::gen::inRange(std::max(r.network.prefix_len() - 2, 0), 33);
    Lease l;
    l.subnet =
        net::Ip4Net(net::Ip4Addr(static_cast<std::uint32_t>(r.network.first().value() + offset)),
                    len)
            .network();
    l.attrs.public_ip = net::Ip4Addr(0x0a000000U + static_cast<std::uint32_t>(k) + 1);
    out.push_back(l);
  }
  return out;
}

bool overlaps_any(const std::vector<Lease>& leases, const net::Ip4Net& n) {
  for (const Lease& l : leases) {
    if (l.subnet && l.subnet->overlaps(n)) {
      return true;
    }
  }
  return false;
}

RC_GTEST_PROP(AllocationProperty, NewSubnetIsFreeAlignedAndInRange, ()) {
  AllocationInput in;
  in.v4 = *gen_range();
  in.public_ip = net::Ip4Addr(0xc0000201U); // holds nothing
  in.existing = gen_existing(*in.v4);
  if (*rc::gen::arbitrary<bool>()) {
    in.previous_subnet =
        net::Ip4Net(net::Ip4Addr(*rc::gen::arbitrary<std::uint32_t>()), in.v4->subnet_len)
            .network();
  }
  std::mt19937_64 rng(*rc::gen::arbitrary<std::uint64_t>());
  auto a = allocate_subnet(in, rng);

  // Brute force: is there any free block at all?
  bool any_free = false;
  RC_ASSERT(net::for_each_subnet(in.v4->network, in.v4->subnet_len, in.v4->min, in.v4->max,
                                 [&](const net::Ip4Net& n) {
                                   any_free = !overlaps_any(in.existing, n);
                                   return !any_free;
                                 })
                .ok());
  if (!a.ok()) {
    RC_ASSERT(a.status().code() == base::Code::kOutOfRange);
    RC_ASSERT(!any_free);
    return;
  }
  RC_ASSERT(any_free);
  RC_ASSERT(!a->reused);
  RC_ASSERT(a->subnet.has_value());
  const net::Ip4Net& sn = *a->subnet;
  RC_ASSERT(sn.is_network());
  RC_ASSERT(sn.prefix_len() == in.v4->subnet_len);
  RC_ASSERT(in.v4->min <= sn.ip() && sn.ip() <= in.v4->max);
  RC_ASSERT(is_compatible(*in.v4, sn));
  RC_ASSERT(!overlaps_any(in.existing, sn));
  if (a->from_previous) {
    RC_ASSERT(in.previous_subnet == sn);
  }
}

RC_GTEST_PROP(AllocationProperty, CandidatesAreTheFirstHundredFree, ()) {
  AllocationInput in;
  in.v4 = *gen_range();
  in.existing = gen_existing(*in.v4);
  in.public_ip = net::Ip4Addr(0xc0000201U);
  std::mt19937_64 rng(*rc::gen::arbitrary<std::uint64_t>());
  auto a = allocate_subnet(in, rng);
  if (!a.ok()) {
    RC_ASSERT(a.status().code() == base::Code::kOutOfRange);
    return;
  }
  // The pick is among the first 100 free blocks in order.
  int free_before = 0;
  RC_ASSERT(net::for_each_subnet(in.v4->network, in.v4->subnet_len, in.v4->min, a->subnet->ip(),
                                 [&](const net::Ip4Net& n) {
                                   if (n != *a->subnet && !overlaps_any(in.existing, n)) {
                                     ++free_before;
                                   }
                                   return true;
                                 })
                .ok());
  RC_ASSERT(free_before < 100);
}

RC_GTEST_PROP(AllocationProperty, ReusesOwnLeaseOnlyWhenCompatible, ()) {
  AllocationInput in;
  in.v4 = *gen_range();
  in.existing = gen_existing(*in.v4);
  RC_PRE(!in.existing.empty());
  const auto k = *rc::gen::inRange<std::size_t>(0, in.existing.size());
  in.public_ip = in.existing[k].attrs.public_ip;
  std::mt19937_64 rng(1);
  auto a = allocate_subnet(in, rng);
  const bool compatible = is_compatible(*in.v4, *in.existing[k].subnet);
  if (compatible) {
    RC_ASSERT(a.ok());
    RC_ASSERT(a->reused);
    RC_ASSERT(a->reused_index == k);
    RC_ASSERT(a->subnet == in.existing[k].subnet);
    RC_ASSERT(a->incompatible_to_delete.empty());
  } else if (a.ok()) {
    RC_ASSERT(!a->reused);
    RC_ASSERT(a->incompatible_to_delete == std::vector<std::size_t>{k});
  }
}

RC_GTEST_PROP(AllocationProperty, Ipv6NewSubnetIsFreeAndAligned, ()) {
  const int prefix =
      *rc::gen::oneOf(rc::gen::inRange(0, 3), rc::gen::inRange(40, 64), rc::gen::inRange(120, 128));
  std::array<std::uint8_t, 16> bytes{};
  for (auto& b : bytes) {
    b = *rc::gen::arbitrary<std::uint8_t>();
  }
  const net::Ip6Net network = net::Ip6Net(net::Ip6Addr(bytes), prefix).network();
  const int len = *rc::gen::inRange(prefix, std::min(prefix + 5, 128) + 1);
  const std::uint64_t count = std::uint64_t{1} << (len - prefix);
  const net::Uint128 step = len == 0 ? 0 : static_cast<net::Uint128>(1) << (128 - len);
  const net::Uint128 base = network.first().value();
  AllocationInput in;
  in.v6 = SubnetRange6{network, len, net::Ip6Addr::from_value(base),
                       net::Ip6Addr::from_value(base + step * (count - 1))};
  in.public_ipv6 = net::Ip6Addr::from_value(1);
  const int n = *rc::gen::inRange(0, 40);
  for (int i = 0; i < n; ++i) {
    Lease l;
    l.subnet.reset();
    l.ipv6_subnet = net::Ip6Net(net::Ip6Addr::from_value(
                                    base + step * *rc::gen::inRange<std::uint64_t>(0, count)),
                                *rc::gen::inRange(len, 129))
                        .network();
    l.attrs.public_ipv6 = net::Ip6Addr::from_value(static_cast<net::Uint128>(i) + 2);
    in.existing.push_back(l);
  }
  std::mt19937_64 rng(*rc::gen::arbitrary<std::uint64_t>());
  auto a = allocate_subnet(in, rng);
  bool any_free = false;
  RC_ASSERT(net::for_each_subnet(network, len, in.v6->min, in.v6->max, [&](const net::Ip6Net& s) {
              any_free = true;
              for (const Lease& l : in.existing) {
                if (l.ipv6_subnet->overlaps(s)) {
                  any_free = false;
                }
              }
              return !any_free;
            }).ok());
  RC_ASSERT(a.ok() == any_free);
  if (a.ok()) {
    RC_ASSERT(a->ipv6_subnet.has_value());
    RC_ASSERT(is_compatible(*in.v6, *a->ipv6_subnet));
    for (const Lease& l : in.existing) {
      RC_ASSERT(!l.ipv6_subnet->overlaps(*a->ipv6_subnet));
    }
  }
}

// Two nodes allocating at the same moment from the same listing (dual-stack, as in e2e): they
// pick different IPv4 subnets (or one loses the create Txn, the key holding both), and then must
// not share an IPv6 subnet either, which no Txn would notice. Holds while the IPv6 range has at
// least as many subnets as the IPv4 range.
RC_GTEST_PROP(AllocationProperty, ConcurrentDualStackPicksNeverShareTheIpv6Subnet, ()) {
  const SubnetRange r4 = *gen_range();
  const std::uint64_t count4 = ((r4.max.value() - r4.min.value()) >> (32 - r4.subnet_len)) + 1;
  const int extra = *rc::gen::inRange(0, 3);
  const int len6 = 64;
  int bits = 0;
  while ((std::uint64_t{1} << bits) < count4) {
    ++bits;
  }
  const int prefix6 = len6 - bits - extra;
  const net::Ip6Net net6 = net::Ip6Net(*net::Ip6Addr::parse("fd00:244::"), prefix6).network();
  AllocationInput in;
  in.v4 = r4;
  in.v6 =
      SubnetRange6{net6, len6, net6.first(),
                   net::Ip6Addr::from_value(net6.first().value() +
                                            ((static_cast<net::Uint128>(1) << (bits + extra)) - 1) *
                                                (static_cast<net::Uint128>(1) << 64))};
  in.public_ip = net::Ip4Addr(0x0a000001);
  in.public_ipv6 = net::Ip6Addr::from_value(1);
  // Existing dual-stack leases taken in order, as weft allocated them earlier.
  const auto n = *rc::gen::inRange<std::uint64_t>(0, std::min<std::uint64_t>(count4, 20));
  for (std::uint64_t k = 0; k < n; ++k) {
    Lease l;
    l.subnet = net::Ip4Net(
        net::Ip4Addr(static_cast<std::uint32_t>(r4.min.value() + (k << (32 - r4.subnet_len)))),
        r4.subnet_len);
    l.ipv6_subnet = net::Ip6Net(
        net::Ip6Addr::from_value(in.v6->min.value() + (static_cast<net::Uint128>(k) << 64)), len6);
    l.attrs.public_ip = net::Ip4Addr(static_cast<std::uint32_t>(0x0b000000 + k));
    l.attrs.public_ipv6 = net::Ip6Addr::from_value(static_cast<net::Uint128>(k) + 100);
    in.existing.push_back(l);
  }
  std::mt19937_64 rng_a(*rc::gen::arbitrary<std::uint64_t>());
  std::mt19937_64 rng_b(*rc::gen::arbitrary<std::uint64_t>());
  auto a = allocate_subnet(in, rng_a);
  auto b = allocate_subnet(in, rng_b);
  RC_ASSERT(a.ok() == b.ok());
  if (a.ok() && *a->subnet != *b->subnet) {
    RC_ASSERT(*a->ipv6_subnet != *b->ipv6_subnet);
  }
}

// Allocating from LeaseFacts (what the acquire keeps of a listing) decides exactly as from the
// Leases: same subnets, same reuse, same deletions, same errors, with the same random draws.
RC_GTEST_PROP(AllocationProperty, FactsDecideAsLeases, ()) {
  AllocationInput in;
  in.v4 = *gen_range();
  in.public_ip = net::Ip4Addr(0x0a000001U);
  in.existing = gen_existing(*in.v4);
  // Some leases are this node's (gen_existing gives 10.0.0.k+1; k = 0 is ours already), some
  // carry an IPv6 subnet or public IP.
  for (Lease& l : in.existing) {
    if (*rc::gen::inRange(0, 8) == 0) {
      l.attrs.public_ip = in.public_ip;
    }
    if (*rc::gen::inRange(0, 4) == 0) {
      l.ipv6_subnet =
          net::Ip6Net(net::Ip6Addr::from_value(
                          static_cast<net::Uint128>(*rc::gen::inRange<std::uint64_t>(0, 8)) << 64),
                      64);
      l.attrs.public_ipv6 = net::Ip6Addr::from_value(*rc::gen::inRange(1, 4));
    }
  }
  if (*rc::gen::arbitrary<bool>()) {
    const net::Ip6Net net6(net::Ip6Addr::from_value(0), 61);
    in.v6 = SubnetRange6{net6, 64, net6.first(),
                         net::Ip6Addr::from_value(static_cast<net::Uint128>(7) << 64)};
    in.public_ipv6 = net::Ip6Addr::from_value(1);
  }
  if (*rc::gen::arbitrary<bool>()) {
    in.previous_subnet =
        net::Ip4Net(net::Ip4Addr(*rc::gen::arbitrary<std::uint32_t>()), in.v4->subnet_len)
            .network();
  }
  std::vector<const Lease*> pointers;
  std::vector<LeaseFacts> facts;
  for (const Lease& l : in.existing) {
    pointers.push_back(&l);
    facts.push_back(LeaseFacts{l.subnet, l.ipv6_subnet, l.attrs.public_ip, l.attrs.public_ipv6});
  }
  const auto seed = *rc::gen::arbitrary<std::uint64_t>();
  std::mt19937_64 rng_a(seed);
  std::mt19937_64 rng_b(seed);
  auto a = allocate_subnet(in, std::span<const Lease* const>(pointers), rng_a);
  auto b = allocate_subnet(in, std::span<const LeaseFacts>(facts), rng_b);
  RC_ASSERT(a.ok() == b.ok());
  if (!a.ok()) {
    RC_ASSERT(a.status().to_string() == b.status().to_string());
    return;
  }
  RC_ASSERT(a->subnet == b->subnet);
  RC_ASSERT(a->ipv6_subnet == b->ipv6_subnet);
  RC_ASSERT(a->reused == b->reused);
  RC_ASSERT(a->reused_index == b->reused_index);
  RC_ASSERT(a->from_previous == b->from_previous);
  RC_ASSERT(a->incompatible_to_delete == b->incompatible_to_delete);
}

} // namespace
} // namespace weft::lease
