#include "net/mac.h"

#include "net/text.h"

namespace weft::net {

base::Result<MacAddr> MacAddr::parse(std::string_view text) {
  std::array<std::uint8_t, 6> bytes{};
  bool ok = text.size() == 17;
  for (std::size_t i = 0; ok && i < 6; ++i) {
    const int hi = detail::hex_digit(text[3 * i]);
    const int lo = detail::hex_digit(text[3 * i + 1]);
    if (hi < 0 || lo < 0 || (i < 5 && text[3 * i + 2] != ':')) {
      ok = false;
      break;
    }
    bytes[i] = static_cast<std::uint8_t>((hi << 4) | lo);
  }
  if (!ok) {
    return base::invalid_argument("invalid MAC address " + detail::quote(text) +
                                  ": want aa:bb:cc:dd:ee:ff");
  }
  return MacAddr(bytes);
}

MacAddr MacAddr::random_local(std::mt19937_64& rng) {
  const std::uint64_t r = rng();
  std::array<std::uint8_t, 6> bytes{};
  for (std::size_t i = 0; i < 6; ++i) {
    bytes[i] = static_cast<std::uint8_t>(r >> (8 * i));
  }
  bytes[0] = static_cast<std::uint8_t>((bytes[0] & 0xfe) | 0x02);
  return MacAddr(bytes);
}

std::string MacAddr::to_string() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(17);
  for (std::size_t i = 0; i < 6; ++i) {
    if (i != 0) {
      out += ':';
    }
    out += kHex[bytes_[i] >> 4];
    out += kHex[bytes_[i] & 0xf];
  }
  return out;
}

} // namespace weft::net
