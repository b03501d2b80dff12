#include "kernel/iptables_manager.h"

#include <future>

#include "base/log.h"
#include "kernel/process.h"

namespace weft::kernel {

std::string network_string(const IpNet& n) {
  if (n.index() == 0) {
    return std::get<0>(n).network().to_string();
  }
  return std::get<1>(n).network().to_string();
}

std::vector<IptablesRule> IptablesRestoreManager::rules_for(const TrafficConfig& config,
                                                            bool ipv6) {
  const auto& network = ipv6 ? config.network6 : config.network;
  const auto& subnet = ipv6 ? config.subnet6 : config.subnet;
  std::vector<IptablesRule> rules;
  if (!network) {
    return rules;
  }
  if (config.masquerade && subnet) {
    rules =
        masq_rules(network_string(*network), network_string(*subnet), ipv6, config.random_fully);
  }
  if (config.forward) {
    auto fwd = forward_rules(network_string(*network));
    rules.insert(rules.end(), fwd.begin(), fwd.end());
  }
  return rules;
}

base::Result<SavedTables> IptablesRestoreManager::save(bool ipv6) const {
  // One process for both tables (nat and filter): every process costs milliseconds at startup.
  // Tables that do not exist yet are simply absent from the dump.
  std::vector<std::string> argv = prefix_;
  argv.emplace_back(ipv6 ? "ip6tables-save" : "iptables-save");
  auto r = run_process(argv);
  if (!r.ok()) {
    return r.status();
  }
  if (r->exit_code != 0) {
    return base::unavailable(argv[prefix_.size()] + " exited " + std::to_string(r->exit_code) +
                             ": " + r->err);
  }
  SavedTables out;
  for (auto& [name, t] : parse_iptables_save(r->out)) {
    if (name == "nat" || name == "filter") {
      out[name] = std::move(t);
    }
  }
  return out;
}

base::Status IptablesRestoreManager::restore(bool ipv6, const std::string& payload) const {
  std::vector<std::string> argv = prefix_;
  argv.insert(argv.end(),
              {ipv6 ? "ip6tables-restore" : "iptables-restore", "--noflush", "-w", "5"});
  auto r = run_process(argv, payload);
  if (!r.ok()) {
    return r.status();
  }
  if (r->exit_code != 0) {
    return base::unavailable(argv[prefix_.size()] + " exited " + std::to_string(r->exit_code) +
                             ": " + r->err + " (payload:\n" + payload + ")");
  }
  return {};
}

base::Status IptablesRestoreManager::apply_family(bool ipv6, bool only_if_missing, bool* applied) {
  const auto rules = rules_for(*config_, ipv6);
  if (rules.empty()) {
    return {};
  }
  auto saved = save(ipv6);
  if (!saved.ok()) {
    return saved.status();
  }
  if (only_if_missing && missing_rules(rules, *saved).empty()) {
    return {};
  }
  WEFT_RETURN_IF_ERROR(restore(ipv6, restore_payload(rules, *saved)));
  *applied = true;
  return {};
}

base::Status IptablesRestoreManager::apply(const TrafficConfig& config) {
  // Rules of an earlier config (another network or lease) go first, as flanneld recycles them.
  if (config_) {
    WEFT_RETURN_IF_ERROR(cleanup());
  }
  config_ = config;
  return apply_both(false).status();
}

base::Result<bool> IptablesRestoreManager::apply_both(bool only_if_missing) {
  // IPv4 and IPv6 are separate programs and tables: both families at once.
  bool applied4 = false;
  if (rules_for(*config_, true).empty()) {
    WEFT_RETURN_IF_ERROR(apply_family(false, only_if_missing, &applied4));
    return applied4;
  }
  bool applied6 = false;
  auto v6 = std::async(std::launch::async,
                       [&] { return apply_family(true, only_if_missing, &applied6); });
  const base::Status st4 = apply_family(false, only_if_missing, &applied4);
  const base::Status st6 = v6.get();
  WEFT_RETURN_IF_ERROR(st4);
  WEFT_RETURN_IF_ERROR(st6);
  return applied4 || applied6;
}

base::Result<bool> IptablesRestoreManager::ensure() {
  if (!config_) {
    return false;
  }
  auto applied = apply_both(true);
  if (!applied.ok()) {
    return applied.status();
  }
  if (*applied) {
    WEFT_INFO("iptables: some flannel rules were missing; re-applied the whole set");
  }
  return applied;
}

base::Status IptablesRestoreManager::cleanup() {
  for (bool ipv6 : {false, true}) {
    auto saved = save(ipv6);
    if (!saved.ok()) {
      if (ipv6) {
        WEFT_VLOG(2, "iptables: no ip6tables to clean up: {}", saved.status().to_string());
        continue;
      }
      return saved.status();
    }
    const std::string payload = cleanup_payload(*saved);
    if (!payload.empty()) {
      WEFT_RETURN_IF_ERROR(restore(ipv6, payload));
    }
  }
  return {};
}

} // namespace weft::kernel
