#include "addr.h"

#include <gtest/gtest.h>

namespace weft::emulator {
namespace {

TEST(Addr, ParsesStrictIpv4AndCidr) {
  EXPECT_EQ(parse_ipv4("10.0.1.7"), 0x0a000107u);
  for (const char* bad : {"", "10.0.1", "10.0.1.256", "10.0.01.1", "10.0.1.1 ", "a.b.c.d"}) {
    EXPECT_FALSE(parse_ipv4(bad)) << bad;
  }
  auto c = parse_cidr("172.20.0.0/16");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->contains(*parse_cidr("172.20.5.0/24")));
  EXPECT_FALSE(parse_cidr("172.20.5.0/24")->contains(*c));
  for (const char* bad : {"172.20.0.1/16", "172.20.0.0/33", "172.20.0.0", "172.20.0.0/", "x/8"}) {
    EXPECT_FALSE(parse_cidr(bad)) << bad;
  }
  EXPECT_EQ(parse_cidr("0.0.0.0/0")->to_string(), "0.0.0.0/0");
}

TEST(Addr, ResourceIds) {
  EXPECT_TRUE(valid_resource_id("rtb-l2h8d7c2", "rtb"));
  EXPECT_FALSE(valid_resource_id("rtb-xyz", "rtb"));
  EXPECT_FALSE(valid_resource_id("rtb-L2H8D7C2", "rtb"));
  EXPECT_FALSE(valid_resource_id("vpc-l2h8d7c2", "rtb"));
}

} // namespace
} // namespace weft::emulator
