#include "test_support.h"

#include <cstdlib>

#include "cloud/tencent/tc3_signer.h"

namespace weft::emulator::testing {

State small_state() {
  auto s = parse_state(R"({
    "Region": "ap-guangzhou",
    "Credentials": [{"SecretId": "AKIDtestTESTtest0000000000000001",
                     "SecretKey": "testSecretKey000000000000000001"}],
    "Quotas": {"route-table-max-policies": 5},
    "Vpcs": [{"VpcId": "vpc-test0001", "VpcName": "a", "CidrBlock": "10.0.0.0/16"},
             {"VpcId": "vpc-test0002", "VpcName": "b", "CidrBlock": "192.168.0.0/16"}],
    "RouteTables": [
      {"RouteTableId": "rtb-test0001", "RouteTableName": "main", "VpcId": "vpc-test0001",
       "Main": true, "Routes": [{"RouteId": 1, "RouteItemId": "rti-netd0001",
         "DestinationCidrBlock": "169.254.64.0/23", "GatewayType": "NORMAL_CVM",
         "GatewayId": "10.0.1.10", "RouteType": "NETD"}]},
      {"RouteTableId": "rtb-test0002", "RouteTableName": "second", "VpcId": "vpc-test0001"},
      {"RouteTableId": "rtb-test0003", "RouteTableName": "main", "VpcId": "vpc-test0002",
       "Main": true}],
    "Subnets": [{"SubnetId": "subnet-test0001", "VpcId": "vpc-test0001",
                 "CidrBlock": "10.0.1.0/24", "Zone": "ap-guangzhou-3",
                 "RouteTableId": "rtb-test0001"},
                {"SubnetId": "subnet-test0002", "VpcId": "vpc-test0002",
                 "CidrBlock": "192.168.1.0/24", "Zone": "ap-guangzhou-3"}],
    "Instances": [
      {"InstanceId": "ins-test0001", "InstanceName": "a", "PrivateIpAddress": "10.0.1.10",
       "Mac": "52:54:00:aa:00:01", "VpcId": "vpc-test0001", "SubnetId": "subnet-test0001",
       "Zone": "ap-guangzhou-3", "CamRoleName": "weft-node"},
      {"InstanceId": "ins-test0002", "InstanceName": "b", "PrivateIpAddress": "10.0.1.11",
       "Mac": "52:54:00:aa:00:02", "VpcId": "vpc-test0001", "SubnetId": "subnet-test0001",
       "Zone": "ap-guangzhou-3"},
      {"InstanceId": "ins-test0003", "InstanceName": "c", "PrivateIpAddress": "192.168.1.10",
       "Mac": "52:54:00:bb:00:01", "VpcId": "vpc-test0002", "SubnetId": "subnet-test0002",
       "Zone": "ap-guangzhou-3"}]
  })");
  if (!s.ok()) {
    std::abort();
  }
  return *s;
}

ApiRequest signed_request(const std::string& action, const std::string& body,
                          std::int64_t timestamp, const std::string& secret_id,
                          const std::string& secret_key, const std::string& token,
                          const std::string& host) {
  namespace tc3 = weft::cloud::tencent;
  ApiRequest r;
  r.body = body;
  r.headers["content-type"] = "application/json";
  r.headers["host"] = host;
  r.headers["x-tc-action"] = action;
  r.headers["x-tc-version"] = kApiVersion;
  r.headers["x-tc-timestamp"] = std::to_string(timestamp);
  r.headers["x-tc-region"] = "ap-guangzhou";
  if (!token.empty()) {
    r.headers["x-tc-token"] = token;
  }
  tc3::Tc3Request s;
  s.signed_headers = {{"content-type", "application/json"}, {"host", host}};
  s.hashed_payload = tc3::sha256_hex(body);
  std::string service = action == "DescribeInstances" ? "cvm" : "vpc";
  r.headers["authorization"] = tc3::sign_tc3(s, secret_id, secret_key, service, timestamp);
  return r;
}

} // namespace weft::emulator::testing
