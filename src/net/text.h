#pragma once
// Small text helpers shared by the net parsers: quoting a value for an error message and strict
// decimal parsing. Internal to net/.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace weft::net::detail {

// The value in double quotes with non-printable bytes escaped as \xNN, cut at 64 bytes.
inline std::string quote(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  constexpr std::size_t kMax = 64;
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > kMax) {
    out += "...";
  }
  out += '"';
  return out;
}

// A decimal number of 1..max_digits digits without leading zeros ("0" itself is fine), <= max.
inline std::optional<std::uint32_t> parse_decimal(std::string_view text, std::size_t max_digits,
                                                  std::uint32_t max) {
  if (text.empty() || text.size() > max_digits) {
    return std::nullopt;
  }
  if (text.size() > 1 && text[0] == '0') {
    return std::nullopt;
  }
  std::uint32_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    v = v * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (v > max) {
    return std::nullopt;
  }
  return v;
}

inline int hex_digit(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

} // namespace weft::net::detail
