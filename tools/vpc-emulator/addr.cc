#include "addr.h"

#include <fmt/format.h>

namespace weft::emulator {

std::string Ipv4Cidr::to_string() const {
  return fmt::format("{}/{}", format_ipv4(network), prefix);
}

std::optional<std::uint32_t> parse_ipv4(std::string_view text) {
  std::uint32_t out = 0;
  int parts = 0;
  size_t i = 0;
  while (parts < 4) {
    size_t start = i;
    std::uint32_t octet = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9' && i - start < 3) {
      octet = octet * 10 + static_cast<std::uint32_t>(text[i] - '0');
      ++i;
    }
    size_t len = i - start;
    if (len == 0 || octet > 255 || (len > 1 && text[start] == '0')) {
      return std::nullopt;
    }
    out = (out << 8) | octet;
    ++parts;
    if (parts < 4) {
      if (i >= text.size() || text[i] != '.') {
        return std::nullopt;
      }
      ++i;
    }
  }
  if (i != text.size()) {
    return std::nullopt;
  }
  return out;
}

std::string format_ipv4(std::uint32_t ip) {
  return fmt::format("{}.{}.{}.{}", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
}

std::optional<Ipv4Cidr> parse_cidr(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) {
    return std::nullopt;
  }
  auto ip = parse_ipv4(text.substr(0, slash));
  std::string_view len = text.substr(slash + 1);
  if (!ip || len.empty() || len.size() > 2 || (len.size() == 2 && len[0] == '0')) {
    return std::nullopt;
  }
  int prefix = 0;
  for (char c : len) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    prefix = prefix * 10 + (c - '0');
  }
  if (prefix > 32) {
    return std::nullopt;
  }
  Ipv4Cidr cidr{*ip, prefix};
  if ((*ip & cidr.mask()) != *ip) {
    return std::nullopt;
  }
  return cidr;
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
