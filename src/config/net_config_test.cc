#include "config/net_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace weft::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

NetConfig parse_ok(const std::string& json) {
  auto r = parse_net_config(json);
  EXPECT_TRUE(r.ok()) << json << " -> " << r.status().to_string();
  return r.ok() ? *r : NetConfig{};
}

// One row per rule: flanneld's verdict on a net-conf.json. `parse_error` set means ParseConfig
// (JSON decoding) rejects it; otherwise `check_error` empty means CheckNetworkConfig accepts it,
// else the message starts with flannel's text and names the value(s).
struct Case {
  const char* json;
  const char* parse_error; // prefix of the parse error, or nullptr
  const char* check_error; // prefix of the check error, "" = accepted
  const char* value_shown; // substring the error must contain (the offending value)
};

const std::vector<Case> kCases = {
    // flannel's pkg/subnet/config_test.go
    {R"({ "network": "10.3.0.0/16" })", nullptr, "", ""},
    {R"({ "enableIPv6": true, "ipv6Network": "fc00::/48", "enableIPv4": false })", nullptr, "", ""},
    {R"({ "Network": "10.3.0.0/16", "SubnetMin": "10.3.5.0", "SubnetMax": "10.3.8.0",
          "SubnetLen": 28 })",
     nullptr, "", ""},
    {R"({ "EnableIPv6": true, "IPv6Network": "fc00::/48", "IPv6SubnetMin": "fc00:0:0:1::",
          "IPv6SubnetMax": "fc00:0:0:f::", "IPv6SubnetLen": 124, "enableIPv4": false })",
     nullptr, "", ""},
    // Network must be defined (and 0.0.0.0/0 counts as undefined: ip.IP4Net.Empty()).
    {R"({})", nullptr, "please define a correct Network parameter in the flannel config",
     "Network=<not set>"},
    {R"(null)", nullptr, "please define a correct Network parameter in the flannel config", ""},
    {R"({"Network": "0.0.0.0/0"})", nullptr,
     "please define a correct Network parameter in the flannel config", "Network=0.0.0.0/0"},
    {R"({"Network": "0.0.0.0/8"})", nullptr, "", ""},
    // SubnetLen bounds.
    {R"({"Network": "10.0.0.0/8", "SubnetLen": 31})", nullptr, "SubnetLen must be less than /31",
     "SubnetLen=31"},
    {R"({"Network": "10.0.0.0/8", "SubnetLen": 30})", nullptr, "", ""},
    {R"({"Network": "10.0.0.0/8", "SubnetLen": 4294967296})", nullptr,
     "SubnetLen must be less than /31", "SubnetLen=4294967296"},
    {R"({"Network": "10.0.0.0/16", "SubnetLen": 17})", nullptr,
     "network must be able to accommodate at least four subnets", "SubnetLen=17"},
    {R"({"Network": "10.0.0.0/16", "SubnetLen": 8})", nullptr,
     "network must be able to accommodate at least four subnets", "Network=10.0.0.0/16"},
    {R"({"Network": "10.0.0.0/16", "SubnetLen": 18})", nullptr, "", ""},
    {R"({"Network": "10.0.0.0/16", "SubnetLen": 0})", nullptr, "", ""},
    // Default SubnetLen needs at least a /28.
    {R"({"Network": "10.0.0.0/29"})", nullptr,
     "network is too small. Minimum useful network prefix is /28", "Network=10.0.0.0/29"},
    {R"({"Network": "10.0.0.0/32"})", nullptr,
     "network is too small. Minimum useful network prefix is /28", "Network=10.0.0.0/32"},
    {R"({"Network": "10.0.0.0/28"})", nullptr, "", ""},
    {R"({"Network": "10.0.0.0/29", "SubnetLen": 30})", nullptr,
     "network must be able to accommodate at least four subnets", "SubnetLen=30"},
    // SubnetMin / SubnetMax inside the network and on a SubnetLen boundary.
    {R"({"Network": "10.3.0.0/16", "SubnetMin": "10.4.0.0"})", nullptr,
     "SubnetMin is not in the range of the Network", "SubnetMin=10.4.0.0"},
    {R"({"Network": "10.3.0.0/16", "SubnetMax": "10.2.255.0"})", nullptr,
     "SubnetMax is not in the range of the Network", "SubnetMax=10.2.255.0"},
    {R"({"Network": "10.3.0.0/16", "SubnetMin": "10.3.0.5"})", nullptr,
     "SubnetMin is not on a SubnetLen boundary: 10.3.0.5", "SubnetLen=24"},
    {R"({"Network": "10.3.0.0/16", "SubnetMax": "10.3.7.128"})", nullptr,
     "SubnetMax is not on a SubnetLen boundary: 10.3.7.128", "SubnetLen=24"},
    {R"({"Network": "10.3.0.0/16", "SubnetMin": "0.0.0.0"})", nullptr, "", ""},
    // IPv6.
    {R"({"EnableIPv6": true})", nullptr,
     "please define a correct Network parameter in the flannel config", ""},
    {R"({"EnableIPv4": false, "EnableIPv6": true})", nullptr,
     "please define a correct IPv6Network parameter in the flannel config",
     "IPv6Network=<not set>"},
    {R"({"EnableIPv4": false, "EnableIPv6": true, "IPv6Network": "::/0"})", nullptr,
     "please define a correct IPv6Network parameter in the flannel config", "IPv6Network=::/0"},
    {R"({"EnableIPv4": false, "EnableIPv6": true, "IPv6Network": "fc00::/48",
         "IPv6SubnetLen": 127})",
     nullptr, "SubnetLen must be less than /127", "IPv6SubnetLen=127"},
    {R"({"EnableIPv4": false, "EnableIPv6": true, "IPv6Network": "fc00::/48",
         "IPv6SubnetLen": 49})",
     nullptr, "network must be able to accommodate at least four subnets", "IPv6SubnetLen=49"},
    {R"({"EnableIPv4": false, "EnableIPv6": true, "IPv6Network": "fc00::/125"})", nullptr,
     "IPv6Network is too small. Minimum useful network prefix is /124", "IPv6Network=fc00::/125"},
    {R"({"EnableIPv4": false, "EnableIPv6": true, "IPv6Network": "fc00::/124"})", nullptr, "", ""},
    {R"({"EnableIPv4": false, "EnableIPv6": true, "IPv6Network": "fc00::/48",
         "IPv6SubnetMin": "fc01::"})",
     nullptr, "IPv6SubnetMin is not in the range of the IPv6Network", "IPv6SubnetMin=fc01::"},
    {R"({"EnableIPv4": false, "EnableIPv6": true, "IPv6Network": "fc00::/48",
         "IPv6SubnetMax": "fc01::"})",
     nullptr, "IPv6SubnetMax is not in the range of the IPv6Network", "IPv6SubnetMax=fc01::"},
    {R"({"EnableIPv4": false, "EnableIPv6": true, "IPv6Network": "fc00::/48",
         "IPv6SubnetMin": "fc00:0:0:1::1"})",
     nullptr, "IPv6SubnetMin is not on a SubnetLen boundary: fc00:0:0:1::1", "IPv6SubnetLen=64"},
    {R"({"EnableIPv4": false, "EnableIPv6": true, "IPv6Network": "fc00::/48",
         "IPv6SubnetMax": "fc00:0:0:2:8000::"})",
     nullptr,
     "IPv6SubnetMax is not on a SubnetLen boundary: fc00:0:0:2:8000::", "IPv6SubnetLen=64"},
    {R"({"Network": "10.0.0.0/8", "EnableIPv6": true, "IPv6Network": "fc00::/48"})", nullptr, "",
     ""},
    // Neither family: flanneld's main fails with "none defined stack".
    {R"({"EnableIPv4": false})", nullptr, "none defined stack", "EnableIPv4=false"},
    // JSON decoding errors name the field and the value.
    {R"({"EnableIPv6": "yes"})", "EnableIPv6: expected a boolean, got \"yes\"", nullptr, ""},
    {R"({"EnableIPv4": 1})", "EnableIPv4: expected a boolean, got 1", nullptr, ""},
    {R"({"EnableNFTables": "true"})", "EnableNFTables: expected a boolean", nullptr, ""},
    {R"({"Network": "10.0.0.0/8", "SubnetLen": "24"})", "SubnetLen: expected a non-negative",
     nullptr, "\"24\""},
    {R"({"Network": "10.0.0.0/8", "SubnetLen": -1})", "SubnetLen: expected a non-negative", nullptr,
     "-1"},
    {R"({"Network": "10.0.0.0/8", "SubnetLen": 24.5})", "SubnetLen: expected a non-negative",
     nullptr, "24.5"},
    {R"({"Network": "10.0.0.0/8", "IPv6SubnetLen": true})",
     "IPv6SubnetLen: expected a non-negative", nullptr, "true"},
    {R"({"Network": "fc00::/48"})", "Network: invalid IPv4 CIDR format", nullptr, "fc00::/48"},
    {R"({"Network": "10.0.0/8"})", "Network: invalid CIDR address", nullptr, "10.0.0/8"},
    {R"({"Network": "10.0.0.0"})", "Network: invalid CIDR address", nullptr, "10.0.0.0"},
    {R"({"Network": null})", "Network: expected a CIDR string, got null", nullptr, ""},
    {R"({"Network": 10})", "Network: expected a CIDR string, got 10", nullptr, ""},
    {R"({"IPv6Network": "10.0.0.0/8"})", "IPv6Network: invalid IPv6 CIDR format", nullptr,
     "10.0.0.0/8"},
    {R"({"Network": "10.0.0.0/8", "SubnetMin": "fc00::1"})",
     "SubnetMin: invalid IPv4 address format", nullptr, "fc00::1"},
    {R"({"Network": "10.0.0.0/8", "SubnetMax": "10.0.0"})", "SubnetMax: invalid IP address format",
     nullptr, "10.0.0"},
    {R"({"Network": "10.0.0.0/8", "SubnetMax": null})", "SubnetMax: expected an IPv4 address",
     nullptr, "null"},
    {R"({"IPv6SubnetMin": "zz::"})", "IPv6SubnetMin: invalid IP address format", nullptr, "zz::"},
    {R"({"Network": "10.0.0.0/8", "IPv6SubnetMin": null})", nullptr, "", ""},
    {R"({"Network": "10.0.0.0/8", "Backend": "vxlan"})",
     "error decoding Backend property of config: Backend: expected an object, got a string",
     nullptr, ""},
    {R"({"Network": "10.0.0.0/8", "Backend": {"Type": 5}})",
     "error decoding Backend property of config: Backend.Type: expected a string, got 5", nullptr,
     ""},
    {R"([{"Network": "10.0.0.0/8"}])", "net-conf.json: expected a JSON object, got an array",
     nullptr, ""},
    {R"("10.0.0.0/8")", "net-conf.json: expected a JSON object, got a string", nullptr, ""},
    {R"({"Network": "10.0.0.0/8",})", "net-conf.json is not valid JSON", nullptr, ""},
    {R"()", "net-conf.json is not valid JSON", nullptr, ""},
    {R"({"Network": "10.0.0.0/8"} x)", "net-conf.json is not valid JSON", nullptr, ""},
    // null leaves a bool at its default, as Go does.
    {R"({"EnableIPv4": null, "Network": "10.0.0.0/8"})", nullptr, "", ""},
};

TEST(NetConfigTable, FlanneldVerdicts) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.json);
    auto parsed = parse_net_config(c.json);
    if (c.parse_error != nullptr) {
      ASSERT_FALSE(parsed.ok());
      EXPECT_EQ(parsed.status().code(), base::Code::kInvalidArgument);
      EXPECT_THAT(parsed.status().message(), StartsWith(c.parse_error));
      EXPECT_THAT(parsed.status().message(), HasSubstr(c.value_shown));
      continue;
    }
    ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
    const base::Status st = check_net_config(*parsed);
    if (std::string(c.check_error).empty()) {
      EXPECT_TRUE(st.ok()) << st.to_string();
    } else {
      ASSERT_FALSE(st.ok());
      EXPECT_EQ(st.code(), base::Code::kInvalidArgument);
      EXPECT_THAT(st.message(), StartsWith(c.check_error));
      EXPECT_THAT(st.message(), HasSubstr(c.value_shown));
    }
  }
}

TEST(NetConfig, DefaultsAsFlannelTestConfigDefaults) {
  const NetConfig c = parse_ok(R"({ "network": "10.3.0.0/16" })");
  EXPECT_EQ(c.network->to_string(), "10.3.0.0/16");
  EXPECT_EQ(c.subnet_len, 24u);
  EXPECT_EQ(c.subnet_min->to_string(), "10.3.1.0");
  EXPECT_EQ(c.subnet_max->to_string(), "10.3.255.0");
  EXPECT_TRUE(c.enable_ipv4);
  EXPECT_FALSE(c.enable_ipv6);
  EXPECT_FALSE(c.enable_nftables);
}

TEST(NetConfig, Ipv6DefaultsAsFlannelTestIPv6ConfigDefaults) {
  const NetConfig c =
      parse_ok(R"({ "enableIPv6": true, "ipv6Network": "fc00::/48", "enableIPv4": false })");
  EXPECT_EQ(c.ipv6_network->to_string(), "fc00::/48");
  EXPECT_EQ(c.ipv6_subnet_len, 64u);
  EXPECT_EQ(c.ipv6_subnet_min->to_string(), "fc00:0:0:1::");
  EXPECT_EQ(c.ipv6_subnet_max->to_string(), "fc00:0:0:ffff::");
  EXPECT_FALSE(c.enable_ipv4);
}

TEST(NetConfig, OverridesAsFlannelTestConfigOverrides) {
  const NetConfig c = parse_ok(
      R"({ "Network": "10.3.0.0/16", "SubnetMin": "10.3.5.0", "SubnetMax": "10.3.8.0", "SubnetLen": 28 })");
  EXPECT_EQ(c.subnet_len, 28u);
  EXPECT_EQ(c.subnet_min->to_string(), "10.3.5.0");
  EXPECT_EQ(c.subnet_max->to_string(), "10.3.8.0");

  const NetConfig v6 = parse_ok(
      R"({ "EnableIPv6": true, "IPv6Network": "fc00::/48", "IPv6SubnetMin": "fc00:0:0:1::", "IPv6SubnetMax": "fc00:0:0:f::", "IPv6SubnetLen": 124, "enableIPv4": false })");
  EXPECT_EQ(v6.ipv6_subnet_len, 124u);
  EXPECT_EQ(v6.ipv6_subnet_min->to_string(), "fc00:0:0:1::");
  EXPECT_EQ(v6.ipv6_subnet_max->to_string(), "fc00:0:0:f::");
}

TEST(NetConfig, DefaultSubnetLenFollowsNetworkPrefix) {
  EXPECT_EQ(parse_ok(R"({"Network": "10.0.0.0/22"})").subnet_len, 24u);
  EXPECT_EQ(parse_ok(R"({"Network": "10.0.0.0/23"})").subnet_len, 25u);
  const NetConfig small = parse_ok(R"({"Network": "10.0.0.0/28"})");
  EXPECT_EQ(small.subnet_len, 30u);
  EXPECT_EQ(small.subnet_min->to_string(), "10.0.0.4");
  EXPECT_EQ(small.subnet_max->to_string(), "10.0.0.12");
  // Too small for a default: left unset for check_net_config to report.
  EXPECT_EQ(parse_ok(R"({"Network": "10.0.0.0/29"})").subnet_len, 0u);
  EXPECT_EQ(parse_ok(R"({"EnableIPv4": false, "IPv6Network": "fc00::/63"})").ipv6_subnet_len, 65u);
}

TEST(NetConfig, NetworkHostBitsAreClearedAsGoParseCIDR) {
  const NetConfig c = parse_ok(R"({"Network": "10.3.5.7/16"})");
  EXPECT_EQ(c.network->to_string(), "10.3.0.0/16");
  EXPECT_EQ(c.subnet_min->to_string(), "10.3.1.0");
}

TEST(NetConfig, LastSubnetWrapsLikeFlannelAtTopOfAddressSpace) {
  const NetConfig c = parse_ok(R"({"Network": "255.255.0.0/16"})");
  EXPECT_EQ(c.subnet_max->to_string(), "255.255.255.0");
  EXPECT_TRUE(check_net_config(c).ok());
  const NetConfig v6 = parse_ok(R"({"EnableIPv4": false, "EnableIPv6": true,
                                    "IPv6Network": "ffff::/16"})");
  EXPECT_EQ(v6.ipv6_subnet_max->to_string(), "ffff:ffff:ffff:ffff::");
  EXPECT_TRUE(check_net_config(v6).ok());
}

TEST(NetConfig, KeysMatchCaseInsensitivelyAsGo) {
  const NetConfig c = parse_ok(R"({"NETWORK": "10.0.0.0/8", "subnetlen": 20, "eNaBlEiPv6": true,
                   "ipv6NETWORK": "fc00::/48", "backend": {"TYPE": "Host-GW"}})");
  EXPECT_EQ(c.network->to_string(), "10.0.0.0/8");
  EXPECT_EQ(c.subnet_len, 20u);
  EXPECT_TRUE(c.enable_ipv6);
  EXPECT_EQ(c.backend_type, "host-gw");
  // U+212A KELVIN SIGN folds to 'k' and U+017F LONG S to 's' in Go's encoding/json.
  const NetConfig folded = parse_ok("{\"networ\xE2\x84\xAA\": \"10.1.0.0/16\", "
                                    "\"\xC5\xBFubnetLen\": 20}");
  EXPECT_EQ(folded.network->to_string(), "10.1.0.0/16");
  EXPECT_EQ(folded.subnet_len, 20u);
}

TEST(NetConfig, LaterDuplicateKeyWins) {
  const NetConfig c = parse_ok(R"({"Network": "10.0.0.0/8", "network": "10.1.0.0/16",
                                   "Backend": {"Type": "host-gw", "type": "vxlan"}})");
  EXPECT_EQ(c.network->to_string(), "10.1.0.0/16");
  EXPECT_EQ(c.backend_type, "vxlan");
}

TEST(NetConfig, UnknownKeysAreIgnored) {
  const NetConfig c = parse_ok(
      R"({"Network": "10.0.0.0/8", "Foo": [1, {"x": null}], "BackendType": "udp", "Networks": 5})");
  EXPECT_EQ(c.backend_type, "vxlan");
}

TEST(NetConfig, BackendType) {
  // Absent Backend: vxlan (weft's documented choice; flannel's code would say "udp").
  EXPECT_EQ(parse_ok(R"({"Network": "10.0.0.0/8"})").backend_type, "vxlan");
  EXPECT_FALSE(parse_ok(R"({"Network": "10.0.0.0/8"})").backend_given);
  EXPECT_EQ(parse_ok(R"({"Backend": {"Type": "VXLAN"}})").backend_type, "vxlan");
  EXPECT_EQ(parse_ok(R"({"Backend": {"Type": "tx-vpc"}})").backend_type, "tencent-vpc");
  EXPECT_EQ(parse_ok(R"({"Backend": {"Type": "TX-VPC"}})").backend_type, "tencent-vpc");
  EXPECT_EQ(parse_ok(R"({"Backend": {"Type": "Tencent-VPC"}})").backend_type, "tencent-vpc");
  // Unknown or missing types parse; the backend registry (and --check-config) rejects them.
  EXPECT_EQ(parse_ok(R"({"Backend": {"Type": "udp"}})").backend_type, "udp");
  EXPECT_EQ(parse_ok(R"({"Backend": {}})").backend_type, "");
  EXPECT_EQ(parse_ok(R"({"Backend": null})").backend_type, "");
  EXPECT_EQ(parse_ok(R"({"Backend": {"Type": null}})").backend_type, "");

  EXPECT_TRUE(is_known_backend_type("host-gw"));
  EXPECT_TRUE(is_known_backend_type("vxlan"));
  EXPECT_TRUE(is_known_backend_type("tencent-vpc"));
  EXPECT_FALSE(is_known_backend_type("udp"));
  EXPECT_FALSE(is_known_backend_type(""));
  EXPECT_EQ(known_backend_types(), "host-gw, vxlan, tencent-vpc (alias tx-vpc)");
}

TEST(NetConfig, BackendJsonKeepsEverythingForTheBackend) {
  const NetConfig c = parse_ok(
      R"({"Network": "10.0.0.0/8", "Backend": {"Type": "vxlan", "VNI": 4096, "Port": 4789}})");
  EXPECT_EQ(c.backend_json, R"({"Type":"vxlan","VNI":4096,"Port":4789})");
}

TEST(NetConfig, NormalisedJsonHasEveryDefaultInStableOrder) {
  const NetConfig c = parse_ok(R"({"network": "10.3.0.0/16", "backend": {"type": "VXLAN",
                                   "VNI": 1}})");
  EXPECT_EQ(to_normalised_json(c), R"({
  "Network": "10.3.0.0/16",
  "SubnetLen": 24,
  "SubnetMin": "10.3.1.0",
  "SubnetMax": "10.3.255.0",
  "EnableIPv4": true,
  "EnableIPv6": false,
  "EnableNFTables": false,
  "Backend": {
    "Type": "vxlan",
    "VNI": 1
  }
}
)");
  const NetConfig v6 = parse_ok(R"({"EnableIPv4": false, "EnableIPv6": true,
                                    "IPv6Network": "fc00::/48"})");
  const std::string out = to_normalised_json(v6);
  EXPECT_THAT(out, HasSubstr(R"("IPv6Network": "fc00::/48")"));
  EXPECT_THAT(out, HasSubstr(R"("IPv6SubnetLen": 64)"));
  EXPECT_THAT(out, HasSubstr(R"("IPv6SubnetMin": "fc00:0:0:1::")"));
  EXPECT_THAT(out, HasSubstr(R"("IPv6SubnetMax": "fc00:0:0:ffff::")"));
  EXPECT_THAT(out, HasSubstr(R"("Type": "vxlan")")); // Backend absent: the default is explicit
  EXPECT_THAT(out, Not(HasSubstr("\"Network\"")));
}

TEST(NetConfig, NormalisedJsonParsesBackToTheSameConfig) {
  for (const char* json : {
           R"({"Network": "10.3.0.0/16", "SubnetLen": 26, "SubnetMin": "10.3.4.0"})",
           R"({"Network": "10.0.0.0/8", "EnableIPv6": true, "IPv6Network": "fc00::/48",
               "IPv6SubnetLen": 80, "EnableNFTables": true, "Backend": {"Type": "tx-vpc"}})",
       }) {
    SCOPED_TRACE(json);
    const NetConfig c = parse_ok(json);
    const NetConfig again = parse_ok(to_normalised_json(c));
    EXPECT_EQ(again.network, c.network);
    EXPECT_EQ(again.subnet_len, c.subnet_len);
    EXPECT_EQ(again.subnet_min, c.subnet_min);
    EXPECT_EQ(again.subnet_max, c.subnet_max);
    EXPECT_EQ(again.ipv6_network, c.ipv6_network);
    EXPECT_EQ(again.ipv6_subnet_len, c.ipv6_subnet_len);
    EXPECT_EQ(again.ipv6_subnet_min, c.ipv6_subnet_min);
    EXPECT_EQ(again.ipv6_subnet_max, c.ipv6_subnet_max);
    EXPECT_EQ(again.enable_ipv6, c.enable_ipv6);
    EXPECT_EQ(again.enable_nftables, c.enable_nftables);
    EXPECT_EQ(again.backend_type, c.backend_type);
  }
}

constexpr const char* kSecretConfig = R"({
  "Network": "10.0.0.0/8",
  "Backend": {
    "Type": "tencent-vpc",
    "SecretKey": "SECRET-ONE",
    "AccessKeySecret": "SECRET-TWO",
    "AccessKeyID": "AKID-visible",
    "RouteTableIds": ["rtb-visible"],
    "Nested": {"Token": "SECRET-THREE", "password": 1234567, "list": [{"PSK": "SECRET-FOUR"}]}
  }
})";

TEST(NetConfigSecrets, NormalisedJsonRedactsBackendSecrets) {
  const NetConfig c = parse_ok(kSecretConfig);
  // The backend itself still gets the real values.
  EXPECT_THAT(c.backend_json, HasSubstr("SECRET-ONE"));
  for (const std::string& out : {to_normalised_json(c), redacted_backend_json(c)}) {
    SCOPED_TRACE(out);
    for (const char* secret :
         {"SECRET-ONE", "SECRET-TWO", "SECRET-THREE", "SECRET-FOUR", "1234567"}) {
      EXPECT_THAT(out, Not(HasSubstr(secret)));
    }
    EXPECT_THAT(out, HasSubstr("<redacted>"));
    EXPECT_THAT(out, HasSubstr("AKID-visible"));
    EXPECT_THAT(out, HasSubstr("rtb-visible"));
  }
}

TEST(NetConfigSecrets, ErrorsNeverQuoteBackendSecrets) {
  for (const char* json : {
           R"({"Backend": {"SecretKey": "SECRET-ONE)",           // cut inside the secret
           R"({"Backend": {"SecretKey": "SECRET-ONE" "x": 1}})", // syntax error after it
           R"({"Backend": {"SecretKey": "SECRET-ONE"}, "Network": 5})",
           R"({"Backend": ["SECRET-ONE"]})", R"({"Backend": "SECRET-ONE"})",
           "{\"Backend\": {\"SecretKey\": \"SECRET-ONE\xff\"}}", // invalid UTF-8 in it
       }) {
    SCOPED_TRACE(json);
    auto r = parse_net_config(json);
    ASSERT_FALSE(r.ok());
    EXPECT_THAT(r.status().message(), Not(HasSubstr("SECRET")));
  }
}

TEST(NetConfigSecrets, SecretKeyNames) {
  for (const char* name : {"SecretKey", "AccessKeySecret", "secret", "Password", "etcd_passwd",
                           "Token", "SessionToken", "PrivateKey", "PSK", "apikey", "Credentials"}) {
    EXPECT_TRUE(is_secret_key_name(name)) << name;
  }
  for (const char* name : {"Type", "VNI", "AccessKeyID", "KeyID", "RouteTableIds", "Port",
                           "DirectRouting", "Region"}) {
    EXPECT_FALSE(is_secret_key_name(name)) << name;
  }
}

TEST(NetConfig, HostileInputIsRejectedNotCrashed) {
  EXPECT_FALSE(parse_net_config(std::string(100000, '[')).ok());
  EXPECT_FALSE(parse_net_config(std::string(100000, '{')).ok());
  std::string deep = R"({"Network": "10.0.0.0/8", "Backend": )";
  for (int i = 0; i < 400; ++i) {
    deep += R"({"a": )";
  }
  deep += "1";
  for (int i = 0; i < 400; ++i) {
    deep += "}";
  }
  deep += "}";
  EXPECT_TRUE(parse_net_config(deep).ok()); // deep but allowed: still normalises
  EXPECT_FALSE(to_normalised_json(*parse_net_config(deep)).empty());
  EXPECT_FALSE(parse_net_config(std::string("\0\0\0", 3)).ok());
}

} // namespace
} // namespace weft::config
