#pragma once
// A 48-bit Ethernet MAC address: parsing, lowercase colon formatting and random locally
// administered addresses (for VXLAN VTEP devices).

#include <array>
#include <compare>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include "base/status.h"

namespace weft::net {

class MacAddr {
public:
  constexpr MacAddr() = default;
  explicit MacAddr(const std::array<std::uint8_t, 6>& bytes) : bytes_(bytes) {}

  // "aa:bb:cc:dd:ee:ff": six two-digit hex bytes separated by colons, either case.
  static base::Result<MacAddr> parse(std::string_view text);

  // A random unicast, locally administered address (bit 0x02 set, bit 0x01 clear in byte 0).
  static MacAddr random_local(std::mt19937_64& rng);

  const std::array<std::uint8_t, 6>& bytes() const { return bytes_; }
  // Lowercase "aa:bb:cc:dd:ee:ff".
  std::string to_string() const;

  friend auto operator<=>(const MacAddr&, const MacAddr&) = default;

private:
  std::array<std::uint8_t, 6> bytes_{};
};

} // namespace weft::net
