#pragma once
// Status and Result<T>: how every fallible operation in weft reports failure. A code says what kind
// of failure it is (so retry policy is decided in one place); the message names the field, value or
// call that failed.

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace weft::base {

enum class Code {
  kOk,
  kInvalidArgument,  // bad input: config, flag, malformed data
  kNotFound,         // the thing asked for does not exist
  kConflict,         // already exists, lost a race, precondition failed
  kUnavailable,      // transient: peer unreachable, timeout, server error
  kRateLimited,      // throttled by the peer
  kQuotaExceeded,    // a limit that waiting will not lift
  kPermissionDenied, // authentication or authorisation
  kOutOfRange,       // e.g. out of subnets
  kCancelled,        // shutting down
  kInternal,         // a bug or an impossible state
};

// The code's name as written in logs and metrics ("invalid_argument", ...).
const char* code_name(Code code);

// Whether an operation that failed with this code may succeed if tried again later.
bool is_retryable(Code code);

class [[nodiscard]] Status {
public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok_status() { return {}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  bool retryable() const { return is_retryable(code_); }

  // "invalid_argument: SubnetLen must be less than /31"
  std::string to_string() const;

  // A copy whose message is prefixed with context: "reading /x: <message>".
  Status with_context(const std::string& context) const;

  friend bool operator==(const Status& a, const Status& b) = default;

private:
  Code code_ = Code::kOk;
  std::string message_;
};

inline Status invalid_argument(std::string m) {
  return {Code::kInvalidArgument, std::move(m)};
}
inline Status not_found(std::string m) {
  return {Code::kNotFound, std::move(m)};
}
inline Status conflict(std::string m) {
  return {Code::kConflict, std::move(m)};
}
inline Status unavailable(std::string m) {
  return {Code::kUnavailable, std::move(m)};
}
inline Status rate_limited(std::string m) {
  return {Code::kRateLimited, std::move(m)};
}
inline Status quota_exceeded(std::string m) {
  return {Code::kQuotaExceeded, std::move(m)};
}
inline Status permission_denied(std::string m) {
  return {Code::kPermissionDenied, std::move(m)};
}
inline Status out_of_range(std::string m) {
  return {Code::kOutOfRange, std::move(m)};
}
inline Status cancelled(std::string m) {
  return {Code::kCancelled, std::move(m)};
}
inline Status internal_error(std::string m) {
  return {Code::kInternal, std::move(m)};
}

// Result<T> holds either a value or a non-ok Status.
template <typename T> class [[nodiscard]] Result {
public:
  Result(T value) : v_(std::move(value)) {}       // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) { // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).ok() && "Result built from an ok Status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  // The error; an ok Status when a value is held.
  Status status() const { return ok() ? Status{} : std::get<Status>(v_); }

  T value_or(T fallback) const { return ok() ? value() : std::move(fallback); }

private:
  std::variant<T, Status> v_;
};

} // namespace weft::base

// Return early from a function returning Status or Result<T> when `expr` (a Status) is not ok.
#define WEFT_RETURN_IF_ERROR(expr)                                                                 \
  do {                                                                                             \
    ::weft::base::Status weft_status_ = (expr);                                                    \
    if (!weft_status_.ok()) {                                                                      \
      return weft_status_;                                                                         \
    }                                                                                              \
  } while (false)
