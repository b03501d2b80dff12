#include "kernel/iptables_manager.h"

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
  SavedTables out;
  for (const char* table : {"nat", "filter"}) {
    std::vector<std::string> argv = prefix_;
    argv.insert(argv.end(), {ipv6 ? "ip6tables-save" : "iptables-save", "-t", table});
    auto r = run_process(argv);
    if (!r.ok()) {
      return r.status();
    }
    if (r->exit_code != 0) {
      return base::unavailable(argv[prefix_.size()] + " -t " + table + " exited " +
                               std::to_string(r->exit_code) + ": " + r->err);
    }
    auto parsed = parse_iptables_save(r->out);
    for (auto& [name, t] : parsed) {
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
  bool applied = false;
  WEFT_RETURN_IF_ERROR(apply_family(false, false, &applied));
  return apply_family(true, false, &applied);
}

base::Result<bool> IptablesRestoreManager::ensure() {
  if (!config_) {
    return false;
  }
  bool applied = false;
  WEFT_RETURN_IF_ERROR(apply_family(false, true, &applied));
  WEFT_RETURN_IF_ERROR(apply_family(true, true, &applied));
  if (applied) {
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
