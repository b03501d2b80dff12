#include "daemon/daemon.h"

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "backend/backend.h"
#include "base/file.h"
#include "base/log.h"
#include "config/net_config.h"
#include "daemon/firewall.h"
#include "daemon/health_server.h"
#include "kernel/ext_iface.h"
#include "kernel/netlink.h"
#include "lease/subnet_env.h"
#include "lease/subnet_key.h"
#include "store/etcd/etcd_client.h"
#include "store/etcd/etcd_store.h"

namespace weft::daemon {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// What the health server reads; written by the daemon's threads.
struct Published {
  std::atomic<bool> lease_held{false};
  std::atomic<bool> subnet_file_written{false};
  std::atomic<std::size_t> leases_known{0};
  std::atomic<std::uint64_t> lease_reacquired{0};
  std::atomic<std::uint64_t> malformed_batches{0};
  std::atomic<backend::Backend*> backend{nullptr};
  std::atomic<store::etcd::EtcdStore*> store{nullptr};
  std::atomic<Firewall*> firewall{nullptr};
};

// The leases the watch has delivered, keyed by subnet key; guarded by the daemon's mutex.
class LeaseSet {
public:
  void reset(const std::vector<lease::Lease>& snapshot) {
    leases_.clear();
    for (const auto& l : snapshot) {
      leases_[lease::make_subnet_key(l.subnet, l.ipv6_subnet)] = l;
    }
  }
  // Applies one event; returns the lease it replaces or removes, if there was one.
  std::optional<lease::Lease> apply(const store::LeaseEvent& e) {
    const std::string key = lease::make_subnet_key(e.lease.subnet, e.lease.ipv6_subnet);
    auto it = leases_.find(key);
    std::optional<lease::Lease> previous;
    if (it != leases_.end()) {
      previous = std::move(it->second);
    }
    if (e.type == store::LeaseEvent::Type::kAdded) {
      if (it != leases_.end()) {
        it->second = e.lease;
      } else {
        leases_.emplace(key, e.lease);
      }
    } else if (it != leases_.end()) {
      leases_.erase(it);
    }
    return previous;
  }
  std::vector<lease::Lease> all() const {
    std::vector<lease::Lease> out;
    out.reserve(leases_.size());
    for (const auto& [k, l] : leases_) {
      out.push_back(l);
    }
    return out;
  }
  std::size_t size() const { return leases_.size(); }

private:
  std::map<std::string, lease::Lease> leases_;
};

// The network config from the store; waits (1 s between tries, as flanneld) until one exists and
// is valid, logging each distinct problem once.
base::Result<config::NetConfig> wait_for_config(store::SubnetStore& store, std::stop_token stop) {
  std::string last_error;
  while (true) {
    auto raw = store::retry_unavailable<std::string>(stop, "reading the network config",
                                                     [&] { return store.get_network_config(); });
    base::Status problem;
    if (raw.ok()) {
      auto cfg = config::parse_net_config(*raw);
      if (cfg.ok()) {
        problem = config::check_net_config(*cfg);
        if (problem.ok()) {
          return cfg;
        }
      } else {
        problem = cfg.status();
      }
    } else if (raw.status().code() == base::Code::kCancelled) {
      return raw.status();
    } else {
      problem = raw.status();
    }
    if (problem.message() != last_error) {
      WEFT_ERROR("network config not usable yet (waiting for a valid one): {}", problem.message());
      last_error = problem.message();
    }
    if (!store::sleep_for(stop, seconds(1))) {
      return base::cancelled("stopped while waiting for the network config");
    }
  }
}

base::Status write_subnet_file(const config::Options& o, const config::NetConfig& cfg,
                               const lease::Lease& own, int mtu) {
  lease::SubnetFileParams p;
  p.enable_ipv4 = cfg.enable_ipv4 && cfg.network && own.subnet;
  p.enable_ipv6 = cfg.enable_ipv6 && cfg.ipv6_network && own.ipv6_subnet;
  if (p.enable_ipv4) {
    p.network = *cfg.network;
    p.subnet = *own.subnet;
  }
  if (p.enable_ipv6) {
    p.ipv6_network = *cfg.ipv6_network;
    p.ipv6_subnet = *own.ipv6_subnet;
  }
  p.mtu = mtu;
  p.ipmasq = o.ip_masq;
  return lease::write_subnet_env(o.subnet_file, p);
}

std::string lease_text(const lease::Lease& l) {
  std::string s = l.subnet ? l.subnet->to_string() : "";
  if (l.ipv6_subnet) {
    s += (s.empty() ? "" : " and ") + l.ipv6_subnet->to_string();
  }
  return s;
}

std::string metrics_text(const Published& pub) {
  std::string m;
  auto line = [&m](const std::string& name, const std::string& labels, double value) {
    m += name + (labels.empty() ? "" : "{" + labels + "}") + " " + fmt::format("{}", value) + "\n";
  };
  m += "# HELP weft_lease_held 1 when this node holds its subnet lease.\n# TYPE weft_lease_held "
       "gauge\n";
  line("weft_lease_held", "", pub.lease_held ? 1 : 0);
  m += "# TYPE weft_subnet_file_written gauge\n";
  line("weft_subnet_file_written", "", pub.subnet_file_written ? 1 : 0);
  m += "# HELP weft_leases Leases known from the store.\n# TYPE weft_leases gauge\n";
  line("weft_leases", "", static_cast<double>(pub.leases_known.load()));
  m += "# TYPE weft_lease_reacquired_total counter\n";
  line("weft_lease_reacquired_total", "", static_cast<double>(pub.lease_reacquired.load()));
  if (auto* backend = pub.backend.load(); backend != nullptr) {
    m += "# HELP weft_reconcile_changes_total Changes applied to a target.\n"
         "# TYPE weft_reconcile_changes_total counter\n";
    auto stats = backend->stats();
    for (const auto& s : stats) {
      const std::string t = "target=\"" + s.target + "\"";
      line("weft_reconcile_changes_total", t + ",op=\"create\"", static_cast<double>(s.created));
      line("weft_reconcile_changes_total", t + ",op=\"update\"", static_cast<double>(s.updated));
      line("weft_reconcile_changes_total", t + ",op=\"delete\"", static_cast<double>(s.deleted));
    }
    m += "# TYPE weft_reconcile_failures_total counter\n";
    for (const auto& s : stats) {
      line("weft_reconcile_failures_total", "target=\"" + s.target + "\"",
           static_cast<double>(s.failed));
    }
    m += "# TYPE weft_reconcile_pending gauge\n";
    for (const auto& s : stats) {
      line("weft_reconcile_pending", "target=\"" + s.target + "\"", static_cast<double>(s.pending));
    }
    m += "# TYPE weft_reconcile_last_success_timestamp_seconds gauge\n";
    for (const auto& s : stats) {
      if (s.last_success) {
        line("weft_reconcile_last_success_timestamp_seconds", "target=\"" + s.target + "\"",
             static_cast<double>(
                 std::chrono::duration_cast<seconds>(s.last_success->time_since_epoch()).count()));
      }
    }
  }
  if (auto* etcd_store = pub.store.load(); etcd_store != nullptr) {
    m += "# HELP weft_etcd_requests_total etcd RPCs started, by method.\n"
         "# TYPE weft_etcd_requests_total counter\n";
    auto counts = etcd_store->rpc_counts();
    for (std::size_t i = 0; i < store::etcd::kRpcCount; ++i) {
      line("weft_etcd_requests_total",
           std::string("method=\"") + store::etcd::rpc_name(static_cast<store::etcd::Rpc>(i)) +
               "\"",
           static_cast<double>(counts.by_method[i]));
    }
  }
  if (auto* firewall = pub.firewall.load(); firewall != nullptr) {
    m += "# TYPE weft_firewall_reapplied_total counter\n";
    line("weft_firewall_reapplied_total", "", static_cast<double>(firewall->reapplied()));
  }
  return m;
}

// flanneld's external interface, plus what the backends need beyond it (the link, the prefix).
base::Result<backend::ExternalInterface> external_interface(const config::Options& o,
                                                            const config::NetConfig& cfg,
                                                            kernel::Netlink& netlink) {
  kernel::ExtIfaceOptions eo;
  eo.iface = o.iface;
  eo.iface_regex = o.iface_regex;
  eo.iface_can_reach = o.iface_can_reach;
  eo.public_ip = o.public_ip;
  eo.public_ipv6 = o.public_ipv6;
  eo.ipv4 = cfg.enable_ipv4;
  eo.ipv6 = cfg.enable_ipv6;
  std::optional<kernel::IpAddr> can_reach;
  if (auto target = kernel::parse_ip(o.iface_can_reach);
      !o.iface_can_reach.empty() && target.ok()) {
    can_reach = *target; // a bad one is named by select_ext_iface
  }
  auto snapshot =
      kernel::read_iface_snapshot(netlink, kernel::ext_iface_needs_routes(eo), can_reach);
  if (!snapshot.ok()) {
    return snapshot.status();
  }
  auto k = kernel::select_ext_iface(eo, *snapshot);
  if (!k.ok()) {
    return k.status();
  }
  auto link = netlink.link_by_index(k->iface.index);
  if (!link.ok()) {
    return link.status();
  }
  backend::ExternalInterface ext;
  ext.link = *link;
  if (k->iface_addr && k->iface_addr->index() == 0) {
    ext.iface_addr = std::get<net::Ip4Addr>(*k->iface_addr);
  }
  if (k->ext_addr && k->ext_addr->index() == 0) {
    ext.ext_addr = std::get<net::Ip4Addr>(*k->ext_addr);
  }
  if (k->iface_v6_addr && k->iface_v6_addr->index() == 1) {
    ext.iface_v6_addr = std::get<net::Ip6Addr>(*k->iface_v6_addr);
  }
  if (k->ext_v6_addr && k->ext_v6_addr->index() == 1) {
    ext.ext_v6_addr = std::get<net::Ip6Addr>(*k->ext_v6_addr);
  }
  return ext;
}

} // namespace

int run_daemon(const config::Options& o, std::stop_token stop) {
  // The start's log line says how long subnet.env took and how much of it went to etcd.
  const auto started = std::chrono::steady_clock::now();
  const auto etcd_wait_at_start = store::etcd::thread_etcd_wait();
  if (o.kube_subnet_mgr) {
    WEFT_ERROR("--kube-subnet-mgr: the Kubernetes subnet store is not part of this weftd yet; "
               "use the etcd store (--etcd-endpoints)");
    return 1;
  }
  Published pub;

  std::unique_ptr<HealthServer> health;
  if (o.healthz_port > 0) {
    health = std::make_unique<HealthServer>(
        [&pub]() -> Readiness {
          if (!pub.lease_held) {
            return {false, "no subnet lease yet"};
          }
          if (!pub.subnet_file_written) {
            return {false, "subnet.env not written yet"};
          }
          auto* backend = pub.backend.load();
          if (backend == nullptr || !backend->synced()) {
            return {false, "first sync of the data plane not done"};
          }
          return {true, ""};
        },
        [&pub] { return metrics_text(pub); });
    if (auto st = health->start(o.healthz_ip, o.healthz_port); !st.ok()) {
      WEFT_ERROR("{}", st.message());
      return 1;
    }
  }

  // 1. The store.
  store::etcd::EtcdStoreConfig sc;
  sc.endpoints = o.etcd_endpoints;
  sc.prefix = o.etcd_prefix;
  sc.keyfile = o.etcd_keyfile;
  sc.certfile = o.etcd_certfile;
  sc.cafile = o.etcd_cafile;
  sc.username = o.etcd_username;
  sc.password = o.etcd_password;
  sc.renew_margin = std::chrono::minutes(o.subnet_lease_renew_margin);
  auto store = store::etcd::make_etcd_store(sc);
  if (!store.ok()) {
    WEFT_ERROR("etcd store: {}", store.status().message());
    return 1;
  }
  pub.store = store->get();

  // The lease watch starts now, so its snapshot is read while the config is read and the lease
  // acquired: the acquire allocates from it instead of listing the leases again (one ranged read
  // per start; if etcd does not answer soon, the acquire reads them itself). Leases reach the
  // backend once the node's own lease is configured.
  std::mutex leases_mu;
  LeaseSet leases;
  backend::Backend* fed_backend = nullptr; // set once the own lease is configured
  (*store)->expect_watch();
  std::jthread watch_thread([&](std::stop_token st) {
    (void)(*store)->watch_leases(st, [&](const store::LeaseBatch& batch) {
      std::lock_guard lock(leases_mu);
      if (batch.reset) {
        leases.reset(batch.snapshot);
      }
      // An event: only the changed leases' entries are recomputed and diffed; the backend gets
      // each lease's previous version to know which entries the event replaces.
      std::vector<backend::LeaseChange> changes;
      changes.reserve(batch.events.size());
      for (const auto& e : batch.events) {
        auto previous = leases.apply(e);
        changes.push_back(
            {e.type == store::LeaseEvent::Type::kRemoved, e.lease, std::move(previous)});
      }
      pub.leases_known = leases.size();
      if (fed_backend == nullptr) {
        return;
      }
      if (batch.reset) {
        // The snapshot is the whole set unless events followed it in the batch: no third copy of
        // every lease at the moment of the start's peak memory.
        fed_backend->set_leases(batch.events.empty() ? batch.snapshot : leases.all());
        return;
      }
      fed_backend->apply_lease_changes(changes, [&] { return leases.all(); });
    });
  });

  // 2. The network config.
  auto cfg = wait_for_config(**store, stop);
  if (!cfg.ok()) {
    WEFT_INFO("stopped before startup completed");
    return 0;
  }
  if (auto st = check_br_netfilter(*cfg); !st.ok()) {
    WEFT_ERROR("{}", st.message());
    return 1;
  }
  // The acquire's etcd lease is granted while the interface and the backend are set up. Not
  // earlier: a daemon failing on its config would leave a 24-hour etcd lease per restart.
  (*store)->grant_ahead();
  WEFT_INFO("network config: backend {}, network {}{}", cfg->backend_type,
            cfg->network ? cfg->network->to_string() : "-",
            cfg->ipv6_network ? ", ipv6 network " + cfg->ipv6_network->to_string() : "");

  // 3. The external interface.
  auto netlink = kernel::make_netlink();
  if (!netlink.ok()) {
    WEFT_ERROR("netlink: {}", netlink.status().message());
    return 1;
  }
  auto ext = external_interface(o, *cfg, **netlink);
  if (!ext.ok()) {
    WEFT_ERROR("external interface: {}", ext.status().message());
    return 1;
  }
  WEFT_INFO("using interface {} (index {}, mtu {}), public IP {}{}", ext->link.name,
            ext->link.index, ext->link.mtu, ext->ext_addr.to_string(),
            ext->ext_v6_addr ? ", public IPv6 " + ext->ext_v6_addr->to_string() : "");

  // 4. The backend's local side.
  backend::BackendContext bctx;
  bctx.config = *cfg;
  bctx.ext = *ext;
  bctx.netlink = netlink->get();
  bctx.resync = seconds(o.resync_interval);
  auto be = backend::make_backend(bctx);
  if (!be.ok()) {
    WEFT_ERROR("backend: {}", be.status().message());
    return 1;
  }
  auto attrs = (*be)->prepare();
  if (!attrs.ok()) {
    WEFT_ERROR("backend {}: {}", (*be)->type(), attrs.status().message());
    return 1;
  }

  // Stops and joins the watch before the backend it feeds goes away (on every return from here).
  struct WatchStopper {
    std::jthread& thread;
    ~WatchStopper() { thread = {}; }
  } watch_stopper{watch_thread};
  backend::Backend& backend = **be;

  // 5. The lease, keeping the previous subnet from subnet.env when possible.
  store::AcquireOptions ao;
  ao.config = *cfg;
  if (auto text = base::read_file(o.subnet_file); text.ok()) {
    if (auto env = lease::parse_subnet_env(*text); env.ok()) {
      std::tie(ao.previous_subnet, ao.previous_ipv6_subnet) = lease::previous_subnets(*env);
    } else {
      WEFT_WARN("ignoring unreadable {}: {}", o.subnet_file, env.status().message());
    }
  }
  auto own = store::retry_unavailable<lease::Lease>(
      stop, "acquiring a subnet lease", [&] { return (*store)->acquire_lease(*attrs, ao); });
  if (!own.ok()) {
    if (own.status().code() == base::Code::kCancelled) {
      return 0;
    }
    WEFT_ERROR("acquiring a subnet lease: {}", own.status().message());
    return 1;
  }
  pub.lease_held = true;
  WEFT_INFO("acquired lease {} for public IP {}", lease_text(*own), attrs->public_ip.to_string());
  if (auto st = (*be)->configure_own_lease(*own); !st.ok()) {
    WEFT_ERROR("backend {}: configuring the own lease: {}", (*be)->type(), st.message());
    return 1;
  }

  // 6. subnet.env, then the traffic rules (the order; flanneld installs the rules
  // first). The rules (external iptables processes and the removal of the other engine's rules,
  // tens of ms) go in while the data plane converges; weftd is ready only once both are done,
  // and a rule error still stops it.
  const base::Status written = write_subnet_file(o, *cfg, *own, (*be)->mtu());
  if (written.ok()) {
    using Ms = std::chrono::duration<double, std::milli>;
    WEFT_INFO("wrote {} (subnet {}, mtu {}) {:.1f} ms after the start, {:.1f} ms of it waiting "
              "for etcd",
              o.subnet_file, lease_text(*own), (*be)->mtu(),
              Ms(std::chrono::steady_clock::now() - started).count(),
              Ms(store::etcd::thread_etcd_wait() - etcd_wait_at_start).count());
  } else {
    WEFT_WARN("writing {}: {}", o.subnet_file, written.message());
  }
  std::unique_ptr<Firewall> firewall;
  const bool want_rules = o.ip_masq || o.iptables_forward_rules;
  std::future<base::Status> rules_applied;
  if (want_rules) {
    rules_applied = std::async(std::launch::async, [&]() -> base::Status {
      auto fw = make_firewall(o, *cfg);
      if (!fw.ok()) {
        return fw.status();
      }
      firewall = std::move(*fw);
      return firewall->apply(*own);
    });
  }
  // The data plane converges from here, while the rules go in: the remote routes depend on
  // neither (flanneld starts its backend after subnet.env too).
  pub.backend = be->get();
  {
    std::lock_guard lock(leases_mu);
    fed_backend = &backend;
    backend.set_leases(leases.all());
  }
  std::jthread reconcile_thread([&backend](std::stop_token st) { backend.run(st); });
  if (want_rules) {
    if (auto st = rules_applied.get(); !st.ok()) {
      WEFT_ERROR("traffic rules: {}", st.message());
      return 1;
    }
    pub.firewall = firewall.get();
  }
  pub.subnet_file_written = written.ok(); // and the rules are in place: /readyz may say ready
  // 7. The loops: keep the lease, resync the rules (the reconcile loop runs already).
  std::mutex own_mu;
  lease::Lease current = *own;
  std::jthread keep_thread([&](std::stop_token st) {
    (void)(*store)->keep_lease(st, *own, [&](const lease::Lease& l) {
      std::lock_guard lock(own_mu);
      if (l.subnet != current.subnet || l.ipv6_subnet != current.ipv6_subnet) {
        ++pub.lease_reacquired;
        WEFT_WARN("lease {} was lost; now holding {}", lease_text(current), lease_text(l));
        if (auto s = backend.configure_own_lease(l); !s.ok()) {
          WEFT_ERROR("backend: configuring the new lease: {}", s.message());
        }
        if (firewall) {
          (void)firewall->apply(l);
        }
        if (auto s = write_subnet_file(o, *cfg, l, backend.mtu()); !s.ok()) {
          WEFT_WARN("writing {}: {}", o.subnet_file, s.message());
        }
      }
      current = l;
    });
  });
  std::jthread rules_thread;
  if (firewall) {
    rules_thread = std::jthread([&](std::stop_token st) {
      while (store::sleep_for(st, seconds(std::max(1, o.iptables_resync)))) {
        lease::Lease l;
        {
          std::lock_guard lock(own_mu);
          l = current;
        }
        firewall->ensure(l);
      }
    });
  }

  // --ip-blackhole-route, as flanneld (for setups without the bridge CNI plugin, e.g. Canal): a
  // blackhole route for the lease's subnets, tried every --iptables-resync seconds from one
  // period after the start. Where a route for the subnet exists already (the bridge's own, or
  // the blackhole) the kernel keeps it as it is.
  std::jthread blackhole_thread;
  if (o.ip_blackhole_route) {
    blackhole_thread = std::jthread([&](std::stop_token st) {
      std::map<std::string, std::string> last; // subnet -> what was last said of it
      while (store::sleep_for(st, seconds(std::max(1, o.iptables_resync)))) {
        lease::Lease l;
        {
          std::lock_guard lock(own_mu);
          l = current;
        }
        std::vector<kernel::IpNet> subnets;
        if (cfg->enable_ipv4 && l.subnet) {
          subnets.emplace_back(*l.subnet);
        }
        if (cfg->enable_ipv6 && l.ipv6_subnet) {
          subnets.emplace_back(*l.ipv6_subnet);
        }
        for (const kernel::IpNet& dst : subnets) {
          const base::Status added = (*netlink)->add_blackhole(dst);
          const std::string key = kernel::to_string(dst);
          std::string said = added.ok() ? "added" : added.message();
          if (added.code() == base::Code::kConflict) {
            said = "present";
          }
          if (last[key] == said) {
            continue;
          }
          last[key] = said;
          if (added.ok()) {
            WEFT_INFO("added a blackhole route for {} (--ip-blackhole-route)", key);
          } else if (said == "present") {
            WEFT_VLOG(1, "--ip-blackhole-route: a route for {} is there already", key);
          } else {
            WEFT_WARN("--ip-blackhole-route: {}", added.message());
          }
        }
      }
    });
  }

  std::mutex wait_mu;
  std::condition_variable_any wait_cv;
  std::unique_lock lock(wait_mu);
  wait_cv.wait(lock, stop, [] { return false; });
  WEFT_INFO("shutting down; routes, rules and the lease stay in place (as flanneld)");
  rules_thread = {};
  blackhole_thread = {};
  keep_thread = {};
  watch_thread = {};
  reconcile_thread = {};
  if (health) {
    health->stop();
  }
  WEFT_INFO("exiting cleanly");
  return 0;
}

} // namespace weft::daemon
