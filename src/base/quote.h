#pragma once
// quote(): a user-supplied value for an error message, in double quotes, with control and
// non-ASCII bytes escaped as \xNN and cut at 64 bytes so a huge input cannot flood a log line.

#include <cstddef>
#include <string>
#include <string_view>

namespace weft::base {

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

} // namespace weft::base
