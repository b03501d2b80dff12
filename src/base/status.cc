#include "base/status.h"

namespace weft::base {

const char* code_name(Code code) {
  switch (code) {
  case Code::kOk:
    return "ok";
  case Code::kInvalidArgument:
    return "invalid_argument";
  case Code::kNotFound:
    return "not_found";
  case Code::kConflict:
    return "conflict";
  case Code::kUnavailable:
    return "unavailable";
  case Code::kRateLimited:
    return "rate_limited";
  case Code::kQuotaExceeded:
    return "quota_exceeded";
  case Code::kPermissionDenied:
    return "permission_denied";
  case Code::kOutOfRange:
    return "out_of_range";
  case Code::kCancelled:
    return "cancelled";
  case Code::kInternal:
    return "internal";
  }
  return "unknown";
}

bool is_retryable(Code code) {
  switch (code) {
  case Code::kUnavailable:
  case Code::kRateLimited:
    return true;
  default:
    return false;
  }
}

std::string Status::to_string() const {
  if (ok()) {
    return "ok";
  }
  return std::string(code_name(code_)) + ": " + message_;
}

Status Status::with_context(const std::string& context) const {
  if (ok()) {
    return *this;
  }
  return {code_, context + ": " + message_};
}

} // namespace weft::base
