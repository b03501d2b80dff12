#include "lease/subnet_key.h"

#include <regex>
#include <string_view>
#include <tuple>

#include <fmt/format.h>

#include "lease/lease.h"

namespace weft::lease {
namespace {

// Keys are short; the cap keeps std::regex's recursive matcher far from any stack limit.
constexpr std::size_t kMaxKeyLength = 512;

// Go's strconv.ParseUint(s, 10, bits): decimal digits (leading zeros allowed), < 2^bits.
std::optional<int> parse_go_uint(std::string_view s, int bits) {
  std::uint64_t v = 0;
  const std::uint64_t limit = std::uint64_t{1} << bits;
  for (char c : s) {
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
    if (v >= limit) {
      return std::nullopt;
    }
  }
  return static_cast<int>(v);
}

// The common key "a.b.c.d-len" (four digit runs joined by dots, a dash, a digit run, nothing
// else) matches the pattern below in exactly one way: the address and the length. Those two, or
// nullopt for any other shape (which the regex then decides).
std::optional<std::pair<std::string_view, std::string_view>> plain_v4_key(std::string_view key) {
  const std::size_t dash = key.find('-');
  if (dash == std::string_view::npos || dash + 1 >= key.size()) {
    return std::nullopt;
  }
  const std::string_view ip = key.substr(0, dash);
  const std::string_view len = key.substr(dash + 1);
  int dots = 0;
  char prev = '.';
  for (char c : ip) {
    if (c == '.') {
      if (prev == '.') {
        return std::nullopt;
      }
      ++dots;
    } else if (c < '0' || c > '9') {
      return std::nullopt;
    }
    prev = c;
  }
  if (dots != 3 || prev == '.') {
    return std::nullopt;
  }
  for (char c : len) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
  }
  return std::pair{ip, len};
}

std::string quote(std::string_view key) {
  std::string out = "\"";
  for (char c : key.substr(0, 128)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u >= 0x7f) ? '?' : c;
  }
  return out + (key.size() > 128 ? "...\"" : "\"");
}

} // namespace

std::string make_subnet_key(const std::optional<net::Ip4Net>& subnet,
                            const std::optional<net::Ip6Net>& ipv6_subnet) {
  const net::Ip4Net v4 = subnet.value_or(net::Ip4Net());
  std::string key = v4.ip().to_string() + "-" + std::to_string(v4.prefix_len());
  // flannel's IP6Net.Empty(): the zero address with prefix 0 counts as absent.
  if (ipv6_subnet && *ipv6_subnet != net::Ip6Net()) {
    key += "&" + go_ip6_string(ipv6_subnet->ip()) + "-" + std::to_string(ipv6_subnet->prefix_len());
  }
  return key;
}

base::Result<SubnetKey> parse_subnet_key(std::string_view key) {
  if (key.size() > kMaxKeyLength) {
    return base::invalid_argument("subnet key " + quote(key) + " is longer than " +
                                  std::to_string(kMaxKeyLength) + " bytes");
  }
  // The parts, as views of the key (or of the regex's copy of it).
  std::string_view v4_text;
  std::string_view v4_len;
  std::optional<std::pair<std::string_view, std::string_view>> v6;
  std::string text;
  std::smatch m;
  if (auto plain = plain_v4_key(key)) {
    std::tie(v4_text, v4_len) = *plain;
  } else {
    static const std::regex kPattern(R"((\d+\.\d+.\d+.\d+)-(\d+)(?:&([a-f\d:]+)-(\d+))?$)",
                                     std::regex::ECMAScript);
    text = std::string(key);
    if (!std::regex_search(text, m, kPattern)) {
      return base::invalid_argument("subnet key " + quote(key) +
                                    " does not end in a.b.c.d-len[&v6addr-len]");
    }
    const auto part = [&](int k) {
      return std::string_view(text).substr(static_cast<std::size_t>(m.position(k)),
                                           static_cast<std::size_t>(m.length(k)));
    };
    v4_text = part(1);
    v4_len = part(2);
    if (m[3].matched) {
      v6.emplace(part(3), part(4));
    }
  }
  auto ip = net::Ip4Addr::parse(v4_text);
  const auto len = parse_go_uint(v4_len, 5);
  if (!ip.ok() || !len) {
    return base::invalid_argument(
        fmt::format("subnet key {}: bad IPv4 subnet \"{}-{}\"", quote(key), v4_text, v4_len));
  }
  SubnetKey result{net::Ip4Net(*ip, *len), std::nullopt};
  if (v6) {
    auto ip6 = parse_go_ip6(v6->first);
    const auto len6 = parse_go_uint(v6->second, 7);
    if (!ip6.ok() || !len6) {
      return base::invalid_argument(fmt::format("subnet key {}: bad IPv6 subnet \"{}-{}\"",
                                                quote(key), v6->first, v6->second));
    }
    result.second = net::Ip6Net(*ip6, *len6);
    if (*result.first == net::Ip4Net()) {
      result.first.reset();
    }
  }
  return result;
}

} // namespace weft::lease
