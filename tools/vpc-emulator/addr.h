#pragma once
// Strict IPv4 address and CIDR parsing for request validation in the emulator (no I/O).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace weft::emulator {

struct Ipv4Cidr {
  std::uint32_t network = 0;
  int prefix = 0;

  std::uint32_t mask() const { return prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix); }
  bool contains(std::uint32_t ip) const { return (ip & mask()) == network; }
  bool contains(const Ipv4Cidr& other) const {
    return other.prefix >= prefix && contains(other.network);
  }
  std::string to_string() const;
};

// Dotted quad with no leading zeros, e.g. "10.0.1.7".
std::optional<std::uint32_t> parse_ipv4(std::string_view text);
std::string format_ipv4(std::uint32_t ip);
// "a.b.c.d/len" whose host bits are zero.
std::optional<Ipv4Cidr> parse_cidr(std::string_view text);
// "<prefix>-" followed by 8 lowercase letters or digits, e.g. "rtb-l2h8d7c2".
bool valid_resource_id(std::string_view id, std::string_view prefix);

} // namespace weft::emulator
