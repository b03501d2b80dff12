#include "emulator.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_support.h"

namespace weft::emulator {
namespace {

using nlohmann::json;

class EmulatorTest : public ::testing::Test {
protected:
  EmulatorTest() : emulator_(testing::small_state(), clock_, EmulatorOptions{}) {}

  std::int64_t now() const { return emulator_.unix_now(); }
  json call(const std::string& action, const std::string& body = "{}") {
    ApiResponse r = emulator_.handle(testing::signed_request(action, body, now()));
    return json::parse(r.body());
  }
  static std::string code(const json& reply) {
    const json& response = reply.at("Response");
    return response.contains("Error") ? response["Error"]["Code"].get<std::string>() : "Success";
  }

  base::ManualClock clock_;
  Emulator emulator_;
};

TEST_F(EmulatorTest, EnvelopeHasRequestIdOnSuccessAndError) {
  json ok = call("DescribeVpcs");
  EXPECT_EQ(code(ok), "Success");
  EXPECT_EQ(ok["Response"]["RequestId"].get<std::string>().size(), 36u);
  json err = call("DescribeRouteTables", R"({"RouteTableIds":["rtb-x"]})");
  EXPECT_EQ(code(err), "InvalidParameterValue.Malformed");
  EXPECT_FALSE(err["Response"]["Error"]["Message"].get<std::string>().empty());
  EXPECT_EQ(err["Response"]["RequestId"].get<std::string>().size(), 36u);
}

TEST_F(EmulatorTest, ActionAndVersionChecks) {
  EXPECT_EQ(code(call("CreateVpc")), "InvalidAction");
  ApiRequest r = testing::signed_request("DescribeVpcs", "{}", now());
  r.headers["x-tc-version"] = "2018-05-25";
  EXPECT_EQ(code(json::parse(emulator_.handle(r).body())), "NoSuchVersion");
  r.headers.erase("x-tc-version");
  EXPECT_EQ(code(json::parse(emulator_.handle(r).body())), "MissingParameter");
  // A cvm-scoped signature cannot call a vpc action.
  ApiRequest cvm = testing::signed_request("DescribeInstances", "{}", now());
  cvm.headers["x-tc-action"] = "DescribeVpcs";
  EXPECT_EQ(code(json::parse(emulator_.handle(cvm).body())), "InvalidAction");
  EXPECT_EQ(code(call("DescribeInstances")), "Success");
}

TEST_F(EmulatorTest, ClockOffsetMakesTimestampsStale) {
  ApiRequest r = testing::signed_request("DescribeVpcs", "{}", now());
  emulator_.set_clock_offset(std::chrono::seconds(301));
  EXPECT_EQ(code(json::parse(emulator_.handle(r).body())), "AuthFailure.SignatureExpire");
}

TEST_F(EmulatorTest, RateLimitPerActionRefillsWithTime) {
  emulator_.rate_limiter().set_action_limit("DescribeVpcs", 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(code(call("DescribeVpcs")), "Success");
  }
  EXPECT_EQ(code(call("DescribeVpcs")), "RequestLimitExceeded");
  EXPECT_EQ(code(call("DescribeVpcLimits", R"({"LimitTypes":["vpc-max-route-tables"]})")),
            "Success"); // other actions have their own bucket
  clock_.advance(std::chrono::milliseconds(340));
  EXPECT_EQ(code(call("DescribeVpcs")), "Success");
  EXPECT_EQ(code(call("DescribeVpcs")), "RequestLimitExceeded");
}

TEST_F(EmulatorTest, DefaultLimitIsOneHundredPerSecondAndCanBeTurnedOff) {
  int throttled = 0;
  for (int i = 0; i < 120; ++i) {
    throttled += code(call("DescribeVpcs")) == "RequestLimitExceeded" ? 1 : 0;
  }
  EXPECT_EQ(throttled, 20);
  emulator_.rate_limiter().set_default(0);
  EXPECT_EQ(code(call("DescribeVpcs")), "Success");
}

TEST_F(EmulatorTest, ScriptedFaultsAndCounters) {
  emulator_.faults().append_script({FaultKind::kInternalError, {}, "CreateRoutes"});
  emulator_.faults().append_script({FaultKind::kRequestLimitExceeded, {}, ""});
  emulator_.faults().append_script({FaultKind::kDelay, std::chrono::milliseconds(50), ""});
  emulator_.faults().append_script({FaultKind::kDrop, {}, ""});
  EXPECT_EQ(code(call("DescribeVpcs")), "RequestLimitExceeded"); // first entry is for CreateRoutes
  EXPECT_EQ(code(call("CreateRoutes", R"({"RouteTableId":"rtb-test0001","Routes":[]})")),
            "InternalError");
  ApiResponse delayed = emulator_.handle(testing::signed_request("DescribeVpcs", "{}", now()));
  EXPECT_EQ(delayed.delay, std::chrono::milliseconds(50));
  EXPECT_EQ(delayed.code, "Success");
  ApiResponse dropped = emulator_.handle(testing::signed_request("DescribeVpcs", "{}", now()));
  EXPECT_TRUE(dropped.drop);
  EXPECT_EQ(code(call("DescribeVpcs")), "Success");

  auto counters = emulator_.counters();
  EXPECT_EQ(counters["DescribeVpcs"]["Success"], 2u);
  EXPECT_EQ(counters["DescribeVpcs"]["RequestLimitExceeded"], 1u);
  EXPECT_EQ(counters["DescribeVpcs"]["Fault.Drop"], 1u);
  EXPECT_EQ(counters["CreateRoutes"]["InternalError"], 1u);
}

TEST_F(EmulatorTest, FaultProbabilityOneAlwaysFails) {
  ASSERT_TRUE(emulator_.faults().configure_json(R"({"Probability":{"InternalError":1.0}})").ok());
  EXPECT_EQ(code(call("DescribeVpcs")), "InternalError");
  EXPECT_FALSE(emulator_.faults().configure_json(R"({"Script":[{"Fault":"Boom"}]})").ok());
  emulator_.faults().clear();
  EXPECT_EQ(code(call("DescribeVpcs")), "Success");
}

} // namespace
} // namespace weft::emulator
