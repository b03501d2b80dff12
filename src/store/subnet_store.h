#pragma once
// SubnetStore: where nodes hold their subnet leases and read the network config (flannel's
// subnet.Manager). Implementations: etcd v3 (store/etcd/etcd_store.h); Kubernetes later.
//
// How the daemon uses it:
//   1. get_network_config() -> raw JSON of <prefix>/config; parse and check it (config room).
//      Wrap in retry_unavailable() at startup so an unreachable store is waited for.
//   2. acquire_lease(attrs, {config, previous subnets from subnet.env}) -> the node's lease.
//      Lost races are retried inside; out_of_range "out of subnets" when the range is full.
//   3. keep_lease(stop, lease, on_change) on its own thread: renews before expiry
//      (renew margin), and if the lease key disappears acquires again and reports the new lease.
//   4. watch_leases(stop, on_batch) on its own thread: a reset batch with the full snapshot, then
//      added/removed batches; reconnects, resumes and re-lists by itself until stop.
// No call blocks without a deadline except the *_leases loops, which return on stop.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "base/status.h"
#include "config/net_config.h"
#include "lease/lease.h"
#include "net/ip_net.h"

namespace weft::store {

struct AcquireOptions {
  config::NetConfig config; // parsed and checked
  std::optional<net::Ip4Net> previous_subnet;
  std::optional<net::Ip6Net> previous_ipv6_subnet;
};

// All leases at one store revision. A lease with a zero expiration is a reservation (a key
// without an etcd lease); for others the expiration is an upper bound (now + the lease TTL), not
// read per key.
struct LeaseSnapshot {
  std::vector<lease::Lease> leases;
  std::int64_t revision = 0;
};

struct LeaseEvent {
  enum class Type { kAdded, kRemoved };
  Type type = Type::kAdded;
  lease::Lease lease; // for kRemoved: the subnet(s) only
};

struct LeaseBatch {
  // A reset batch replaces everything known with `snapshot` (first batch, and after a re-list).
  bool reset = false;
  std::vector<lease::Lease> snapshot;
  std::vector<LeaseEvent> events;
  std::int64_t revision = 0;
};

// Leader election on the store, for tencent-vpc cluster mode. One instance per candidate.
class Election {
public:
  virtual ~Election() = default;
  // Blocks until this candidate leads (ok) or stop is requested (cancelled). `on_lost` is called
  // once when leadership ends for any reason other than resign(); it is called before the
  // leadership key can expire, so no one else can lead while we still think we do.
  virtual base::Status campaign(std::stop_token stop, std::function<void()> on_lost) = 0;
  virtual bool is_leader() const = 0;
  // Gives leadership up at once (deletes the key); on_lost is not called.
  virtual base::Status resign() = 0;
  // Current leader's id, not_found if none.
  virtual base::Result<std::string> leader() = 0;
};

class SubnetStore {
public:
  virtual ~SubnetStore() = default;

  // Raw JSON of the network config; not_found with flannel's message when it is missing.
  virtual base::Result<std::string> get_network_config() = 0;

  virtual base::Result<lease::Lease> acquire_lease(const lease::LeaseAttrs& attrs,
                                                   const AcquireOptions& options) = 0;
  // Extends the lease (and publishes attrs); not_found if the key is gone, conflict if someone
  // else holds the subnet now.
  virtual base::Result<lease::Lease> renew_lease(const lease::Lease& lease) = 0;
  // Deletes our lease key (only if it still holds our value).
  virtual base::Status release_lease(const lease::Lease& lease) = 0;

  virtual base::Result<LeaseSnapshot> list_leases() = 0;

  // Blocks until stop; see the header comment. Returns cancelled on stop.
  virtual base::Status watch_leases(std::stop_token stop,
                                    const std::function<void(const LeaseBatch&)>& on_batch) = 0;

  // Blocks until stop: renews `lease` at expiration minus the renew margin (retrying every
  // minute on errors) and re-acquires it when its key disappears. on_change gets each new
  // lease (renewed or re-acquired).
  virtual base::Status keep_lease(std::stop_token stop, lease::Lease lease,
                                  const std::function<void(const lease::Lease&)>& on_change) = 0;

  // An election named `name` (key <prefix>/leader/<name>) for candidate `id`; leadership lasts
  // `ttl` without renewal.
  virtual base::Result<std::unique_ptr<Election>>
  make_election(const std::string& name, const std::string& id, std::chrono::seconds ttl) = 0;
};

// Calls fn until it returns something other than unavailable, or stop. Waits with jittered
// backoff (initial..max) between attempts and logs one line when the store becomes unreachable
// and one when it is back.
template <typename T>
base::Result<T>
retry_unavailable(std::stop_token stop, const std::string& what,
                  const std::function<base::Result<T>()>& fn,
                  std::chrono::milliseconds initial = std::chrono::milliseconds(200),
                  std::chrono::milliseconds max = std::chrono::seconds(10));

// Sleeps for d or until stop is requested; returns false on stop.
bool sleep_for(std::stop_token stop, std::chrono::milliseconds d);

} // namespace weft::store

#include "store/retry_impl.h"
