#include "net/ip_net.h"

#include <algorithm>

#include "net/text.h"

namespace weft::net {
namespace {

constexpr Uint128 kAllOnes128 = ~static_cast<Uint128>(0);

// Splits "addr/len" and parses len strictly in 0..max_len.
bool split_cidr(std::string_view text, int max_len, std::string_view& addr, int& len) {
  const std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) {
    return false;
  }
  addr = text.substr(0, slash);
  const auto v =
      detail::parse_decimal(text.substr(slash + 1), 3, static_cast<std::uint32_t>(max_len));
  if (!v) {
    return false;
  }
  len = static_cast<int>(*v);
  return true;
}

} // namespace

// ---- Ip4Net ----

Ip4Net::Ip4Net(Ip4Addr ip, int prefix_len) : ip_(ip), prefix_len_(std::clamp(prefix_len, 0, 32)) {}

base::Result<Ip4Net> Ip4Net::parse(std::string_view text) {
  std::string_view addr;
  int len = 0;
  if (!split_cidr(text, 32, addr, len)) {
    return base::invalid_argument("invalid IPv4 CIDR " + detail::quote(text) +
                                  ": want a.b.c.d/n with n in 0..32");
  }
  auto ip = Ip4Addr::parse(addr);
  if (!ip.ok()) {
    return base::invalid_argument("invalid IPv4 CIDR " + detail::quote(text) + ": " +
                                  ip.status().message());
  }
  return Ip4Net(*ip, len);
}

std::uint32_t Ip4Net::mask() const {
  return prefix_len_ == 0 ? 0U : ~0U << (32 - prefix_len_);
}

Ip4Net Ip4Net::network() const {
  return Ip4Net(Ip4Addr(ip_.value() & mask()), prefix_len_);
}

bool Ip4Net::is_network() const {
  return (ip_.value() & ~mask()) == 0;
}

Ip4Addr Ip4Net::first() const {
  return Ip4Addr(ip_.value() & mask());
}

Ip4Addr Ip4Net::last() const {
  return Ip4Addr(ip_.value() | ~mask());
}

std::uint64_t Ip4Net::size() const {
  return std::uint64_t{1} << (32 - prefix_len_);
}

bool Ip4Net::contains(Ip4Addr addr) const {
  return (addr.value() & mask()) == (ip_.value() & mask());
}

bool Ip4Net::contains(const Ip4Net& other) const {
  return other.prefix_len_ >= prefix_len_ && contains(other.ip_);
}

bool Ip4Net::overlaps(const Ip4Net& other) const {
  return prefix_len_ <= other.prefix_len_ ? contains(other.ip_) : other.contains(ip_);
}

std::optional<Ip4Net> Ip4Net::next() const {
  if (last().value() == 0xffffffffU) {
    return std::nullopt;
  }
  return Ip4Net(Ip4Addr(last().value() + 1), prefix_len_);
}

std::string Ip4Net::to_string() const {
  return ip_.to_string() + "/" + std::to_string(prefix_len_);
}

// ---- Ip6Net ----

Ip6Net::Ip6Net(Ip6Addr ip, int prefix_len) : ip_(ip), prefix_len_(std::clamp(prefix_len, 0, 128)) {}

base::Result<Ip6Net> Ip6Net::parse(std::string_view text) {
  std::string_view addr;
  int len = 0;
  if (!split_cidr(text, 128, addr, len)) {
    return base::invalid_argument("invalid IPv6 CIDR " + detail::quote(text) +
                                  ": want addr/n with n in 0..128");
  }
  auto ip = Ip6Addr::parse(addr);
  if (!ip.ok()) {
    return base::invalid_argument("invalid IPv6 CIDR " + detail::quote(text) + ": " +
                                  ip.status().message());
  }
  return Ip6Net(*ip, len);
}

Uint128 Ip6Net::mask() const {
  return prefix_len_ == 0 ? static_cast<Uint128>(0) : kAllOnes128 << (128 - prefix_len_);
}

Ip6Net Ip6Net::network() const {
  return Ip6Net(first(), prefix_len_);
}

bool Ip6Net::is_network() const {
  return (ip_.value() & ~mask()) == 0;
}

Ip6Addr Ip6Net::first() const {
  return Ip6Addr::from_value(ip_.value() & mask());
}

Ip6Addr Ip6Net::last() const {
  return Ip6Addr::from_value(ip_.value() | ~mask());
}

Uint128 Ip6Net::size() const {
  if (prefix_len_ == 0) {
    return kAllOnes128;
  }
  return static_cast<Uint128>(1) << (128 - prefix_len_);
}

bool Ip6Net::contains(const Ip6Addr& addr) const {
  return (addr.value() & mask()) == (ip_.value() & mask());
}

bool Ip6Net::contains(const Ip6Net& other) const {
  return other.prefix_len_ >= prefix_len_ && contains(other.ip_);
}

bool Ip6Net::overlaps(const Ip6Net& other) const {
  return prefix_len_ <= other.prefix_len_ ? contains(other.ip_) : other.contains(ip_);
}

std::optional<Ip6Net> Ip6Net::next() const {
  const Uint128 end = last().value();
  if (end == kAllOnes128) {
    return std::nullopt;
  }
  return Ip6Net(Ip6Addr::from_value(end + 1), prefix_len_);
}

std::string Ip6Net::to_string() const {
  return ip_.to_string() + "/" + std::to_string(prefix_len_);
}

// ---- for_each_subnet ----

base::Status for_each_subnet(const Ip4Net& network, int len, Ip4Addr from, Ip4Addr to,
                             const std::function<bool(const Ip4Net&)>& fn) {
  if (len < network.prefix_len() || len > 32) {
    return base::invalid_argument("subnet length /" + std::to_string(len) + " must be in /" +
                                  std::to_string(network.prefix_len()) + "../32 for " +
                                  network.to_string());
  }
  const Ip4Net from_net(from, len);
  const Ip4Net to_net(to, len);
  for (const Ip4Net* n : {&from_net, &to_net}) {
    if (!n->is_network()) {
      return base::invalid_argument("subnet start " + n->ip().to_string() + " is not aligned to /" +
                                    std::to_string(len));
    }
    if (!network.contains(n->ip())) {
      return base::invalid_argument("subnet start " + n->ip().to_string() + " is outside " +
                                    network.to_string());
    }
  }
  if (from > to) {
    return base::invalid_argument("subnet range start " + from.to_string() + " is after end " +
                                  to.to_string());
  }
  const std::uint64_t step = from_net.size();
  for (std::uint64_t v = from.value(); v <= to.value(); v += step) {
    if (!fn(Ip4Net(Ip4Addr(static_cast<std::uint32_t>(v)), len))) {
      break;
    }
  }
  return {};
}

base::Status for_each_subnet(const Ip6Net& network, int len, Ip6Addr from, Ip6Addr to,
                             const std::function<bool(const Ip6Net&)>& fn) {
  if (len < network.prefix_len() || len > 128) {
    return base::invalid_argument("subnet length /" + std::to_string(len) + " must be in /" +
                                  std::to_string(network.prefix_len()) + "../128 for " +
                                  network.to_string());
  }
  const Ip6Net from_net(from, len);
  const Ip6Net to_net(to, len);
  for (const Ip6Net* n : {&from_net, &to_net}) {
    if (!n->is_network()) {
      return base::invalid_argument("subnet start " + n->ip().to_string() + " is not aligned to /" +
                                    std::to_string(len));
    }
    if (!network.contains(n->ip())) {
      return base::invalid_argument("subnet start " + n->ip().to_string() + " is outside " +
                                    network.to_string());
    }
  }
  if (from > to) {
    return base::invalid_argument("subnet range start " + from.to_string() + " is after end " +
                                  to.to_string());
  }
  const Uint128 end = to.value();
  Uint128 v = from.value();
  while (true) {
    if (!fn(Ip6Net(Ip6Addr::from_value(v), len))) {
      break;
    }
    if (v == end) {
      break;
    }
    // len == 0 means from == to == ::, handled above; otherwise size() is exact.
    v += from_net.size();
  }
  return {};
}

} // namespace weft::net
