#pragma once
// RuleManager: flanneld's masquerade and forward rules, kept in place by one of two engines
// (iptables-restore, or nftables when EnableNFTables). The daemon calls apply() once, ensure()
// every --iptables-resync seconds, and cleanup() on the engine it is not using.

#include <optional>

#include "base/status.h"
#include "kernel/ip_types.h"

namespace weft::kernel {

struct TrafficConfig {
  std::optional<IpNet> network;  // IPv4 cluster network (FLANNEL_NETWORK)
  std::optional<IpNet> subnet;   // IPv4 lease subnet
  std::optional<IpNet> network6; // IPv6 cluster network
  std::optional<IpNet> subnet6;  // IPv6 lease subnet
  bool masquerade = false;       // --ip-masq
  bool forward = true;           // --iptables-forward-rules
  bool random_fully = true;      // off with --ip-masq-fully-random-disable
};

class RuleManager {
public:
  virtual ~RuleManager() = default;
  // Installs the rules for `config` (replacing ours from before).
  virtual base::Status apply(const TrafficConfig& config) = 0;
  // Re-applies the whole set if anything is missing or changed; true when it did.
  virtual base::Result<bool> ensure() = 0;
  // Removes every chain, rule or table this engine manages.
  virtual base::Status cleanup() = 0;
};

// The network form of a CIDR as text ("10.244.3.0/24"), as flannel prints lease subnets.
std::string network_string(const IpNet& n);

} // namespace weft::kernel
