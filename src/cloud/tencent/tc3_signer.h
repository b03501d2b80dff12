#pragma once
// TC3-HMAC-SHA256, the request signature of Tencent Cloud API 3.0: canonical request, string to
// sign, key derivation and the Authorization header, plus a parser for that header.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace weft::cloud::tencent {

inline constexpr std::string_view kTc3Algorithm = "TC3-HMAC-SHA256";
inline constexpr std::string_view kTc3Terminator = "tc3_request";
// The payload hash stands for this literal when X-TC-Content-SHA256: UNSIGNED-PAYLOAD is sent.
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";

// Lowercase hex of the bytes.
std::string hex_encode(std::string_view bytes);
// Lowercase hex SHA-256 of data.
std::string sha256_hex(std::string_view data);
// Raw 32-byte HMAC-SHA256.
std::string hmac_sha256(std::string_view key, std::string_view message);
// "YYYY-MM-DD", the UTC date of a UNIX timestamp in seconds.
std::string utc_date(std::int64_t timestamp);

// One request as the signature sees it. Header names and values are given as sent; they are
// lowercased and trimmed when the canonical request is built.
struct Tc3Request {
  std::string method = "POST";
  std::string canonical_uri = "/";
  std::string canonical_query; // "" for POST
  std::vector<std::pair<std::string, std::string>> signed_headers;
  std::string hashed_payload; // lowercase hex SHA-256 of the body (or of kUnsignedPayload)
};

// "content-type;host": lowercased names, sorted, joined with ';'.
std::string signed_header_list(const Tc3Request& request);
std::string canonical_request(const Tc3Request& request);
// "2019-02-25/cvm/tc3_request"
std::string credential_scope(std::string_view date, std::string_view service);
std::string string_to_sign(std::int64_t timestamp, std::string_view scope,
                           std::string_view canonical_request_text);
// SecretSigning, the raw key derived from the secret key, date and service.
std::string derive_signing_key(std::string_view secret_key, std::string_view date,
                               std::string_view service);
// Lowercase hex signature of string_to_sign under the derived key.
std::string tc3_signature(std::string_view secret_key, std::string_view date,
                          std::string_view service, std::string_view string_to_sign_text);
std::string authorization_header(std::string_view secret_id, std::string_view scope,
                                 std::string_view signed_headers, std::string_view signature);

// Signs a request end to end and returns the Authorization header value.
std::string sign_tc3(const Tc3Request& request, std::string_view secret_id,
                     std::string_view secret_key, std::string_view service, std::int64_t timestamp);

// The parts of an Authorization header.
struct Tc3Authorization {
  std::string secret_id;
  std::string date;
  std::string service;
  std::vector<std::string> signed_headers; // as listed, lowercased
  std::string signature;
};

// Parses "TC3-HMAC-SHA256 Credential=<id>/<date>/<svc>/tc3_request, SignedHeaders=a;b,
// Signature=<hex>". InvalidArgument names the part that is wrong.
base::Result<Tc3Authorization> parse_authorization(std::string_view header);

} // namespace weft::cloud::tencent
