#include "metadata.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_support.h"

namespace weft::emulator {
namespace {

class MetadataTest : public ::testing::Test {
protected:
  MetadataTest()
      : vpc_(testing::small_state(), clock_), keys_({}, 600),
        meta_(
            vpc_, keys_, [] { return std::int64_t{1700000000}; }, MetadataOptions{}) {}

  MetadataReply get(const std::string& p, const std::string& ip = testing::kNodeA) {
    return meta_.handle("/latest/meta-data/" + p, ip, "");
  }

  base::ManualClock clock_;
  VpcService vpc_;
  KeyRing keys_;
  MetadataService meta_;
};

TEST_F(MetadataTest, AnswersForTheAskingInstance) {
  EXPECT_EQ(get("instance-id").body, "ins-test0001");
  EXPECT_EQ(get("instance-id", testing::kNodeB).body, "ins-test0002");
  EXPECT_EQ(get("local-ipv4").body, testing::kNodeA);
  EXPECT_EQ(get("mac").body, "52:54:00:AA:00:01");
  EXPECT_EQ(get("placement/region").body, "ap-guangzhou");
  EXPECT_EQ(get("placement/zone").body, "ap-guangzhou-3");
  EXPECT_EQ(get("network/interfaces/macs/").body, "52:54:00:AA:00:01/");
  EXPECT_EQ(get("network/interfaces/macs/52:54:00:AA:00:01/vpc-id").body, testing::kVpcId);
  EXPECT_EQ(get("network/interfaces/macs/52:54:00:aa:00:01/subnet-id").body, "subnet-test0001");
  EXPECT_EQ(get("network/interfaces/macs/52:54:00:AA:00:01/local-ipv4s/10.0.1.10/gateway").body,
            "10.0.1.1");
  EXPECT_EQ(get("network/interfaces/macs/52:54:00:AA:00:01/local-ipv4s/10.0.1.10/subnet-mask").body,
            "255.255.255.0");
  EXPECT_EQ(get("network/interfaces/macs/52:54:00:AA:00:09/vpc-id").status, 404);
  EXPECT_EQ(get("public-ipv4").status, 404);
  EXPECT_EQ(get("instance-id", "127.0.0.1").status, 404);
  EXPECT_NE(get("").body.find("placement/"), std::string::npos);
}

TEST_F(MetadataTest, RoleCredentials) {
  EXPECT_EQ(get("cam/security-credentials/").body, "weft-node");
  EXPECT_EQ(get("cam/security-credentials/", testing::kNodeB).status, 404);
  EXPECT_EQ(get("cam/security-credentials/other").status, 404);
  MetadataReply r = get("cam/security-credentials/weft-node");
  ASSERT_EQ(r.status, 200);
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["Code"], "Success");
  EXPECT_EQ(j["ExpiredTime"], 1700000600);
  EXPECT_EQ(j["Expiration"], "2023-11-14T22:23:20Z");
  auto key = keys_.find(j["TmpSecretId"]);
  ASSERT_TRUE(key);
  EXPECT_EQ(key->secret_key, j["TmpSecretKey"]);
  EXPECT_EQ(*key->token, j["Token"]);
}

TEST(MetadataOverride, HeaderOnlyWhenTrustedAndDefaultInstance) {
  base::ManualClock clock;
  VpcService vpc(testing::small_state(), clock);
  KeyRing keys({});
  MetadataService untrusted(
      vpc, keys, [] { return std::int64_t{0}; }, MetadataOptions{});
  EXPECT_EQ(untrusted.handle("/latest/meta-data/instance-id", "127.0.0.1", "10.0.1.11").status,
            404);
  MetadataService trusted(
      vpc, keys, [] { return std::int64_t{0}; }, MetadataOptions{true, testing::kNodeA});
  EXPECT_EQ(trusted.handle("/latest/meta-data/instance-id", "127.0.0.1", "10.0.1.11").body,
            "ins-test0002");
  EXPECT_EQ(trusted.handle("/latest/meta-data/instance-id", "127.0.0.1", "").body, "ins-test0001");
}

} // namespace
} // namespace weft::emulator
