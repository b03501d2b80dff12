#include "vpc_service.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_support.h"

namespace weft::emulator {
namespace {

using nlohmann::json;

class VpcServiceTest : public ::testing::Test {
protected:
  VpcServiceTest() : vpc_(testing::small_state(), clock_) {}

  json ok(const std::string& action, const json& body) {
    ActionReply r = vpc_.call(action, body.dump());
    EXPECT_FALSE(r.error) << action << ": " << r.error->code << " " << r.error->message;
    return json::parse("{" + r.members() + "}");
  }
  std::string code(const std::string& action, const json& body) {
    ActionReply r = vpc_.call(action, body.dump());
    return r.error ? r.error->code : "Success";
  }
  static json route(const std::string& dst, const std::string& gw = testing::kNodeA,
                    const std::string& type = "NORMAL_CVM") {
    return {{"DestinationCidrBlock", dst}, {"GatewayType", type}, {"GatewayId", gw}};
  }
  std::string create(const std::vector<json>& routes,
                     const std::string& table = testing::kTableId) {
    return code("CreateRoutes", {{"RouteTableId", table}, {"Routes", json(routes)}});
  }

  base::ManualClock clock_;
  VpcService vpc_;
};

TEST_F(VpcServiceTest, DescribeRouteTablesFiltersAndPages) {
  json all = ok("DescribeRouteTables", json::object());
  EXPECT_EQ(all["TotalCount"], 3);
  json main = ok("DescribeRouteTables", {{"Filters",
                                          {{{"Name", "vpc-id"}, {"Values", {testing::kVpcId}}},
                                           {{"Name", "association.main"}, {"Values", {"TRUE"}}}}}});
  ASSERT_EQ(main["TotalCount"], 1);
  EXPECT_EQ(main["RouteTableSet"][0]["RouteTableId"], testing::kTableId);
  EXPECT_EQ(main["RouteTableSet"][0]["AssociationSet"][0]["SubnetId"], "subnet-test0001");
  json page = ok("DescribeRouteTables", {{"Offset", "2"}, {"Limit", "5"}});
  EXPECT_EQ(page["TotalCount"], 3);
  EXPECT_EQ(page["RouteTableSet"].size(), 1u);
  json by_id = ok("DescribeRouteTables", {{"RouteTableIds", {"rtb-test0002"}}});
  EXPECT_EQ(by_id["RouteTableSet"][0]["RouteTableName"], "second");
  json no_routes = ok("DescribeRouteTables",
                      {{"RouteTableIds", {testing::kTableId}}, {"NeedRouterInfo", false}});
  EXPECT_TRUE(no_routes["RouteTableSet"][0]["RouteSet"].empty());
}

TEST_F(VpcServiceTest, DescribeRouteTablesErrors) {
  EXPECT_EQ(code("DescribeRouteTables",
                 {{"RouteTableIds", {testing::kTableId}},
                  {"Filters", {{{"Name", "vpc-id"}, {"Values", {testing::kVpcId}}}}}}),
            "InvalidParameter.Coexist");
  EXPECT_EQ(code("DescribeRouteTables", {{"RouteTableIds", {"rtb-xyz"}}}),
            "InvalidParameterValue.Malformed");
  EXPECT_EQ(code("DescribeRouteTables", {{"RouteTableIds", {"rtb-99999999"}}}), "ResourceNotFound");
  EXPECT_EQ(code("DescribeRouteTables", {{"Filters", {{{"Name", "color"}, {"Values", {"x"}}}}}}),
            "InvalidParameter.FilterInvalidKey");
  EXPECT_EQ(code("DescribeRouteTables", {{"Filters", {"vpc-id"}}}),
            "InvalidParameter.FilterNotDict");
  EXPECT_EQ(code("DescribeRouteTables", {{"Filters", {{{"Name", "vpc-id"}}}}}),
            "InvalidParameter.FilterMissParameter");
  EXPECT_EQ(code("DescribeRouteTables", {{"Limit", "101"}}), "InvalidParameterValue.LimitExceeded");
  EXPECT_EQ(code("DescribeRouteTables", {{"Offset", "x"}}), "InvalidParameterValue.Malformed");
  EXPECT_EQ(code("DescribeRouteTables", {{"Offset", -1}}), "InvalidParameterValue.Range");
  EXPECT_EQ(vpc_.call("DescribeRouteTables", "{not json").error->code, "InvalidParameter");
}

TEST_F(VpcServiceTest, CreateRoutesValidation) {
  EXPECT_EQ(create({route("172.20.1.0/24")}, "rtb-99999999"), "ResourceNotFound");
  EXPECT_EQ(create({route("172.20.1.0/24")}, "rtb-bad"), "InvalidParameterValue.Malformed");
  EXPECT_EQ(create({route("172.20.1.0/33")}), "InvalidParameterValue.Malformed");
  EXPECT_EQ(create({route("172.20.1.1/24")}), "InvalidParameterValue.Malformed");
  EXPECT_EQ(create({route("10.0.5.0/24")}), "InvalidParameterValue.VpcCidrConflict");
  EXPECT_EQ(create({route("172.20.1.0/24", "10.0.1.99")}),
            "InvalidParameterValue.RouteNextHopInvalid");
  // An instance IP of another VPC is no next hop for this table either.
  EXPECT_EQ(create({route("172.20.1.0/24", "192.168.1.10")}),
            "InvalidParameterValue.RouteNextHopInvalid");
  EXPECT_EQ(create({route("172.20.1.0/24", "not-an-ip")}), "InvalidParameterValue.Malformed");
  EXPECT_EQ(create({route("172.20.1.0/24", "x", "TELEPORT")}), "InvalidParameterValue");
  EXPECT_EQ(code("CreateRoutes", {{"RouteTableId", testing::kTableId}}), "MissingParameter");
  EXPECT_EQ(create({json{{"DestinationCidrBlock", "172.20.1.0/24"}}}), "MissingParameter");
  // Nothing was created by the failures above.
  EXPECT_EQ(vpc_.snapshot().find_table(testing::kTableId)->routes().size(), 1u);
}

TEST_F(VpcServiceTest, CreateRoutesDuplicateEcmpAndQuota) {
  json created = ok("CreateRoutes", {{"RouteTableId", testing::kTableId},
                                     {"Routes", json::array({route("172.20.1.0/24")})}});
  EXPECT_EQ(created["TotalCount"], 1);
  json set = created["RouteTableSet"][0]["RouteSet"];
  ASSERT_EQ(set.size(), 2u);
  EXPECT_EQ(set[1]["RouteType"], "USER");
  EXPECT_EQ(set[1]["RouteId"], 2);
  EXPECT_EQ(create({route("172.20.1.0/24")}), "InvalidParameterValue.Duplicate");
  EXPECT_EQ(create({route("172.20.2.0/24"), route("172.20.2.0/24")}),
            "InvalidParameterValue.Duplicate");
  // Same destination, another NORMAL_CVM next hop: an ECMP group.
  EXPECT_EQ(create({route("172.20.1.0/24", testing::kNodeB)}), "Success");
  EXPECT_EQ(create({route("172.20.1.0/24", "vpngw-12345678", "VPN")}),
            "UnsupportedOperation.EcmpWithUserRoute");
  // Quota 5 per table in the test state: 3 routes now, 3 more do not fit, all or nothing.
  EXPECT_EQ(create({route("172.21.0.0/24"), route("172.21.1.0/24"), route("172.21.2.0/24")}),
            "LimitExceeded");
  EXPECT_EQ(vpc_.snapshot().find_table(testing::kTableId)->routes().size(), 3u);
  EXPECT_EQ(create({route("172.21.0.0/24"), route("172.21.1.0/24")}), "Success");
}

TEST_F(VpcServiceTest, DeleteRoutesByIdOrItemId) {
  json created = ok("CreateRoutes", {{"RouteTableId", testing::kTableId},
                                     {"Routes", {route("172.20.1.0/24"), route("172.20.2.0/24")}}});
  json set = created["RouteTableSet"][0]["RouteSet"];
  std::uint64_t id = set[1]["RouteId"];
  std::string item = set[2]["RouteItemId"];
  auto del = [&](const json& one) {
    return code("DeleteRoutes",
                {{"RouteTableId", testing::kTableId}, {"Routes", json::array({one})}});
  };
  EXPECT_EQ(del(json{{"RouteId", 1}}), "UnsupportedOperation.SystemRoute");
  EXPECT_EQ(del(json{{"RouteItemId", "rti-netd0001"}}), "UnsupportedOperation.SystemRoute");
  EXPECT_EQ(del(json{{"RouteItemId", "rti-bad"}}), "InvalidParameterValue.Malformed");
  EXPECT_EQ(del(json{{"RouteItemId", "rti-zzzzzzzz"}}), "ResourceNotFound");
  EXPECT_EQ(del(json{{"RouteId", 999}}), "ResourceNotFound");
  EXPECT_EQ(del(json{{"RouteDescription", "x"}}), "MissingParameter");
  json deleted = ok("DeleteRoutes", {{"RouteTableId", testing::kTableId},
                                     {"Routes", {{{"RouteId", id}}, {{"RouteItemId", item}}}}});
  EXPECT_EQ(deleted["RouteSet"].size(), 2u);
  EXPECT_EQ(vpc_.snapshot().find_table(testing::kTableId)->routes().size(), 1u);
}

TEST_F(VpcServiceTest, ReplaceRoutes) {
  json created = ok("CreateRoutes", {{"RouteTableId", testing::kTableId},
                                     {"Routes", {route("172.20.1.0/24"), route("172.20.2.0/24")}}});
  std::string item = created["RouteTableSet"][0]["RouteSet"][1]["RouteItemId"];
  json changed = route("172.20.9.0/24", testing::kNodeB);
  changed["RouteItemId"] = item;
  json r = ok("ReplaceRoutes",
              {{"RouteTableId", testing::kTableId}, {"Routes", json::array({changed})}});
  EXPECT_EQ(r["OldRouteSet"][0]["DestinationCidrBlock"], "172.20.1.0/24");
  EXPECT_EQ(r["NewRouteSet"][0]["DestinationCidrBlock"], "172.20.9.0/24");
  EXPECT_EQ(r["NewRouteSet"][0]["GatewayId"], testing::kNodeB);
  EXPECT_EQ(r["NewRouteSet"][0]["RouteItemId"], item);
  auto replace = [&](json rt) {
    return code("ReplaceRoutes",
                {{"RouteTableId", testing::kTableId}, {"Routes", json::array({rt})}});
  };
  json dup = route("172.20.2.0/24");
  dup["RouteItemId"] = item;
  EXPECT_EQ(replace(dup), "InvalidParameterValue.Duplicate");
  json missing = route("172.20.3.0/24");
  missing["RouteItemId"] = "rti-zzzzzzzz";
  EXPECT_EQ(replace(missing), "UnsupportedOperation.RecordNotExists");
  json system = route("172.20.3.0/24");
  system["RouteId"] = 1;
  EXPECT_EQ(replace(system), "UnsupportedOperation.SystemRoute");
  json conflict = route("10.0.9.0/24");
  conflict["RouteItemId"] = item;
  EXPECT_EQ(replace(conflict), "InvalidParameterValue.VpcCidrConflict");
}

TEST_F(VpcServiceTest, DescribeVpcsLimitsAndInstances) {
  json v = ok("DescribeVpcs", {{"VpcIds", {testing::kVpcId}}});
  EXPECT_EQ(v["VpcSet"][0]["CidrBlock"], "10.0.0.0/16");
  EXPECT_EQ(code("DescribeVpcs", {{"VpcIds", {"vpc-1"}}}), "InvalidParameterValue.Malformed");
  EXPECT_EQ(code("DescribeVpcs", {{"VpcIds", {"vpc-99999999"}}}), "ResourceNotFound");
  EXPECT_EQ(code("DescribeVpcs", {{"VpcIds", {testing::kVpcId}},
                                  {"Filters", {{{"Name", "vpc-id"}, {"Values", {"x"}}}}}}),
            "InvalidParameter.Coexist");
  json limits = ok("DescribeVpcLimits", {{"LimitTypes", {"route-table-max-policies"}}});
  EXPECT_EQ(limits["VpcLimitSet"][0]["LimitValue"], 5);
  EXPECT_EQ(code("DescribeVpcLimits", json::object()), "MissingParameter");
  json ins = ok("DescribeInstances",
                {{"Filters", {{{"Name", "private-ip-address"}, {"Values", {testing::kNodeB}}}}}});
  ASSERT_EQ(ins["TotalCount"], 1);
  EXPECT_EQ(ins["InstanceSet"][0]["InstanceId"], "ins-test0002");
  EXPECT_EQ(ins["InstanceSet"][0]["VirtualPrivateCloud"]["VpcId"], testing::kVpcId);
  EXPECT_EQ(ok("DescribeInstances", {{"Offset", 1}, {"Limit", 1}})["InstanceSet"].size(), 1u);
  EXPECT_EQ(code("DescribeInstances", {{"Filters", {{{"Name", "color"}, {"Values", {"x"}}}}}}),
            "InvalidFilter");
}

TEST_F(VpcServiceTest, KernelRoutesFollowEnabledNormalCvmRoutes) {
  KernelRoutes seen;
  vpc_.set_route_listener([&](const KernelRoutes& r) { seen = r; });
  ok("CreateRoutes",
     {{"RouteTableId", testing::kTableId},
      {"Routes", {route("172.20.1.0/24"), route("172.20.2.0/24", testing::kNodeB)}}});
  EXPECT_EQ(seen.at("172.20.1.0/24"), testing::kNodeA);
  EXPECT_EQ(seen.at("172.20.2.0/24"), testing::kNodeB);
  json disabled = route("172.20.1.0/24");
  disabled["Enabled"] = false;
  disabled["RouteId"] = 2;
  ok("ReplaceRoutes", {{"RouteTableId", testing::kTableId}, {"Routes", json::array({disabled})}});
  EXPECT_EQ(seen.count("172.20.1.0/24"), 0u);
}

TEST_F(VpcServiceTest, BigTableReplyIsSharedNotRebuilt) {
  auto first = vpc_.call("DescribeRouteTables", R"({"RouteTableIds":["rtb-test0001"]})");
  auto second = vpc_.call("DescribeRouteTables", R"({"RouteTableIds":["rtb-test0001"]})");
  ASSERT_EQ(first.pieces.size(), second.pieces.size());
  // The RouteSet piece (after "[" and the table head) is the same object in both replies.
  EXPECT_EQ(first.pieces[2].get(), second.pieces[2].get());
  EXPECT_EQ(create({route("172.20.1.0/24")}), "Success");
  auto third = vpc_.call("DescribeRouteTables", R"({"RouteTableIds":["rtb-test0001"]})");
  EXPECT_NE(first.pieces[2].get(), third.pieces[2].get());
}

TEST(StateFile, RoundTripsAndRejectsBadReferences) {
  State s = testing::small_state();
  auto again = parse_state(serialize_state(s));
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_EQ(serialize_state(*again), serialize_state(s));
  EXPECT_FALSE(
      parse_state(R"({"RouteTables":[{"RouteTableId":"rtb-test0001","VpcId":"vpc-nope0000"}]})")
          .ok());
  EXPECT_FALSE(parse_state("[]").ok());
  EXPECT_FALSE(parse_state("{").ok());
}

} // namespace
} // namespace weft::emulator
