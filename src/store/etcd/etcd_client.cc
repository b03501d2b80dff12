#include "store/etcd/etcd_client.h"

#include <fmt/format.h>

#include <mutex>
#include <utility>

#include "base/file.h"
#include "base/log.h"
#include "store/etcd/etcd_wire.h"
#include "store/etcd/grpc_conn.h"

namespace weft::store::etcd {
namespace {

using grpc::Code;
using Clock = grpc::Clock;

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) {
    return {};
  }
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

base::Code map_code(Code code) {
  switch (code) {
  case Code::kOk:
    return base::Code::kOk;
  case Code::kCancelled:
    return base::Code::kCancelled;
  case Code::kInvalidArgument:
    return base::Code::kInvalidArgument;
  case Code::kNotFound:
    return base::Code::kNotFound;
  case Code::kAlreadyExists:
  case Code::kFailedPrecondition:
    return base::Code::kConflict;
  case Code::kPermissionDenied:
  case Code::kUnauthenticated:
    return base::Code::kPermissionDenied;
  case Code::kResourceExhausted:
    return base::Code::kRateLimited;
  case Code::kOutOfRange:
    return base::Code::kOutOfRange;
  case Code::kUnimplemented:
    return base::Code::kInternal;
  default: // kUnavailable, kDeadlineExceeded, kAborted, kInternal, kUnknown, kDataLoss
    return base::Code::kUnavailable;
  }
}

// A member is skipped (fail-over to the next endpoint) after these.
bool is_endpoint_failure(Code code) {
  return code == Code::kUnavailable || code == Code::kDeadlineExceeded;
}

// "127.0.0.1:2379" -> {"127.0.0.1", "2379"}; "[::1]:2379" -> {"::1", "2379"}.
std::pair<std::string, std::string> split_host_port(const std::string& host_port) {
  const auto colon = host_port.rfind(':');
  std::string host = host_port.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return {host, host_port.substr(colon + 1)};
}

// Method paths: /<package>.<service>/<method>.
constexpr const char* kRangePath = "/etcdserverpb.KV/Range";
constexpr const char* kPutPath = "/etcdserverpb.KV/Put";
constexpr const char* kDeleteRangePath = "/etcdserverpb.KV/DeleteRange";
constexpr const char* kTxnPath = "/etcdserverpb.KV/Txn";
constexpr const char* kCompactPath = "/etcdserverpb.KV/Compact";
constexpr const char* kWatchPath = "/etcdserverpb.Watch/Watch";
constexpr const char* kLeaseGrantPath = "/etcdserverpb.Lease/LeaseGrant";
constexpr const char* kLeaseRevokePath = "/etcdserverpb.Lease/LeaseRevoke";
constexpr const char* kLeaseKeepAlivePath = "/etcdserverpb.Lease/LeaseKeepAlive";
constexpr const char* kLeaseTimeToLivePath = "/etcdserverpb.Lease/LeaseTimeToLive";
constexpr const char* kAuthenticatePath = "/etcdserverpb.Auth/Authenticate";

struct Member {
  Endpoint endpoint;
  std::string host;
  std::string port;
  bool tls = false;
  std::mutex mu; // guards conn; held while connecting so that one caller connects
  std::shared_ptr<grpc::Connection> conn;
};

base::Status malformed(Rpc rpc, const std::string& endpoint) {
  return base::unavailable(
      fmt::format("etcd {} on {}: malformed response message", rpc_name(rpc), endpoint));
}

} // namespace

const char* rpc_name(Rpc rpc) {
  switch (rpc) {
  case Rpc::kRange:
    return "Range";
  case Rpc::kPut:
    return "Put";
  case Rpc::kDeleteRange:
    return "DeleteRange";
  case Rpc::kTxn:
    return "Txn";
  case Rpc::kCompact:
    return "Compact";
  case Rpc::kWatch:
    return "Watch";
  case Rpc::kLeaseGrant:
    return "LeaseGrant";
  case Rpc::kLeaseRevoke:
    return "LeaseRevoke";
  case Rpc::kLeaseKeepAlive:
    return "LeaseKeepAlive";
  case Rpc::kLeaseTimeToLive:
    return "LeaseTimeToLive";
  case Rpc::kAuthenticate:
    return "Authenticate";
  }
  return "?";
}

std::uint64_t RpcCounts::total() const {
  std::uint64_t sum = 0;
  for (auto n : by_method) {
    sum += n;
  }
  return sum;
}

RpcCounts RpcCounts::operator-(const RpcCounts& earlier) const {
  RpcCounts out;
  for (std::size_t i = 0; i < kRpcCount; ++i) {
    out.by_method[i] = by_method[i] - earlier.by_method[i];
  }
  return out;
}

namespace {
thread_local std::chrono::nanoseconds t_etcd_wait{0};
} // namespace

std::chrono::nanoseconds thread_etcd_wait() {
  return t_etcd_wait;
}

void add_thread_etcd_wait(std::chrono::nanoseconds waited) {
  t_etcd_wait += waited;
}

std::string prefix_range_end(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    auto& c = end.back();
    if (static_cast<unsigned char>(c) < 0xff) {
      c = static_cast<char>(static_cast<unsigned char>(c) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0'); // every key
}

base::Result<std::vector<Endpoint>> parse_endpoints(const std::string& csv) {
  std::vector<Endpoint> out;
  std::size_t pos = 0;
  while (pos <= csv.size()) {
    const auto comma = csv.find(',', pos);
    const std::string item =
        trim(csv.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
    pos = comma == std::string::npos ? csv.size() + 1 : comma + 1;
    if (item.empty()) {
      continue;
    }
    Endpoint ep;
    std::string rest = item;
    if (rest.rfind("https://", 0) == 0) {
      ep.tls = true;
      rest = rest.substr(8);
    } else if (rest.rfind("http://", 0) == 0) {
      rest = rest.substr(7);
    } else if (rest.find("://") != std::string::npos) {
      return base::invalid_argument(
          fmt::format("--etcd-endpoints: unsupported scheme in {:?} (want http or https)", item));
    }
    if (const auto slash = rest.find('/'); slash != std::string::npos) {
      rest = rest.substr(0, slash);
    }
    if (rest.empty()) {
      return base::invalid_argument(fmt::format("--etcd-endpoints: no host in {:?}", item));
    }
    // Host with port? An IPv6 literal must be bracketed: "[::1]:2379".
    const auto close = rest.rfind(']');
    const auto colon = rest.rfind(':');
    const bool has_port =
        colon != std::string::npos && (close == std::string::npos || colon > close);
    if (has_port) {
      const std::string port = rest.substr(colon + 1);
      if (port.empty() || port.size() > 5 ||
          port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) == 0 ||
          std::stoi(port) > 65535) {
        return base::invalid_argument(fmt::format("--etcd-endpoints: bad port in {:?}", item));
      }
      ep.host_port = rest;
    } else {
      ep.host_port = rest + ":2379";
    }
    out.push_back(std::move(ep));
  }
  if (out.empty()) {
    return base::invalid_argument("--etcd-endpoints: no endpoint given");
  }
  return out;
}

class EtcdClient::Impl {
public:
  ClientConfig config_;
  std::shared_ptr<grpc::TlsContext> tls_;
  std::vector<std::unique_ptr<Member>> members_;
  std::atomic<std::size_t> current_{0};
  std::array<std::atomic<std::uint64_t>, kRpcCount> counts_{};
  // Doubled when a member answers our keepalive pings with GOAWAY "too_many_pings" (as gRPC).
  std::atomic<std::int64_t> keepalive_ms_{0};

  std::mutex token_mu_;
  std::string token_; // etcd auth token; empty without auth

  std::mutex state_mu_;
  std::string last_failed_; // for one log line per change

  void count(Rpc rpc) { counts_[static_cast<std::size_t>(rpc)].fetch_add(1); }

  const std::string& endpoint(std::size_t idx) const { return members_[idx]->endpoint.host_port; }

  std::vector<grpc::Metadata> metadata() {
    std::vector<grpc::Metadata> md;
    std::lock_guard lock(token_mu_);
    if (!token_.empty()) {
      md.push_back({"token", token_, true});
    }
    return md;
  }

  // The member's connection, opened (again) when there is none or it failed.
  base::Result<std::shared_ptr<grpc::Connection>> connection(std::size_t idx,
                                                             Clock::time_point deadline) {
    Member& m = *members_[idx];
    std::lock_guard lock(m.mu);
    if (m.conn && m.conn->usable()) {
      return m.conn;
    }
    if (m.conn && m.conn->told_too_many_pings()) {
      const auto doubled = keepalive_ms_.load() * 2;
      keepalive_ms_.store(doubled);
      WEFT_WARN("etcd {} asked for fewer keepalive pings; pinging every {} ms from now on",
                m.endpoint.host_port, doubled);
    }
    m.conn.reset();
    grpc::ConnectionOptions o;
    o.host = m.host;
    o.port = m.port;
    o.tls = m.tls ? tls_ : nullptr;
    o.keepalive_time = std::chrono::milliseconds(keepalive_ms_.load());
    o.keepalive_timeout = config_.keepalive_timeout;
    auto conn = grpc::Connection::open(o, deadline);
    if (!conn.ok()) {
      return conn.status();
    }
    m.conn = *conn;
    return m.conn;
  }

  // Moves calls off member `idx` after a transport failure (only if no one moved them already).
  void fail_over(std::size_t idx, const std::string& why) {
    const std::size_t n = members_.size();
    std::size_t expected = idx;
    const bool moved = current_.compare_exchange_strong(expected, (idx + 1) % n);
    if (!moved) {
      return;
    }
    std::lock_guard lock(state_mu_);
    const auto& failed = endpoint(idx);
    if (last_failed_ != failed) {
      last_failed_ = failed;
      if (n > 1) {
        WEFT_WARN("etcd endpoint {} unavailable ({}); switching to {}", failed, why,
                  endpoint((idx + 1) % n));
      }
    }
  }

  void note_success(std::size_t idx) {
    std::lock_guard lock(state_mu_);
    if (!last_failed_.empty()) {
      WEFT_INFO("etcd reachable again at {}", endpoint(idx));
      last_failed_.clear();
    }
  }

  // One unary call on member idx; a connection failure is kUnavailable.
  grpc::Connection::Unary unary_on(std::size_t idx, const char* path, std::string_view request,
                                   const std::vector<grpc::Metadata>& md) {
    const auto deadline = Clock::now() + config_.call_timeout;
    auto conn = connection(idx, deadline);
    if (!conn.ok()) {
      return {{Code::kUnavailable, conn.status().message()}, {}};
    }
    return (*conn)->unary(path, md, request, deadline);
  }

  base::Status authenticate(std::size_t idx) {
    const std::string req = wire::authenticate_request(config_.username, config_.password.reveal());
    count(Rpc::kAuthenticate);
    auto u = unary_on(idx, kAuthenticatePath, req, {});
    if (!u.status.ok()) {
      return base::Status(map_code(u.status.code),
                          fmt::format("etcd Authenticate as {:?} on {}: {}", config_.username,
                                      endpoint(idx), u.status.message));
    }
    auto token = wire::decode_authenticate_token(u.response);
    if (!token) {
      return malformed(Rpc::kAuthenticate, endpoint(idx));
    }
    std::lock_guard lock(token_mu_);
    token_ = std::move(*token);
    return {};
  }

  // Authenticates on member idx when auth is on and there is no token yet.
  base::Status ensure_token(std::size_t idx) {
    if (config_.username.empty()) {
      return {};
    }
    {
      std::lock_guard lock(token_mu_);
      if (!token_.empty()) {
        return {};
      }
    }
    return authenticate(idx);
  }

  // A unary call with a deadline, failing over between members on transport errors and
  // authenticating when needed. Returns the response message of the member that answered.
  base::Result<std::string> call(Rpc rpc, const char* path, const std::string& what,
                                 std::string_view request, std::size_t* answered = nullptr) {
    const EtcdWaitMeter meter;
    const std::size_t n = members_.size();
    grpc::Status last;
    std::size_t last_idx = 0;
    bool reauthed = false;
    for (std::size_t attempt = 0; attempt < n + 1; ++attempt) {
      const std::size_t idx = current_.load() % n;
      last_idx = idx;
      if (auto st = ensure_token(idx); !st.ok()) {
        if (st.code() == base::Code::kUnavailable) {
          fail_over(idx, st.message());
          continue;
        }
        return st;
      }
      count(rpc);
      auto u = unary_on(idx, path, request, metadata());
      last = std::move(u.status);
      if (last.ok()) {
        note_success(idx);
        if (answered != nullptr) {
          *answered = idx;
        }
        return std::move(u.response);
      }
      if (last.code == Code::kUnauthenticated && !config_.username.empty() && !reauthed) {
        reauthed = true;
        std::lock_guard lock(token_mu_);
        token_.clear();
        continue;
      }
      if (!is_endpoint_failure(last.code)) {
        break;
      }
      fail_over(idx, last.message);
    }
    return base::Status(map_code(last.code), fmt::format("etcd {} {} on {}: {}", rpc_name(rpc),
                                                         what, endpoint(last_idx), last.message));
  }

  // call() and a decoder; a response that does not decode is an error naming the endpoint.
  template <typename Decode>
  auto call_decoded(Rpc rpc, const char* path, const std::string& what, std::string_view request,
                    Decode&& decode)
      -> base::Result<typename decltype(decode(std::string_view()))::value_type> {
    std::size_t idx = 0;
    auto resp = call(rpc, path, what, request, &idx);
    if (!resp.ok()) {
      return resp.status();
    }
    auto out = decode(std::string_view(*resp));
    if (!out) {
      return malformed(rpc, endpoint(idx));
    }
    return std::move(*out);
  }
};

namespace {

class EtcdWatchStream final : public WatchStream {
public:
  EtcdWatchStream(EtcdClient::Impl* impl, std::size_t idx) : impl_(impl), idx_(idx) {}

  base::Status open(const std::string& create) {
    auto conn = impl_->connection(idx_, Clock::now() + impl_->config_.call_timeout);
    impl_->count(Rpc::kWatch);
    if (!conn.ok()) {
      impl_->fail_over(idx_, conn.status().message());
      return base::unavailable(
          fmt::format("etcd Watch create on {}: {}", endpoint(), conn.status().message()));
    }
    auto md = impl_->metadata();
    // Like clientv3's WithRequireLeader: a member cut off from the quorum ends the stream.
    md.push_back({"hasleader", "true", false});
    auto call = (*conn)->start(kWatchPath, md, std::nullopt);
    if (!call.ok()) {
      impl_->fail_over(idx_, call.status().message());
      return base::unavailable(
          fmt::format("etcd Watch create on {}: {}", endpoint(), call.status().message()));
    }
    call_ = std::move(*call);
    if (!call_->send(create, false)) {
      return finish("create");
    }
    auto first = next_response("create");
    if (!first.ok()) {
      return first.status();
    }
    first_ = std::move(*first);
    return {};
  }

  base::Result<WatchResponse> next() override {
    if (first_) {
      auto out = std::move(*first_);
      first_.reset();
      return out;
    }
    return next_response("read");
  }

  void cancel() override { call_->cancel(); }
  const std::string& endpoint() const override { return impl_->endpoint(idx_); }

private:
  base::Result<WatchResponse> next_response(const char* what) {
    if (finished_) {
      return base::cancelled("etcd watch stream already ended");
    }
    auto msg = call_->receive();
    if (!msg) {
      return finish(what);
    }
    auto resp = wire::decode_watch_response(*msg);
    if (!resp) {
      call_->cancel();
      finished_ = true;
      return malformed(Rpc::kWatch, endpoint());
    }
    return std::move(*resp);
  }

  base::Status finish(const char* what) {
    finished_ = true;
    const auto st = call_->finish();
    if (is_endpoint_failure(st.code)) {
      impl_->fail_over(idx_, st.message);
    }
    if (st.code == Code::kUnauthenticated) {
      std::lock_guard lock(impl_->token_mu_);
      impl_->token_.clear();
    }
    const auto code = st.ok() ? base::Code::kUnavailable : map_code(st.code);
    return base::Status(code, fmt::format("etcd Watch {} on {}: {}", what, endpoint(),
                                          st.ok() ? "stream closed" : st.message));
  }

  EtcdClient::Impl* impl_;
  std::size_t idx_;
  std::unique_ptr<grpc::Call> call_;
  std::optional<WatchResponse> first_;
  bool finished_ = false;
};

} // namespace

EtcdClient::EtcdClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EtcdClient::~EtcdClient() = default;

base::Result<std::unique_ptr<EtcdClient>> EtcdClient::create(const ClientConfig& config) {
  std::string csv;
  for (const auto& e : config.endpoints) {
    csv += e + ",";
  }
  auto eps = parse_endpoints(csv);
  if (!eps.ok()) {
    return eps.status();
  }
  if (config.keyfile.empty() != config.certfile.empty()) {
    return base::invalid_argument("--etcd-keyfile and --etcd-certfile must be given together");
  }
  const bool client_cert = !config.keyfile.empty();
  // Unreadable files are reported by flag before anything connects.
  if (!config.cafile.empty()) {
    if (auto r = base::read_file(config.cafile); !r.ok()) {
      return base::invalid_argument(fmt::format("--etcd-cafile: {}", r.status().to_string()));
    }
  }
  if (client_cert) {
    if (auto k = base::read_file(config.keyfile); !k.ok()) {
      return base::invalid_argument(fmt::format("--etcd-keyfile: {}", k.status().to_string()));
    }
    if (auto c = base::read_file(config.certfile); !c.ok()) {
      return base::invalid_argument(fmt::format("--etcd-certfile: {}", c.status().to_string()));
    }
  }

  auto impl = std::make_unique<Impl>();
  impl->config_ = config;
  impl->keepalive_ms_ = config.keepalive_time.count();
  bool any_plain = false;
  bool any_tls = false;
  for (auto& ep : *eps) {
    auto m = std::make_unique<Member>();
    // As flanneld: client key and certificate turn TLS on even for http:// URLs.
    m->tls = ep.tls || client_cert;
    any_plain = any_plain || !m->tls;
    any_tls = any_tls || m->tls;
    std::tie(m->host, m->port) = split_host_port(ep.host_port);
    m->endpoint = std::move(ep);
    impl->members_.push_back(std::move(m));
  }
  if (any_tls) {
    auto tls = grpc::TlsContext::create(config.cafile, config.certfile, config.keyfile);
    if (!tls.ok()) {
      return tls.status();
    }
    impl->tls_ = std::move(*tls);
  }
  if (any_plain) {
    WEFT_INFO("connecting to etcd with http. This is insecure");
  }
  return std::unique_ptr<EtcdClient>(new EtcdClient(std::move(impl)));
}

base::Result<RangeResult> EtcdClient::range(const std::string& key, const std::string& range_end,
                                            bool serializable) {
  return impl_->call_decoded(Rpc::kRange, kRangePath, key,
                             wire::range_request(key, range_end, serializable),
                             wire::decode_range_response);
}

base::Result<RangeBuffer>
EtcdClient::range_buffer(const std::string& key, const std::string& range_end, bool serializable) {
  std::size_t idx = 0;
  auto resp = impl_->call(Rpc::kRange, kRangePath, key,
                          wire::range_request(key, range_end, serializable), &idx);
  if (!resp.ok()) {
    return resp.status();
  }
  RangeBuffer out;
  out.message = std::make_shared<const std::string>(std::move(*resp));
  auto views = wire::decode_range_views(*out.message);
  if (!views) {
    return malformed(Rpc::kRange, impl_->endpoint(idx));
  }
  out.revision = views->revision;
  out.kvs = std::move(views->kvs);
  return out;
}

base::Result<std::int64_t> EtcdClient::put(const std::string& key, const std::string& value,
                                           std::int64_t lease) {
  return impl_->call_decoded(Rpc::kPut, kPutPath, key, wire::put_request(key, value, lease),
                             wire::decode_header_revision);
}

base::Result<std::int64_t> EtcdClient::delete_range(const std::string& key,
                                                    const std::string& range_end) {
  auto r = impl_->call_decoded(Rpc::kDeleteRange, kDeleteRangePath, key,
                               wire::delete_range_request(key, range_end),
                               wire::decode_delete_range_response);
  if (!r.ok()) {
    return r.status();
  }
  return r->deleted;
}

namespace {

base::Result<TxnResult> run_txn(EtcdClient::Impl& impl, const std::string& key,
                                std::span<const wire::Compare> compare,
                                std::span<const wire::Op> success,
                                std::span<const wire::Op> failure) {
  return impl.call_decoded(Rpc::kTxn, kTxnPath, key, wire::txn_request(compare, success, failure),
                           wire::decode_txn_response);
}

wire::Op put_op(const std::string& key, const std::string& value, std::int64_t lease) {
  return {wire::Op::Kind::kPut, key, value, lease};
}

} // namespace

base::Result<TxnResult> EtcdClient::create(const std::string& key, const std::string& value,
                                           std::int64_t lease) {
  const wire::Compare cmp[] = {{wire::Compare::Target::kVersion, key, 0, {}}};
  const wire::Op success[] = {put_op(key, value, lease)};
  return run_txn(*impl_, key, cmp, success, {});
}

namespace {

// Puts `value` when `first` holds (and the key's lease is `expected_lease`, if given); reads the
// key back when not.
base::Result<TxnResult> put_if(EtcdClient::Impl& impl, const std::string& key, wire::Compare first,
                               const std::string& value, std::int64_t lease,
                               std::optional<std::int64_t> expected_lease) {
  std::vector<wire::Compare> cmp = {std::move(first)};
  if (expected_lease) {
    cmp.push_back({wire::Compare::Target::kLease, key, *expected_lease, {}});
  }
  const wire::Op success[] = {put_op(key, value, lease)};
  const wire::Op failure[] = {{wire::Op::Kind::kRange, key, {}, 0}};
  return run_txn(impl, key, cmp, success, failure);
}

} // namespace

base::Result<TxnResult> EtcdClient::put_if_value(const std::string& key,
                                                 const std::string& expected,
                                                 const std::string& value, std::int64_t lease,
                                                 std::optional<std::int64_t> expected_lease) {
  return put_if(*impl_, key, {wire::Compare::Target::kValue, key, 0, expected}, value, lease,
                expected_lease);
}

base::Result<TxnResult> EtcdClient::put_if_unchanged(const std::string& key,
                                                     std::int64_t mod_revision,
                                                     const std::string& value, std::int64_t lease,
                                                     std::optional<std::int64_t> expected_lease) {
  return put_if(*impl_, key, {wire::Compare::Target::kMod, key, mod_revision, {}}, value, lease,
                expected_lease);
}

base::Result<TxnResult> EtcdClient::delete_if_value(const std::string& key,
                                                    const std::string& expected) {
  const wire::Compare cmp[] = {{wire::Compare::Target::kValue, key, 0, expected}};
  const wire::Op success[] = {{wire::Op::Kind::kDeleteRange, key, {}, 0}};
  return run_txn(*impl_, key, cmp, success, {});
}

base::Result<TxnResult> EtcdClient::delete_if_created(const std::string& key,
                                                      std::int64_t create_revision) {
  const wire::Compare cmp[] = {{wire::Compare::Target::kCreate, key, create_revision, {}}};
  const wire::Op success[] = {{wire::Op::Kind::kDeleteRange, key, {}, 0}};
  return run_txn(*impl_, key, cmp, success, {});
}

base::Result<std::int64_t>
EtcdClient::put_all(const std::vector<std::pair<std::string, std::string>>& kvs) {
  std::vector<wire::Op> ops;
  ops.reserve(kvs.size());
  for (const auto& [k, v] : kvs) {
    ops.push_back(put_op(k, v, 0));
  }
  auto r = run_txn(*impl_, kvs.empty() ? std::string() : kvs.front().first, {}, ops, {});
  if (!r.ok()) {
    return r.status();
  }
  return r->revision;
}

base::Status EtcdClient::compact(std::int64_t revision) {
  return impl_
      ->call_decoded(Rpc::kCompact, kCompactPath, fmt::format("revision {}", revision),
                     wire::compaction_request(revision, true), wire::decode_header_revision)
      .status();
}

base::Result<LeaseGrant> EtcdClient::lease_grant(std::chrono::seconds ttl) {
  auto r = impl_->call_decoded(
      Rpc::kLeaseGrant, kLeaseGrantPath, fmt::format("ttl {}s", ttl.count()),
      wire::lease_grant_request(ttl.count()), wire::decode_lease_grant_response);
  if (!r.ok()) {
    return r.status();
  }
  if (!r->error.empty()) {
    return base::unavailable(fmt::format("etcd LeaseGrant: {}", r->error));
  }
  return r->grant;
}

base::Status EtcdClient::lease_revoke(std::int64_t id) {
  return impl_
      ->call_decoded(Rpc::kLeaseRevoke, kLeaseRevokePath, fmt::format("{:x}", id),
                     wire::lease_id_request(id), wire::decode_header_revision)
      .status();
}

base::Result<std::int64_t> EtcdClient::lease_keep_alive_once(std::int64_t id) {
  // A LeaseKeepAlive stream carrying one request and one reply is a unary call on the wire.
  auto ttl = impl_->call_decoded(Rpc::kLeaseKeepAlive, kLeaseKeepAlivePath, fmt::format("{:x}", id),
                                 wire::lease_id_request(id), wire::decode_lease_ttl);
  if (!ttl.ok()) {
    return ttl.status();
  }
  if (*ttl <= 0) {
    return base::not_found(fmt::format("etcd lease {:x} not found or expired", id));
  }
  return *ttl;
}

base::Result<std::int64_t> EtcdClient::lease_time_to_live(std::int64_t id) {
  auto ttl =
      impl_->call_decoded(Rpc::kLeaseTimeToLive, kLeaseTimeToLivePath, fmt::format("{:x}", id),
                          wire::lease_id_request(id), wire::decode_lease_ttl);
  if (!ttl.ok()) {
    return ttl.status();
  }
  if (*ttl < 0) {
    return base::not_found(fmt::format("etcd lease {:x} not found or expired", id));
  }
  return *ttl;
}

base::Result<std::unique_ptr<WatchStream>> EtcdClient::watch(const std::string& key,
                                                             const std::string& range_end,
                                                             std::int64_t start_revision,
                                                             bool progress_notify) {
  const std::string create =
      wire::watch_create_request(key, range_end, start_revision, progress_notify);
  const std::size_t n = impl_->members_.size();
  base::Status last;
  for (std::size_t attempt = 0; attempt < n; ++attempt) {
    const std::size_t idx = impl_->current_.load() % n;
    last = impl_->ensure_token(idx);
    if (!last.ok()) {
      if (last.code() != base::Code::kUnavailable) {
        break;
      }
      impl_->fail_over(idx, last.message());
      continue;
    }
    auto stream = std::make_unique<EtcdWatchStream>(impl_.get(), idx);
    last = stream->open(create);
    if (last.ok()) {
      impl_->note_success(idx);
      return std::unique_ptr<WatchStream>(std::move(stream));
    }
    if (last.code() != base::Code::kUnavailable) {
      break;
    }
  }
  return last;
}

RpcCounts EtcdClient::counts() const {
  RpcCounts out;
  for (std::size_t i = 0; i < kRpcCount; ++i) {
    out.by_method[i] = impl_->counts_[i].load();
  }
  return out;
}

std::string EtcdClient::current_endpoint() const {
  return impl_->endpoint(impl_->current_.load() % impl_->members_.size());
}

} // namespace weft::store::etcd
