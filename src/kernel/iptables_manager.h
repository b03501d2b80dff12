#pragma once
// IptablesRestoreManager: flanneld's rules through `iptables-restore --noflush -w` and
// `ip6tables-restore`, with presence checked by parsing `iptables-save -t nat|filter`.

#include <string>
#include <vector>

#include "kernel/iptables_rules.h"
#include "kernel/rule_manager.h"

namespace weft::kernel {

class IptablesRestoreManager final : public RuleManager {
public:
  // command_prefix runs the tools elsewhere (tests: {"ip", "netns", "exec", <ns>}).
  explicit IptablesRestoreManager(std::vector<std::string> command_prefix = {})
      : prefix_(std::move(command_prefix)) {}

  base::Status apply(const TrafficConfig& config) override;
  base::Result<bool> ensure() override;
  base::Status cleanup() override;

  // The rules for one family (pure; what apply() installs).
  static std::vector<IptablesRule> rules_for(const TrafficConfig& config, bool ipv6);

private:
  base::Result<SavedTables> save(bool ipv6) const;
  base::Status restore(bool ipv6, const std::string& payload) const;
  base::Status apply_family(bool ipv6, bool only_if_missing, bool* applied);
  // Both families concurrently; true if anything was (re)applied.
  base::Result<bool> apply_both(bool only_if_missing);

  std::vector<std::string> prefix_;
  std::optional<TrafficConfig> config_;
};

} // namespace weft::kernel
