#include "kernel/ext_iface.h"

#include <algorithm>
#include <regex>

#include <fmt/format.h>

namespace weft::kernel {
namespace {

enum class Stack { kV4, kV6, kDual };

bool is_link_local_v6(const IpAddr& a) {
  const auto& b = std::get<1>(a).bytes();
  return b[0] == 0xfe && (b[1] & 0xc0) == 0x80;
}

const Iface* by_index(const IfaceSnapshot& s, int index) {
  for (const auto& i : s.ifaces) {
    if (i.index == index) {
      return &i;
    }
  }
  return nullptr;
}

const Iface* by_ip(const IfaceSnapshot& s, const IpAddr& ip) {
  for (const auto& i : s.ifaces) {
    const auto& addrs = ip.index() == 0 ? i.v4 : i.v6;
    if (std::find(addrs.begin(), addrs.end(), ip) != addrs.end()) {
      return &i;
    }
  }
  return nullptr;
}

std::optional<IpAddr> match_ip(const std::regex& re, const std::vector<IpAddr>& addrs) {
  for (const auto& a : addrs) {
    if (std::regex_search(to_string(a), re)) {
      return a;
    }
  }
  return std::nullopt;
}

base::Result<const Iface*> default_iface(const IfaceSnapshot& s, bool v6) {
  std::vector<Route> defaults;
  for (const auto& r : s.routes) {
    if (prefix_len_of(r.dst) == 0 && family_of(r.dst) == (v6 ? AF_INET6 : AF_INET)) {
      defaults.push_back(r);
    }
  }
  auto best = lookup_route(defaults, v6 ? IpAddr{net::Ip6Addr{}} : IpAddr{net::Ip4Addr{}});
  if (!best) {
    return base::not_found(v6 ? "no default IPv6 route" : "no default route");
  }
  const Iface* iface = by_index(s, best->ifindex);
  if (iface == nullptr) {
    return base::not_found(fmt::format("default route uses unknown link #{}", best->ifindex));
  }
  return iface;
}

// One LookupExtIface call: exactly one of name_or_ip / regex / can_reach is used, in that order,
// or none for the default route's interface.
base::Result<ExternalInterface> lookup(const std::string& name_or_ip, const std::string& regex,
                                       const std::string& can_reach, Stack stack,
                                       const ExtIfaceOptions& o, const IfaceSnapshot& s) {
  const Iface* iface = nullptr;
  std::optional<IpAddr> addr;
  std::optional<IpAddr> addr6;
  if (!name_or_ip.empty()) {
    auto ip = parse_ip(name_or_ip);
    if (ip.ok()) {
      iface = by_ip(s, *ip);
      if (iface == nullptr) {
        return base::not_found("no interface has address " + name_or_ip);
      }
      (ip->index() == 0 ? addr : addr6) = *ip;
      if (stack == Stack::kDual && !o.public_ipv6.empty()) {
        auto pub6 = parse_ip(o.public_ipv6);
        if (pub6.ok()) {
          const Iface* v6 = by_ip(s, *pub6);
          if (v6 == nullptr) {
            return base::not_found("no interface has address " + o.public_ipv6);
          }
          if (ip->index() == 1) {
            iface = v6;
            addr.reset();
          } else if (v6->name != iface->name) {
            return base::invalid_argument(fmt::format(
                "v6 interface {} must be the same as v4 interface {}", v6->name, iface->name));
          }
        }
      }
    } else {
      for (const auto& i : s.ifaces) {
        if (i.name == name_or_ip) {
          iface = &i;
        }
      }
      if (iface == nullptr) {
        return base::not_found("no interface named " + name_or_ip);
      }
    }
  } else if (!regex.empty()) {
    std::regex re;
    try {
      re = std::regex(regex, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return base::invalid_argument(
          fmt::format("could not compile the IP address regex '{}': {}", regex, e.what()));
    }
    for (const auto& i : s.ifaces) {
      if (stack == Stack::kV4 || stack == Stack::kDual) {
        if (i.v4.empty() || (stack == Stack::kDual && i.v6.empty())) {
          continue;
        }
        addr = match_ip(re, i.v4);
        if (!addr) {
          continue;
        }
        if (stack == Stack::kV4) {
          iface = &i;
          break;
        }
      }
      if (i.v6.empty()) {
        continue;
      }
      if (auto m = match_ip(re, i.v6)) {
        addr6 = m;
        iface = &i;
        break;
      }
    }
    if (iface == nullptr) {
      addr.reset();
      addr6.reset();
      for (const auto& i : s.ifaces) {
        if (std::regex_search(i.name, re)) {
          iface = &i;
          break;
        }
      }
    }
    if (iface == nullptr) {
      return base::not_found("could not match pattern " + regex + " to any interface");
    }
  } else if (!can_reach.empty()) {
    auto target = parse_ip(can_reach);
    if (!target.ok()) {
      return base::invalid_argument("--iface-can-reach: " + target.status().message());
    }
    auto route = lookup_route(s.routes, *target);
    if (!route) {
      return base::not_found("no route to " + can_reach);
    }
    iface = by_index(s, route->ifindex);
    if (iface == nullptr) {
      return base::not_found(fmt::format("route to {} uses unknown link", can_reach));
    }
    const auto& addrs = target->index() == 0 ? iface->v4 : iface->v6;
    if (!addrs.empty()) {
      (target->index() == 0 ? addr : addr6) = addrs.front();
    }
  } else {
    auto v4 = default_iface(s, stack == Stack::kV6);
    if (!v4.ok()) {
      return v4.status();
    }
    iface = *v4;
    if (stack == Stack::kDual) {
      auto v6 = default_iface(s, true);
      if (!v6.ok()) {
        return v6.status();
      }
      if ((*v6)->name != iface->name) {
        return base::invalid_argument(
            fmt::format("v6 default route interface {} must be the same as v4 default route "
                        "interface {}",
                        (*v6)->name, iface->name));
      }
    }
  }

  if ((stack == Stack::kV4 && !addr) || (stack == Stack::kDual && !addr && !addr6)) {
    if (iface->v4.empty()) {
      return base::not_found("failed to find IPv4 address for interface " + iface->name);
    }
    addr = iface->v4.front();
  }
  if ((stack == Stack::kV6 && !addr6) || (stack == Stack::kDual && !addr6)) {
    if (iface->v6.empty()) {
      return base::not_found("failed to find IPv6 address for interface " + iface->name);
    }
    addr6 = iface->v6.front();
  }
  if (iface->mtu == 0) {
    return base::invalid_argument("failed to determine MTU for interface " + iface->name);
  }
  ExternalInterface out;
  out.iface = *iface;
  out.iface_addr = addr;
  out.iface_v6_addr = addr6;
  if (!o.public_ip.empty()) {
    auto pub = parse_ip(o.public_ip);
    if (!pub.ok()) {
      return base::invalid_argument("invalid public IP address: " + o.public_ip);
    }
    out.ext_addr = *pub;
  } else if (stack != Stack::kV6) {
    out.ext_addr = addr;
  }
  if (!o.public_ipv6.empty()) {
    auto pub6 = parse_ip(o.public_ipv6);
    if (!pub6.ok()) {
      return base::invalid_argument("invalid public IPv6 address: " + o.public_ipv6);
    }
    out.ext_v6_addr = *pub6;
  } else if (stack != Stack::kV4) {
    out.ext_v6_addr = addr6;
  }
  return out;
}

} // namespace

base::Result<ExternalInterface> select_ext_iface(const ExtIfaceOptions& o, const IfaceSnapshot& s) {
  Stack stack = Stack::kV4;
  if (o.ipv4 && o.ipv6) {
    stack = Stack::kDual;
  } else if (o.ipv6) {
    stack = Stack::kV6;
  } else if (!o.ipv4) {
    return base::invalid_argument("none defined stack");
  }
  if (o.iface.empty() && o.iface_regex.empty() && o.iface_can_reach.empty()) {
    const std::string& pub = !o.public_ip.empty() ? o.public_ip : o.public_ipv6;
    auto r = lookup(pub, "", "", stack, o, s);
    if (!r.ok()) {
      return r.status().with_context("failed to find any valid interface to use");
    }
    return r;
  }
  std::string tried;
  for (const auto& name : o.iface) {
    auto r = lookup(name, "", "", stack, o, s);
    if (r.ok()) {
      return r;
    }
    tried += "; " + r.status().message();
  }
  for (const auto& re : o.iface_regex) {
    auto r = lookup("", re, "", stack, o, s);
    if (r.ok()) {
      return r;
    }
    tried += "; " + r.status().message();
  }
  if (!o.iface_can_reach.empty()) {
    auto r = lookup("", "", o.iface_can_reach, stack, o, s);
    if (r.ok()) {
      return r;
    }
    tried += "; " + r.status().message();
  }
  return base::not_found("failed to find interface to use that matches the interfaces and/or "
                         "regexes provided" +
                         tried);
}

bool ext_iface_needs_routes(const ExtIfaceOptions& o) {
  return (o.iface.empty() && o.iface_regex.empty()) || !o.iface_can_reach.empty();
}

base::Result<IfaceSnapshot> read_iface_snapshot(Netlink& netlink, bool with_routes) {
  auto links = netlink.list_links();
  if (!links.ok()) {
    return links.status();
  }
  auto addrs = netlink.list_addresses(AF_UNSPEC);
  if (!addrs.ok()) {
    return addrs.status();
  }
  base::Result<std::vector<Route>> routes = std::vector<Route>{};
  if (with_routes) {
    routes = netlink.list_routes(AF_UNSPEC, kMainTable, std::nullopt);
    if (!routes.ok()) {
      return routes.status();
    }
  }
  IfaceSnapshot s;
  for (const auto& l : *links) {
    Iface i;
    i.index = l.index;
    i.name = l.name;
    i.mtu = l.mtu;
    for (const auto& a : *addrs) {
      if (a.ifindex != l.index) {
        continue;
      }
      const IpAddr ip = ip_of(a.local);
      if (ip.index() == 0) {
        i.v4.push_back(ip);
      } else if (!is_link_local_v6(ip)) {
        i.v6.push_back(ip);
      }
    }
    s.ifaces.push_back(std::move(i));
  }
  std::sort(s.ifaces.begin(), s.ifaces.end(),
            [](const Iface& a, const Iface& b) { return a.index < b.index; });
  s.routes = std::move(*routes);
  return s;
}

} // namespace weft::kernel
