#include "cloud/tencent/tc3_signer.h"

#include <gtest/gtest.h>

namespace weft::cloud::tencent {
namespace {

// Official worked examples of the "Signature v3" doc (reference/tencent-cloud-api.md §1.6).
constexpr char kSecretId[] = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE";
constexpr char kSecretKey[] = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";
constexpr char kPayloadA[] =
    R"({"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]})";

Tc3Request vector_a_request() {
  Tc3Request r;
  r.signed_headers = {{"Content-Type", "application/json; charset=utf-8"},
                      {"Host", "cvm.tencentcloudapi.com"}};
  r.hashed_payload = sha256_hex(kPayloadA);
  return r;
}

TEST(Tc3Signer, Primitives) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex(kUnsignedPayload),
            "438d4109ef0d676b8c2c7ed13cdfcb418e494d53b843d4634ce3b1085f07bb96");
  // RFC 4231 test case 2.
  EXPECT_EQ(hex_encode(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // 1551113065 is 2019-02-26 in UTC+8 but the scope date is the UTC one.
  EXPECT_EQ(utc_date(1551113065), "2019-02-25");
}

TEST(Tc3Signer, VectorA) {
  Tc3Request r = vector_a_request();
  ASSERT_EQ(sizeof(kPayloadA) - 1, 86u);
  EXPECT_EQ(r.hashed_payload, "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064");
  std::string canonical = canonical_request(r);
  EXPECT_EQ(canonical, "POST\n/\n\ncontent-type:application/json; charset=utf-8\n"
                       "host:cvm.tencentcloudapi.com\n\ncontent-type;host\n"
                       "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064");
  EXPECT_EQ(sha256_hex(canonical),
            "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031");
  std::string scope = credential_scope("2019-02-25", "cvm");
  std::string to_sign = string_to_sign(1551113065, scope, canonical);
  EXPECT_EQ(to_sign, "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n"
                     "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031");
  EXPECT_EQ(hex_encode(derive_signing_key(kSecretKey, "2019-02-25", "cvm")),
            "ac658d5dde49e9bfdd14e04e062f66b05d9f637d44b8a8d845327d4a77f666b1");
  EXPECT_EQ(tc3_signature(kSecretKey, "2019-02-25", "cvm", to_sign),
            "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168");
  EXPECT_EQ(sign_tc3(r, kSecretId, kSecretKey, "cvm", 1551113065),
            "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/"
            "tc3_request, SignedHeaders=content-type;host, "
            "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168");
}

TEST(Tc3Signer, VectorBGet) {
  Tc3Request r;
  r.method = "GET";
  r.canonical_query = "Limit=10&Offset=0";
  r.signed_headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                      {"Host", "cvm.tencentcloudapi.com"}};
  r.hashed_payload = sha256_hex("");
  std::string canonical = canonical_request(r);
  EXPECT_EQ(sha256_hex(canonical),
            "91c9c192c14460df6c1ffc69e34e6c5e90708de2a6d282cccf957dbf1aa7f3a7");
  EXPECT_EQ(hex_encode(derive_signing_key(kSecretKey, "2018-10-09", "cvm")),
            "39c4cf287fdff993dc407e649450ae4a0f1e1fd75aedb08d8160e47372e9b62d");
  EXPECT_EQ(sign_tc3(r, kSecretId, kSecretKey, "cvm", 1539084154),
            "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2018-10-09/cvm/"
            "tc3_request, SignedHeaders=content-type;host, "
            "Signature=5da7a33f6993f0614b047e5df4582db9e9bf4672ba50567dba16c6ccf174c474");
}

TEST(Tc3Signer, VectorCSignsLowercasedActionValue) {
  Tc3Request r = vector_a_request();
  // Header names and values in any case; the canonical form lowercases both.
  r.signed_headers.emplace_back("X-TC-Action", "DescribeInstances");
  std::string canonical = canonical_request(r);
  EXPECT_NE(canonical.find("x-tc-action:describeinstances\n\ncontent-type;host;x-tc-action\n"),
            std::string::npos);
  EXPECT_EQ(sha256_hex(canonical),
            "7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84");
  // The doc masks the key but publishes SecretSigning; the last HMAC must give its signature.
  std::string to_sign =
      string_to_sign(1551113065, credential_scope("2019-02-25", "cvm"), canonical);
  std::string signing_key;
  for (size_t i = 0; i < 64; i += 2) {
    signing_key.push_back(static_cast<char>(
        std::stoi(std::string("b596b923aad85185e2d1f6659d2a062e0a86731226e021e61bfe06f7ed05f5af")
                      .substr(i, 2),
                  nullptr, 16)));
  }
  EXPECT_EQ(hex_encode(hmac_sha256(signing_key, to_sign)),
            "10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f");
}

TEST(Tc3Signer, VectorDVpcCall) {
  Tc3Request r;
  r.signed_headers = {{"content-type", "application/json"}, {"host", "vpc.tencentcloudapi.com"}};
  r.hashed_payload = sha256_hex(
      R"({"Filters":[{"Name":"vpc-id","Values":["vpc-2at5y1pn"]}],"Limit":"100","Offset":"0"})");
  EXPECT_EQ(sha256_hex(canonical_request(r)),
            "f6d3aa2004776691914e54b4b9ab56661155303ddcfe291f5358eb8349aea2e7");
  auto auth = sign_tc3(r, kSecretId, kSecretKey, "vpc", 1551113065);
  EXPECT_NE(auth.find("Signature=cb378aa165c913a581939518f7a1ca3732302b2139284ccfb9bceebb79891fd1"),
            std::string::npos);
}

TEST(Tc3Signer, ParseAuthorizationRoundTrip) {
  std::string header = sign_tc3(vector_a_request(), kSecretId, kSecretKey, "cvm", 1551113065);
  auto parsed = parse_authorization(header);
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  EXPECT_EQ(parsed->secret_id, kSecretId);
  EXPECT_EQ(parsed->date, "2019-02-25");
  EXPECT_EQ(parsed->service, "cvm");
  EXPECT_EQ(parsed->signed_headers, (std::vector<std::string>{"content-type", "host"}));
  EXPECT_EQ(parsed->signature, "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168");
}

TEST(Tc3Signer, ParseAuthorizationRejectsMalformed) {
  const char* bad[] = {
      "",
      "HMAC-SHA256 Credential=a/2019-02-25/cvm/tc3_request, SignedHeaders=host, Signature=00",
      "TC3-HMAC-SHA256 Credential=a/2019-02-25/cvm, SignedHeaders=host, Signature=" // no term
      "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168",
      "TC3-HMAC-SHA256 Credential=a/2019-02-25/cvm/tc3_request, Signature="
      "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168",
      "TC3-HMAC-SHA256 Credential=a/2019-02-25/cvm/tc3_request, SignedHeaders=host, Signature=xyz",
      "TC3-HMAC-SHA256 Credential=a/2019-02-25/cvm/tc3_request, SignedHeaders=host;;x, Signature="
      "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168",
  };
  for (const char* header : bad) {
    EXPECT_FALSE(parse_authorization(header).ok()) << header;
  }
}

} // namespace
} // namespace weft::cloud::tencent
