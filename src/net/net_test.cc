#include <ostream>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <gtest/gtest.h>

#include "net/ip.h"
#include "net/ip_net.h"
#include "net/mac.h"

namespace weft::net {

void PrintTo(const Ip4Net& n, std::ostream* os) {
  *os << n.to_string();
}
void PrintTo(const Ip6Net& n, std::ostream* os) {
  *os << n.to_string();
}
void PrintTo(const Ip4Addr& a, std::ostream* os) {
  *os << a.to_string();
}
void PrintTo(const Ip6Addr& a, std::ostream* os) {
  *os << a.to_string();
}

namespace {

Ip4Addr v4(std::string_view s) {
  return Ip4Addr::parse(s).value();
}
Ip6Addr v6(std::string_view s) {
  return Ip6Addr::parse(s).value();
}
Ip4Net n4(std::string_view s) {
  return Ip4Net::parse(s).value();
}
Ip6Net n6(std::string_view s) {
  return Ip6Net::parse(s).value();
}

TEST(Ip4Addr, ParsesValidAddresses) {
  EXPECT_EQ(v4("0.0.0.0").value(), 0U);
  EXPECT_EQ(v4("255.255.255.255").value(), 0xffffffffU);
  EXPECT_EQ(v4("10.1.2.3").value(), 0x0a010203U);
  EXPECT_EQ(v4("192.0.2.12").to_string(), "192.0.2.12");
}

TEST(Ip4Addr, RejectsMalformedText) {
  for (const char* bad :
       {"",          "10.0.0.256", "1.2.3",    "1.2.3.4.5",  "01.2.3.4",       "1.2.3.04",
        " 1.2.3.4",  "1.2.3.4 ",   "1.2.3.4x", "1.2.3.4/24", "::ffff:1.2.3.4", "1..2.3",
        "1.2.3.",    ".1.2.3",     "a.b.c.d",  "1.2.3.-4",   "+1.2.3.4",       "1000.2.3.4",
        "1.2.3.4\n", "1.2.3.4.",   "1.2.3.00", "1.2.3.0004", "1.2.300.4",      "1.2..4",
        "4294967295"}) {
    auto r = Ip4Addr::parse(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), base::Code::kInvalidArgument);
    }
  }
}

TEST(Ip4Addr, ErrorNamesTheValue) {
  auto r = Ip4Addr::parse("10.0.0.256");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("\"10.0.0.256\""), std::string::npos) << r.status().message();
}

TEST(Ip4Addr, Orders) {
  EXPECT_LT(v4("9.255.255.255"), v4("10.0.0.0"));
  EXPECT_EQ(v4("1.2.3.4"), Ip4Addr(0x01020304));
}

TEST(Ip6Addr, ParsesAndFormatsCanonically) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"::", "::"},
      {"::1", "::1"},
      {"1::", "1::"},
      {"fc00::", "fc00::"},
      {"FC00:0:0:0:0:0:0:1", "fc00::1"},
      {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"}, // first of two equal runs
      {"2001:0db8:0000:0000:0000:ff00:0042:8329", "2001:db8::ff00:42:8329"},
      {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"}, // a single zero group stays
      {"1:0:0:2:0:0:0:3", "1:0:0:2::3"},                // the longest run wins
      {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
      {"::ffff:1.2.3.4", "::ffff:1.2.3.4"},
      {"::ffff:0102:0304", "::ffff:1.2.3.4"},
      {"64:ff9b::192.0.2.33", "64:ff9b::c000:221"},
      {"1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"},
      {"::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"},
      {"fe80::1", "fe80::1"},
  };
  for (const auto& [in, want] : cases) {
    auto r = Ip6Addr::parse(in);
    ASSERT_TRUE(r.ok()) << in << ": " << r.status().to_string();
    EXPECT_EQ(r->to_string(), want) << in;
    EXPECT_EQ(Ip6Addr::parse(want).value(), *r) << want;
  }
}

TEST(Ip6Addr, RejectsMalformedText) {
  for (const char* bad : {"",
                          ":",
                          ":::",
                          "1:2:3:4:5:6:7",
                          "1:2:3:4:5:6:7:8:9",
                          "1:2:3:4:5:6:7:8::",
                          "::1:2:3:4:5:6:7:8",
                          "1::2::3",
                          "12345::",
                          "g::",
                          "fe80::1%eth0",
                          "[::1]",
                          " ::1",
                          "::1 ",
                          ":1::",
                          "1::2:",
                          "1.2.3.4",
                          "::1.2.3",
                          "::1.2.3.256",
                          "::01.2.3.4",
                          "1.2.3.4::",
                          "1:2:3:4:5:6:7:1.2.3.4",
                          "::ffff:1.2.3.4:1",
                          "fc00::/64"}) {
    auto r = Ip6Addr::parse(bad);
    EXPECT_FALSE(r.ok()) << bad << " parsed as " << (r.ok() ? r->to_string() : "");
  }
}

TEST(Ip6Addr, ValueRoundTrip) {
  const Ip6Addr a = v6("2001:db8::ff00:42:8329");
  EXPECT_EQ(Ip6Addr::from_value(a.value()), a);
  EXPECT_EQ(static_cast<std::uint64_t>(v6("::1").value()), 1U);
  EXPECT_EQ(static_cast<std::uint64_t>(v6("1::").value() >> 112), 1U);
}

TEST(Ip4Net, ParsesStrictly) {
  const Ip4Net n = n4("10.1.2.3/24");
  EXPECT_EQ(n.ip(), v4("10.1.2.3")); // host bits kept
  EXPECT_EQ(n.prefix_len(), 24);
  EXPECT_FALSE(n.is_network());
  EXPECT_EQ(n.network().to_string(), "10.1.2.0/24");
  EXPECT_TRUE(n.network().is_network());
  for (const char* bad : {"1.2.3.4/33", "1.2.3.4", "1.2.3.4/", "1.2.3.4/-1", "1.2.3.4/024",
                          "1.2.3.4/ 24", " 1.2.3.4/24", "1.2.3.4/24 ", "1.2.3.4/24/1",
                          "10.0.0.256/8", "fc00::/64", "/8", "1.2.3.4/1x"}) {
    auto r = Ip4Net::parse(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find(bad), std::string::npos) << r.status().message();
    }
  }
  EXPECT_TRUE(Ip4Net::parse("0.0.0.0/0").ok());
  EXPECT_TRUE(Ip4Net::parse("1.2.3.4/32").ok());
}

TEST(Ip4Net, Arithmetic) {
  const Ip4Net n = n4("10.244.0.0/16");
  EXPECT_EQ(n.first(), v4("10.244.0.0"));
  EXPECT_EQ(n.last(), v4("10.244.255.255"));
  EXPECT_EQ(n.size(), 65536U);
  EXPECT_EQ(n4("0.0.0.0/0").size(), std::uint64_t{1} << 32);
  EXPECT_EQ(n4("1.2.3.4/32").size(), 1U);
  EXPECT_TRUE(n.contains(v4("10.244.3.1")));
  EXPECT_FALSE(n.contains(v4("10.245.0.0")));
  EXPECT_TRUE(n.contains(n4("10.244.3.0/24")));
  EXPECT_FALSE(n.contains(n4("10.0.0.0/8")));
  EXPECT_TRUE(n.overlaps(n4("10.0.0.0/8")));
  EXPECT_TRUE(n4("10.0.0.0/8").overlaps(n));
  EXPECT_FALSE(n.overlaps(n4("10.245.0.0/16")));
  EXPECT_TRUE(n4("0.0.0.0/0").contains(n));
}

TEST(Ip4Net, Next) {
  EXPECT_EQ(n4("10.1.2.0/24").next(), n4("10.1.3.0/24"));
  EXPECT_EQ(n4("10.1.255.0/24").next(), n4("10.2.0.0/24"));
  EXPECT_EQ(n4("10.1.2.7/24").next(), n4("10.1.3.0/24"));
  EXPECT_EQ(n4("255.255.255.0/24").next(), std::nullopt);
  EXPECT_EQ(n4("255.255.255.255/32").next(), std::nullopt);
  EXPECT_EQ(n4("0.0.0.0/0").next(), std::nullopt);
  EXPECT_EQ(n4("128.0.0.0/1").next(), std::nullopt);
  EXPECT_EQ(n4("0.0.0.0/1").next(), n4("128.0.0.0/1"));
}

TEST(Ip4Net, ToStringKeepsIp) {
  EXPECT_EQ(n4("10.244.3.1/24").to_string(), "10.244.3.1/24");
  EXPECT_EQ(Ip4Net(v4("10.0.0.1"), 99).prefix_len(), 32); // clamped
}

TEST(Ip4Net, HashableAsMapKey) {
  std::unordered_map<Ip4Net, int> m;
  m[n4("10.0.0.0/24")] = 1;
  m[n4("10.0.0.0/25")] = 2;
  m[n4("10.0.1.0/24")] = 3;
  EXPECT_EQ(m.size(), 3U);
  EXPECT_EQ(m.at(n4("10.0.0.0/25")), 2);
  std::unordered_map<Ip6Net, int> m6;
  m6[n6("fc00::/64")] = 1;
  m6[n6("fc00:0:0:1::/64")] = 2;
  EXPECT_EQ(m6.size(), 2U);
  EXPECT_EQ(m6.at(n6("fc00::/64")), 1);
}

TEST(Ip6Net, ParsesStrictly) {
  const Ip6Net n = n6("fc00::1/64");
  EXPECT_EQ(n.network().to_string(), "fc00::/64");
  EXPECT_FALSE(n.is_network());
  for (const char* bad : {"fc00::/129", "fc00::", "fc00::/", "fc00::/064", "fe80::1%eth0/64",
                          "[fc00::]/64", "10.0.0.0/8", "fc00::/64 "}) {
    EXPECT_FALSE(Ip6Net::parse(bad).ok()) << bad;
  }
  EXPECT_TRUE(Ip6Net::parse("::/0").ok());
  EXPECT_TRUE(Ip6Net::parse("::1/128").ok());
}

TEST(Ip6Net, Edges) {
  const Ip6Net all = n6("::/0");
  EXPECT_EQ(all.size(), ~static_cast<Uint128>(0)); // saturated
  EXPECT_TRUE(all.contains(v6("ffff::1")));
  EXPECT_EQ(all.next(), std::nullopt);
  EXPECT_EQ(all.last().to_string(), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");

  const Ip6Net top = n6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
  EXPECT_EQ(top.next(), std::nullopt);
  EXPECT_EQ(top.size(), 1U);
  EXPECT_EQ(n6("ffff:ffff:ffff:ffff::/64").next(), std::nullopt);

  EXPECT_EQ(n6("fc00::/64").next(), n6("fc00:0:0:1::/64"));
  EXPECT_EQ(n6("fc00:0:0:ffff:ffff:ffff:ffff:ffff/128").next(), n6("fc00:0:1::/128"));
  EXPECT_EQ(n6("::/1").next(), n6("8000::/1"));
  EXPECT_EQ(n6("fc00::/64").size(), static_cast<Uint128>(1) << 64);
  EXPECT_TRUE(n6("fc00::/48").contains(n6("fc00:0:0:5::/64")));
  EXPECT_FALSE(n6("fc00::/64").contains(n6("fc00::/48")));
  EXPECT_TRUE(n6("fc00::/64").overlaps(n6("fc00::/48")));
  EXPECT_FALSE(n6("fc00::/64").overlaps(n6("fc00:0:0:1::/64")));
}

TEST(ForEachSubnet, YieldsBlocksInOrder) {
  std::vector<std::string> got;
  ASSERT_TRUE(
      for_each_subnet(n4("10.1.0.0/16"), 24, v4("10.1.1.0"), v4("10.1.4.0"), [&](const Ip4Net& n) {
        got.push_back(n.to_string());
        return true;
      }).ok());
  EXPECT_EQ(got,
            (std::vector<std::string>{"10.1.1.0/24", "10.1.2.0/24", "10.1.3.0/24", "10.1.4.0/24"}));
}

TEST(ForEachSubnet, StopsWhenAsked) {
  int calls = 0;
  ASSERT_TRUE(
      for_each_subnet(n4("10.0.0.0/8"), 24, v4("10.0.0.0"), v4("10.255.255.0"), [&](const Ip4Net&) {
        return ++calls < 3;
      }).ok());
  EXPECT_EQ(calls, 3);
}

TEST(ForEachSubnet, HandlesTopOfAddressSpace) {
  int calls = 0;
  ASSERT_TRUE(for_each_subnet(n4("0.0.0.0/0"), 32, v4("255.255.255.250"), v4("255.255.255.255"),
                              [&](const Ip4Net&) {
                                ++calls;
                                return true;
                              })
                  .ok());
  EXPECT_EQ(calls, 6);
  std::vector<Ip6Net> got;
  ASSERT_TRUE(for_each_subnet(n6("::/0"), 1, v6("::"), v6("8000::"), [&](const Ip6Net& n) {
                got.push_back(n);
                return true;
              }).ok());
  EXPECT_EQ(got, (std::vector<Ip6Net>{n6("::/1"), n6("8000::/1")}));
  got.clear();
  ASSERT_TRUE(for_each_subnet(n6("::/0"), 0, v6("::"), v6("::"), [&](const Ip6Net& n) {
                got.push_back(n);
                return true;
              }).ok());
  EXPECT_EQ(got, (std::vector<Ip6Net>{n6("::/0")}));
}

TEST(ForEachSubnet, RejectsBadArguments) {
  auto never = [](const Ip4Net&) {
    ADD_FAILURE() << "callback must not run";
    return true;
  };
  const Ip4Net net = n4("10.1.0.0/16");
  EXPECT_FALSE(for_each_subnet(net, 8, v4("10.0.0.0"), v4("10.0.0.0"), never).ok());
  EXPECT_FALSE(for_each_subnet(net, 33, v4("10.1.0.0"), v4("10.1.0.0"), never).ok());
  EXPECT_FALSE(for_each_subnet(net, 24, v4("10.1.0.1"), v4("10.1.1.0"), never).ok());
  EXPECT_FALSE(for_each_subnet(net, 24, v4("10.1.0.0"), v4("10.2.0.0"), never).ok());
  EXPECT_FALSE(for_each_subnet(net, 24, v4("10.1.2.0"), v4("10.1.1.0"), never).ok());
  auto s = for_each_subnet(net, 24, v4("10.1.0.1"), v4("10.1.1.0"), never);
  EXPECT_NE(s.message().find("10.1.0.1"), std::string::npos) << s.message();
  auto never6 = [](const Ip6Net&) {
    ADD_FAILURE() << "callback must not run";
    return true;
  };
  EXPECT_FALSE(for_each_subnet(n6("fc00::/48"), 64, v6("fc00::1"), v6("fc00::1"), never6).ok());
  EXPECT_FALSE(for_each_subnet(n6("fc00::/48"), 129, v6("fc00::"), v6("fc00::"), never6).ok());
  EXPECT_FALSE(for_each_subnet(n6("fc00::/48"), 64, v6("fd00::"), v6("fd00::"), never6).ok());
}

TEST(MacAddr, ParsesAndFormats) {
  auto m = MacAddr::parse("C6:D2:32:6f:6c:0E");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->to_string(), "c6:d2:32:6f:6c:0e");
  for (const char* bad :
       {"", "c6:d2:32:6f:6c", "c6:d2:32:6f:6c:0e:00", "c6-d2-32-6f-6c-0e", "c6:d2:32:6f:6c:0g",
        " c6:d2:32:6f:6c:0e", "c6d2.326f.6c0e", "c6:d2:32:6f:6c:0e "}) {
    EXPECT_FALSE(MacAddr::parse(bad).ok()) << bad;
  }
}

TEST(MacAddr, RandomLocalIsUnicastAndLocallyAdministered) {
  std::mt19937_64 rng(42);
  std::set<MacAddr> seen;
  for (int i = 0; i < 200; ++i) {
    const MacAddr m = MacAddr::random_local(rng);
    EXPECT_EQ(m.bytes()[0] & 0x01, 0);
    EXPECT_EQ(m.bytes()[0] & 0x02, 0x02);
    EXPECT_EQ(MacAddr::parse(m.to_string()).value(), m);
    seen.insert(m);
  }
  EXPECT_GT(seen.size(), 190U);
}

} // namespace
} // namespace weft::net
