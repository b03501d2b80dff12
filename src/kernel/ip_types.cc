#include "kernel/ip_types.h"

namespace weft::kernel {

std::string to_string(const IpAddr& a) {
  return std::visit([](const auto& v) { return v.to_string(); }, a);
}

std::string to_string(const IpNet& n) {
  return std::visit([](const auto& v) { return v.to_string(); }, n);
}

base::Result<IpAddr> parse_ip(std::string_view text) {
  if (text.find(':') != std::string_view::npos) {
    auto v6 = net::Ip6Addr::parse(text);
    if (!v6.ok()) {
      return v6.status();
    }
    return IpAddr{*v6};
  }
  auto v4 = net::Ip4Addr::parse(text);
  if (!v4.ok()) {
    return v4.status();
  }
  return IpAddr{*v4};
}

base::Result<IpNet> parse_net(std::string_view text) {
  if (text.find('/') == std::string_view::npos) {
    auto ip = parse_ip(text);
    if (!ip.ok()) {
      return ip.status();
    }
    if (ip->index() == 0) {
      return IpNet{net::Ip4Net(std::get<0>(*ip), 32)};
    }
    return IpNet{net::Ip6Net(std::get<1>(*ip), 128)};
  }
  if (text.find(':') != std::string_view::npos) {
    auto v6 = net::Ip6Net::parse(text);
    if (!v6.ok()) {
      return v6.status();
    }
    return IpNet{*v6};
  }
  auto v4 = net::Ip4Net::parse(text);
  if (!v4.ok()) {
    return v4.status();
  }
  return IpNet{*v4};
}

IpAddr ip_of(const IpNet& n) {
  if (n.index() == 0) {
    return std::get<0>(n).ip();
  }
  return std::get<1>(n).ip();
}

int prefix_len_of(const IpNet& n) {
  return std::visit([](const auto& v) { return v.prefix_len(); }, n);
}

bool contains(const IpNet& n, const IpAddr& a) {
  if (n.index() != a.index()) {
    return false;
  }
  if (n.index() == 0) {
    return std::get<0>(n).contains(std::get<0>(a));
  }
  return std::get<1>(n).contains(std::get<1>(a));
}

} // namespace weft::kernel
