#include <chrono>
#include <set>

#include <gtest/gtest.h>

#include "lease/allocation.h"

namespace weft::lease {
namespace {

net::Ip4Addr v4(std::string_view s) {
  return net::Ip4Addr::parse(s).value();
}
net::Ip6Addr v6(std::string_view s) {
  return net::Ip6Addr::parse(s).value();
}
net::Ip4Net n4(std::string_view s) {
  return net::Ip4Net::parse(s).value();
}
net::Ip6Net n6(std::string_view s) {
  return net::Ip6Net::parse(s).value();
}

SubnetRange range16() {
  return SubnetRange{n4("10.1.0.0/16"), 24, v4("10.1.1.0"), v4("10.1.255.0")};
}

Lease lease(std::string_view subnet, std::string_view public_ip) {
  Lease l;
  l.subnet = n4(subnet);
  l.attrs.public_ip = v4(public_ip);
  return l;
}

TEST(IsCompatible, ChecksLengthRangeAndAlignment) {
  const SubnetRange r = range16();
  EXPECT_TRUE(is_compatible(r, n4("10.1.1.0/24")));
  EXPECT_TRUE(is_compatible(r, n4("10.1.255.0/24")));
  EXPECT_FALSE(is_compatible(r, n4("10.1.0.0/24"))); // below SubnetMin
  EXPECT_FALSE(is_compatible(r, n4("10.2.0.0/24")));
  EXPECT_FALSE(is_compatible(r, n4("10.1.2.0/25")));
  EXPECT_FALSE(is_compatible(r, n4("10.1.2.5/24")));
}

TEST(Validate, RejectsBadRanges) {
  EXPECT_TRUE(validate(range16()).ok());
  SubnetRange r = range16();
  r.subnet_len = 8;
  EXPECT_FALSE(validate(r).ok());
  r = range16();
  r.min = v4("10.1.1.1");
  EXPECT_NE(validate(r).message().find("10.1.1.1"), std::string::npos);
  r = range16();
  r.max = v4("10.2.0.0");
  EXPECT_FALSE(validate(r).ok());
  r = range16();
  std::swap(r.min, r.max);
  EXPECT_FALSE(validate(r).ok());
  SubnetRange6 r6{n6("fc00::/48"), 64, v6("fc00::"), v6("fc00:0:0:ffff::")};
  EXPECT_TRUE(validate(r6).ok());
  r6.min = v6("fc00::1");
  EXPECT_FALSE(validate(r6).ok());
}

TEST(AllocateSubnet, ReusesOwnCompatibleLease) {
  AllocationInput in;
  in.v4 = range16();
  in.public_ip = v4("192.0.2.7");
  in.existing = {lease("10.1.5.0/24", "192.0.2.1"), lease("10.1.9.0/24", "192.0.2.7")};
  in.previous_subnet = n4("10.1.42.0/24");
  std::mt19937_64 rng(1);
  auto a = allocate_subnet(in, rng);
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_TRUE(a->reused);
  EXPECT_EQ(a->reused_index, 1U);
  EXPECT_EQ(a->subnet, n4("10.1.9.0/24"));
  EXPECT_TRUE(a->incompatible_to_delete.empty());
}

TEST(AllocateSubnet, DeletesOwnIncompatibleLeases) {
  AllocationInput in;
  in.v4 = range16();
  in.public_ip = v4("192.0.2.7");
  in.existing = {lease("10.9.0.0/24", "192.0.2.7"), lease("10.1.5.0/24", "192.0.2.1"),
                 lease("10.1.6.0/25", "192.0.2.7")};
  std::mt19937_64 rng(1);
  auto a = allocate_subnet(in, rng);
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->reused);
  EXPECT_EQ(a->incompatible_to_delete, (std::vector<std::size_t>{0, 2}));
  ASSERT_TRUE(a->subnet.has_value());
  EXPECT_TRUE(is_compatible(*in.v4, *a->subnet));
  for (const Lease& l : in.existing) {
    EXPECT_FALSE(a->subnet->overlaps(*l.subnet)) << a->subnet->to_string();
  }
}

TEST(AllocateSubnet, UsesPreviousSubnetWhenFree) {
  AllocationInput in;
  in.v4 = range16();
  in.public_ip = v4("192.0.2.7");
  in.existing = {lease("10.1.5.0/24", "192.0.2.1")};
  in.previous_subnet = n4("10.1.42.0/24");
  std::mt19937_64 rng(1);
  auto a = allocate_subnet(in, rng);
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->from_previous);
  EXPECT_EQ(a->subnet, n4("10.1.42.0/24"));

  in.previous_subnet = n4("10.1.5.0/24"); // held by another node
  a = allocate_subnet(in, rng);
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->from_previous);
  EXPECT_NE(a->subnet, n4("10.1.5.0/24"));

  in.previous_subnet = n4("10.1.0.0/24"); // below SubnetMin: incompatible
  a = allocate_subnet(in, rng);
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->from_previous);
}

TEST(AllocateSubnet, PicksAmongFirstHundredFree) {
  AllocationInput in;
  in.v4 = range16();
  in.public_ip = v4("192.0.2.7");
  in.existing = {lease("10.1.1.0/24", "192.0.2.1"), lease("10.1.2.0/23", "192.0.2.2")};
  std::set<net::Ip4Net> seen;
  for (std::uint64_t seed = 0; seed < 400; ++seed) {
    std::mt19937_64 rng(seed);
    auto a = allocate_subnet(in, rng);
    ASSERT_TRUE(a.ok());
    seen.insert(*a->subnet);
  }
  // Free blocks start at 10.1.4.0; the first 100 end at 10.1.103.0.
  EXPECT_EQ(*seen.begin(), n4("10.1.4.0/24"));
  EXPECT_EQ(*seen.rbegin(), n4("10.1.103.0/24"));
  EXPECT_GT(seen.size(), 90U);
}

TEST(AllocateSubnet, OutOfSubnets) {
  AllocationInput in;
  in.v4 = SubnetRange{n4("10.1.0.0/16"), 24, v4("10.1.1.0"), v4("10.1.3.0")};
  in.public_ip = v4("192.0.2.7");
  in.existing = {lease("10.1.1.0/24", "192.0.2.1"), lease("10.1.2.0/24", "192.0.2.2"),
                 lease("10.1.3.0/24", "192.0.2.3")};
  std::mt19937_64 rng(1);
  auto a = allocate_subnet(in, rng);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), base::Code::kOutOfRange);
  EXPECT_EQ(a.status().message(),
            "out of subnets: no free /24 in 10.1.1.0..10.1.3.0 of 10.1.0.0/16");
  in.existing.pop_back();
  a = allocate_subnet(in, rng);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->subnet, n4("10.1.3.0/24"));
}

TEST(AllocateSubnet, WholeAddressSpaceEdges) {
  AllocationInput in;
  in.v4 = SubnetRange{n4("0.0.0.0/0"), 32, v4("255.255.255.254"), v4("255.255.255.255")};
  in.existing = {lease("255.255.255.254/32", "192.0.2.1")};
  std::mt19937_64 rng(1);
  auto a = allocate_subnet(in, rng);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->subnet, n4("255.255.255.255/32"));
  in.existing.push_back(lease("255.255.255.255/32", "192.0.2.2"));
  EXPECT_FALSE(allocate_subnet(in, rng).ok());
}

TEST(AllocateSubnet, DualStackChoosesV6Independently) {
  AllocationInput in;
  in.v4 = range16();
  in.v6 = SubnetRange6{n6("fc00::/48"), 64, v6("fc00::"), v6("fc00:0:0:ffff::")};
  in.public_ip = v4("192.0.2.7");
  Lease other = lease("10.1.1.0/24", "192.0.2.1");
  other.ipv6_subnet = n6("fc00::/64");
  in.existing = {other};
  in.previous_ipv6_subnet = n6("fc00:0:0:7::/64");
  std::mt19937_64 rng(3);
  auto a = allocate_subnet(in, rng);
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  ASSERT_TRUE(a->subnet && a->ipv6_subnet);
  EXPECT_NE(a->subnet, n4("10.1.1.0/24"));
  EXPECT_EQ(a->ipv6_subnet, n6("fc00:0:0:7::/64"));
  EXPECT_TRUE(a->from_previous);

  // A v4-only lease of ours does not fit a dual-stack config: delete it and allocate anew.
  in.existing.push_back(lease("10.1.8.0/24", "192.0.2.7"));
  a = allocate_subnet(in, rng);
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->reused);
  EXPECT_EQ(a->incompatible_to_delete, (std::vector<std::size_t>{1}));

  // v6 exhausted fails even though v4 has room.
  in.v6 = SubnetRange6{n6("fc00::/48"), 64, v6("fc00::"), v6("fc00::")};
  in.previous_ipv6_subnet.reset();
  a = allocate_subnet(in, rng);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), base::Code::kOutOfRange);
  EXPECT_NE(a.status().message().find("fc00::/48"), std::string::npos);
}

TEST(AllocateSubnet, Ipv6OnlyMatchesByPublicIpv6) {
  AllocationInput in;
  in.v6 = SubnetRange6{n6("fc00::/48"), 64, v6("fc00::"), v6("fc00:0:0:ffff::")};
  in.public_ipv6 = v6("2001:db8::7");
  Lease mine;
  mine.subnet.reset();
  mine.ipv6_subnet = n6("fc00:0:0:3::/64");
  mine.attrs.public_ipv6 = v6("2001:db8::7");
  Lease theirs;
  theirs.subnet.reset();
  theirs.ipv6_subnet = n6("fc00:0:0:4::/64");
  theirs.attrs.public_ipv6 = v6("2001:db8::8");
  in.existing = {theirs, mine};
  std::mt19937_64 rng(1);
  auto a = allocate_subnet(in, rng);
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->reused);
  EXPECT_EQ(a->reused_index, 1U);
  EXPECT_EQ(a->ipv6_subnet, n6("fc00:0:0:3::/64"));
  EXPECT_FALSE(a->subnet.has_value());
}

TEST(AllocateSubnet, RejectsBadInput) {
  AllocationInput in;
  std::mt19937_64 rng(1);
  EXPECT_FALSE(allocate_subnet(in, rng).ok());
  in.v4 = range16();
  in.v4->min = v4("10.1.1.7");
  auto a = allocate_subnet(in, rng);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), base::Code::kInvalidArgument);
}

TEST(AllocateSubnet, FastWithManyLeasesInSlash8) {
  AllocationInput in;
  in.v4 = SubnetRange{n4("10.0.0.0/8"), 24, v4("10.0.1.0"), v4("10.255.255.0")};
  in.public_ip = v4("192.0.2.250");
  // 5000 leases packed from the start of the range, plus a few scattered /16s, shuffled.
  for (std::uint32_t i = 0; i < 5000; ++i) {
    in.existing.push_back(lease(
        net::Ip4Net(net::Ip4Addr(v4("10.0.1.0").value() + (i << 8)), 24).to_string(), "192.0.2.1"));
  }
  std::mt19937_64 shuffle_rng(9);
  std::shuffle(in.existing.begin(), in.existing.end(), shuffle_rng);
  std::mt19937_64 rng(1);
  const auto start = std::chrono::steady_clock::now();
  constexpr int kRuns = 20;
  for (int i = 0; i < kRuns; ++i) {
    auto a = allocate_subnet(in, rng);
    ASSERT_TRUE(a.ok());
    EXPECT_GE(a->subnet->ip(), net::Ip4Addr(v4("10.0.1.0").value() + (5000U << 8)));
  }
  const auto per_run = (std::chrono::steady_clock::now() - start) / kRuns;
  // Generous for sanitizer builds and a busy machine; a scan of the range would take seconds.
  EXPECT_LT(per_run, std::chrono::milliseconds(20));
}

} // namespace
} // namespace weft::lease
