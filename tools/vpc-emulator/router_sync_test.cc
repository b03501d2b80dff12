// Router mode against the real kernel: a router namespace and two "instance" namespaces joined by
// veths (all created by this test, nothing in the root namespace). A NORMAL_CVM route created
// through the API carries pings to a pod address behind instance B; deleting it stops them.

#include "router_sync.h"

#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "emulator.h"
#include "test_support.h"

namespace weft::emulator {
namespace {

using nlohmann::json;

class RouterNamespaces : public ::testing::Test {
protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root for network namespaces";
    }
    std::string id = std::to_string(getpid());
    router_ = "weftemu-r-" + id;
    a_ = "weftemu-a-" + id;
    b_ = "weftemu-b-" + id;
    for (const auto& ns : {router_, a_, b_}) {
      ASSERT_TRUE(run_command({"ip", "netns", "add", ns}).ok()) << ns;
      created_.push_back(ns);
      ASSERT_TRUE(run_command({"ip", "-n", ns, "link", "set", "lo", "up"}).ok());
    }
    // Links are created inside the router namespace with the peer moved straight into the
    // instance's namespace: the root namespace never holds them.
    ASSERT_TRUE(run_command({"ip", "-n", router_, "link", "add", "ra", "type", "veth", "peer",
                             "name", "eth0", "netns", a_})
                    .ok());
    ASSERT_TRUE(run_command({"ip", "-n", router_, "link", "add", "rb", "type", "veth", "peer",
                             "name", "eth0", "netns", b_})
                    .ok());
    ip(router_, {"addr", "add", "10.0.1.1/25", "dev", "ra"});
    ip(router_, {"addr", "add", "10.0.1.129/25", "dev", "rb"});
    ip(router_, {"link", "set", "ra", "up"});
    ip(router_, {"link", "set", "rb", "up"});
    ASSERT_TRUE(
        run_command({"ip", "netns", "exec", router_, "sysctl", "-qw", "net.ipv4.ip_forward=1"})
            .ok());
    ip(a_, {"addr", "add", "10.0.1.10/25", "dev", "eth0"});
    ip(a_, {"link", "set", "eth0", "up"});
    ip(a_, {"route", "add", "default", "via", "10.0.1.1"});
    ip(b_, {"addr", "add", "10.0.1.200/25", "dev", "eth0"});
    ip(b_, {"link", "set", "eth0", "up"});
    ip(b_, {"route", "add", "default", "via", "10.0.1.129"});
    ip(b_, {"addr", "add", "172.30.5.1/32", "dev", "lo"}); // a "pod" behind instance B
  }

  void TearDown() override {
    for (const auto& ns : created_) {
      EXPECT_TRUE(run_command({"ip", "netns", "del", ns}).ok()) << ns;
    }
  }

  void ip(const std::string& ns, std::vector<std::string> args) {
    args.insert(args.begin(), {"ip", "-n", ns});
    ASSERT_TRUE(run_command(args).ok()) << fmt::format("{}", fmt::join(args, " "));
  }

  bool ping_from_a(const std::string& dst) {
    return run_command({"ip", "netns", "exec", a_, "ping", "-c1", "-W1", dst}).ok();
  }

  // Polls until ping gives `expected` or the deadline passes (the first packet may wait for ARP).
  bool ping_becomes(const std::string& dst, bool expected) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (ping_from_a(dst) == expected) {
        return true;
      }
    }
    return false;
  }

  std::string router_, a_, b_;
  std::vector<std::string> created_;
};

State router_state() {
  auto s = parse_state(R"({
    "Credentials": [{"SecretId": "AKIDtestTESTtest0000000000000001",
                     "SecretKey": "testSecretKey000000000000000001"}],
    "Vpcs": [{"VpcId": "vpc-test0001", "CidrBlock": "10.0.0.0/16"}],
    "RouteTables": [{"RouteTableId": "rtb-test0001", "VpcId": "vpc-test0001", "Main": true}],
    "Subnets": [{"SubnetId": "subnet-test0001", "VpcId": "vpc-test0001",
                 "CidrBlock": "10.0.1.0/24", "RouteTableId": "rtb-test0001"}],
    "Instances": [
      {"InstanceId": "ins-test000a", "PrivateIpAddress": "10.0.1.10", "VpcId": "vpc-test0001",
       "SubnetId": "subnet-test0001"},
      {"InstanceId": "ins-test000b", "PrivateIpAddress": "10.0.1.200", "VpcId": "vpc-test0001",
       "SubnetId": "subnet-test0001"}]})");
  return *s;
}

TEST_F(RouterNamespaces, RouteCreatedThroughTheApiCarriesPacketsAndDeletionStopsThem) {
  Emulator emulator(router_state(), base::system_clock(), EmulatorOptions{});
  IpRouteSync sync(router_);
  ASSERT_TRUE(sync.flush().ok());
  emulator.vpc().set_route_listener([&](const KernelRoutes& r) { sync.apply(r); });

  ASSERT_TRUE(ping_becomes("10.0.1.200", true)) << "the lab itself does not route";
  EXPECT_FALSE(ping_from_a("172.30.5.1"));

  auto call = [&](const std::string& action, const json& body) {
    ApiResponse r =
        emulator.handle(testing::signed_request(action, body.dump(), emulator.unix_now()));
    return json::parse(r.body())["Response"];
  };
  json created =
      call("CreateRoutes", {{"RouteTableId", "rtb-test0001"},
                            {"Routes", json::array({json{{"DestinationCidrBlock", "172.30.5.0/24"},
                                                         {"GatewayType", "NORMAL_CVM"},
                                                         {"GatewayId", "10.0.1.200"}}})}});
  ASSERT_FALSE(created.contains("Error")) << created.dump();
  EXPECT_EQ(sync.installed().at("172.30.5.0/24"), "10.0.1.200");
  EXPECT_TRUE(ping_becomes("172.30.5.1", true));

  std::uint64_t id = created["RouteTableSet"][0]["RouteSet"][0]["RouteId"];
  json deleted = call("DeleteRoutes", {{"RouteTableId", "rtb-test0001"},
                                       {"Routes", json::array({json{{"RouteId", id}}})}});
  ASSERT_FALSE(deleted.contains("Error")) << deleted.dump();
  EXPECT_TRUE(sync.installed().empty());
  EXPECT_TRUE(ping_becomes("172.30.5.1", false));
}

} // namespace
} // namespace weft::emulator
