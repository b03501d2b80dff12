#include "daemon/firewall.h"

#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <mutex>
#include <string>
#include <utility>

#include "base/log.h"
#include "kernel/iptables_manager.h"
#include "kernel/nftables_manager.h"

namespace weft::daemon {
namespace {

// Adapts a kernel RuleManager to the lease: the rules follow the node's current subnet.
class RuleFirewall final : public Firewall {
public:
  RuleFirewall(std::unique_ptr<kernel::RuleManager> engine, kernel::TrafficConfig base)
      : engine_(std::move(engine)), base_(std::move(base)) {}

  base::Status apply(const lease::Lease& own) override {
    std::lock_guard lock(mu_);
    return engine_->apply(for_lease(own));
  }

  void ensure(const lease::Lease& own) override {
    std::lock_guard lock(mu_);
    kernel::TrafficConfig want = for_lease(own);
    if (!(want.subnet == applied_.subnet && want.subnet6 == applied_.subnet6)) {
      if (auto st = engine_->apply(want); !st.ok()) {
        log_failure(st);
        return;
      }
      ++reapplied_;
      return;
    }
    auto r = engine_->ensure();
    if (!r.ok()) {
      log_failure(r.status());
      return;
    }
    if (failing_) {
      WEFT_INFO("traffic rules: in place again");
      failing_ = false;
    }
    if (*r) {
      ++reapplied_;
      WEFT_INFO("traffic rules: some were missing and have been re-applied");
    }
  }

  std::uint64_t reapplied() const override { return reapplied_; }

private:
  kernel::TrafficConfig for_lease(const lease::Lease& own) {
    kernel::TrafficConfig c = base_;
    if (own.subnet && c.network) {
      c.subnet = kernel::IpNet{own.subnet->network()};
    }
    if (own.ipv6_subnet && c.network6) {
      c.subnet6 = kernel::IpNet{own.ipv6_subnet->network()};
    }
    applied_ = c;
    return c;
  }

  void log_failure(const base::Status& st) {
    if (!failing_) {
      WEFT_WARN("traffic rules: re-applying failed, will retry: {}", st.message());
      failing_ = true;
    }
  }

  std::mutex mu_;
  std::unique_ptr<kernel::RuleManager> engine_;
  kernel::TrafficConfig base_;
  kernel::TrafficConfig applied_;
  std::atomic<std::uint64_t> reapplied_{0};
  bool failing_ = false;
};

} // namespace

base::Result<std::unique_ptr<Firewall>> make_firewall(const config::Options& options,
                                                      const config::NetConfig& config) {
  kernel::TrafficConfig base;
  if (config.enable_ipv4 && config.network) {
    base.network = kernel::IpNet{*config.network};
  }
  if (config.enable_ipv6 && config.ipv6_network) {
    base.network6 = kernel::IpNet{*config.ipv6_network};
  }
  base.masquerade = options.ip_masq;
  base.forward = options.iptables_forward_rules;
  base.random_fully = !options.ip_masq_fully_random_disable;

  // flanneld removes the other engine's rules first, so switching modes leaves no leftovers.
  std::unique_ptr<kernel::RuleManager> engine;
  std::unique_ptr<kernel::RuleManager> other;
  // In iptables mode libnftables is loaded only when there are flannel tables to remove (or
  // when the kernel cannot be asked): it costs about 1.2 MB while loaded.
  const auto leftover =
      config.enable_nftables ? base::Result<bool>(true) : kernel::flannel_nft_tables_present();
  if (!leftover.ok()) {
    WEFT_VLOG(1, "asking for leftover nftables tables: {}", leftover.status().message());
  }
  auto nft = !leftover.ok() || *leftover ? kernel::NftablesManager::create()
                                         : base::Result<std::unique_ptr<kernel::NftablesManager>>(
                                               base::not_found("no flannel nftables tables"));
  if (config.enable_nftables) {
    if (!nft.ok()) {
      return nft.status().with_context("EnableNFTables");
    }
    engine = std::move(*nft);
    other = std::make_unique<kernel::IptablesRestoreManager>();
  } else {
    engine = std::make_unique<kernel::IptablesRestoreManager>();
    if (nft.ok()) {
      other = std::move(*nft);
    }
  }
  if (other) {
    if (auto st = other->cleanup(); !st.ok()) {
      WEFT_WARN("removing the rules of the other firewall engine: {}", st.message());
    }
  }
  return std::unique_ptr<Firewall>(std::make_unique<RuleFirewall>(std::move(engine), base));
}

base::Status check_br_netfilter(const config::NetConfig& config, const std::string& proc_sys) {
  if (config.enable_nftables) {
    return {};
  }
  for (const auto& [on, file] : {std::pair{config.enable_ipv4, "bridge-nf-call-iptables"},
                                 std::pair{config.enable_ipv6, "bridge-nf-call-ip6tables"}}) {
    const std::string path = proc_sys + "/net/bridge/" + file;
    struct stat st {};
    if (on && ::stat(path.c_str(), &st) != 0 && errno == ENOENT) {
      return base::invalid_argument(
          path + " does not exist: the br_netfilter module is not loaded, so traffic between "
                 "pods on this node's bridge would bypass iptables (Services, network policy). "
                 "Load it (modprobe br_netfilter, and list it in /etc/modules-load.d/), or use "
                 "\"EnableNFTables\": true. flanneld refuses to start here too");
    }
  }
  return {};
}

} // namespace weft::daemon
