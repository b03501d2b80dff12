#include "store/etcd/etcd_client.h"

#include <grpcpp/grpcpp.h>

#include <fmt/format.h>

#include <mutex>
#include <utility>

#include "base/file.h"
#include "base/log.h"
#include "store/etcd/rpc.grpc.pb.h"

namespace weft::store::etcd {
namespace {

namespace pb = ::etcdserverpb;

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) {
    return {};
  }
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

base::Code map_code(grpc::StatusCode code) {
  switch (code) {
  case grpc::StatusCode::OK:
    return base::Code::kOk;
  case grpc::StatusCode::CANCELLED:
    return base::Code::kCancelled;
  case grpc::StatusCode::INVALID_ARGUMENT:
    return base::Code::kInvalidArgument;
  case grpc::StatusCode::NOT_FOUND:
    return base::Code::kNotFound;
  case grpc::StatusCode::ALREADY_EXISTS:
  case grpc::StatusCode::FAILED_PRECONDITION:
    return base::Code::kConflict;
  case grpc::StatusCode::PERMISSION_DENIED:
  case grpc::StatusCode::UNAUTHENTICATED:
    return base::Code::kPermissionDenied;
  case grpc::StatusCode::RESOURCE_EXHAUSTED:
    return base::Code::kRateLimited;
  case grpc::StatusCode::OUT_OF_RANGE:
    return base::Code::kOutOfRange;
  case grpc::StatusCode::UNIMPLEMENTED:
    return base::Code::kInternal;
  default: // UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED, INTERNAL, UNKNOWN, DATA_LOSS
    return base::Code::kUnavailable;
  }
}

// A member is skipped (fail-over to the next endpoint) after these.
bool is_endpoint_failure(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED;
}

KeyValue from_pb(mvccpb::KeyValue&& kv) { // moves the strings out
  KeyValue out;
  out.key = std::move(*kv.mutable_key());
  out.value = std::move(*kv.mutable_value());
  out.create_revision = kv.create_revision();
  out.mod_revision = kv.mod_revision();
  out.version = kv.version();
  out.lease = kv.lease();
  return out;
}

KeyValue from_pb(const mvccpb::KeyValue& kv) {
  mvccpb::KeyValue copy = kv;
  return from_pb(std::move(copy));
}

struct Member {
  Endpoint endpoint;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::KV::Stub> kv;
  std::unique_ptr<pb::Watch::Stub> watch;
  std::unique_ptr<pb::Lease::Stub> lease;
  std::unique_ptr<pb::Auth::Stub> auth;
};

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
  std::vector<Member> members_;
  std::atomic<std::size_t> current_{0};
  std::array<std::atomic<std::uint64_t>, kRpcCount> counts_{};

  std::mutex token_mu_;
  std::string token_; // etcd auth token; empty without auth

  std::mutex state_mu_;
  std::string last_failed_; // for one log line per change

  void count(Rpc rpc) { counts_[static_cast<std::size_t>(rpc)].fetch_add(1); }

  void prepare(grpc::ClientContext& ctx, bool with_deadline) {
    if (with_deadline) {
      ctx.set_deadline(std::chrono::system_clock::now() + config_.call_timeout);
    }
    std::lock_guard lock(token_mu_);
    if (!token_.empty()) {
      ctx.AddMetadata("token", token_);
    }
  }

  // Moves calls off member `idx` after a transport failure (only if no one moved them already).
  void fail_over(std::size_t idx, const grpc::Status& status) {
    const std::size_t n = members_.size();
    std::size_t expected = idx;
    const bool moved = current_.compare_exchange_strong(expected, (idx + 1) % n);
    if (!moved) {
      return;
    }
    std::lock_guard lock(state_mu_);
    const auto& failed = members_[idx].endpoint.host_port;
    if (last_failed_ != failed) {
      last_failed_ = failed;
      if (n > 1) {
        WEFT_WARN("etcd endpoint {} unavailable ({}); switching to {}", failed,
                  status.error_message(), members_[(idx + 1) % n].endpoint.host_port);
      }
    }
  }

  void note_success(std::size_t idx) {
    std::lock_guard lock(state_mu_);
    if (!last_failed_.empty()) {
      WEFT_INFO("etcd reachable again at {}", members_[idx].endpoint.host_port);
      last_failed_.clear();
    }
  }

  base::Status authenticate(std::size_t idx) {
    pb::AuthenticateRequest req;
    req.set_name(config_.username);
    req.set_password(config_.password.reveal());
    pb::AuthenticateResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + config_.call_timeout);
    count(Rpc::kAuthenticate);
    const auto st = members_[idx].auth->Authenticate(&ctx, req, &resp);
    if (!st.ok()) {
      return base::Status(map_code(st.error_code()),
                          fmt::format("etcd Authenticate as {:?} on {}: {}", config_.username,
                                      members_[idx].endpoint.host_port, st.error_message()));
    }
    std::lock_guard lock(token_mu_);
    token_ = resp.token();
    return {};
  }

  // Runs a unary call with a deadline, failing over between members on transport errors and
  // authenticating when needed. `fn(member, ctx)` returns the grpc::Status of one attempt.
  template <typename Fn> base::Status call(Rpc rpc, const std::string& what, Fn&& fn) {
    const std::size_t n = members_.size();
    grpc::Status last;
    std::size_t last_idx = 0;
    bool reauthed = false;
    for (std::size_t attempt = 0; attempt < n + 1; ++attempt) {
      const std::size_t idx = current_.load() % n;
      last_idx = idx;
      if (!config_.username.empty()) {
        bool need = false;
        {
          std::lock_guard lock(token_mu_);
          need = token_.empty();
        }
        if (need) {
          auto st = authenticate(idx);
          if (!st.ok()) {
            if (st.code() == base::Code::kUnavailable) {
              fail_over(idx, grpc::Status(grpc::StatusCode::UNAVAILABLE, st.message()));
              continue;
            }
            return st;
          }
        }
      }
      grpc::ClientContext ctx;
      prepare(ctx, true);
      count(rpc);
      last = fn(members_[idx], ctx);
      if (last.ok()) {
        note_success(idx);
        return {};
      }
      if (last.error_code() == grpc::StatusCode::UNAUTHENTICATED && !config_.username.empty() &&
          !reauthed) {
        reauthed = true;
        std::lock_guard lock(token_mu_);
        token_.clear();
        continue;
      }
      if (!is_endpoint_failure(last.error_code())) {
        break;
      }
      fail_over(idx, last);
    }
    return base::Status(map_code(last.error_code()),
                        fmt::format("etcd {} {} on {}: {}", rpc_name(rpc), what,
                                    members_[last_idx].endpoint.host_port, last.error_message()));
  }
};

namespace {

class GrpcWatchStream final : public WatchStream {
public:
  GrpcWatchStream(EtcdClient::Impl* impl, std::size_t idx) : impl_(impl), idx_(idx) {}
  ~GrpcWatchStream() override {
    if (rw_ && !finished_) {
      ctx_.TryCancel();
      pb::WatchResponse ignored;
      while (rw_->Read(&ignored)) {
      }
      (void)rw_->Finish();
    }
  }

  base::Status open(const pb::WatchRequest& create) {
    impl_->prepare(ctx_, false);
    // Like clientv3's WithRequireLeader: a member cut off from the quorum ends the stream.
    ctx_.AddMetadata("hasleader", "true");
    impl_->count(Rpc::kWatch);
    rw_ = impl_->members_[idx_].watch->Watch(&ctx_);
    if (!rw_->Write(create)) {
      return finish("create");
    }
    pb::WatchResponse resp;
    if (!rw_->Read(&resp)) {
      return finish("create");
    }
    first_ = convert(resp);
    return {};
  }

  base::Result<WatchResponse> next() override {
    if (first_) {
      auto out = std::move(*first_);
      first_.reset();
      return out;
    }
    if (finished_) {
      return base::cancelled("etcd watch stream already ended");
    }
    pb::WatchResponse resp;
    if (!rw_->Read(&resp)) {
      return finish("read");
    }
    return convert(resp);
  }

  void cancel() override { ctx_.TryCancel(); }
  const std::string& endpoint() const override { return impl_->members_[idx_].endpoint.host_port; }

private:
  base::Status finish(const char* what) {
    finished_ = true;
    const auto st = rw_->Finish();
    if (is_endpoint_failure(st.error_code())) {
      impl_->fail_over(idx_, st);
    }
    if (st.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
      std::lock_guard lock(impl_->token_mu_);
      impl_->token_.clear();
    }
    const auto code = st.ok() ? base::Code::kUnavailable : map_code(st.error_code());
    return base::Status(code, fmt::format("etcd Watch {} on {}: {}", what, endpoint(),
                                          st.ok() ? "stream closed" : st.error_message()));
  }

  static WatchResponse convert(const pb::WatchResponse& resp) {
    WatchResponse out;
    out.revision = resp.header().revision();
    out.created = resp.created();
    out.canceled = resp.canceled();
    out.compact_revision = resp.compact_revision();
    out.cancel_reason = resp.cancel_reason();
    out.events.reserve(static_cast<std::size_t>(resp.events_size()));
    for (const auto& ev : resp.events()) {
      WatchEvent e;
      e.type =
          ev.type() == mvccpb::Event::DELETE ? WatchEvent::Type::kDelete : WatchEvent::Type::kPut;
      e.kv = from_pb(ev.kv());
      out.events.push_back(std::move(e));
    }
    return out;
  }

  EtcdClient::Impl* impl_;
  std::size_t idx_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<pb::WatchRequest, pb::WatchResponse>> rw_;
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
  std::string ca_pem, key_pem, cert_pem;
  if (!config.cafile.empty()) {
    auto r = base::read_file(config.cafile);
    if (!r.ok()) {
      return base::invalid_argument(fmt::format("--etcd-cafile: {}", r.status().to_string()));
    }
    ca_pem = *r;
  }
  if (client_cert) {
    auto k = base::read_file(config.keyfile);
    if (!k.ok()) {
      return base::invalid_argument(fmt::format("--etcd-keyfile: {}", k.status().to_string()));
    }
    auto c = base::read_file(config.certfile);
    if (!c.ok()) {
      return base::invalid_argument(fmt::format("--etcd-certfile: {}", c.status().to_string()));
    }
    key_pem = *k;
    cert_pem = *c;
  }

  auto impl = std::make_unique<Impl>();
  impl->config_ = config;
  bool any_plain = false;
  for (auto& ep : *eps) {
    // As flanneld: client key and certificate turn TLS on even for http:// URLs.
    const bool tls = ep.tls || client_cert;
    any_plain = any_plain || !tls;
    std::shared_ptr<grpc::ChannelCredentials> creds;
    if (tls) {
      grpc::SslCredentialsOptions opts;
      opts.pem_root_certs = ca_pem;
      opts.pem_private_key = key_pem;
      opts.pem_cert_chain = cert_pem;
      creds = grpc::SslCredentials(opts);
    } else {
      creds = grpc::InsecureChannelCredentials();
    }
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, static_cast<int>(config.keepalive_time.count()));
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, static_cast<int>(config.keepalive_timeout.count()));
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
    args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
    // Reconnect quickly after a member restarts (gRPC's default grows to 120 s). The minimum
    // stays at gRPC's default: it is also the connect timeout of each attempt.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
    args.SetMaxReceiveMessageSize(256 * 1024 * 1024);
    // A whole lease listing (about 1 MB with 5000 leases) arrives without waiting for HTTP/2
    // window updates: the default 64 KiB initial window costs several round trips per listing.
    args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 8 * 1024 * 1024);
    // Distinct channels per member even when two URLs resolve alike.
    args.SetString("weft.etcd_endpoint", ep.host_port);
    Member m;
    m.endpoint = ep;
    m.channel = grpc::CreateCustomChannel(ep.host_port, creds, args);
    m.kv = pb::KV::NewStub(m.channel);
    m.watch = pb::Watch::NewStub(m.channel);
    m.lease = pb::Lease::NewStub(m.channel);
    m.auth = pb::Auth::NewStub(m.channel);
    impl->members_.push_back(std::move(m));
  }
  if (any_plain) {
    WEFT_INFO("connecting to etcd with http. This is insecure");
  }
  return std::unique_ptr<EtcdClient>(new EtcdClient(std::move(impl)));
}

base::Result<RangeResult> EtcdClient::range(const std::string& key, const std::string& range_end,
                                            bool serializable) {
  pb::RangeRequest req;
  req.set_key(key);
  req.set_range_end(range_end);
  req.set_serializable(serializable);
  pb::RangeResponse resp;
  auto st = impl_->call(Rpc::kRange, key, [&](Member& m, grpc::ClientContext& ctx) {
    resp.Clear();
    return m.kv->Range(&ctx, req, &resp);
  });
  if (!st.ok()) {
    return st;
  }
  RangeResult out;
  out.revision = resp.header().revision();
  out.kvs.reserve(static_cast<std::size_t>(resp.kvs_size()));
  for (auto& kv : *resp.mutable_kvs()) {
    out.kvs.push_back(from_pb(std::move(kv)));
  }
  return out;
}

base::Result<std::int64_t> EtcdClient::put(const std::string& key, const std::string& value,
                                           std::int64_t lease) {
  pb::PutRequest req;
  req.set_key(key);
  req.set_value(value);
  req.set_lease(lease);
  pb::PutResponse resp;
  auto st = impl_->call(Rpc::kPut, key, [&](Member& m, grpc::ClientContext& ctx) {
    return m.kv->Put(&ctx, req, &resp);
  });
  if (!st.ok()) {
    return st;
  }
  return resp.header().revision();
}

base::Result<std::int64_t> EtcdClient::delete_range(const std::string& key,
                                                    const std::string& range_end) {
  pb::DeleteRangeRequest req;
  req.set_key(key);
  req.set_range_end(range_end);
  pb::DeleteRangeResponse resp;
  auto st = impl_->call(Rpc::kDeleteRange, key, [&](Member& m, grpc::ClientContext& ctx) {
    return m.kv->DeleteRange(&ctx, req, &resp);
  });
  if (!st.ok()) {
    return st;
  }
  return resp.deleted();
}

namespace {

base::Result<TxnResult> run_txn(EtcdClient::Impl& impl, const std::string& key,
                                const pb::TxnRequest& req) {
  pb::TxnResponse resp;
  auto st = impl.call(Rpc::kTxn, key, [&](Member& m, grpc::ClientContext& ctx) {
    resp.Clear();
    return m.kv->Txn(&ctx, req, &resp);
  });
  if (!st.ok()) {
    return st;
  }
  TxnResult out;
  out.succeeded = resp.succeeded();
  out.revision = resp.header().revision();
  for (const auto& op : resp.responses()) {
    if (op.has_response_range()) {
      for (const auto& kv : op.response_range().kvs()) {
        out.kvs.push_back(from_pb(kv));
      }
    }
  }
  return out;
}

} // namespace

base::Result<TxnResult> EtcdClient::create(const std::string& key, const std::string& value,
                                           std::int64_t lease) {
  pb::TxnRequest req;
  auto* cmp = req.add_compare();
  cmp->set_key(key);
  cmp->set_target(pb::Compare::VERSION);
  cmp->set_result(pb::Compare::EQUAL);
  cmp->set_version(0);
  auto* put = req.add_success()->mutable_request_put();
  put->set_key(key);
  put->set_value(value);
  put->set_lease(lease);
  return run_txn(*impl_, key, req);
}

base::Result<TxnResult> EtcdClient::put_if_value(const std::string& key,
                                                 const std::string& expected,
                                                 const std::string& value, std::int64_t lease,
                                                 std::optional<std::int64_t> expected_lease) {
  pb::TxnRequest req;
  auto* cmp = req.add_compare();
  cmp->set_key(key);
  cmp->set_target(pb::Compare::VALUE);
  cmp->set_result(pb::Compare::EQUAL);
  cmp->set_value(expected);
  if (expected_lease) {
    auto* lc = req.add_compare();
    lc->set_key(key);
    lc->set_target(pb::Compare::LEASE);
    lc->set_result(pb::Compare::EQUAL);
    lc->set_lease(*expected_lease);
  }
  auto* put = req.add_success()->mutable_request_put();
  put->set_key(key);
  put->set_value(value);
  put->set_lease(lease);
  req.add_failure()->mutable_request_range()->set_key(key);
  return run_txn(*impl_, key, req);
}

base::Result<TxnResult> EtcdClient::delete_if_value(const std::string& key,
                                                    const std::string& expected) {
  pb::TxnRequest req;
  auto* cmp = req.add_compare();
  cmp->set_key(key);
  cmp->set_target(pb::Compare::VALUE);
  cmp->set_result(pb::Compare::EQUAL);
  cmp->set_value(expected);
  req.add_success()->mutable_request_delete_range()->set_key(key);
  return run_txn(*impl_, key, req);
}

base::Result<TxnResult> EtcdClient::delete_if_created(const std::string& key,
                                                      std::int64_t create_revision) {
  pb::TxnRequest req;
  auto* cmp = req.add_compare();
  cmp->set_key(key);
  cmp->set_target(pb::Compare::CREATE);
  cmp->set_result(pb::Compare::EQUAL);
  cmp->set_create_revision(create_revision);
  req.add_success()->mutable_request_delete_range()->set_key(key);
  return run_txn(*impl_, key, req);
}

base::Status EtcdClient::compact(std::int64_t revision) {
  pb::CompactionRequest req;
  req.set_revision(revision);
  req.set_physical(true);
  pb::CompactionResponse resp;
  return impl_->call(
      Rpc::kCompact, fmt::format("revision {}", revision),
      [&](Member& m, grpc::ClientContext& ctx) { return m.kv->Compact(&ctx, req, &resp); });
}

base::Result<LeaseGrant> EtcdClient::lease_grant(std::chrono::seconds ttl) {
  pb::LeaseGrantRequest req;
  req.set_ttl(ttl.count());
  pb::LeaseGrantResponse resp;
  auto st = impl_->call(
      Rpc::kLeaseGrant, fmt::format("ttl {}s", ttl.count()),
      [&](Member& m, grpc::ClientContext& ctx) { return m.lease->LeaseGrant(&ctx, req, &resp); });
  if (!st.ok()) {
    return st;
  }
  if (!resp.error().empty()) {
    return base::unavailable(fmt::format("etcd LeaseGrant: {}", resp.error()));
  }
  return LeaseGrant{resp.id(), resp.ttl()};
}

base::Status EtcdClient::lease_revoke(std::int64_t id) {
  pb::LeaseRevokeRequest req;
  req.set_id(id);
  pb::LeaseRevokeResponse resp;
  return impl_->call(
      Rpc::kLeaseRevoke, fmt::format("{:x}", id),
      [&](Member& m, grpc::ClientContext& ctx) { return m.lease->LeaseRevoke(&ctx, req, &resp); });
}

base::Result<std::int64_t> EtcdClient::lease_keep_alive_once(std::int64_t id) {
  pb::LeaseKeepAliveResponse resp;
  auto st = impl_->call(Rpc::kLeaseKeepAlive, fmt::format("{:x}", id),
                        [&](Member& m, grpc::ClientContext& ctx) {
                          auto rw = m.lease->LeaseKeepAlive(&ctx);
                          pb::LeaseKeepAliveRequest req;
                          req.set_id(id);
                          if (rw->Write(req)) {
                            rw->WritesDone();
                            if (!rw->Read(&resp)) {
                              resp.Clear();
                            }
                          }
                          pb::LeaseKeepAliveResponse drain;
                          while (rw->Read(&drain)) {
                          }
                          return rw->Finish();
                        });
  if (!st.ok()) {
    return st;
  }
  if (resp.ttl() <= 0) {
    return base::not_found(fmt::format("etcd lease {:x} not found or expired", id));
  }
  return resp.ttl();
}

base::Result<std::int64_t> EtcdClient::lease_time_to_live(std::int64_t id) {
  pb::LeaseTimeToLiveRequest req;
  req.set_id(id);
  pb::LeaseTimeToLiveResponse resp;
  auto st = impl_->call(Rpc::kLeaseTimeToLive, fmt::format("{:x}", id),
                        [&](Member& m, grpc::ClientContext& ctx) {
                          return m.lease->LeaseTimeToLive(&ctx, req, &resp);
                        });
  if (!st.ok()) {
    return st;
  }
  if (resp.ttl() < 0) {
    return base::not_found(fmt::format("etcd lease {:x} not found or expired", id));
  }
  return resp.ttl();
}

base::Result<std::unique_ptr<WatchStream>> EtcdClient::watch(const std::string& key,
                                                             const std::string& range_end,
                                                             std::int64_t start_revision,
                                                             bool progress_notify) {
  pb::WatchRequest req;
  auto* create = req.mutable_create_request();
  create->set_key(key);
  create->set_range_end(range_end);
  create->set_start_revision(start_revision);
  create->set_progress_notify(progress_notify);
  const std::size_t n = impl_->members_.size();
  base::Status last;
  for (std::size_t attempt = 0; attempt < n; ++attempt) {
    const std::size_t idx = impl_->current_.load() % n;
    if (!impl_->config_.username.empty()) {
      bool need = false;
      {
        std::lock_guard lock(impl_->token_mu_);
        need = impl_->token_.empty();
      }
      if (need) {
        last = impl_->authenticate(idx);
        if (!last.ok()) {
          if (last.code() != base::Code::kUnavailable) {
            break;
          }
          impl_->fail_over(idx, grpc::Status(grpc::StatusCode::UNAVAILABLE, last.message()));
          continue;
        }
      }
    }
    auto stream = std::make_unique<GrpcWatchStream>(impl_.get(), idx);
    last = stream->open(req);
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
  return impl_->members_[impl_->current_.load() % impl_->members_.size()].endpoint.host_port;
}

} // namespace weft::store::etcd
