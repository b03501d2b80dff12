#pragma once
// Server-side check of a TC3-HMAC-SHA256 signed API request: parses the Authorization header,
// rebuilds the canonical request from the signed headers and answers with Tencent's AuthFailure.*
// codes.

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "key_ring.h"
#include "vpc_service.h"

namespace weft::emulator {

// Header names are lowercase.
using HeaderMap = std::map<std::string, std::string>;

inline constexpr std::int64_t kMaxSkewSeconds = 300;

struct VerifiedCaller {
  std::string secret_id;
  std::string service; // from the credential scope
};

struct VerifyResult {
  std::optional<ApiError> error;
  VerifiedCaller caller;
};

VerifyResult verify_tc3(const std::string& method, const std::string& query,
                        const HeaderMap& headers, const std::string& body, std::int64_t now,
                        const KeyRing& keys);

} // namespace weft::emulator
