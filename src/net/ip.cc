#include "net/ip.h"

#include <optional>
#include <vector>

#include "net/text.h"

namespace weft::net {
namespace {

std::optional<std::uint32_t> parse_dotted_quad(std::string_view text) {
  // One pass: four decimal octets joined by dots, nothing after the fourth.
  std::uint32_t value = 0;
  std::size_t i = 0;
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0) {
      if (i >= text.size() || text[i] != '.') {
        return std::nullopt;
      }
      ++i;
    }
    const std::size_t start = i;
    while (i < text.size() && text[i] != '.') {
      ++i;
    }
    const auto v = detail::parse_decimal(text.substr(start, i - start), 3, 255);
    if (!v) {
      return std::nullopt;
    }
    value = (value << 8) | *v;
  }
  if (i != text.size()) {
    return std::nullopt;
  }
  return value;
}

// Parses colon-separated hex groups of `part` into `groups`. When allow_v4 is set the last piece
// may be a dotted quad, which counts as two groups.
bool parse_groups(std::string_view part, bool allow_v4, std::vector<std::uint16_t>& groups) {
  if (part.empty()) {
    return true;
  }
  std::size_t start = 0;
  while (true) {
    const std::size_t colon = part.find(':', start);
    const std::string_view piece =
        colon == std::string_view::npos ? part.substr(start) : part.substr(start, colon - start);
    const bool last = colon == std::string_view::npos;
    if (piece.empty()) {
      return false;
    }
    if (last && allow_v4 && piece.find('.') != std::string_view::npos) {
      const auto v4 = parse_dotted_quad(piece);
      if (!v4) {
        return false;
      }
      groups.push_back(static_cast<std::uint16_t>(*v4 >> 16));
      groups.push_back(static_cast<std::uint16_t>(*v4 & 0xffff));
      return true;
    }
    if (piece.size() > 4) {
      return false;
    }
    std::uint32_t g = 0;
    for (char c : piece) {
      const int d = detail::hex_digit(c);
      if (d < 0) {
        return false;
      }
      g = (g << 4) | static_cast<std::uint32_t>(d);
    }
    groups.push_back(static_cast<std::uint16_t>(g));
    if (last) {
      return true;
    }
    start = colon + 1;
  }
}

std::optional<std::array<std::uint8_t, 16>> parse_ipv6(std::string_view text) {
  std::vector<std::uint16_t> head;
  std::vector<std::uint16_t> tail;
  const std::size_t ellipsis = text.find("::");
  if (ellipsis == std::string_view::npos) {
    if (!parse_groups(text, true, head) || head.size() != 8) {
      return std::nullopt;
    }
  } else {
    const std::string_view before = text.substr(0, ellipsis);
    const std::string_view after = text.substr(ellipsis + 2);
    if (after.find("::") != std::string_view::npos) {
      return std::nullopt;
    }
    if (!parse_groups(before, false, head) || !parse_groups(after, true, tail)) {
      return std::nullopt;
    }
    // "::" stands for at least one zero group.
    if (head.size() + tail.size() > 7) {
      return std::nullopt;
    }
  }
  std::array<std::uint8_t, 16> bytes{};
  for (std::size_t i = 0; i < head.size(); ++i) {
    bytes[2 * i] = static_cast<std::uint8_t>(head[i] >> 8);
    bytes[2 * i + 1] = static_cast<std::uint8_t>(head[i] & 0xff);
  }
  const std::size_t tail_start = 8 - tail.size();
  for (std::size_t i = 0; i < tail.size(); ++i) {
    bytes[2 * (tail_start + i)] = static_cast<std::uint8_t>(tail[i] >> 8);
    bytes[2 * (tail_start + i) + 1] = static_cast<std::uint8_t>(tail[i] & 0xff);
  }
  return bytes;
}

void append_hex16(std::string& out, std::uint16_t g) {
  static constexpr char kHex[] = "0123456789abcdef";
  bool started = false;
  for (int shift = 12; shift >= 0; shift -= 4) {
    const int d = (g >> shift) & 0xf;
    if (d != 0 || started || shift == 0) {
      out += kHex[d];
      started = true;
    }
  }
}

} // namespace

base::Result<Ip4Addr> Ip4Addr::parse(std::string_view text) {
  const auto v = parse_dotted_quad(text);
  if (!v) {
    return base::invalid_argument("invalid IPv4 address " + detail::quote(text));
  }
  return Ip4Addr(*v);
}

std::string Ip4Addr::to_string() const {
  std::string out;
  out.reserve(15);
  for (int shift = 24; shift >= 0; shift -= 8) {
    out += std::to_string((value_ >> shift) & 0xff);
    if (shift != 0) {
      out += '.';
    }
  }
  return out;
}

base::Result<Ip6Addr> Ip6Addr::parse(std::string_view text) {
  const auto bytes = parse_ipv6(text);
  if (!bytes) {
    return base::invalid_argument("invalid IPv6 address " + detail::quote(text));
  }
  return Ip6Addr(*bytes);
}

Uint128 Ip6Addr::value() const {
  Uint128 v = 0;
  for (std::uint8_t b : bytes_) {
    v = (v << 8) | b;
  }
  return v;
}

Ip6Addr Ip6Addr::from_value(Uint128 value) {
  std::array<std::uint8_t, 16> bytes{};
  for (int i = 15; i >= 0; --i) {
    bytes[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(value & 0xff);
    value >>= 8;
  }
  return Ip6Addr(bytes);
}

std::string Ip6Addr::to_string() const {
  std::array<std::uint16_t, 8> groups{};
  for (std::size_t i = 0; i < 8; ++i) {
    groups[i] = static_cast<std::uint16_t>((bytes_[2 * i] << 8) | bytes_[2 * i + 1]);
  }
  // IPv4-mapped: ::ffff:a.b.c.d (as Go's netip prints it, and parse reads it back).
  const bool mapped = groups[0] == 0 && groups[1] == 0 && groups[2] == 0 && groups[3] == 0 &&
                      groups[4] == 0 && groups[5] == 0xffff;
  if (mapped) {
    const std::uint32_t v4 = (static_cast<std::uint32_t>(groups[6]) << 16) | groups[7];
    return "::ffff:" + Ip4Addr(v4).to_string();
  }
  int best_start = -1;
  int best_len = 0;
  for (int i = 0; i < 8;) {
    if (groups[static_cast<std::size_t>(i)] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && groups[static_cast<std::size_t>(j)] == 0) {
      ++j;
    }
    if (j - i > best_len) {
      best_start = i;
      best_len = j - i;
    }
    i = j;
  }
  if (best_len < 2) {
    best_start = -1;
  }
  std::string out;
  out.reserve(39);
  for (int i = 0; i < 8; ++i) {
    if (i == best_start) {
      out += "::";
      i += best_len - 1;
      continue;
    }
    if (i != 0 && !(best_start >= 0 && i == best_start + best_len)) {
      out += ':';
    }
    append_hex16(out, groups[static_cast<std::size_t>(i)]);
  }
  return out;
}

} // namespace weft::net
