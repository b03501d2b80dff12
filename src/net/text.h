#pragma once
// Small text helpers shared by the net parsers: quoting a value for an error message and strict
// decimal parsing. Internal to net/.

#include "base/hex.h"
#include "base/quote.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace weft::net::detail {

using base::quote;

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

using base::hex_digit;

} // namespace weft::net::detail
