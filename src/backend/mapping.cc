#include "backend/mapping.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

#include "config/net_config.h"

namespace weft::backend {
namespace {

using json = nlohmann::json;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Go's encoding/json: the exact key wins, else the last case-insensitive match.
const json* find_key(const json& obj, std::string_view key) {
  if (!obj.is_object()) {
    return nullptr;
  }
  if (auto it = obj.find(std::string(key)); it != obj.end()) {
    return &*it;
  }
  const json* found = nullptr;
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (iequals(it.key(), key)) {
      found = &it.value();
    }
  }
  return found;
}

base::Result<std::int64_t> get_int(const json& obj, std::string_view key, std::int64_t fallback,
                                   std::int64_t lo, std::int64_t hi) {
  const json* v = find_key(obj, key);
  if (v == nullptr || v->is_null()) {
    return fallback;
  }
  if (!v->is_number_integer() && !v->is_number_unsigned()) {
    return base::invalid_argument("Backend." + std::string(key) + ": expected an integer, got " +
                                  v->dump());
  }
  auto n = v->get<std::int64_t>();
  if (n < lo || n > hi) {
    return base::invalid_argument("Backend." + std::string(key) + ": " + std::to_string(n) +
                                  " is outside " + std::to_string(lo) + ".." + std::to_string(hi));
  }
  return n;
}

base::Result<bool> get_bool(const json& obj, std::string_view key) {
  const json* v = find_key(obj, key);
  if (v == nullptr || v->is_null()) {
    return false;
  }
  if (!v->is_boolean()) {
    return base::invalid_argument("Backend." + std::string(key) + ": expected a boolean, got " +
                                  v->dump());
  }
  return v->get<bool>();
}

} // namespace

bool is_own(const lease::Lease& l, const std::optional<net::Ip4Net>& own,
            const std::optional<net::Ip6Net>& own6) {
  if (own && l.subnet && *l.subnet == *own) {
    return true;
  }
  return !l.subnet && own6 && l.ipv6_subnet && *l.ipv6_subnet == *own6;
}

std::vector<kernel::Route> host_gw_routes(const std::vector<lease::Lease>& leases,
                                          const std::optional<net::Ip4Net>& own_subnet,
                                          const std::optional<net::Ip6Net>& own_ipv6_subnet,
                                          int uplink_ifindex) {
  std::vector<kernel::Route> routes;
  routes.reserve(leases.size());
  for (const auto& l : leases) {
    append_host_gw_routes(l, own_subnet, own_ipv6_subnet, uplink_ifindex, routes);
  }
  return routes;
}

void append_host_gw_routes(const lease::Lease& l, const std::optional<net::Ip4Net>& own_subnet,
                           const std::optional<net::Ip6Net>& own_ipv6_subnet, int uplink_ifindex,
                           std::vector<kernel::Route>& routes) {
  if (l.attrs.backend_type != config::kBackendHostGw || is_own(l, own_subnet, own_ipv6_subnet)) {
    return;
  }
  if (l.subnet && own_subnet) {
    kernel::Route r;
    r.dst = l.subnet->network();
    r.gateway = l.attrs.public_ip;
    r.ifindex = uplink_ifindex;
    r.metric = kernel::spread_metric(l.subnet->network());
    routes.push_back(r);
  }
  if (l.ipv6_subnet && own_ipv6_subnet && l.attrs.public_ipv6) {
    kernel::Route r;
    r.dst = l.ipv6_subnet->network();
    r.gateway = *l.attrs.public_ipv6;
    r.ifindex = uplink_ifindex;
    routes.push_back(r);
  }
}

base::Result<VxlanConfig> parse_vxlan_config(const std::string& backend_json) {
  json obj = json::parse(backend_json.empty() ? "{}" : backend_json, nullptr, false);
  if (obj.is_discarded() || !obj.is_object()) {
    return base::invalid_argument("Backend: expected a JSON object for the vxlan backend");
  }
  VxlanConfig c;
  auto vni = get_int(obj, "VNI", 1, 0, (1 << 24) - 1);
  auto port = get_int(obj, "Port", 0, 0, 65535);
  auto mtu = get_int(obj, "MTU", 0, 0, 65535);
  auto gbp = get_bool(obj, "GBP");
  auto learning = get_bool(obj, "Learning");
  auto direct = get_bool(obj, "DirectRouting");
  for (const base::Status& st : {vni.status(), port.status(), mtu.status(), gbp.status(),
                                 learning.status(), direct.status()}) {
    WEFT_RETURN_IF_ERROR(st);
  }
  c.vni = static_cast<std::uint32_t>(*vni);
  c.port = static_cast<int>(*port);
  c.mtu = static_cast<int>(*mtu);
  if (c.mtu != 0 && c.mtu < 68) {
    return base::invalid_argument("Backend.MTU: " + std::to_string(c.mtu) +
                                  " is below the IPv4 minimum of 68");
  }
  c.gbp = *gbp;
  c.learning = *learning;
  c.direct_routing = *direct;
  return c;
}

std::string vxlan_backend_data(std::uint32_t vni, const net::MacAddr& mac) {
  return "{\"VNI\":" + std::to_string(vni) + ",\"VtepMAC\":\"" + mac.to_string() + "\"}";
}

base::Result<net::MacAddr> parse_vtep_mac_json(const std::string& backend_data) {
  json obj = json::parse(backend_data, nullptr, false);
  const json* mac = obj.is_discarded() ? nullptr : find_key(obj, "VtepMAC");
  if (mac == nullptr || !mac->is_string()) {
    return base::invalid_argument("BackendData has no VtepMAC string: " +
                                  backend_data.substr(0, 120));
  }
  return net::MacAddr::parse(mac->get<std::string>());
}

base::Result<net::MacAddr> parse_vtep_mac(const std::string& backend_data) {
  // flanneld writes {"VNI":<n>,"VtepMAC":"<mac>"} and so do we: read that form directly (a full
  // set maps every lease, and a JSON parse each cost 1 to 2 us); anything else goes through JSON.
  constexpr std::string_view kHead = "{\"VNI\":";
  constexpr std::string_view kMid = ",\"VtepMAC\":\"";
  const std::string_view d(backend_data);
  if (d.size() > kHead.size() && d.substr(0, kHead.size()) == kHead && d.size() >= 3 &&
      d.substr(d.size() - 2) == "\"}") {
    std::size_t i = kHead.size();
    const std::size_t digits = i;
    while (i < d.size() && d[i] >= '0' && d[i] <= '9') {
      ++i;
    }
    const bool number = i > digits && i - digits <= 10 && (d[digits] != '0' || i - digits == 1);
    if (number && d.substr(i, kMid.size()) == kMid) {
      const std::size_t mac_at = i + kMid.size();
      const std::string_view mac = d.substr(mac_at, d.size() - 2 - mac_at);
      if (mac.find_first_of("\"\\") == std::string_view::npos) {
        return net::MacAddr::parse(mac);
      }
    }
  }
  return parse_vtep_mac_json(backend_data);
}

VxlanEntries vxlan_entries(const std::vector<lease::Lease>& leases,
                           const std::optional<net::Ip4Net>& own_subnet,
                           const std::optional<net::Ip6Net>& own_ipv6_subnet,
                           const VxlanDevices& devices) {
  VxlanEntries out;
  for (const auto& l : leases) {
    append_vxlan_entries(l, own_subnet, own_ipv6_subnet, devices, out);
  }
  return out;
}

void append_vxlan_entries(const lease::Lease& l, const std::optional<net::Ip4Net>& own_subnet,
                          const std::optional<net::Ip6Net>& own_ipv6_subnet,
                          const VxlanDevices& devices, VxlanEntries& out) {
  const auto vtep_mac = [](const std::string& data) { return parse_vtep_mac(data); };
  if (l.attrs.backend_type != config::kBackendVxlan || is_own(l, own_subnet, own_ipv6_subnet)) {
    return;
  }
  if (l.subnet && devices.v4_ifindex != 0) {
    const net::Ip4Net dst = l.subnet->network();
    if (const int link = devices.direct_link ? devices.direct_link(l.attrs.public_ip) : 0;
        link != 0) {
      kernel::Route r;
      r.dst = dst;
      r.gateway = l.attrs.public_ip;
      r.ifindex = link;
      r.metric = kernel::spread_metric(dst);
      out.routes.push_back(r);
    } else if (auto mac = vtep_mac(l.attrs.backend_data); mac.ok()) {
      kernel::Route r;
      r.dst = dst;
      r.gateway = dst.ip();
      r.ifindex = devices.v4_ifindex;
      r.onlink = true;
      r.metric = kernel::spread_metric(dst);
      out.routes.push_back(r);
      out.neighbours.push_back(kernel::Neighbour{devices.v4_ifindex, dst.ip(), *mac});
      out.fdb.push_back(kernel::FdbEntry{devices.v4_ifindex, *mac, l.attrs.public_ip});
    } else {
      out.skipped.push_back(dst.to_string() + ": " + mac.status().message());
    }
  }
  if (l.ipv6_subnet && devices.v6_ifindex != 0 && l.attrs.public_ipv6) {
    const net::Ip6Net dst = l.ipv6_subnet->network();
    if (const int link = devices.direct_link ? devices.direct_link(*l.attrs.public_ipv6) : 0;
        link != 0) {
      kernel::Route r; // as flanneld's v6 direct route: via the node's public IPv6
      r.dst = dst;
      r.gateway = *l.attrs.public_ipv6;
      r.ifindex = link;
      out.routes.push_back(r);
    } else if (auto mac = vtep_mac(l.attrs.backend_v6_data); mac.ok()) {
      kernel::Route r;
      r.dst = dst;
      r.gateway = dst.ip();
      r.ifindex = devices.v6_ifindex;
      r.onlink = true;
      out.routes.push_back(r);
      out.neighbours.push_back(kernel::Neighbour{devices.v6_ifindex, dst.ip(), *mac});
      out.fdb.push_back(kernel::FdbEntry{devices.v6_ifindex, *mac, *l.attrs.public_ipv6});
    } else {
      out.skipped.push_back(dst.to_string() + ": " + mac.status().message());
    }
  }
}

} // namespace weft::backend
