#pragma once
// Firewall: the masquerade (--ip-masq) and forward (--iptables-forward-rules) rules for the node's
// lease, as flanneld writes them, in iptables (iptables-restore) or nftables (EnableNFTables)
// mode. apply() installs them whole; ensure() re-applies only when something is missing.

#include <cstdint>
#include <memory>

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

} // namespace weft::daemon
