#pragma once
// EtcdStore: SubnetStore on etcd v3 with flanneld's layout (<prefix>/config,
// <prefix>/subnets/<key> holding flannel's lease JSON, a 24h etcd lease per key, keys without an
// etcd lease are reservations). An acquire costs one ranged read, one lease grant (made while the
// leases are read) and one Txn; while a lease watch is running on the store, the ranged read is
// replaced by the watch's mirror of the leases, allocated from in place (the Txn still guarantees
// uniqueness). Nothing ever reads per-lease TTLs.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/secret.h"
#include "lease/allocation.h"
#include "store/etcd/etcd_client.h"
#include "store/subnet_store.h"

namespace weft::store::etcd {

// flanneld's --etcd-* flags and lease timing.
struct EtcdStoreConfig {
  std::vector<std::string> endpoints{"http://127.0.0.1:2379"}; // --etcd-endpoints
  std::string prefix = "/coreos.com/network";                  // --etcd-prefix
  std::string keyfile;                                         // --etcd-keyfile
  std::string certfile;                                        // --etcd-certfile
  std::string cafile;                                          // --etcd-cafile
  std::string username;                                        // --etcd-username
  base::Secret password;                                       // --etcd-password
  std::chrono::seconds renew_margin{3600}; // --subnet-lease-renew-margin (minutes there)
  std::chrono::seconds lease_ttl{24 * 3600};
  std::chrono::milliseconds call_timeout{5000}; // deadline of every unary call (dial included)
  std::chrono::milliseconds keepalive_time{10000};
  std::chrono::milliseconds keepalive_timeout{5000};
  std::chrono::milliseconds retry_initial{100}; // watch/renew retry backoff, as flanneld
  std::chrono::milliseconds retry_max{5000};
  std::chrono::milliseconds renew_retry{60000}; // after a failed renewal, as flanneld
  int max_race_retries = 100;                   // lost create races before giving up
  // Tests: runs on the mirror-owning watch's thread between reading its snapshot (published to
  // acquires from then on) and parsing it into the mirror.
  std::function<void()> on_snapshot_read;
};

class EtcdStore final : public SubnetStore {
public:
  static base::Result<std::unique_ptr<EtcdStore>> create(const EtcdStoreConfig& config,
                                                         base::Clock& clock);
  ~EtcdStore() override;

  base::Result<std::string> get_network_config() override;
  base::Result<lease::Lease> acquire_lease(const lease::LeaseAttrs& attrs,
                                           const AcquireOptions& options) override;
  base::Result<lease::Lease> renew_lease(const lease::Lease& lease) override;
  base::Status release_lease(const lease::Lease& lease) override;
  base::Result<LeaseSnapshot> list_leases() override;
  base::Status watch_leases(std::stop_token stop,
                            const std::function<void(const LeaseBatch&)>& on_batch) override;
  base::Status keep_lease(std::stop_token stop, lease::Lease lease,
                          const std::function<void(const lease::Lease&)>& on_change) override;
  base::Result<std::unique_ptr<Election>>
  make_election(const std::string& name, const std::string& id, std::chrono::seconds ttl) override;

  // Says that watch_leases() is about to run on another thread: until its snapshot is in (or
  // the call timeout passes), an acquire waits for it and allocates from it instead of listing
  // the leases itself.
  void expect_watch();

  // Starts granting the etcd lease the next acquire_lease() attaches to its key, in the
  // background, so that the acquire does not wait for it (a round through raft). An unused
  // grant is revoked when the store goes.
  void grant_ahead();

  // Calls made so far, per etcd RPC method.
  RpcCounts rpc_counts() const { return client_->counts(); }
  std::string current_endpoint() const { return client_->current_endpoint(); }
  EtcdClient& client() { return *client_; }
  const std::string& subnets_prefix() const { return subnets_prefix_; }
  // The etcd key of a lease.
  std::string lease_key(const lease::Lease& lease) const;

private:
  // A lease with the key-value it was parsed from.
  struct Entry {
    KeyValue kv;
    lease::Lease lease;
  };
  // What one acquire attempt decided, copied out of the listing it was made from.
  struct AcquirePlan {
    lease::Allocation alloc;
    std::optional<Entry> reused;                                 // alloc.reused: the whole entry
    std::vector<std::pair<std::string, std::int64_t>> to_delete; // key, create revision
    // Made from the watch's snapshot listing: the watch parses it for the mirror once this
    // attempt is over (its writes done), so that the two do not share the CPU meanwhile.
    std::shared_ptr<void> listing_hold;
  };
  // What this store wrote for the lease it holds (to renew/release it safely).
  struct Own {
    std::string key;
    std::string value;
    std::int64_t etcd_lease = 0; // 0: a reservation
    AcquireOptions options;
  };

  EtcdStore(const EtcdStoreConfig& config, base::Clock& clock, std::unique_ptr<EtcdClient> client);
  // Parses a listing (malformed values are reported once and skipped), through parsed_, so a
  // re-list parses only what changed.
  std::vector<Entry> parse_kvs(std::vector<KeyValue>&& kvs);
  // Allocates for one acquire attempt: from the watch's mirror when it is live (waiting briefly
  // for a watch that is still reading its snapshot), without copying it; else from a
  // serializable ranged read.
  base::Result<AcquirePlan> plan_acquire(const lease::AllocationInput& input, bool allow_mirror);
  // The lease at the previous subnet (subnet.env) when it is this node's and fits the config,
  // from a single-key read; nullopt otherwise (or on any error: the listing decides then).
  std::optional<Entry> previous_entry(const lease::AllocationInput& input);
  // allocate_subnet with this store's random generator (under mu_).
  base::Result<lease::Allocation> allocate(const lease::AllocationInput& input,
                                           std::span<const lease::Lease* const> existing);
  base::Result<lease::Allocation> allocate(const lease::AllocationInput& input,
                                           std::span<const lease::LeaseFacts> existing);
  static AcquirePlan plan_from(const std::vector<Entry>& entries, lease::Allocation alloc);
  // Allocates from the listing the owning watch has just read, with its own pass over the values
  // (what parse_kv reads and checks, keeping only what allocation needs), while the watch waits to
  // parse it for the mirror.
  base::Result<AcquirePlan> plan_from_listing(const lease::AllocationInput& input,
                                              const RangeBuffer& listing);
  // Mirror maintenance by the watch that owns it. mirror_ is written only by that watch's
  // thread, which may therefore read it without the lock.
  void mirror_reset(std::vector<Entry>&& entries);
  void mirror_put(const KeyValue& kv, const lease::Lease& lease);
  void mirror_erase(const std::string& key);
  void mirror_set_live(bool live);
  base::Result<lease::Lease> parse_kv(const KeyValue& kv);
  base::Result<lease::Lease> parse_kv(std::string_view key, std::string_view value,
                                      std::int64_t etcd_lease, std::int64_t mod_revision,
                                      bool keep_backend_data = true);
  // What allocation needs of a key and value, with parse_kv's checks (the same values fail).
  base::Result<lease::LeaseFacts> parse_facts(std::string_view key, std::string_view value) const;
  // The watch's listing, parsed in place: entries keep the key and revisions, not the value.
  std::vector<Entry> parse_listing(const RangeBuffer& listing);
  void report_malformed(const KeyValue& kv, const base::Status& st);
  lease::Lease make_lease(const std::optional<net::Ip4Net>& sn,
                          const std::optional<net::Ip6Net>& sn6, const lease::LeaseAttrs& attrs,
                          std::int64_t etcd_lease, std::int64_t ttl, std::int64_t revision) const;
  void remember(const std::string& key, const std::string& value, std::int64_t etcd_lease,
                const AcquireOptions* options);

  EtcdStoreConfig config_;
  base::Clock& clock_;
  std::unique_ptr<EtcdClient> client_;
  std::string config_key_;
  std::string subnets_prefix_; // "<prefix>/subnets/"

  std::mutex mu_;
  std::mt19937_64 rng_;
  std::future<base::Result<LeaseGrant>> grant_ahead_; // guarded by mu_
  std::optional<Own> own_;
  std::set<std::pair<std::string, std::int64_t>> reported_; // malformed (key, mod revision)
  // Parsed leases of the last listing by key, reused while a key's mod revision is unchanged
  // (nullopt: malformed), so a re-list parses only what changed. Updated in place; entries not
  // seen in a listing (generation) are dropped after it.
  struct CachedLease {
    std::int64_t mod_revision = 0;
    std::optional<lease::Lease> lease;
    std::uint64_t generation = 0;
  };
  std::mutex parse_mu_; // guards parsed_ and parse_generation_; taken before mu_
  std::unordered_map<std::string, CachedLease> parsed_;
  std::uint64_t parse_generation_ = 0;

  // The leases as the running watch sees them (one watch owns the mirror). Live between the
  // watch's snapshot (or its resumption) and its next interruption.
  std::mutex mirror_mu_;
  std::condition_variable mirror_cv_;
  std::vector<Entry> mirror_; // sorted by key (as etcd lists them)
  bool mirror_live_ = false;
  bool mirror_starting_ = false; // the owning watch is reading its first snapshot
  // That snapshot once read and until it is in the mirror: an acquire waiting for the mirror
  // allocates from it at once instead of waiting for the watch to parse it.
  std::shared_ptr<const RangeBuffer> listing_;
  int acquires_waiting_ = 0; // acquires waiting for the mirror or that listing
  int listing_readers_ = 0;  // acquire attempts made from that listing, not over yet
  std::atomic<bool> mirror_owned_{false};
};

base::Result<std::unique_ptr<EtcdStore>> make_etcd_store(const EtcdStoreConfig& config,
                                                         base::Clock& clock = base::system_clock());

} // namespace weft::store::etcd
