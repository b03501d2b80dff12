#include "kernel/ext_iface.h"

#include <linux/if_addr.h>

#include <algorithm>
#include <iterator>
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
  const auto has = [&ip](const std::vector<IpAddr>& addrs) {
    return std::find(addrs.begin(), addrs.end(), ip) != addrs.end();
  };
  for (const auto& i : s.ifaces) {
    if (has(ip.index() == 0 ? i.v4 : i.v6) || has(ip.index() == 0 ? i.all_v4 : i.all_v6)) {
      return &i;
    }
  }
  return nullptr;
}

bool is_link_local(const IpAddr& a) {
  if (a.index() == 1) {
    return is_link_local_v6(a);
  }
  return (std::get<0>(a).value() >> 16) == 0xa9fe; // 169.254.0.0/16
}

// Go's net.IP.IsGlobalUnicast: not unspecified, loopback, multicast, link-local or (IPv4) the
// limited broadcast address.
bool is_global_unicast(const IpAddr& a) {
  if (is_link_local(a)) {
    return false;
  }
  if (a.index() == 0) {
    const std::uint32_t v = std::get<0>(a).value();
    return v != 0 && (v >> 24) != 127 && (v >> 28) != 0xe && v != 0xffffffffu;
  }
  const auto& b = std::get<1>(a).bytes();
  const bool unspecified = std::all_of(b.begin(), b.end(), [](std::uint8_t x) { return x == 0; });
  const bool loopback =
      std::all_of(b.begin(), b.end() - 1, [](std::uint8_t x) { return x == 0; }) && b[15] == 1;
  return !unspecified && !loopback && b[0] != 0xff;
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
    // As flanneld's GetInterfaceBySpecificIPRouting: the interface of the kernel's route to the
    // target (policy rules included), and the source address the kernel prefers on it.
    if (s.can_reach_dst != *target) {
      return base::internal_error("--iface-can-reach: the kernel was not asked for a route to " +
                                  can_reach);
    }
    if (!s.can_reach) {
      return base::not_found("couldn't look up a route to " + can_reach);
    }
    iface = by_index(s, s.can_reach->ifindex);
    if (iface == nullptr) {
      return base::not_found(fmt::format("route to {} uses unknown link", can_reach));
    }
    if (s.can_reach->src && s.can_reach->src->index() == target->index()) {
      (target->index() == 0 ? addr : addr6) = *s.can_reach->src;
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
  return o.iface.empty() && o.iface_regex.empty() && o.iface_can_reach.empty();
}

std::vector<IpAddr> preferred_addresses(const std::vector<AddrInfo>& addrs) {
  struct Ranked {
    IpAddr ip;
    int rank[3];
  };
  std::vector<Ranked> ranked;
  for (const AddrInfo& a : addrs) {
    const IpAddr ip = ip_of(a.local);
    const bool link_local = is_link_local(ip);
    if ((a.flags & IFA_F_DEPRECATED) != 0 || !(is_global_unicast(ip) || link_local) ||
        (link_local && ip.index() == 1)) {
      continue;
    }
    ranked.push_back({ip,
                      {link_local ? 1 : 0, (a.flags & IFA_F_PERMANENT) != 0 ? 0 : 1,
                       (a.flags & IFA_F_TEMPORARY) != 0 ? 1 : 0}});
  }
  std::stable_sort(ranked.begin(), ranked.end(), [](const Ranked& a, const Ranked& b) {
    return std::lexicographical_compare(std::begin(a.rank), std::end(a.rank), std::begin(b.rank),
                                        std::end(b.rank));
  });
  std::vector<IpAddr> out;
  out.reserve(ranked.size());
  for (const Ranked& r : ranked) {
    out.push_back(r.ip);
  }
  return out;
}

base::Result<IfaceSnapshot> read_iface_snapshot(Netlink& netlink, bool with_routes,
                                                const std::optional<IpAddr>& can_reach) {
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
    std::vector<AddrInfo> v4;
    std::vector<AddrInfo> v6;
    for (const auto& a : *addrs) {
      if (a.ifindex != l.index) {
        continue;
      }
      const IpAddr ip = ip_of(a.local);
      (ip.index() == 0 ? i.all_v4 : i.all_v6).push_back(ip);
      (ip.index() == 0 ? v4 : v6).push_back(a);
    }
    i.v4 = preferred_addresses(v4);
    i.v6 = preferred_addresses(v6);
    s.ifaces.push_back(std::move(i));
  }
  if (can_reach) {
    s.can_reach_dst = can_reach;
    s.can_reach = netlink.route_get({*can_reach}).front();
  }
  std::sort(s.ifaces.begin(), s.ifaces.end(),
            [](const Iface& a, const Iface& b) { return a.index < b.index; });
  s.routes = std::move(*routes);
  return s;
}

} // namespace weft::kernel
