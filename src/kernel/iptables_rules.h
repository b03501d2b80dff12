#pragma once
// flanneld's iptables rules as data, and the pure text functions around them: the rule lines
// exactly as iptables-save prints them, a parser for iptables-save output, and the
// iptables-restore --noflush payloads that (re)apply or remove the rules.

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace weft::kernel {

inline constexpr const char* kMasqChain = "FLANNEL-POSTRTG";
inline constexpr const char* kForwardChain = "FLANNEL-FWD";
inline constexpr const char* kKubeProxyMark = "0x4000/0x4000";

struct IptablesRule {
  std::string table; // "nat" or "filter"
  std::string chain;
  std::vector<std::string>
      spec; // unquoted tokens: {"-m", "comment", "--comment", "flanneld masq", ...}
  friend bool operator==(const IptablesRule&, const IptablesRule&) = default;
};

// flanneld's masquerade rules (iptables.go masqRules / masqIP6Rules), in its order. cluster and
// pod are CIDR strings in network form; ipv6 picks ff00::/8 over 224.0.0.0/4.
std::vector<IptablesRule> masq_rules(const std::string& cluster, const std::string& pod, bool ipv6,
                                     bool random_fully);
// flanneld's forward rules (iptables.go forwardRules).
std::vector<IptablesRule> forward_rules(const std::string& cluster);

// "-A FLANNEL-POSTRTG -s 10.244.3.0/24 -d 10.244.0.0/16 -m comment --comment \"flanneld masq\"
// -j RETURN": tokens with spaces are double-quoted, as iptables-save prints them.
std::string rule_line(const IptablesRule& rule, std::string_view action = "-A");

// One table of iptables-save output: its chains and its rule lines ("-A ..."), in order.
struct SavedTable {
  std::set<std::string> chains;
  std::vector<std::string> rules;
};
using SavedTables = std::map<std::string, SavedTable>;
SavedTables parse_iptables_save(std::string_view text);

// Rules (of `rules`) that `saved` lacks, including rules whose own chain is missing.
std::vector<IptablesRule> missing_rules(const std::vector<IptablesRule>& rules,
                                        const SavedTables& saved);

// The iptables-restore --noflush payload that makes `rules` present in order: per table, our
// chains are declared (created, or flushed if they exist), every copy of our jump rules already
// in a built-in chain is deleted, then every rule is appended.
std::string restore_payload(const std::vector<IptablesRule>& rules, const SavedTables& saved);

// The payload that removes our jump rules and chains (FLANNEL-POSTRTG in nat, FLANNEL-FWD in
// filter) wherever `saved` shows them; empty if there is nothing to remove.
std::string cleanup_payload(const SavedTables& saved);

} // namespace weft::kernel
