#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "lease/subnet_key.h"

namespace weft::lease {
namespace {

net::Ip4Net n4(std::string_view s) {
  return net::Ip4Net::parse(s).value();
}
net::Ip6Net n6(std::string_view s) {
  return net::Ip6Net::parse(s).value();
}

TEST(SubnetKey, Makes) {
  EXPECT_EQ(make_subnet_key(n4("10.1.2.0/24"), std::nullopt), "10.1.2.0-24");
  EXPECT_EQ(make_subnet_key(n4("10.1.2.0/24"), n6("fc00::/64")), "10.1.2.0-24&fc00::-64");
  EXPECT_EQ(make_subnet_key(n4("10.1.2.0/24"), n6("2001:db8:0:1::/64")),
            "10.1.2.0-24&2001:db8:0:1::-64");
  EXPECT_EQ(make_subnet_key(std::nullopt, n6("fc00::/64")), "0.0.0.0-0&fc00::-64");
  EXPECT_EQ(make_subnet_key(n4("10.1.2.0/24"), net::Ip6Net()), "10.1.2.0-24"); // empty v6
}

TEST(SubnetKey, ParsesKeysAndFullPaths) {
  auto k = parse_subnet_key("10.1.2.0-24");
  ASSERT_TRUE(k.ok()) << k.status().to_string();
  EXPECT_EQ(k->first, n4("10.1.2.0/24"));
  EXPECT_EQ(k->second, std::nullopt);

  k = parse_subnet_key("/coreos.com/network/subnets/10.1.2.0-24&fc00::-64");
  ASSERT_TRUE(k.ok()) << k.status().to_string();
  EXPECT_EQ(k->first, n4("10.1.2.0/24"));
  EXPECT_EQ(k->second, n6("fc00::/64"));

  k = parse_subnet_key("0.0.0.0-0&fc00:0:0:1::-64");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->first, std::nullopt);
  EXPECT_EQ(k->second, n6("fc00:0:0:1::/64"));

  // Go's ParseUint accepts leading zeros in the length.
  k = parse_subnet_key("10.1.2.0-024");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->first, n4("10.1.2.0/24"));
}

TEST(SubnetKey, RoundTrips) {
  for (const auto& [sn, sn6] :
       std::vector<std::pair<std::optional<net::Ip4Net>, std::optional<net::Ip6Net>>>{
           {n4("10.244.3.0/24"), std::nullopt},
           {n4("172.16.0.0/12"), n6("2001:db8:42::/56")},
           {std::nullopt, n6("fd00::/64")}}) {
    auto k = parse_subnet_key(make_subnet_key(sn, sn6));
    ASSERT_TRUE(k.ok());
    EXPECT_EQ(k->first, sn);
    EXPECT_EQ(k->second, sn6);
  }
}

TEST(SubnetKey, FollowsFlannelRegexQuirks) {
  // The 2nd and 3rd dots of flannel's regex match any character, but the IP must still parse.
  EXPECT_FALSE(parse_subnet_key("10.1x2y0-24").ok());
  // Go parses the IPv4 length with 5 bits and the IPv6 one with 7: /32 and /128 do not fit.
  EXPECT_FALSE(parse_subnet_key("10.1.2.3-32").ok());
  EXPECT_TRUE(parse_subnet_key("10.1.2.3-31").ok());
  EXPECT_FALSE(parse_subnet_key("10.1.2.0-24&fc00::1-128").ok());
  EXPECT_TRUE(parse_subnet_key("10.1.2.0-24&fc00::1-127").ok());
  // Uppercase hex is outside [a-f\d:], so the whole key fails to match.
  EXPECT_FALSE(parse_subnet_key("10.1.2.0-24&FC00::-64").ok());
  // Unanchored at the start: leading junk is skipped.
  auto k = parse_subnet_key("junk-10.1.2.0-24");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->first, n4("10.1.2.0/24"));
}

TEST(SubnetKey, RejectsGarbageWithKeyInMessage) {
  for (const char* bad :
       {"", "config", "10.1.2.0", "10.1.2.0-", "10.1.2.0/24", "10.1.2.256-24", "10.1.2.0-24&",
        "10.1.2.0-24&fc00::", "10.1.2.0-24&:::-64", "10.1.2.0-24 ", "010.1.2.0-24"}) {
    auto k = parse_subnet_key(bad);
    EXPECT_FALSE(k.ok()) << bad;
    if (!k.ok()) {
      EXPECT_NE(k.status().message().find(std::string("\"") + bad), std::string::npos)
          << k.status().message();
    }
  }
  EXPECT_FALSE(parse_subnet_key(std::string(10000, '1') + ".2.3.4-24").ok());
}

} // namespace
} // namespace weft::lease

namespace weft::lease {
namespace {

// Keys of the common shape take a fast path; a leading non-digit sends the same key through the
// regex (which searches, so the match is unchanged). Both must decide alike.
RC_GTEST_PROP(SubnetKeyProperty, FastPathAgreesWithTheRegex, ()) {
  const auto part = [] {
    return *rc::gen::oneOf(
        rc::gen::map(rc::gen::inRange(0, 1000), [](int v) { return std::to_string(v); }),
        rc::gen::element<std::string>("", "007", "256", "99999999999", "1a"));
  };
  const std::string sep = *rc::gen::element<std::string>(".", ".", ".", "..", ":");
  std::string key = part() + "." + part() + sep + part() + "." + part() + "-" + part();
  if (*rc::gen::inRange(0, 4) == 0) {
    key += *rc::gen::element<std::string>("&fd00::-64", "-", "x", "");
  }
  const auto fast = parse_subnet_key(key);
  const auto slow = parse_subnet_key("x" + key);
  RC_ASSERT(fast.ok() == slow.ok());
  if (fast.ok()) {
    RC_ASSERT(*fast == *slow);
  }
}

} // namespace
} // namespace weft::lease
