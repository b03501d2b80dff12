#include "tc3_verifier.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "cloud/tencent/tc3_signer.h"

namespace weft::emulator {

namespace tc3 = weft::cloud::tencent;

namespace {

VerifyResult failure(const char* code, std::string message) {
  return VerifyResult{ApiError{code, std::move(message)}, {}};
}

std::string header(const HeaderMap& headers, const std::string& name) {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

} // namespace

VerifyResult verify_tc3(const std::string& method, const std::string& query,
                        const HeaderMap& headers, const std::string& body, std::int64_t now,
                        const KeyRing& keys) {
  std::string authorization = header(headers, "authorization");
  auto parsed = tc3::parse_authorization(authorization);
  if (!parsed.ok()) {
    return failure("AuthFailure.InvalidAuthorization",
                   fmt::format("Authorization is invalid: {}", parsed.status().message()));
  }
  const tc3::Tc3Authorization& auth = *parsed;
  const auto& names = auth.signed_headers;
  if (std::find(names.begin(), names.end(), "content-type") == names.end() ||
      std::find(names.begin(), names.end(), "host") == names.end()) {
    return failure("AuthFailure.InvalidAuthorization",
                   "SignedHeaders must include content-type and host.");
  }
  for (const auto& name : names) {
    if (headers.count(name) == 0) {
      return failure("AuthFailure.InvalidAuthorization",
                     fmt::format("The signed header {} is not in the request.", name));
    }
  }
  std::string ts_text = header(headers, "x-tc-timestamp");
  std::int64_t ts = 0;
  auto [end, ec] = std::from_chars(ts_text.data(), ts_text.data() + ts_text.size(), ts);
  if (ts_text.empty() || ec != std::errc() || end != ts_text.data() + ts_text.size()) {
    return failure("AuthFailure.InvalidAuthorization",
                   fmt::format("X-TC-Timestamp \"{}\" is not a UNIX time.", ts_text));
  }
  std::string host = header(headers, "host");
  std::string host_name =
      host.substr(0, host.rfind(':') == std::string::npos ? host.size() : host.rfind(':'));
  std::string first_label = host_name.substr(0, host_name.find('.'));
  if (auth.service != "vpc" && auth.service != "cvm" && auth.service != first_label) {
    return failure("AuthFailure.InvalidAuthorization",
                   fmt::format("The credential scope service {} does not match the host {}.",
                               auth.service, host));
  }
  auto key = keys.find(auth.secret_id);
  if (!key) {
    return failure("AuthFailure.SecretIdNotFound",
                   fmt::format("The SecretId {} is not found.", auth.secret_id));
  }
  if (ts > now + kMaxSkewSeconds || ts < now - kMaxSkewSeconds) {
    return failure("AuthFailure.SignatureExpire",
                   fmt::format("Signature expired. Timestamp {} differs from the server time {} "
                               "by more than {} seconds.",
                               ts, now, kMaxSkewSeconds));
  }
  if (auth.date != tc3::utc_date(ts)) {
    return failure("AuthFailure.SignatureFailure",
                   fmt::format("The credential scope date {} is not the UTC date of timestamp {}.",
                               auth.date, ts));
  }
  std::string token = header(headers, "x-tc-token");
  if (key->token) {
    if (token != *key->token) {
      return failure("AuthFailure.TokenFailure", "The X-TC-Token does not match the SecretId.");
    }
    if (key->expired_time <= now) {
      return failure("AuthFailure.TokenFailure", "The temporary credential has expired.");
    }
  } else if (!token.empty()) {
    return failure("AuthFailure.TokenFailure",
                   "X-TC-Token was sent with a permanent SecretId that takes no token.");
  }

  tc3::Tc3Request request;
  request.method = method;
  request.canonical_query = query;
  for (const auto& name : names) {
    request.signed_headers.emplace_back(name, header(headers, name));
  }
  request.hashed_payload = header(headers, "x-tc-content-sha256") == tc3::kUnsignedPayload
                               ? tc3::sha256_hex(tc3::kUnsignedPayload)
                               : tc3::sha256_hex(body);
  std::string scope = tc3::credential_scope(auth.date, auth.service);
  auto matches = [&](const tc3::Tc3Request& r) {
    std::string to_sign = tc3::string_to_sign(ts, scope, tc3::canonical_request(r));
    return tc3::tc3_signature(key->secret_key, auth.date, auth.service, to_sign) == auth.signature;
  };
  bool ok = matches(request);
  if (!ok && host_name != host) {
    // Some SDKs (Node.js) sign the host name without the port that the Host header carries.
    for (auto& [name, value] : request.signed_headers) {
      if (name == "host") {
        value = host_name;
      }
    }
    ok = matches(request);
  }
  if (!ok) {
    return failure("AuthFailure.SignatureFailure",
                   "The provided credentials could not be validated. Please check your signature "
                   "is correct.");
  }
  return VerifyResult{std::nullopt, VerifiedCaller{auth.secret_id, auth.service}};
}

} // namespace weft::emulator
