#include "lease/subnet_env.h"

#include <charconv>

#include "base/file.h"
#include "lease/lease.h"

namespace weft::lease {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_space(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 100)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u >= 0x7f) ? '?' : c;
  }
  if (s.size() > 100) {
    out += "...";
  }
  return out;
}

base::Status line_error(std::size_t line_no, const std::string& what) {
  return base::invalid_argument("subnet.env line " + std::to_string(line_no) + ": " + what);
}

base::Status value_error(std::string_view key, std::string_view value, const std::string& why) {
  return base::invalid_argument("subnet.env " + std::string(key) + "=\"" + printable(value) +
                                "\": " + why);
}

bool valid_key(std::string_view key) {
  if (key.empty()) {
    return false;
  }
  for (char c : key) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.';
    if (!ok) {
      return false;
    }
  }
  return true;
}

// The value part of a line (after the separator): quoted or bare.
base::Result<std::string> parse_value(std::string_view raw, std::size_t line_no) {
  raw = trim(raw);
  if (raw.empty()) {
    return std::string();
  }
  const char q = raw.front();
  if (q == '\'' || q == '"') {
    std::string out;
    std::size_t i = 1;
    for (; i < raw.size(); ++i) {
      const char c = raw[i];
      if (c == q) {
        break;
      }
      if (q == '"' && c == '\\' && i + 1 < raw.size()) {
        const char e = raw[++i];
        switch (e) {
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        default:
          out += e; // \" \\ \$ and anything else: the character itself
        }
        continue;
      }
      out += c;
    }
    if (i >= raw.size()) {
      return line_error(line_no, std::string("unterminated ") + q + " quote in value \"" +
                                     printable(raw) + "\"");
    }
    const std::string_view rest = trim(raw.substr(i + 1));
    if (!rest.empty() && rest.front() != '#') {
      return line_error(line_no,
                        "unexpected text after the closing quote in \"" + printable(raw) + "\"");
    }
    return out;
  }
  // A bare value ends at an inline comment: '#' preceded by whitespace.
  for (std::size_t i = 1; i < raw.size(); ++i) {
    if (raw[i] == '#' && is_space(raw[i - 1])) {
      raw = raw.substr(0, i);
      break;
    }
  }
  return std::string(trim(raw));
}

template <typename Net>
base::Result<std::vector<Net>> parse_cidr_list(std::string_view key, std::string_view value) {
  std::vector<Net> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = value.find(',', start);
    const std::string_view item = trim(
        comma == std::string_view::npos ? value.substr(start) : value.substr(start, comma - start));
    if (!item.empty()) {
      auto n = Net::parse(item);
      if (!n.ok()) {
        return value_error(key, value, n.status().message());
      }
      out.push_back(*n);
    }
    if (comma == std::string_view::npos) {
      break;
    }
    start = comma + 1;
  }
  return out;
}

template <typename Net>
base::Result<std::optional<Net>> parse_one_cidr(std::string_view key, std::string_view value) {
  auto list = parse_cidr_list<Net>(key, value);
  if (!list.ok()) {
    return list.status();
  }
  if (list->size() > 1) {
    return value_error(key, value, "want one CIDR, got " + std::to_string(list->size()));
  }
  if (list->empty()) {
    return std::optional<Net>();
  }
  return std::optional<Net>(list->front());
}

// IPv6 CIDRs as flannel writes them may carry a dotted-quad address (Go's net.IP.String of an
// IPv4-mapped address).
base::Result<net::Ip6Net> parse_go_ip6_net(std::string_view text) {
  auto direct = net::Ip6Net::parse(text);
  if (direct.ok()) {
    return direct;
  }
  const std::size_t slash = text.find('/');
  if (slash != std::string_view::npos && text.find(':') == std::string_view::npos) {
    auto addr = parse_go_ip6(text.substr(0, slash));
    auto tail = net::Ip6Net::parse("::" + std::string(text.substr(slash)));
    if (addr.ok() && tail.ok()) {
      return net::Ip6Net(*addr, tail->prefix_len());
    }
  }
  return direct.status();
}

// net::Ip6Net with the Go forms accepted, for parse_cidr_list.
struct GoIp6Net : net::Ip6Net {
  GoIp6Net(const net::Ip6Net& n) : net::Ip6Net(n) {} // NOLINT(google-explicit-constructor)
  static base::Result<GoIp6Net> parse(std::string_view text) {
    auto n = parse_go_ip6_net(text);
    if (!n.ok()) {
      return n.status();
    }
    return GoIp6Net(*n);
  }
};

} // namespace

std::string format_subnet_env(const SubnetFileParams& p) {
  std::string out;
  if (p.enable_ipv4) {
    const net::Ip4Net first(net::Ip4Addr(p.subnet.ip().value() + 1), p.subnet.prefix_len());
    out += "FLANNEL_NETWORK=" + p.network.to_string() + "\n";
    out += "FLANNEL_SUBNET=" + first.to_string() + "\n";
  }
  if (p.enable_ipv6) {
    const net::Ip6Net first(net::Ip6Addr::from_value(p.ipv6_subnet.ip().value() + 1),
                            p.ipv6_subnet.prefix_len());
    out += "FLANNEL_IPV6_NETWORK=" + go_ip6_net_string(p.ipv6_network) + "\n";
    out += "FLANNEL_IPV6_SUBNET=" + go_ip6_net_string(first) + "\n";
  }
  out += "FLANNEL_MTU=" + std::to_string(p.mtu) + "\n";
  out += std::string("FLANNEL_IPMASQ=") + (p.ipmasq ? "true" : "false") + "\n";
  return out;
}

base::Status write_subnet_env(const std::string& path, const SubnetFileParams& params) {
  return base::write_file_atomic(path, format_subnet_env(params), 0644)
      .with_context("writing subnet.env " + path);
}

base::Result<SubnetEnv> parse_subnet_env(std::string_view text) {
  SubnetEnv env;
  std::size_t line_no = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t nl = text.find('\n', start);
    const std::string_view raw_line =
        nl == std::string_view::npos ? text.substr(start) : text.substr(start, nl - start);
    start = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    ++line_no;
    std::string_view line = trim(raw_line);
    if (line.empty() || line.front() == '#') {
      continue;
    }
    if (line.substr(0, 7) == "export ") {
      line = trim(line.substr(7));
    }
    const std::size_t sep = line.find_first_of("=:");
    if (sep == std::string_view::npos) {
      return line_error(line_no, "want KEY=VALUE, got \"" + printable(line) + "\"");
    }
    const std::string_view key = trim(line.substr(0, sep));
    if (!valid_key(key)) {
      return line_error(line_no, "bad key \"" + printable(key) + "\"");
    }
    auto value_or = parse_value(line.substr(sep + 1), line_no);
    if (!value_or.ok()) {
      return value_or.status();
    }
    const std::string& value = *value_or;
    if (key == "FLANNEL_NETWORK") {
      auto list = parse_cidr_list<net::Ip4Net>(key, value);
      if (!list.ok()) {
        return list.status();
      }
      env.networks = std::move(*list);
    } else if (key == "FLANNEL_SUBNET") {
      auto one = parse_one_cidr<net::Ip4Net>(key, value);
      if (!one.ok()) {
        return one.status();
      }
      env.subnet = *one;
    } else if (key == "FLANNEL_IPV6_NETWORK") {
      auto list = parse_cidr_list<GoIp6Net>(key, value);
      if (!list.ok()) {
        return list.status();
      }
      env.ipv6_networks.assign(list->begin(), list->end());
    } else if (key == "FLANNEL_IPV6_SUBNET") {
      auto one = parse_one_cidr<GoIp6Net>(key, value);
      if (!one.ok()) {
        return one.status();
      }
      env.ipv6_subnet.reset();
      if (*one) {
        env.ipv6_subnet = static_cast<const net::Ip6Net&>(**one);
      }
    } else if (key == "FLANNEL_MTU") {
      int mtu = 0;
      const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), mtu);
      if (ec != std::errc() || ptr != value.data() + value.size() || mtu < 0 || mtu > 65535) {
        return value_error(key, value, "want an integer MTU in 0..65535");
      }
      env.mtu = mtu;
    } else if (key == "FLANNEL_IPMASQ") {
      // Go's strconv.ParseBool.
      if (value == "1" || value == "t" || value == "T" || value == "true" || value == "TRUE" ||
          value == "True") {
        env.ipmasq = true;
      } else if (value == "0" || value == "f" || value == "F" || value == "false" ||
                 value == "FALSE" || value == "False") {
        env.ipmasq = false;
      } else {
        return value_error(key, value, "want true or false");
      }
    }
  }
  return env;
}

std::pair<std::optional<net::Ip4Net>, std::optional<net::Ip6Net>>
previous_subnets(const SubnetEnv& env) {
  std::pair<std::optional<net::Ip4Net>, std::optional<net::Ip6Net>> out;
  if (env.subnet) {
    out.first = env.subnet->network();
  }
  if (env.ipv6_subnet) {
    out.second = env.ipv6_subnet->network();
  }
  return out;
}

} // namespace weft::lease
