#pragma once
// EtcdClient: the few etcd v3 calls weft needs (KV, Watch, Lease, Authenticate) over gRPC, with a
// deadline on every call, fail-over between endpoints, TLS, auth, and a counter per RPC method.
// The gRPC transport (grpc_conn.h) and the message encoding (etcd_wire.h) are our own: weftd links
// neither gRPC nor protobuf.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/secret.h"
#include "base/status.h"

namespace weft::store::etcd {

// One endpoint as given on the command line ("http://127.0.0.1:2379", "https://h:2379", "h:2379").
struct Endpoint {
  std::string host_port; // "127.0.0.1:2379"
  bool tls = false;
};

// Parses flanneld's --etcd-endpoints: a comma-separated list of URLs. invalid_argument on bad
// input.
base::Result<std::vector<Endpoint>> parse_endpoints(const std::string& csv);

struct ClientConfig {
  std::vector<std::string> endpoints; // URLs, each as flanneld accepts them
  std::string keyfile;                // client key (PEM); TLS with client certs when with certfile
  std::string certfile;               // client certificate (PEM)
  std::string cafile;                 // CA bundle (PEM); system roots when empty
  std::string username;               // etcd auth; none when empty
  base::Secret password;
  std::chrono::milliseconds call_timeout{5000};      // deadline of each unary call
  std::chrono::milliseconds keepalive_time{10000};   // HTTP/2 ping interval on streams
  std::chrono::milliseconds keepalive_timeout{5000}; // a ping unanswered this long kills the link
};

struct KeyValue {
  std::string key;
  std::string value;
  std::int64_t create_revision = 0;
  std::int64_t mod_revision = 0;
  std::int64_t version = 0;
  std::int64_t lease = 0; // 0: no etcd lease attached
};

// A stored key-value pair seen in place, inside a received message (RangeBuffer).
struct KeyValueView {
  std::string_view key;
  std::string_view value;
  std::int64_t create_revision = 0;
  std::int64_t mod_revision = 0;
  std::int64_t version = 0;
  std::int64_t lease = 0;
};

// A range's response message and views of its pairs (valid while the message lives).
struct RangeBuffer {
  std::shared_ptr<const std::string> message;
  std::int64_t revision = 0;
  std::vector<KeyValueView> kvs;
};

struct RangeResult {
  std::vector<KeyValue> kvs;
  std::int64_t revision = 0; // store revision the read was served at
};

struct TxnResult {
  bool succeeded = false;
  std::int64_t revision = 0;
  std::vector<KeyValue> kvs; // from a range in the executed branch, if any
};

struct LeaseGrant {
  std::int64_t id = 0;
  std::int64_t ttl_seconds = 0;
};

struct WatchEvent {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  KeyValue kv; // for a delete: key and mod_revision (the deletion revision) only
};

struct WatchResponse {
  std::int64_t revision = 0; // header revision; a progress notification has no events
  bool created = false;
  bool canceled = false;
  std::int64_t compact_revision = 0; // non-zero: start revision was compacted; re-list
  std::string cancel_reason;
  std::vector<WatchEvent> events;
};

// A bidirectional Watch stream with one watcher on a key range.
class WatchStream {
public:
  virtual ~WatchStream() = default;
  // Blocks for the next response. An error means the stream is gone (closed, broken, cancelled).
  virtual base::Result<WatchResponse> next() = 0;
  // Unblocks next() from any thread; the stream then ends with cancelled.
  virtual void cancel() = 0;
  // The endpoint the stream is on.
  virtual const std::string& endpoint() const = 0;
};

// The etcd RPC methods weft calls, for per-method counters.
enum class Rpc {
  kRange,
  kPut,
  kDeleteRange,
  kTxn,
  kCompact,
  kWatch,
  kLeaseGrant,
  kLeaseRevoke,
  kLeaseKeepAlive,
  kLeaseTimeToLive,
  kAuthenticate,
};
inline constexpr std::size_t kRpcCount = 11;
const char* rpc_name(Rpc rpc);

// A snapshot of how many calls of each method were started.
struct RpcCounts {
  std::array<std::uint64_t, kRpcCount> by_method{};
  std::uint64_t operator[](Rpc rpc) const { return by_method[static_cast<std::size_t>(rpc)]; }
  std::uint64_t total() const;
  RpcCounts operator-(const RpcCounts& earlier) const;
};

// The smallest key greater than every key with this prefix ("/a/" -> "/a0").
std::string prefix_range_end(const std::string& prefix);

// How long the calling thread has waited for etcd: every unary call it made (from the request to
// its answer, retries and fail-over included), plus the waits recorded with
// add_thread_etcd_wait (a store waiting for an answer another thread asked for). weftd's start
// reports the share of its time that went to etcd with it.
std::chrono::nanoseconds thread_etcd_wait();
void add_thread_etcd_wait(std::chrono::nanoseconds waited);

// Adds the time from its construction to its destruction to the thread's etcd wait.
class EtcdWaitMeter {
public:
  EtcdWaitMeter() = default;
  ~EtcdWaitMeter() { add_thread_etcd_wait(std::chrono::steady_clock::now() - start_); }
  EtcdWaitMeter(const EtcdWaitMeter&) = delete;
  EtcdWaitMeter& operator=(const EtcdWaitMeter&) = delete;

private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

class EtcdClient {
public:
  // Builds channels; connects lazily. invalid_argument for bad endpoints or unreadable TLS files.
  static base::Result<std::unique_ptr<EtcdClient>> create(const ClientConfig& config);
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  // Keys in [key, range_end); only `key` when range_end is empty. A serializable read is served
  // by the member from its local state without a quorum round (it may be slightly stale); use it
  // only where a later compare-and-swap makes staleness harmless.
  base::Result<RangeResult> range(const std::string& key, const std::string& range_end = {},
                                  bool serializable = false);
  // range() without copying keys and values out of the response.
  base::Result<RangeBuffer> range_buffer(const std::string& key, const std::string& range_end,
                                         bool serializable);
  // Returns the revision of the write.
  base::Result<std::int64_t> put(const std::string& key, const std::string& value,
                                 std::int64_t lease = 0);
  // Returns the number of keys deleted.
  base::Result<std::int64_t> delete_range(const std::string& key,
                                          const std::string& range_end = {});
  // Txn(If Version(key) == 0 Then Put(key, value, lease)). succeeded=false if the key exists.
  base::Result<TxnResult> create(const std::string& key, const std::string& value,
                                 std::int64_t lease);
  // Txn(If Value(key) == expected [and Lease(key) == expected_lease] Then Put(key, value, lease)
  // Else Range(key)).
  base::Result<TxnResult> put_if_value(const std::string& key, const std::string& expected,
                                       const std::string& value, std::int64_t lease,
                                       std::optional<std::int64_t> expected_lease = std::nullopt);
  // Txn(If ModRevision(key) == mod_revision [and Lease(key) == expected_lease]
  // Then Put(key, value, lease) Else Range(key)): a put that only lands if nobody wrote the key
  // since it was read at that revision.
  base::Result<TxnResult> put_if_unchanged(const std::string& key, std::int64_t mod_revision,
                                           const std::string& value, std::int64_t lease,
                                           std::optional<std::int64_t> expected_lease);
  // Txn(If Value(key) == expected Then Delete(key)).
  base::Result<TxnResult> delete_if_value(const std::string& key, const std::string& expected);
  // Txn(If CreateRevision(key) == create_revision Then Delete(key)).
  base::Result<TxnResult> delete_if_created(const std::string& key, std::int64_t create_revision);
  // Txn(Put(k1, v1), Put(k2, v2), ...) without conditions; returns the revision of the write.
  base::Result<std::int64_t> put_all(const std::vector<std::pair<std::string, std::string>>& kvs);
  // Compacts history up to `revision` (tests use it to force a watch re-list).
  base::Status compact(std::int64_t revision);

  base::Result<LeaseGrant> lease_grant(std::chrono::seconds ttl);
  base::Status lease_revoke(std::int64_t id);
  // One keep-alive round trip on a short stream; returns the new TTL (not_found if expired).
  base::Result<std::int64_t> lease_keep_alive_once(std::int64_t id);
  // Remaining TTL in seconds; not_found if the lease does not exist.
  base::Result<std::int64_t> lease_time_to_live(std::int64_t id);

  // Opens a Watch stream with one watcher on [key, range_end) from start_revision (0: now) and
  // waits for the "created" response. progress_notify asks etcd for periodic empty responses.
  base::Result<std::unique_ptr<WatchStream>> watch(const std::string& key,
                                                   const std::string& range_end,
                                                   std::int64_t start_revision,
                                                   bool progress_notify = true);

  RpcCounts counts() const;
  // The endpoint calls go to now (changes on fail-over).
  std::string current_endpoint() const;

  class Impl;

private:
  explicit EtcdClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

} // namespace weft::store::etcd
