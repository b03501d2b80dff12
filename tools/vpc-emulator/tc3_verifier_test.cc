#include "tc3_verifier.h"

#include <gtest/gtest.h>

#include "cloud/tencent/tc3_signer.h"
#include "test_support.h"

namespace weft::emulator {
namespace {

namespace tc3 = weft::cloud::tencent;
constexpr std::int64_t kNow = 1551113065;

std::string verify(const ApiRequest& r, const KeyRing& keys, std::int64_t now = kNow) {
  VerifyResult v = verify_tc3("POST", "", r.headers, r.body, now, keys);
  return v.error ? v.error->code : "OK";
}

TEST(Tc3Verifier, AcceptsOfficialVectorA) {
  // The doc's request, with the doc's keys, signed for cvm.
  KeyRing keys(std::vector<Credential>{
      {"AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"}});
  HeaderMap h = {{"content-type", "application/json; charset=utf-8"},
                 {"host", "cvm.tencentcloudapi.com"},
                 {"x-tc-timestamp", "1551113065"},
                 {"authorization",
                  "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/"
                  "tc3_request, SignedHeaders=content-type;host, "
                  "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"}};
  std::string body =
      R"({"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]})";
  EXPECT_FALSE(verify_tc3("POST", "", h, body, kNow + 100, keys).error);
  EXPECT_EQ(verify_tc3("POST", "", h, body + " ", kNow, keys).error->code,
            "AuthFailure.SignatureFailure");
  // Vector B, a GET with a query string.
  HeaderMap g = {{"content-type", "application/x-www-form-urlencoded"},
                 {"host", "cvm.tencentcloudapi.com"},
                 {"x-tc-timestamp", "1539084154"},
                 {"authorization",
                  "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2018-10-09/cvm/"
                  "tc3_request, SignedHeaders=content-type;host, "
                  "Signature=5da7a33f6993f0614b047e5df4582db9e9bf4672ba50567dba16c6ccf174c474"}};
  EXPECT_FALSE(verify_tc3("GET", "Limit=10&Offset=0", g, "", 1539084154, keys).error);
}

TEST(Tc3Verifier, AcceptsAnySignedHeaderSetWithLowercasedValues) {
  KeyRing keys(std::vector<Credential>{{testing::kSecretId, testing::kSecretKey}});
  ApiRequest r = testing::signed_request("DescribeVpcs", "{}", kNow);
  tc3::Tc3Request s;
  s.signed_headers = {{"Content-Type", "application/json"},
                      {"Host", "vpc.tencentcloudapi.com"},
                      {"X-TC-Action", "DescribeVpcs"}};
  s.hashed_payload = tc3::sha256_hex(tc3::kUnsignedPayload);
  r.headers["x-tc-content-sha256"] = "UNSIGNED-PAYLOAD";
  r.headers["authorization"] =
      tc3::sign_tc3(s, testing::kSecretId, testing::kSecretKey, "vpc", kNow);
  r.body = R"({"anything": "the payload is not signed"})";
  EXPECT_EQ(verify(r, keys), "OK");
}

TEST(Tc3Verifier, ErrorCodes) {
  KeyRing keys(std::vector<Credential>{{testing::kSecretId, testing::kSecretKey}});
  ApiRequest good = testing::signed_request("DescribeVpcs", "{}", kNow);
  EXPECT_EQ(verify(good, keys), "OK");
  EXPECT_EQ(verify(good, keys, kNow + 300), "OK");
  EXPECT_EQ(verify(good, keys, kNow + 301), "AuthFailure.SignatureExpire");
  EXPECT_EQ(verify(good, keys, kNow - 301), "AuthFailure.SignatureExpire");

  ApiRequest wrong_key =
      testing::signed_request("DescribeVpcs", "{}", kNow, testing::kSecretId, "x");
  EXPECT_EQ(verify(wrong_key, keys), "AuthFailure.SignatureFailure");
  ApiRequest unknown = testing::signed_request("DescribeVpcs", "{}", kNow, "AKIDnobody", "x");
  EXPECT_EQ(verify(unknown, keys), "AuthFailure.SecretIdNotFound");

  ApiRequest garbled = good;
  garbled.headers["authorization"] = "Bearer abc";
  EXPECT_EQ(verify(garbled, keys), "AuthFailure.InvalidAuthorization");
  garbled.headers.erase("authorization");
  EXPECT_EQ(verify(garbled, keys), "AuthFailure.InvalidAuthorization");

  // The scope date must be the UTC date of the timestamp.
  ApiRequest wrong_date = good;
  std::string& auth = wrong_date.headers["authorization"];
  auth.replace(auth.find("2019-02-25"), 10, "2019-02-26");
  EXPECT_EQ(verify(wrong_date, keys), "AuthFailure.SignatureFailure");

  // content-type and host must be signed.
  tc3::Tc3Request only_host;
  only_host.signed_headers = {{"host", "vpc.tencentcloudapi.com"}};
  only_host.hashed_payload = tc3::sha256_hex("{}");
  ApiRequest r = good;
  r.headers["authorization"] =
      tc3::sign_tc3(only_host, testing::kSecretId, testing::kSecretKey, "vpc", kNow);
  EXPECT_EQ(verify(r, keys), "AuthFailure.InvalidAuthorization");

  ApiRequest with_token = good;
  with_token.headers["x-tc-token"] = "abc";
  EXPECT_EQ(verify(with_token, keys), "AuthFailure.TokenFailure");
}

TEST(Tc3Verifier, TemporaryCredentialsNeedTheirToken) {
  KeyRing keys(std::vector<Credential>{{testing::kSecretId, testing::kSecretKey}}, 3600);
  TemporaryCredential c = keys.role_credential("ins-test0001", "weft-node", kNow);
  EXPECT_EQ(c.expired_time, kNow + 3600);
  EXPECT_EQ(keys.role_credential("ins-test0001", "weft-node", kNow + 10).secret_id, c.secret_id);
  auto req = [&](const std::string& token) {
    return testing::signed_request("DescribeVpcs", "{}", kNow, c.secret_id, c.secret_key, token);
  };
  EXPECT_EQ(verify(req(c.token), keys), "OK");
  EXPECT_EQ(verify(req(""), keys), "AuthFailure.TokenFailure");
  EXPECT_EQ(verify(req("forged"), keys), "AuthFailure.TokenFailure");
  auto late = testing::signed_request("DescribeVpcs", "{}", kNow + 3600, c.secret_id, c.secret_key,
                                      c.token);
  EXPECT_EQ(verify(late, keys, kNow + 3600), "AuthFailure.TokenFailure");
}

TEST(Tc3Verifier, NodeSdkSignsHostWithoutPort) {
  KeyRing keys(std::vector<Credential>{{testing::kSecretId, testing::kSecretKey}});
  ApiRequest r = testing::signed_request("DescribeVpcs", "{}", kNow, testing::kSecretId,
                                         testing::kSecretKey, "", "127.0.0.1");
  r.headers["host"] = "127.0.0.1:8080"; // what the SDK sends beside its signature
  EXPECT_EQ(verify(r, keys), "OK");
}

} // namespace
} // namespace weft::emulator
