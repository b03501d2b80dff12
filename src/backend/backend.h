#pragma once
// Backend: how a node reaches the others. A backend prepares the local side, says what to publish
// in its lease, and maps the set of all leases to the entries it wants in its targets; the
// reconcilers it owns converge those targets (ARCHITECTURE.md: leases in, desired entries out).

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "config/net_config.h"
#include "kernel/netlink.h"
#include "lease/lease.h"
#include "net/ip.h"
#include "net/ip_net.h"

namespace weft::backend {

// The node's uplink as flanneld's ExternalInterface: the link, its addresses, and the addresses
// published to the other nodes (--public-ip, else the interface address).
struct ExternalInterface {
  kernel::LinkInfo link;
  net::Ip4Addr iface_addr;
  std::optional<net::Ip6Addr> iface_v6_addr;
  net::Ip4Addr ext_addr;
  std::optional<net::Ip6Addr> ext_v6_addr;
};

struct BackendContext {
  config::NetConfig config;
  ExternalInterface ext;
  // After prepare(), the backend's own thread reconciles through it; with DirectRouting the vxlan
  // backend also asks it for route lookups on the thread that hands it leases (NetlinkImpl
  // serialises its calls).
  kernel::Netlink* netlink = nullptr;
  const base::Clock* clock = &base::system_clock();
  std::chrono::seconds resync{30};
};

// Counters of one target, for /metrics.
struct TargetStats {
  std::string target;
  std::uint64_t created = 0, updated = 0, deleted = 0, failed = 0, syncs = 0;
  std::size_t pending = 0;
  std::optional<base::Clock::WallTime> last_success;
};

// A lease event: added or changed (removed = false), or gone (removed = true; then only the
// subnets are set). `previous` is the lease as the backend last saw it, if it knew the lease: its
// entries are the ones the event replaces.
struct LeaseChange {
  bool removed = false;
  lease::Lease lease;
  std::optional<lease::Lease> previous;
};

class Backend {
public:
  virtual ~Backend() = default;
  virtual std::string type() const = 0;
  // Creates the local side (e.g. the vxlan device) and returns the attributes to publish in the
  // node's lease. Runs before the lease is acquired.
  virtual base::Result<lease::LeaseAttrs> prepare() = 0;
  // Configures the local side for the node's own lease (e.g. the vxlan device address).
  virtual base::Status configure_own_lease(const lease::Lease& own) = 0;
  // FLANNEL_MTU for subnet.env.
  virtual int mtu() const = 0;
  // The full set of leases (the node's own included); the backend derives its desired entries and
  // asks its reconcilers to look again. Thread-safe.
  virtual void set_leases(const std::vector<lease::Lease>& leases) = 0;
  // Lease events since the last call: only the entries of those leases are recomputed, and the
  // reconcilers diff only their keys. `all` gives the full lease set, for when the events cannot
  // be applied alone (the first call, a new own lease, an entry two leases want). Thread-safe.
  virtual void apply_lease_changes(const std::vector<LeaseChange>& changes,
                                   const std::function<std::vector<lease::Lease>()>& all) = 0;
  // The reconcile loop; returns when stop is requested.
  virtual void run(std::stop_token stop) = 0;
  // True once every target has converged at least once since the last set_leases().
  virtual bool synced() const = 0;
  virtual std::vector<TargetStats> stats() const = 0;
};

// The registry: host-gw, vxlan (case-insensitive; the config room has already normalised aliases).
base::Result<std::unique_ptr<Backend>> make_backend(const BackendContext& context);

} // namespace weft::backend
