#pragma once
// Secret: a string that must never reach a log line, an error message or a metrics label. Its
// formatter and operator<< print a fixed redaction; the value is read only through reveal().

#include <fmt/format.h>

#include <ostream>
#include <string>
#include <utility>

namespace weft::base {

class Secret {
public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}

  const std::string& reveal() const { return value_; }
  bool empty() const { return value_.empty(); }

  friend bool operator==(const Secret& a, const Secret& b) { return a.value_ == b.value_; }
  friend std::ostream& operator<<(std::ostream& os, const Secret& s) {
    return os << (s.empty() ? "" : "<redacted>");
  }

private:
  std::string value_;
};

} // namespace weft::base

template <> struct fmt::formatter<weft::base::Secret> : fmt::formatter<std::string_view> {
  template <typename Ctx> auto format(const weft::base::Secret& s, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(s.empty() ? "" : "<redacted>", ctx);
  }
};
