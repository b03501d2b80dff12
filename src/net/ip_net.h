#pragma once
// IPv4 and IPv6 CIDR blocks (an address plus a prefix length) with the arithmetic subnet
// allocation needs: masking, containment, overlap, the next block, and iteration over sub-blocks.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "net/ip.h"

namespace weft::net {

// An IPv4 CIDR: an address (host bits kept as given) and a prefix length 0..32.
class Ip4Net {
public:
  Ip4Net() = default;
  // prefix_len is clamped to 0..32.
  Ip4Net(Ip4Addr ip, int prefix_len);

  // Strict "a.b.c.d/n" with n in 0..32 (no leading zeros). Host bits are kept, as the IP part of
  // Go's net.ParseCIDR; use network() for the block.
  static base::Result<Ip4Net> parse(std::string_view text);

  Ip4Addr ip() const { return ip_; }
  int prefix_len() const { return prefix_len_; }
  std::uint32_t mask() const;

  Ip4Net network() const;
  bool is_network() const;
  Ip4Addr first() const;
  Ip4Addr last() const;
  std::uint64_t size() const;

  bool contains(Ip4Addr addr) const;
  bool contains(const Ip4Net& other) const;
  bool overlaps(const Ip4Net& other) const;

  // The block of the same size right after this one; nullopt past 255.255.255.255.
  std::optional<Ip4Net> next() const;

  // "10.1.2.0/24" with the IP as stored.
  std::string to_string() const;

  friend auto operator<=>(const Ip4Net&, const Ip4Net&) = default;

private:
  Ip4Addr ip_;
  int prefix_len_ = 0;
};

// An IPv6 CIDR: an address (host bits kept as given) and a prefix length 0..128.
class Ip6Net {
public:
  Ip6Net() = default;
  // prefix_len is clamped to 0..128.
  Ip6Net(Ip6Addr ip, int prefix_len);

  // Strict "addr/n" with n in 0..128 (no leading zeros).
  static base::Result<Ip6Net> parse(std::string_view text);

  Ip6Addr ip() const { return ip_; }
  int prefix_len() const { return prefix_len_; }
  Uint128 mask() const;

  Ip6Net network() const;
  bool is_network() const;
  Ip6Addr first() const;
  Ip6Addr last() const;
  // Number of addresses; saturates at 2^128-1 for ::/0.
  Uint128 size() const;

  bool contains(const Ip6Addr& addr) const;
  bool contains(const Ip6Net& other) const;
  bool overlaps(const Ip6Net& other) const;

  // The block of the same size right after this one; nullopt past ffff:...:ffff.
  std::optional<Ip6Net> next() const;

  std::string to_string() const;

  friend auto operator<=>(const Ip6Net&, const Ip6Net&) = default;

private:
  Ip6Addr ip_;
  int prefix_len_ = 0;
};

// Calls fn for each block of prefix length `len` inside `network`, from the block starting at
// `from` to the block starting at `to` (inclusive), in increasing order, until fn returns false.
// Errors (invalid_argument) when len is shorter than the network's prefix or too long, when
// from/to lie outside the network or are not aligned to len, or when from > to.
base::Status for_each_subnet(const Ip4Net& network, int len, Ip4Addr from, Ip4Addr to,
                             const std::function<bool(const Ip4Net&)>& fn);
base::Status for_each_subnet(const Ip6Net& network, int len, Ip6Addr from, Ip6Addr to,
                             const std::function<bool(const Ip6Net&)>& fn);

} // namespace weft::net

template <> struct std::hash<weft::net::Ip4Net> {
  std::size_t operator()(const weft::net::Ip4Net& n) const noexcept {
    const std::uint64_t v = (static_cast<std::uint64_t>(n.ip().value()) << 8) |
                            static_cast<std::uint64_t>(n.prefix_len());
    return std::hash<std::uint64_t>{}(v);
  }
};

template <> struct std::hash<weft::net::Ip6Net> {
  std::size_t operator()(const weft::net::Ip6Net& n) const noexcept {
    return std::hash<weft::net::Ip6Addr>{}(n.ip()) * 131 + static_cast<std::size_t>(n.prefix_len());
  }
};
