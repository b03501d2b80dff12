#include "daemon/check_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "daemon/weftd.h"

namespace weft::daemon {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

TEST(CheckConfig, ValidConfigPrintsNormalisedJson) {
  const CheckConfigReport r =
      check_config_text(R"({"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}})", "f.json");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.err, IsEmpty());
  EXPECT_THAT(r.out, HasSubstr(R"("SubnetMin": "10.244.1.0")"));
  EXPECT_THAT(r.out, HasSubstr(R"("Type": "vxlan")"));
}

TEST(CheckConfig, AliasIsNormalised) {
  const CheckConfigReport r =
      check_config_text(R"({"Network": "10.0.0.0/8", "Backend": {"Type": "TX-VPC"}})", "f");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr(R"("Type": "tencent-vpc")"));
}

TEST(CheckConfig, EachProblemOnItsOwnLine) {
  const CheckConfigReport r = check_config_text(
      R"({"Network": "10.0.0.0/8", "SubnetLen": 31, "Backend": {"Type": "udp"}})", "bad.json");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, IsEmpty());
  EXPECT_EQ(r.err, "weftd: bad.json: SubnetLen must be less than /31 (SubnetLen=31)\n"
                   "weftd: bad.json: unknown backend type: \"udp\" (known types: host-gw, vxlan, "
                   "tencent-vpc (alias tx-vpc))\n");
}

TEST(CheckConfig, ParseErrorIsOneLine) {
  const CheckConfigReport r = check_config_text(R"({"EnableIPv6": "yes"})", "x.json");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "weftd: x.json: EnableIPv6: expected a boolean, got \"yes\"\n");
}

TEST(CheckConfig, MissingFile) {
  const CheckConfigReport r = check_config_file("/nonexistent/weft/net-conf.json");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, StartsWith("weftd: --check-config: "));
  EXPECT_THAT(r.err, HasSubstr("/nonexistent/weft/net-conf.json"));
}

TEST(CheckConfig, SecretsNeverPrinted) {
  const CheckConfigReport ok = check_config_text(
      R"({"Network": "10.0.0.0/8", "Backend": {"Type": "tencent-vpc", "SecretKey": "S3CR3T"}})",
      "f");
  EXPECT_EQ(ok.exit_code, 0);
  EXPECT_THAT(ok.out, Not(HasSubstr("S3CR3T")));
  const CheckConfigReport bad = check_config_text(
      R"({"Network": "10.0.0.0/33", "Backend": {"Type": "tencent-vpc", "SecretKey": "S3CR3T"}})",
      "f");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, Not(HasSubstr("S3CR3T")));
}

TEST(RunWeftd, BadFlagExitsTwo) {
  const char* argv[] = {"weftd", "--bogus"};
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(run_weftd(
                2, argv, [](const std::string&) { return std::nullopt; }, out, err),
            2);
  EXPECT_THAT(err.str(), HasSubstr("--bogus"));
}

} // namespace
} // namespace weft::daemon
