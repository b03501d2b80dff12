#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "lease/subnet_env.h"

namespace weft::lease {
namespace {

net::Ip4Net n4(std::string_view s) {
  return net::Ip4Net::parse(s).value();
}
net::Ip6Net n6(std::string_view s) {
  return net::Ip6Net::parse(s).value();
}

SubnetFileParams v4_params() {
  SubnetFileParams p;
  p.network = n4("10.244.0.0/16");
  p.subnet = n4("10.244.3.0/24");
  p.mtu = 1450;
  p.ipmasq = true;
  return p;
}

TEST(SubnetEnv, GoldenIpv4) {
  EXPECT_EQ(format_subnet_env(v4_params()),
            "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1450\n"
            "FLANNEL_IPMASQ=true\n");
}

TEST(SubnetEnv, GoldenDualStack) {
  SubnetFileParams p = v4_params();
  p.enable_ipv6 = true;
  p.ipv6_network = n6("2001:cafe:42::/56");
  p.ipv6_subnet = n6("2001:cafe:42:3::/64");
  p.ipmasq = false;
  EXPECT_EQ(format_subnet_env(p),
            "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\n"
            "FLANNEL_IPV6_NETWORK=2001:cafe:42::/56\nFLANNEL_IPV6_SUBNET=2001:cafe:42:3::1/64\n"
            "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n");
}

TEST(SubnetEnv, GoldenIpv6Only) {
  SubnetFileParams p;
  p.enable_ipv4 = false;
  p.enable_ipv6 = true;
  p.ipv6_network = n6("fd00::/48");
  p.ipv6_subnet = n6("fd00:0:0:5::/64");
  p.mtu = 1500;
  EXPECT_EQ(format_subnet_env(p), "FLANNEL_IPV6_NETWORK=fd00::/48\n"
                                  "FLANNEL_IPV6_SUBNET=fd00:0:0:5::1/64\n"
                                  "FLANNEL_MTU=1500\nFLANNEL_IPMASQ=false\n");
}

TEST(SubnetEnv, ParsesWhatItWrites) {
  SubnetFileParams p = v4_params();
  p.enable_ipv6 = true;
  p.ipv6_network = n6("2001:cafe:42::/56");
  p.ipv6_subnet = n6("2001:cafe:42:3::/64");
  auto env = parse_subnet_env(format_subnet_env(p));
  ASSERT_TRUE(env.ok()) << env.status().to_string();
  EXPECT_EQ(env->networks, std::vector<net::Ip4Net>{n4("10.244.0.0/16")});
  EXPECT_EQ(env->subnet, n4("10.244.3.1/24"));
  EXPECT_EQ(env->ipv6_networks, std::vector<net::Ip6Net>{n6("2001:cafe:42::/56")});
  EXPECT_EQ(env->ipv6_subnet, n6("2001:cafe:42:3::1/64"));
  EXPECT_EQ(env->mtu, 1450);
  EXPECT_EQ(env->ipmasq, true);
  const auto [prev, prev6] = previous_subnets(*env);
  EXPECT_EQ(prev, n4("10.244.3.0/24"));
  EXPECT_EQ(prev6, n6("2001:cafe:42:3::/64"));
}

TEST(SubnetEnv, ParsesTolerantly) {
  const std::string text = "# written by flanneld\n"
                           "\n"
                           "  export FLANNEL_NETWORK = 10.244.0.0/16, 10.245.0.0/16  \n"
                           "FLANNEL_SUBNET='10.244.3.1/24'\r\n"
                           "FLANNEL_MTU: \"1450\"   # inline comment\n"
                           "FLANNEL_IPMASQ=True # yes\n"
                           "OTHER_KEY=whatever=1\n"
                           "FLANNEL_IPV6_NETWORK=\n";
  auto env = parse_subnet_env(text);
  ASSERT_TRUE(env.ok()) << env.status().to_string();
  EXPECT_EQ(env->networks, (std::vector<net::Ip4Net>{n4("10.244.0.0/16"), n4("10.245.0.0/16")}));
  EXPECT_EQ(env->subnet, n4("10.244.3.1/24"));
  EXPECT_EQ(env->mtu, 1450);
  EXPECT_EQ(env->ipmasq, true);
  EXPECT_TRUE(env->ipv6_networks.empty());
  EXPECT_FALSE(env->ipv6_subnet.has_value());
  const auto [prev, prev6] = previous_subnets(*env);
  EXPECT_EQ(prev, n4("10.244.3.0/24"));
  EXPECT_FALSE(prev6.has_value());
}

TEST(SubnetEnv, EmptyFileIsEmpty) {
  auto env = parse_subnet_env("");
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(*env, SubnetEnv{});
  EXPECT_FALSE(previous_subnets(*env).first.has_value());
}

TEST(SubnetEnv, LastDuplicateWins) {
  auto env = parse_subnet_env("FLANNEL_MTU=1400\nFLANNEL_MTU=1450\n");
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->mtu, 1450);
}

TEST(SubnetEnv, ErrorsNameKeyAndValue) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"FLANNEL_SUBNET=10.244.3.1/33\n", "FLANNEL_SUBNET=\"10.244.3.1/33\""},
      {"FLANNEL_SUBNET=10.244.3.1/24,10.244.4.1/24\n", "FLANNEL_SUBNET"},
      {"FLANNEL_NETWORK=10.244.0.0/16,bogus\n", "bogus"},
      {"FLANNEL_MTU=abc\n", "FLANNEL_MTU=\"abc\""},
      {"FLANNEL_MTU=1450x\n", "1450x"},
      {"FLANNEL_MTU=99999999999\n", "FLANNEL_MTU"},
      {"FLANNEL_IPMASQ=yes\n", "FLANNEL_IPMASQ=\"yes\""},
      {"FLANNEL_IPV6_SUBNET=10.0.0.0/8:1\n", "FLANNEL_IPV6_SUBNET"},
      {"\nJUSTTEXT\n", "line 2"},
      {"FLANNEL_SUBNET=\"10.244.3.1/24\n", "line 1"},
      {"BAD KEY=1\n", "line 1"},
      {"=1\n", "line 1"},
  };
  for (const auto& [text, want] : cases) {
    auto env = parse_subnet_env(text);
    ASSERT_FALSE(env.ok()) << text;
    EXPECT_EQ(env.status().code(), base::Code::kInvalidArgument);
    EXPECT_NE(env.status().message().find(want), std::string::npos)
        << "want " << want << " in: " << env.status().message();
  }
}

TEST(SubnetEnv, WritesFileAtomicallyWithMode0644) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("weft_subnet_env_test_" + std::to_string(::getpid()));
  const std::filesystem::path path = dir / "run" / "subnet.env";
  const mode_t old_umask = ::umask(077);
  const base::Status s = write_subnet_env(path.string(), v4_params());
  ::umask(old_umask);
  ASSERT_TRUE(s.ok()) << s.to_string();
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  EXPECT_EQ(content.str(), format_subnet_env(v4_params()));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644U);
  std::filesystem::remove_all(dir);
}

} // namespace
} // namespace weft::lease
