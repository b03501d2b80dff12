#pragma once
// IPv4 and IPv6 addresses as small value types: strict parsing (as Go's net/netip accept them),
// canonical formatting, ordering and hashing.

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace weft::net {

// A 128-bit unsigned integer for IPv6 arithmetic (a GCC/Clang extension, hence __extension__).
__extension__ typedef unsigned __int128 Uint128;

// An IPv4 address, stored as a host-order 32-bit integer.
class Ip4Addr {
public:
  constexpr Ip4Addr() = default;
  constexpr explicit Ip4Addr(std::uint32_t host_order) : value_(host_order) {}

  // Strict dotted quad "a.b.c.d": four decimal octets 0..255, no leading zeros, no whitespace.
  static base::Result<Ip4Addr> parse(std::string_view text);

  constexpr std::uint32_t value() const { return value_; }
  std::string to_string() const;

  friend auto operator<=>(const Ip4Addr&, const Ip4Addr&) = default;

private:
  std::uint32_t value_ = 0;
};

// An IPv6 address, stored as 16 bytes in network order.
class Ip6Addr {
public:
  constexpr Ip6Addr() = default;
  explicit Ip6Addr(const std::array<std::uint8_t, 16>& bytes) : bytes_(bytes) {}

  // RFC 4291 text forms: eight hex groups, one "::" run, an optional dotted IPv4 tail.
  // Rejects zones ("%eth0"), brackets, whitespace and anything else.
  static base::Result<Ip6Addr> parse(std::string_view text);

  const std::array<std::uint8_t, 16>& bytes() const { return bytes_; }
  Uint128 value() const;
  static Ip6Addr from_value(Uint128 value);

  // RFC 5952 canonical text: lowercase, no leading zeros, the longest run (first on a tie) of two
  // or more zero groups written as "::". IPv4-mapped addresses are written "::ffff:a.b.c.d".
  std::string to_string() const;

  friend auto operator<=>(const Ip6Addr&, const Ip6Addr&) = default;

private:
  std::array<std::uint8_t, 16> bytes_{};
};

} // namespace weft::net

template <> struct std::hash<weft::net::Ip4Addr> {
  std::size_t operator()(const weft::net::Ip4Addr& a) const noexcept {
    return std::hash<std::uint32_t>{}(a.value());
  }
};

template <> struct std::hash<weft::net::Ip6Addr> {
  std::size_t operator()(const weft::net::Ip6Addr& a) const noexcept {
    const weft::net::Uint128 v = a.value();
    const auto hi = static_cast<std::uint64_t>(v >> 64);
    const auto lo = static_cast<std::uint64_t>(v);
    return std::hash<std::uint64_t>{}(hi ^ (lo * 0x9e3779b97f4a7c15ULL));
  }
};
