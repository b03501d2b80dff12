#pragma once
// Firewall: the masquerade (--ip-masq) and forward (--iptables-forward-rules) rules for the node's
// lease, as flanneld writes them, in iptables (iptables-restore) or nftables (EnableNFTables)
// mode. apply() installs them whole; ensure() re-applies only when something is missing.

#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"
#include "config/net_config.h"
#include "config/options.h"
#include "lease/lease.h"

namespace weft::daemon {

class Firewall {
public:
  virtual ~Firewall() = default;
  virtual base::Status apply(const lease::Lease& own) = 0;
  virtual void ensure(const lease::Lease& own) = 0;
  virtual std::uint64_t reapplied() const = 0;
};

base::Result<std::unique_ptr<Firewall>> make_firewall(const config::Options& options,
                                                      const config::NetConfig& config);

// flanneld's start-up check in iptables mode: the bridge netfilter hooks (the br_netfilter
// module) must be there for each enabled family, or traffic between pods on the node's bridge
// would bypass iptables (kube-proxy's Services, network policy). An error names the missing file
// and the fix. Nothing is checked with EnableNFTables. `proc_sys` is /proc/sys but in tests.
base::Status check_br_netfilter(const config::NetConfig& config,
                                const std::string& proc_sys = "/proc/sys");

} // namespace weft::daemon
