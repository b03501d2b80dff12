#include "addr.h"

#include "net/ip.h"
#include "net/ip_net.h"

namespace weft::emulator {

// The parsing rules are net/'s (strict dotted quads, no leading zeros, prefix 0..32); the
// emulator keeps plain integers so its route tables stay compact.

std::string Ipv4Cidr::to_string() const {
  return net::Ip4Net(net::Ip4Addr(network), prefix).to_string();
}

std::optional<std::uint32_t> parse_ipv4(std::string_view text) {
  auto ip = net::Ip4Addr::parse(text);
  if (!ip.ok()) {
    return std::nullopt;
  }
  return ip->value();
}

std::string format_ipv4(std::uint32_t ip) {
  return net::Ip4Addr(ip).to_string();
}

std::optional<Ipv4Cidr> parse_cidr(std::string_view text) {
  auto cidr = net::Ip4Net::parse(text);
  if (!cidr.ok() || !cidr->is_network()) {
    return std::nullopt;
  }
  return Ipv4Cidr{cidr->ip().value(), cidr->prefix_len()};
}

bool valid_resource_id(std::string_view id, std::string_view prefix) {
  if (id.size() != prefix.size() + 9 || id.substr(0, prefix.size()) != prefix ||
      id[prefix.size()] != '-') {
    return false;
  }
  for (char c : id.substr(prefix.size() + 1)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'))) {
      return false;
    }
  }
  return true;
}

} // namespace weft::emulator
