// host-gw and vxlan: the kernel backends, and the registry that builds them by type name.

#include <sys/socket.h>

#include <array>
#include <map>
#include <mutex>
#include <set>
#include <span>

#include <fmt/format.h>

#include "backend/backend.h"
#include "backend/lease_index.h"
#include "backend/mapping.h"
#include "backend/sync_group.h"
#include "base/log.h"
#include "kernel/targets.h"
#include "lease/subnet_key.h"

namespace weft::backend {
namespace {

reconcile::ReconcilerOptions reconciler_options(const BackendContext& ctx) {
  reconcile::ReconcilerOptions o;
  o.resync_period = ctx.resync;
  o.retry_initial = std::chrono::milliseconds(200);
  o.retry_max = std::chrono::seconds(30);
  o.batch_size = 1000;
  // Lease events cost only their own kernel calls; the resync lists and repairs drift.
  o.cache_actual = true;
  return o;
}

// What every kernel backend shares: the own lease, the lease set, the sync loop.
class KernelBackend : public Backend {
public:
  explicit KernelBackend(BackendContext ctx) : ctx_(std::move(ctx)), group_(*ctx_.clock) {}

  base::Status configure_own_lease(const lease::Lease& own) override {
    std::lock_guard lock(mu_);
    own_ = own;
    patchable_ = false; // entries depend on the own subnet: the next change sets them all
    return {};
  }

  void set_leases(const std::vector<lease::Lease>& leases) override {
    std::lock_guard desired_lock(desired_mu_);
    std::optional<lease::Lease> own;
    {
      std::lock_guard lock(mu_);
      own = own_;
      patchable_ = own.has_value();
    }
    if (!own) {
      return;
    }
    update_desired(leases, *own);
    group_.poke();
  }

  void apply_lease_changes(const std::vector<LeaseChange>& changes,
                           const std::function<std::vector<lease::Lease>()>& all) override {
    std::lock_guard desired_lock(desired_mu_);
    std::optional<lease::Lease> own;
    bool patchable = false;
    {
      std::lock_guard lock(mu_);
      own = own_;
      patchable = patchable_;
      patchable_ = own.has_value();
    }
    if (!own) {
      return;
    }
    if (!patchable || !patch_desired(changes, *own)) {
      update_desired(all(), *own);
    }
    group_.poke();
  }

  void run(std::stop_token stop) override { group_.run(stop); }
  bool synced() const override { return group_.synced_once(); }
  std::vector<TargetStats> stats() const override { return group_.stats(); }

protected:
  // Sets every reconciler's desired entries from the full lease set (and rebuilds the indexes).
  virtual void update_desired(const std::vector<lease::Lease>& leases, const lease::Lease& own) = 0;
  // Patches the entries of the changed leases; false when that cannot be done alone (then the
  // caller calls update_desired with every lease).
  virtual bool patch_desired(const std::vector<LeaseChange>& changes, const lease::Lease& own) = 0;

  static std::string lease_key(const lease::Lease& l) {
    return lease::make_subnet_key(l.subnet, l.ipv6_subnet);
  }

  BackendContext ctx_;
  SyncGroup group_;
  std::mutex desired_mu_; // serialises update_desired and patch_desired
  std::mutex mu_;
  std::optional<lease::Lease> own_;
  bool patchable_ = false; // the indexes match the last full set and own lease
};

// The cluster networks: flanneld routes to pod subnets inside them are adopted (see RouteTarget).
std::vector<kernel::IpNet> cluster_networks(const config::NetConfig& c) {
  std::vector<kernel::IpNet> out;
  if (c.network) {
    out.emplace_back(*c.network);
  }
  if (c.ipv6_network) {
    out.emplace_back(*c.ipv6_network);
  }
  return out;
}

class HostGwBackend final : public KernelBackend {
public:
  explicit HostGwBackend(BackendContext ctx)
      : KernelBackend(std::move(ctx)), routes_(*ctx_.netlink, AF_UNSPEC) {
    routes_.adopt_flannel_routes_within(cluster_networks(ctx_.config));
    routes_r_ = &group_.add<kernel::Route>(routes_, reconciler_options(ctx_));
  }
  std::string type() const override { return std::string(config::kBackendHostGw); }

  base::Result<lease::LeaseAttrs> prepare() override {
    // flanneld's rule: host-gw needs the published address to be the interface's own (no NAT).
    if (ctx_.ext.ext_addr != ctx_.ext.iface_addr) {
      return base::invalid_argument(
          "host-gw: the public IP " + ctx_.ext.ext_addr.to_string() + " is not the address " +
          ctx_.ext.iface_addr.to_string() + " of interface " + ctx_.ext.link.name +
          " (host-gw needs direct L2 reachability; use vxlan behind NAT)");
    }
    lease::LeaseAttrs attrs;
    attrs.public_ip = ctx_.ext.ext_addr;
    if (ctx_.config.enable_ipv6) {
      attrs.public_ipv6 = ctx_.ext.ext_v6_addr;
    }
    attrs.backend_type = std::string(config::kBackendHostGw);
    attrs.backend_data = "null";
    if (ctx_.config.enable_ipv6) {
      attrs.backend_v6_data = "null";
    }
    return attrs;
  }

  int mtu() const override { return ctx_.ext.link.mtu; }

private:
  void update_desired(const std::vector<lease::Lease>& leases, const lease::Lease& own) override {
    std::vector<kernel::Route> routes;
    routes.reserve(leases.size());
    for (const auto& l : leases) {
      append_host_gw_routes(l, own.subnet, own.ipv6_subnet, ctx_.ext.link.index, routes);
    }
    index_.set_shared(routes_r_->set_desired(std::move(routes)));
  }

  bool patch_desired(const std::vector<LeaseChange>& changes, const lease::Lease& own) override {
    LeaseIndex<kernel::Route>::Patch patch;
    std::vector<kernel::Route> before;
    std::vector<kernel::Route> now;
    const auto wanted = [this](const kernel::RouteKey& k) { return routes_r_->wants(k); };
    bool ok = true;
    for (const auto& c : changes) {
      before.clear();
      now.clear();
      if (c.previous) {
        append_host_gw_routes(*c.previous, own.subnet, own.ipv6_subnet, ctx_.ext.link.index,
                              before);
      }
      if (!c.removed) {
        append_host_gw_routes(c.lease, own.subnet, own.ipv6_subnet, ctx_.ext.link.index, now);
      }
      ok = index_.replace(before, now, wanted, patch) && ok;
    }
    if (!ok) {
      return false;
    }
    routes_r_->patch_desired(patch.upserts(), patch.removals());
    return true;
  }

  kernel::RouteTarget routes_;
  reconcile::Reconciler<kernel::Route>* routes_r_ = nullptr;
  LeaseIndex<kernel::Route> index_;
};

class VxlanBackend final : public KernelBackend {
public:
  VxlanBackend(BackendContext ctx, VxlanConfig vc)
      : KernelBackend(std::move(ctx)), vc_(vc), routes_(*ctx_.netlink, AF_UNSPEC) {
    routes_.adopt_flannel_routes_within(cluster_networks(ctx_.config));
  }

  std::string type() const override { return std::string(config::kBackendVxlan); }

  base::Result<lease::LeaseAttrs> prepare() override {
    lease::LeaseAttrs attrs;
    attrs.public_ip = ctx_.ext.ext_addr;
    attrs.backend_type = std::string(config::kBackendVxlan);
    const int uplink_mtu = ctx_.ext.link.mtu;
    // VXLAN costs 50 bytes over IPv4 and 70 over IPv6; the kernel refuses an IPv6 vxlan device
    // larger than its uplink allows, and pods send both families through one MTU, so dual-stack
    // uses the smaller figure for both devices and FLANNEL_MTU.
    const int overhead = ctx_.config.enable_ipv6 ? 70 : 50;
    mtu_ = vc_.mtu != 0 ? vc_.mtu : uplink_mtu - overhead;
    if (ctx_.config.enable_ipv4) {
      auto dev = ensure_device("flannel." + std::to_string(vc_.vni), ctx_.ext.iface_addr);
      if (!dev.ok()) {
        return dev.status();
      }
      v4_dev_ = *dev;
      attrs.backend_data = vxlan_backend_data(vc_.vni, v4_dev_->mac);
    }
    if (ctx_.config.enable_ipv6) {
      if (!ctx_.ext.iface_v6_addr || !ctx_.ext.ext_v6_addr) {
        return base::invalid_argument("vxlan: EnableIPv6 is set but interface " +
                                      ctx_.ext.link.name + " has no global IPv6 address");
      }
      auto dev = ensure_device("flannel-v6." + std::to_string(vc_.vni), *ctx_.ext.iface_v6_addr);
      if (!dev.ok()) {
        return dev.status();
      }
      v6_dev_ = *dev;
      attrs.public_ipv6 = ctx_.ext.ext_v6_addr;
      attrs.backend_v6_data = vxlan_backend_data(vc_.vni, v6_dev_->mac);
    }
    devices_.v4_ifindex = v4_dev_ ? v4_dev_->index : 0;
    devices_.v6_ifindex = v6_dev_ ? v6_dev_->index : 0;
    devices_.uplink_ifindex = ctx_.ext.link.index;
    if (vc_.direct_routing) {
      devices_.direct_link = [this](const kernel::IpAddr& a) {
        const auto it = direct_.find(a);
        return it == direct_.end() ? 0 : it->second;
      };
    }
    auto opts = reconciler_options(ctx_);
    routes_r_ = &group_.add<kernel::Route>(routes_, opts);
    for (int ifindex : {devices_.v4_ifindex, devices_.v6_ifindex}) {
      if (ifindex == 0) {
        continue;
      }
      neighs_.push_back(std::make_unique<kernel::NeighTarget>(*ctx_.netlink, ifindex));
      fdbs_.push_back(std::make_unique<kernel::FdbTarget>(*ctx_.netlink, ifindex));
      neigh_rs_.push_back(&group_.add<kernel::Neighbour>(*neighs_.back(), opts));
      fdb_rs_.push_back(&group_.add<kernel::FdbEntry>(*fdbs_.back(), opts));
    }
    group_.set_check([this] { return repair_devices(); }, ctx_.resync);
    return attrs;
  }

  base::Status configure_own_lease(const lease::Lease& own) override {
    for (const auto* dev : {&v4_dev_, &v6_dev_}) {
      if (auto want = device_address(*dev, own)) {
        WEFT_RETURN_IF_ERROR(ensure_single_address((*dev)->index, *want).status());
      }
    }
    return KernelBackend::configure_own_lease(own);
  }

  int mtu() const override { return mtu_; }

private:
  // The address flanneld gives a vxlan device: the lease subnet's network address, /32 or /128.
  std::optional<kernel::IpNet> device_address(const std::optional<kernel::LinkInfo>& dev,
                                              const lease::Lease& own) const {
    if (dev && &dev == &v4_dev_ && own.subnet) {
      return kernel::IpNet{net::Ip4Net(own.subnet->ip(), 32)};
    }
    if (dev && &dev == &v6_dev_ && own.ipv6_subnet) {
      return kernel::IpNet{net::Ip6Net(own.ipv6_subnet->ip(), 128)};
    }
    return std::nullopt;
  }

  // Puts back what someone else took away from the vxlan devices: a deleted device is created
  // again with its interface index and MAC (so every route, neighbour and FDB entry, and the
  // VtepMAC other nodes know, stay valid), a device set down is set up, a removed address is
  // added. True when something was repaired: the reconcilers then list and fill the device again.
  // flanneld leaves the node cut off until it is restarted.
  bool repair_devices() {
    std::optional<lease::Lease> own;
    {
      std::lock_guard lock(mu_);
      own = own_;
    }
    bool repaired = false;
    std::string problem;
    for (auto* dev : {&v4_dev_, &v6_dev_}) {
      if (!*dev) {
        continue;
      }
      const kernel::LinkInfo& d = **dev;
      auto link = ctx_.netlink->link_by_index(d.index);
      if (!link.ok() && link.status().code() == base::Code::kNotFound) {
        WEFT_WARN("vxlan: {} (index {}) was deleted by someone else; creating it again with the "
                  "same index and MAC {}",
                  d.name, d.index, d.mac.to_string());
        const kernel::IpAddr local = dev == &v4_dev_ ? kernel::IpAddr(ctx_.ext.iface_addr)
                                                     : kernel::IpAddr(*ctx_.ext.iface_v6_addr);
        auto again = ensure_device(d.name, local, d.index, d.mac);
        if (!again.ok()) {
          problem += " " + again.status().message();
          continue;
        }
        repaired = true;
      } else if (!link.ok()) {
        problem += " " + link.status().message();
        continue;
      } else if (link->name != d.name || link->kind != "vxlan") {
        problem += fmt::format(" index {} of {} now holds {} ({})", d.index, d.name, link->name,
                               link->kind.empty() ? "not vxlan" : link->kind);
        continue;
      } else if (!link->up) {
        WEFT_WARN("vxlan: {} was set down by someone else; setting it up", d.name);
        if (auto st = ctx_.netlink->set_up(d.index); !st.ok()) {
          problem += " " + st.message();
          continue;
        }
        repaired = true;
      }
      if (auto want = own ? device_address(*dev, *own) : std::nullopt) {
        auto added = ensure_single_address(d.index, *want);
        if (!added.ok()) {
          problem += " " + added.status().message();
        } else if (*added) {
          WEFT_WARN("vxlan: {} had lost its address {}; added it again", d.name,
                    kernel::to_string(*want));
          repaired = true;
        }
      }
    }
    if (problem != device_problem_) {
      if (!problem.empty()) {
        WEFT_ERROR("vxlan: cannot repair the vxlan device (restart weftd to recreate it):{}",
                   problem);
      }
      device_problem_ = problem;
    }
    return repaired;
  }

  base::Result<kernel::LinkInfo> ensure_device(const std::string& name, kernel::IpAddr local,
                                               int ifindex = 0,
                                               std::optional<net::MacAddr> mac = std::nullopt) {
    kernel::VxlanSpec spec;
    spec.ifindex = ifindex;
    spec.mac = mac;
    spec.name = name;
    spec.vni = vc_.vni;
    spec.local = local;
    spec.underlay_ifindex = ctx_.ext.link.index;
    spec.port = vc_.port;
    spec.learning = vc_.learning;
    spec.gbp = vc_.gbp;
    spec.mtu = mtu_;
    auto link = ctx_.netlink->ensure_vxlan(spec);
    if (!link.ok()) {
      return link.status().with_context("vxlan: creating " + name);
    }
    WEFT_INFO("vxlan: device {} (vni {}, mac {}, mtu {}) ready", link->name, vc_.vni,
              link->mac.to_string(), link->mtu);
    return link;
  }

  // flanneld keeps exactly one address on the vxlan device: the lease's network address. True
  // when `want` had to be added.
  base::Result<bool> ensure_single_address(int ifindex, const kernel::IpNet& want) {
    auto addrs = ctx_.netlink->list_addresses(kernel::family_of(want));
    if (!addrs.ok()) {
      return addrs.status();
    }
    bool present = false;
    for (const auto& a : *addrs) {
      if (a.ifindex != ifindex || a.scope == 253) {
        continue;
      }
      if (a.local == want) {
        present = true;
      } else {
        WEFT_RETURN_IF_ERROR(ctx_.netlink->delete_address(a));
      }
    }
    if (!present) {
      WEFT_RETURN_IF_ERROR(ctx_.netlink->add_address(kernel::AddrInfo{ifindex, want, 0}));
    }
    return !present;
  }

  // The neighbour and FDB reconcilers are per device: slot 0 is IPv4's when it is on.
  std::size_t slot_of(int ifindex) const {
    return devices_.v4_ifindex != 0 && ifindex != devices_.v4_ifindex ? 1 : 0;
  }

  // The entries of one device slot (neighbours or FDB entries).
  template <typename Entry>
  std::vector<Entry> in_slot(const std::vector<Entry>& entries, std::size_t slot) const {
    std::vector<Entry> out;
    for (const auto& x : entries) {
      if (slot_of(x.ifindex) == slot) {
        out.push_back(x);
      }
    }
    return out;
  }

  void report_skipped(const std::vector<std::string>& skipped) {
    for (const auto& s : skipped) {
      if (reported_.insert(s).second) {
        WEFT_WARN("vxlan: ignoring lease {}", s);
      }
    }
  }

  // DirectRouting, as flanneld (ip.DirectRouting at each lease event): the kernel is asked how it
  // reaches a peer's public addresses whenever that lease's entries are computed, all of them in
  // one batch for a full set. The answers are kept for computing a lease's previous entries.
  // Returns how many of how many addresses are direct.
  std::pair<std::size_t, std::size_t> ask_direct(const std::vector<const lease::Lease*>& leases) {
    std::vector<kernel::IpAddr> addrs;
    addrs.reserve(leases.size());
    for (const lease::Lease* l : leases) {
      if (l->attrs.backend_type != config::kBackendVxlan) {
        continue;
      }
      if (l->subnet && devices_.v4_ifindex != 0) {
        addrs.emplace_back(l->attrs.public_ip);
      }
      if (l->ipv6_subnet && devices_.v6_ifindex != 0 && l->attrs.public_ipv6) {
        addrs.emplace_back(*l->attrs.public_ipv6);
      }
    }
    const std::vector<int> links = ctx_.netlink->direct_links(addrs);
    std::size_t direct = 0;
    for (std::size_t i = 0; i < addrs.size() && i < links.size(); ++i) {
      direct_[addrs[i]] = links[i];
      direct += links[i] != 0 ? 1 : 0;
      // As flanneld at -v=2, one line per peer address.
      WEFT_VLOG(2, "vxlan: DirectRouting: {} is {}", kernel::to_string(addrs[i]),
                links[i] != 0 ? "reached without a gateway: routed directly"
                              : "not directly reachable: through the vxlan device");
    }
    return {direct, addrs.size()};
  }

  void forget_direct(const lease::Lease& l) {
    direct_.erase(kernel::IpAddr(l.attrs.public_ip));
    if (l.attrs.public_ipv6) {
      direct_.erase(kernel::IpAddr(*l.attrs.public_ipv6));
    }
  }

  void update_desired(const std::vector<lease::Lease>& leases, const lease::Lease& own) override {
    if (vc_.direct_routing) {
      direct_.clear();
      std::vector<const lease::Lease*> all;
      all.reserve(leases.size());
      for (const auto& l : leases) {
        if (!is_own(l, own.subnet, own.ipv6_subnet)) {
          all.push_back(&l);
        }
      }
      const auto [direct, asked] = ask_direct(all);
      WEFT_INFO("vxlan: DirectRouting: {} of {} peer addresses are reached without a gateway and "
                "routed directly; the others go through the vxlan device",
                direct, asked);
    }
    VxlanEntries e;
    e.routes.reserve(leases.size());
    e.neighbours.reserve(leases.size());
    e.fdb.reserve(leases.size());
    for (const auto& l : leases) {
      append_vxlan_entries(l, own.subnet, own.ipv6_subnet, devices_, e);
    }
    report_skipped(e.skipped);
    route_index_.set_shared(routes_r_->set_desired(std::move(e.routes)));
    for (std::size_t i = 0; i < neigh_rs_.size(); ++i) {
      neigh_index_[i].set_shared(neigh_rs_[i]->set_desired(in_slot(e.neighbours, i)));
      fdb_index_[i].set_shared(fdb_rs_[i]->set_desired(in_slot(e.fdb, i)));
    }
  }

  bool patch_desired(const std::vector<LeaseChange>& changes, const lease::Lease& own) override {
    LeaseIndex<kernel::Route>::Patch routes;
    std::vector<LeaseIndex<kernel::Neighbour>::Patch> neighs(neigh_rs_.size());
    std::vector<LeaseIndex<kernel::FdbEntry>::Patch> fdbs(fdb_rs_.size());
    const auto route_wanted = [this](const kernel::RouteKey& k) { return routes_r_->wants(k); };
    bool ok = true;
    for (const auto& c : changes) {
      VxlanEntries before;
      VxlanEntries now;
      if (c.previous) {
        append_vxlan_entries(*c.previous, own.subnet, own.ipv6_subnet, devices_, before);
      }
      if (vc_.direct_routing) { // after `before`, which needs the answers the entries had
        if (c.previous) {
          forget_direct(*c.previous);
        }
        if (!c.removed && !is_own(c.lease, own.subnet, own.ipv6_subnet)) {
          (void)ask_direct({&c.lease});
        }
      }
      if (!c.removed) {
        append_vxlan_entries(c.lease, own.subnet, own.ipv6_subnet, devices_, now);
      }
      report_skipped(now.skipped);
      ok = route_index_.replace(before.routes, now.routes, route_wanted, routes) && ok;
      for (std::size_t i = 0; i < neigh_rs_.size(); ++i) {
        const auto neigh_wanted = [&, i](const kernel::NeighKey& k) {
          return neigh_rs_[i]->wants(k);
        };
        const auto fdb_wanted = [&, i](const kernel::FdbKey& k) { return fdb_rs_[i]->wants(k); };
        ok = neigh_index_[i].replace(in_slot(before.neighbours, i), in_slot(now.neighbours, i),
                                     neigh_wanted, neighs[i]) &&
             ok;
        ok = fdb_index_[i].replace(in_slot(before.fdb, i), in_slot(now.fdb, i), fdb_wanted,
                                   fdbs[i]) &&
             ok;
      }
    }
    if (!ok) {
      return false;
    }
    routes_r_->patch_desired(routes.upserts(), routes.removals());
    for (std::size_t i = 0; i < neigh_rs_.size(); ++i) {
      neigh_rs_[i]->patch_desired(neighs[i].upserts(), neighs[i].removals());
      fdb_rs_[i]->patch_desired(fdbs[i].upserts(), fdbs[i].removals());
    }
    return true;
  }

  VxlanConfig vc_;
  int mtu_ = 0;
  std::optional<kernel::LinkInfo> v4_dev_;
  std::optional<kernel::LinkInfo> v6_dev_;
  VxlanDevices devices_;
  kernel::RouteTarget routes_;
  std::vector<std::unique_ptr<kernel::NeighTarget>> neighs_;
  std::vector<std::unique_ptr<kernel::FdbTarget>> fdbs_;
  reconcile::Reconciler<kernel::Route>* routes_r_ = nullptr;
  std::vector<reconcile::Reconciler<kernel::Neighbour>*> neigh_rs_;
  std::vector<reconcile::Reconciler<kernel::FdbEntry>*> fdb_rs_;
  LeaseIndex<kernel::Route> route_index_;
  std::array<LeaseIndex<kernel::Neighbour>, 2> neigh_index_; // by slot_of()
  std::array<LeaseIndex<kernel::FdbEntry>, 2> fdb_index_;
  std::set<std::string> reported_;
  std::string device_problem_;           // last reported by repair_devices (logged when it changes)
  std::map<kernel::IpAddr, int> direct_; // DirectRouting: peer address -> its direct link, or 0
};

} // namespace

base::Result<std::unique_ptr<Backend>> make_backend(const BackendContext& context) {
  if (context.netlink == nullptr) {
    return base::internal_error("make_backend: no netlink");
  }
  const std::string& type = context.config.backend_type;
  if (type == config::kBackendHostGw) {
    return std::unique_ptr<Backend>(std::make_unique<HostGwBackend>(context));
  }
  if (type == config::kBackendVxlan) {
    auto vc = parse_vxlan_config(context.config.backend_json);
    if (!vc.ok()) {
      return vc.status();
    }
    return std::unique_ptr<Backend>(std::make_unique<VxlanBackend>(context, *vc));
  }
  if (type == config::kBackendTencentVpc) {
    return base::invalid_argument(
        "backend type tencent-vpc is not implemented by this weftd yet; use host-gw or vxlan");
  }
  return base::invalid_argument("unknown backend type: " + type +
                                " (known: " + config::known_backend_types() + ")");
}

} // namespace weft::backend
