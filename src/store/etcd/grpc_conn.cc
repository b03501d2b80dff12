#include "store/etcd/grpc_conn.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/hex.h"
#include "base/prefault.h"

namespace weft::store::etcd::grpc {
namespace {

constexpr std::int32_t kStreamWindow = 8 << 20;      // a whole lease listing without WINDOW_UPDATE
constexpr std::int32_t kConnectionWindow = 16 << 20; // room for two such streams
constexpr std::size_t kReadChunk = 64 << 10;
constexpr std::size_t kMaxReserve = 64u << 20;

std::string ssl_errors() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    out += out.empty() ? "" : "; ";
    out += buf;
  }
  return out.empty() ? "unknown TLS error" : out;
}

bool is_ip_literal(const std::string& host) {
  in6_addr a6{};
  in_addr a4{};
  return inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

int millis_until(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 1 << 30));
}

// Waits for fd to become ready for `events`; false at the deadline.
bool wait_fd(int fd, short events, Clock::time_point deadline) {
  while (true) {
    pollfd p{fd, events, 0};
    const int rc = ::poll(&p, 1, millis_until(deadline));
    if (rc > 0) {
      return true;
    }
    if (rc == 0 || (rc < 0 && errno != EINTR)) {
      return false;
    }
  }
}

// SIGPIPE blocked on this thread while alive; a SIGPIPE raised meanwhile is consumed.
class BlockSigpipe {
public:
  BlockSigpipe() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &old_);
  }
  ~BlockSigpipe() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    const timespec zero{0, 0};
    while (sigtimedwait(&set, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

private:
  sigset_t old_;
};

std::string grpc_timeout(Clock::time_point deadline) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  // At most 8 digits (gRPC over HTTP/2); one second short of a day in milliseconds fits.
  return fmt::format("{}m", std::clamp<long long>(ms.count(), 1, 99999999));
}

} // namespace

std::string percent_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size()) {
      const int hi = base::hex_digit(in[i + 1]);
      const int lo = base::hex_digit(in[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(in[i]);
  }
  return out;
}

Code code_from_http_status(int http_status) {
  switch (http_status) {
  case 400:
    return Code::kInternal;
  case 401:
    return Code::kUnauthenticated;
  case 403:
    return Code::kPermissionDenied;
  case 404:
    return Code::kUnimplemented;
  case 429:
  case 502:
  case 503:
  case 504:
    return Code::kUnavailable;
  default:
    return Code::kUnknown;
  }
}

// ---------------------------------------------------------------------------------------------
// TLS

base::Result<std::shared_ptr<TlsContext>> TlsContext::create(const std::string& ca_file,
                                                             const std::string& cert_file,
                                                             const std::string& key_file) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) {
    return base::internal_error("TLS: cannot create a context: " + ssl_errors());
  }
  std::shared_ptr<TlsContext> out(new TlsContext(ctx));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (!ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
      return base::invalid_argument(
          fmt::format("--etcd-cafile: no usable CA certificate in {}: {}", ca_file, ssl_errors()));
    }
  } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
    return base::internal_error("TLS: cannot load the system's CA certificates: " + ssl_errors());
  }
  if (!cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
      return base::invalid_argument(
          fmt::format("--etcd-certfile: no usable certificate in {}: {}", cert_file, ssl_errors()));
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      return base::invalid_argument(
          fmt::format("--etcd-keyfile: no usable private key in {}: {}", key_file, ssl_errors()));
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
      return base::invalid_argument(
          fmt::format("--etcd-keyfile {} does not match --etcd-certfile {}", key_file, cert_file));
    }
  }
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  if (SSL_CTX_set_alpn_protos(ctx, kAlpn, sizeof(kAlpn)) != 0) {
    return base::internal_error("TLS: cannot offer ALPN h2: " + ssl_errors());
  }
  return out;
}

TlsContext::~TlsContext() {
  SSL_CTX_free(ctx_);
}

// ---------------------------------------------------------------------------------------------
// nghttp2 callbacks: all run inside nghttp2_session_mem_recv/mem_send, under Connection::mu_.

struct Callbacks {
  static Call* find(Connection* c, std::int32_t stream_id) {
    const auto it = c->calls_.find(stream_id);
    return it == c->calls_.end() ? nullptr : it->second;
  }

  static Status final_status(const Call& call, std::uint32_t h2_error) {
    if (call.grpc_status_) {
      return {*call.grpc_status_, call.grpc_message_};
    }
    if (call.http_status_ != 0 && call.http_status_ != 200) {
      return {code_from_http_status(call.http_status_),
              fmt::format("HTTP status {} without a grpc-status", call.http_status_)};
    }
    if (h2_error == NGHTTP2_REFUSED_STREAM) {
      return {Code::kUnavailable, "the server refused the stream"};
    }
    if (h2_error == NGHTTP2_CANCEL) {
      return {Code::kCancelled, "the server cancelled the stream"};
    }
    if (h2_error != NGHTTP2_NO_ERROR) {
      return {Code::kUnavailable,
              fmt::format("stream reset by the server ({})", nghttp2_http2_strerror(h2_error))};
    }
    return {Code::kInternal, "the server ended the call without a grpc-status"};
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                       std::size_t namelen, const std::uint8_t* value, std::size_t valuelen,
                       std::uint8_t, void* user) {
    if (frame->hd.type != NGHTTP2_HEADERS) {
      return 0;
    }
    Call* call = find(static_cast<Connection*>(user), frame->hd.stream_id);
    if (call == nullptr) {
      return 0;
    }
    const std::string_view n(reinterpret_cast<const char*>(name), namelen);
    const std::string_view v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":status") {
      call->http_status_ = std::atoi(std::string(v).c_str());
    } else if (n == "grpc-status") {
      int code = 0;
      bool digits = !v.empty() && v.size() <= 3;
      for (char ch : v) {
        digits = digits && ch >= '0' && ch <= '9';
        code = code * 10 + (ch - '0');
      }
      call->grpc_status_ = digits && code <= 16 ? static_cast<Code>(code) : Code::kUnknown;
    } else if (n == "grpc-message") {
      call->grpc_message_ = percent_decode(v);
    }
    return 0;
  }

  static int on_data(nghttp2_session* session, std::uint8_t, std::int32_t stream_id,
                     const std::uint8_t* data, std::size_t len, void* user) {
    auto* conn = static_cast<Connection*>(user);
    Call* call = find(conn, stream_id);
    if (call == nullptr || call->ended_) {
      return 0;
    }
    call->in_.append(reinterpret_cast<const char*>(data), len);
    bool added = false;
    while (call->in_.size() >= 5) {
      const auto* p = reinterpret_cast<const unsigned char*>(call->in_.data());
      const std::size_t size = (std::size_t{p[1]} << 24) | (std::size_t{p[2]} << 16) |
                               (std::size_t{p[3]} << 8) | std::size_t{p[4]};
      if (p[0] != 0) {
        call->end_locked({Code::kInternal, "the server sent a compressed message"});
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
        return 0;
      }
      if (size > conn->options_.max_message_bytes) {
        call->end_locked({Code::kResourceExhausted,
                          fmt::format("a response message of {} bytes exceeds the limit of {}",
                                      size, conn->options_.max_message_bytes)});
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
        return 0;
      }
      if (call->in_.size() < size + 5) {
        // One allocation for a large message instead of doubling through it.
        if (call->in_.capacity() < size + 5 && size + 5 <= kMaxReserve) {
          call->in_.reserve(size + 5);
          base::prefault(call->in_.data() + call->in_.size(),
                         call->in_.capacity() - call->in_.size());
        }
        break;
      }
      if (call->in_.size() == size + 5) {
        call->messages_.push_back(std::move(call->in_));
        call->in_ = std::string();
      } else {
        call->messages_.push_back(call->in_.substr(0, size + 5));
        call->in_.erase(0, size + 5);
      }
      added = true;
    }
    if (added) {
      call->cv_.notify_all();
    }
    return 0;
  }

  static int on_frame(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
    auto* conn = static_cast<Connection*>(user);
    switch (frame->hd.type) {
    case NGHTTP2_PING:
      if ((frame->hd.flags & NGHTTP2_FLAG_ACK) != 0) {
        conn->ping_sent_.reset();
      }
      break;
    case NGHTTP2_GOAWAY: {
      conn->goaway_ = true;
      const std::string_view debug(reinterpret_cast<const char*>(frame->goaway.opaque_data),
                                   frame->goaway.opaque_data_len);
      if (frame->goaway.error_code == NGHTTP2_ENHANCE_YOUR_CALM &&
          debug.find("too_many_pings") != std::string_view::npos) {
        conn->too_many_pings_ = true;
      }
      break;
    }
    case NGHTTP2_HEADERS:
    case NGHTTP2_DATA:
      if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
        Call* call = find(conn, frame->hd.stream_id);
        if (call != nullptr && !call->ended_) {
          call->end_locked(final_status(*call, NGHTTP2_NO_ERROR));
          // The server finished first (a watch it cancelled): close our side too.
          if (nghttp2_session_get_stream_local_close(session, frame->hd.stream_id) == 0) {
            nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                      NGHTTP2_NO_ERROR);
          }
        }
      }
      break;
    default:
      break;
    }
    return 0;
  }

  static int on_close(nghttp2_session*, std::int32_t stream_id, std::uint32_t error_code,
                      void* user) {
    auto* conn = static_cast<Connection*>(user);
    Call* call = find(conn, stream_id);
    if (call != nullptr && !call->ended_) {
      if (error_code != NGHTTP2_NO_ERROR && !call->grpc_status_ && !conn->h2_error_.empty()) {
        // Closed by our side of the session after the server broke the protocol.
        call->end_locked({Code::kUnavailable, "HTTP/2: " + conn->h2_error_});
      } else {
        call->end_locked(final_status(*call, error_code));
      }
    }
    return 0;
  }

  // nghttp2's own account of a protocol error, e.g. a peer that does not speak HTTP/2.
  static int on_error(nghttp2_session*, int, const char* msg, std::size_t len, void* user) {
    static_cast<Connection*>(user)->h2_error_.assign(msg, len);
    return 0;
  }

  static ssize_t read_body(nghttp2_session*, std::int32_t stream_id, std::uint8_t* buf,
                           std::size_t length, std::uint32_t* flags, nghttp2_data_source*,
                           void* user) {
    Call* call = find(static_cast<Connection*>(user), stream_id);
    if (call == nullptr) {
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; // resets the stream of a destroyed call
    }
    const std::size_t n = std::min(length, call->out_.size() - call->out_sent_);
    std::memcpy(buf, call->out_.data() + call->out_sent_, n);
    call->out_sent_ += n;
    if (call->out_sent_ == call->out_.size()) {
      call->out_.clear();
      call->out_sent_ = 0;
      if (call->out_last_) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        return static_cast<ssize_t>(n);
      }
    }
    return n == 0 ? static_cast<ssize_t>(NGHTTP2_ERR_DEFERRED) : static_cast<ssize_t>(n);
  }
};

// ---------------------------------------------------------------------------------------------
// Call

Call::~Call() {
  {
    std::lock_guard lock(conn_->mu_);
    if (!ended_ && !conn_->failed_ && conn_->session_ != nullptr) {
      nghttp2_submit_rst_stream(conn_->session_, NGHTTP2_FLAG_NONE, stream_id_, NGHTTP2_CANCEL);
    }
    conn_->calls_.erase(stream_id_);
  }
  conn_->wake();
}

void Call::end_locked(Status status) {
  ended_ = true;
  status_ = std::move(status);
  cv_.notify_all();
}

template <typename Pred> void Call::wait(std::unique_lock<std::mutex>& lock, Pred pred) {
  if (!deadline_) {
    cv_.wait(lock, pred);
    return;
  }
  if (!cv_.wait_until(lock, *deadline_, pred)) {
    end_locked({Code::kDeadlineExceeded, "deadline exceeded"});
    if (!conn_->failed_) {
      nghttp2_submit_rst_stream(conn_->session_, NGHTTP2_FLAG_NONE, stream_id_, NGHTTP2_CANCEL);
      conn_->wake();
    }
  }
}

bool Call::send(std::string_view message, bool last) {
  {
    std::lock_guard lock(conn_->mu_);
    if (ended_ || out_last_) {
      return false;
    }
    const auto size = static_cast<std::uint32_t>(message.size());
    const char prefix[5] = {0, static_cast<char>(size >> 24), static_cast<char>(size >> 16),
                            static_cast<char>(size >> 8), static_cast<char>(size)};
    out_.append(prefix, 5);
    out_.append(message);
    out_last_ = last;
    if (stream_id_ > 0) {
      nghttp2_session_resume_data(conn_->session_, stream_id_);
    }
  }
  conn_->wake();
  return true;
}

std::optional<std::string> Call::receive() {
  std::unique_lock lock(conn_->mu_);
  wait(lock, [&] { return !messages_.empty() || ended_; });
  if (messages_.empty()) {
    return std::nullopt;
  }
  std::string msg = std::move(messages_.front());
  messages_.pop_front();
  lock.unlock();
  msg.erase(0, 5);
  return msg;
}

Status Call::finish() {
  std::unique_lock lock(conn_->mu_);
  wait(lock, [&] { return ended_; });
  return status_;
}

void Call::cancel() {
  {
    std::lock_guard lock(conn_->mu_);
    if (ended_) {
      return;
    }
    end_locked({Code::kCancelled, "cancelled"});
    if (!conn_->failed_) {
      nghttp2_submit_rst_stream(conn_->session_, NGHTTP2_FLAG_NONE, stream_id_, NGHTTP2_CANCEL);
    }
  }
  conn_->wake();
}

// ---------------------------------------------------------------------------------------------
// Connection

base::Result<std::shared_ptr<Connection>> Connection::open(const ConnectionOptions& options,
                                                           Clock::time_point deadline) {
  std::shared_ptr<Connection> conn(new Connection(options));
  if (auto st = conn->connect(deadline); !st.ok()) {
    return st;
  }
  if (auto st = conn->setup_session(); !st.ok()) {
    return st;
  }
  conn->thread_ = std::thread([c = conn.get()] { c->run(); });
  return conn;
}

Connection::~Connection() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake();
  if (thread_.joinable()) {
    thread_.join();
  }
  if (session_ != nullptr) {
    nghttp2_session_del(session_);
  }
  if (ssl_ != nullptr) {
    SSL_free(ssl_);
  }
  if (fd_ >= 0) {
    ::close(fd_);
  }
  if (wake_fd_ >= 0) {
    ::close(wake_fd_);
  }
}

base::Status Connection::connect(Clock::time_point deadline) {
  const std::string where = fmt::format("{}:{}", options_.host, options_.port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (const int rc = ::getaddrinfo(options_.host.c_str(), options_.port.c_str(), &hints, &res);
      rc != 0) {
    return base::unavailable(fmt::format("resolving {}: {}", where, gai_strerror(rc)));
  }
  std::string last = "no address";
  for (addrinfo* ai = res; ai != nullptr && fd_ < 0; ai = ai->ai_next) {
    const int fd = ::socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      last = std::strerror(errno);
      continue;
    }
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc < 0 && errno == EINPROGRESS) {
      if (!wait_fd(fd, POLLOUT, deadline)) {
        last = "timed out";
        ::close(fd);
        continue;
      }
      int err = 0;
      socklen_t len = sizeof(err);
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      rc = err == 0 ? 0 : -1;
      errno = err;
    }
    if (rc < 0) {
      last = std::strerror(errno);
      ::close(fd);
      continue;
    }
    fd_ = fd;
  }
  ::freeaddrinfo(res);
  if (fd_ < 0) {
    return base::unavailable(fmt::format("connecting to {}: {}", where, last));
  }
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    return base::internal_error(fmt::format("eventfd: {}", std::strerror(errno)));
  }
  if (!options_.tls) {
    return {};
  }

  BlockSigpipe no_sigpipe;
  ERR_clear_error();
  ssl_ = SSL_new(options_.tls->get());
  if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1) {
    return base::internal_error("TLS: " + ssl_errors());
  }
  SSL_set_connect_state(ssl_);
  if (is_ip_literal(options_.host)) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), options_.host.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl_, options_.host.c_str());
    SSL_set1_host(ssl_, options_.host.c_str());
  }
  while (true) {
    ERR_clear_error();
    const int rc = SSL_connect(ssl_);
    if (rc == 1) {
      break;
    }
    const int err = SSL_get_error(ssl_, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      if (!wait_fd(fd_, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
        return base::unavailable(fmt::format("TLS handshake with {}: timed out", where));
      }
      continue;
    }
    const long verify = SSL_get_verify_result(ssl_);
    if (verify != X509_V_OK) {
      return base::unavailable(fmt::format("TLS handshake with {}: certificate not trusted: {}",
                                           where, X509_verify_cert_error_string(verify)));
    }
    return base::unavailable(fmt::format("TLS handshake with {}: {}", where, ssl_errors()));
  }
  const unsigned char* proto = nullptr;
  unsigned int proto_len = 0;
  SSL_get0_alpn_selected(ssl_, &proto, &proto_len);
  if (proto_len != 2 || std::memcmp(proto, "h2", 2) != 0) {
    return base::unavailable(
        fmt::format("TLS handshake with {}: the server did not agree to HTTP/2 (ALPN h2)", where));
  }
  return {};
}

base::Status Connection::setup_session() {
  nghttp2_session_callbacks* cbs = nullptr;
  if (nghttp2_session_callbacks_new(&cbs) != 0) {
    return base::internal_error("nghttp2: out of memory");
  }
  nghttp2_session_callbacks_set_on_header_callback(cbs, &Callbacks::on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &Callbacks::on_data);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &Callbacks::on_frame);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &Callbacks::on_close);
  nghttp2_session_callbacks_set_error_callback2(cbs, &Callbacks::on_error);
  const int rc = nghttp2_session_client_new(&session_, cbs, this);
  nghttp2_session_callbacks_del(cbs);
  if (rc != 0) {
    return base::internal_error(fmt::format("nghttp2: {}", nghttp2_strerror(rc)));
  }
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<std::uint32_t>(kStreamWindow)},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
  last_read_ = Clock::now();
  return {};
}

void Connection::wake() {
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(wake_fd_, &one, sizeof(one));
}

bool Connection::usable() const {
  std::lock_guard lock(mu_);
  return !failed_ && !goaway_;
}

bool Connection::told_too_many_pings() const {
  std::lock_guard lock(mu_);
  return too_many_pings_;
}

void Connection::fail_locked(const std::string& why) {
  if (failed_) {
    return;
  }
  failed_ = true;
  failure_ = why;
  for (auto& [id, call] : calls_) {
    if (!call->ended_) {
      call->end_locked({Code::kUnavailable, why});
    }
  }
}

long Connection::read_some(char* buf, std::size_t len) {
  if (ssl_ == nullptr) {
    const ssize_t n = ::recv(fd_, buf, len, 0);
    if (n > 0) {
      return n;
    }
    if (n == 0) {
      io_error_ = "connection closed by the server";
      return -1;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      return 0;
    }
    io_error_ = fmt::format("read: {}", std::strerror(errno));
    return -1;
  }
  ssl_read_wants_write_ = false;
  ERR_clear_error();
  const int n = SSL_read(ssl_, buf, static_cast<int>(std::min<std::size_t>(len, 1 << 30)));
  if (n > 0) {
    return n;
  }
  const int err = SSL_get_error(ssl_, n);
  if (err == SSL_ERROR_WANT_READ) {
    return 0;
  }
  if (err == SSL_ERROR_WANT_WRITE) {
    ssl_read_wants_write_ = true;
    return 0;
  }
  io_error_ = err == SSL_ERROR_ZERO_RETURN ? "connection closed by the server"
                                           : "TLS read: " + ssl_errors();
  return -1;
}

long Connection::write_some(const char* buf, std::size_t len) {
  if (ssl_ == nullptr) {
    const ssize_t n = ::send(fd_, buf, len, MSG_NOSIGNAL);
    if (n >= 0) {
      return n;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      return 0;
    }
    io_error_ = fmt::format("write: {}", std::strerror(errno));
    return -1;
  }
  ERR_clear_error();
  const int n = SSL_write(ssl_, buf, static_cast<int>(std::min<std::size_t>(len, 1 << 30)));
  if (n > 0) {
    return n;
  }
  const int err = SSL_get_error(ssl_, n);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
    return 0;
  }
  io_error_ = "TLS write: " + ssl_errors();
  return -1;
}

void Connection::run() {
  // SSL_write may raise SIGPIPE on a closed socket; keep it on this thread, pending, harmless.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  std::string out;
  std::size_t out_off = 0;
  std::vector<char> buf(kReadChunk);
  while (true) {
    int timeout_ms = -1;
    bool session_done = false;
    {
      std::lock_guard lock(mu_);
      if (stop_ || failed_) {
        return;
      }
      const auto now = Clock::now();
      if (ping_sent_ && now - *ping_sent_ >= options_.keepalive_timeout) {
        fail_locked(fmt::format("no answer to a keepalive ping within {} ms",
                                options_.keepalive_timeout.count()));
        return;
      }
      if (!calls_.empty() && !ping_sent_ && now - last_read_ >= options_.keepalive_time) {
        nghttp2_submit_ping(session_, NGHTTP2_FLAG_NONE, nullptr);
        ping_sent_ = now;
      }
      if (ping_sent_) {
        timeout_ms = millis_until(*ping_sent_ + options_.keepalive_timeout) + 1;
      } else if (!calls_.empty()) {
        timeout_ms = millis_until(last_read_ + options_.keepalive_time) + 1;
      }
      while (out.size() - out_off < (256u << 10)) {
        const std::uint8_t* data = nullptr;
        const ssize_t n = nghttp2_session_mem_send(session_, &data);
        if (n < 0) {
          fail_locked(fmt::format("HTTP/2: {}", nghttp2_strerror(static_cast<int>(n))));
          return;
        }
        if (n == 0) {
          break;
        }
        out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
      }
      session_done = !nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_);
    }
    while (out_off < out.size()) {
      const long n = write_some(out.data() + out_off, out.size() - out_off);
      if (n < 0) {
        std::lock_guard lock(mu_);
        fail_locked(io_error_);
        return;
      }
      if (n == 0) {
        break;
      }
      out_off += static_cast<std::size_t>(n);
    }
    if (out_off == out.size()) {
      out.clear();
      out_off = 0;
    }
    if (session_done) {
      // The session closed itself (a GOAWAY after a protocol error, written above if it could).
      std::lock_guard lock(mu_);
      fail_locked(h2_error_.empty() ? "the HTTP/2 session ended" : "HTTP/2: " + h2_error_);
      return;
    }
    const bool pending_tls = ssl_ != nullptr && SSL_pending(ssl_) > 0;
    pollfd fds[2] = {
        {fd_, static_cast<short>(POLLIN | (out.empty() && !ssl_read_wants_write_ ? 0 : POLLOUT)),
         0},
        {wake_fd_, POLLIN, 0},
    };
    const int rc = ::poll(fds, 2, pending_tls ? 0 : timeout_ms);
    if (rc < 0 && errno != EINTR) {
      std::lock_guard lock(mu_);
      fail_locked(fmt::format("poll: {}", std::strerror(errno)));
      return;
    }
    if (rc > 0 && (fds[1].revents & POLLIN) != 0) {
      std::uint64_t ignored = 0;
      [[maybe_unused]] const auto n = ::read(wake_fd_, &ignored, sizeof(ignored));
    }
    if (pending_tls || (rc > 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) ||
        (ssl_read_wants_write_ && (fds[0].revents & POLLOUT) != 0)) {
      while (true) {
        const long n = read_some(buf.data(), buf.size());
        if (n == 0) {
          break;
        }
        std::lock_guard lock(mu_);
        if (n < 0) {
          fail_locked(io_error_);
          return;
        }
        last_read_ = Clock::now();
        ping_sent_.reset(); // any byte proves the link; a ping's ACK too
        const ssize_t used =
            nghttp2_session_mem_recv(session_, reinterpret_cast<const std::uint8_t*>(buf.data()),
                                     static_cast<std::size_t>(n));
        if (used < 0) {
          fail_locked(fmt::format("HTTP/2: {}", h2_error_.empty()
                                                    ? nghttp2_strerror(static_cast<int>(used))
                                                    : h2_error_));
          return;
        }
        if (!h2_error_.empty()) {
          // nghttp2 queued a GOAWAY for a protocol error: no new calls on this connection.
          goaway_ = true;
        }
      }
    }
  }
}

base::Result<std::unique_ptr<Call>> Connection::start(std::string_view path,
                                                      const std::vector<Metadata>& metadata,
                                                      std::optional<Clock::time_point> deadline) {
  const bool tls = options_.tls != nullptr;
  const std::string authority = options_.host.find(':') != std::string::npos
                                    ? fmt::format("[{}]:{}", options_.host, options_.port)
                                    : fmt::format("{}:{}", options_.host, options_.port);
  const std::string timeout = deadline ? grpc_timeout(*deadline) : std::string();
  std::vector<nghttp2_nv> nva;
  auto add = [&](std::string_view name, std::string_view value, bool sensitive = false) {
    nva.push_back(nghttp2_nv{
        const_cast<std::uint8_t*>(reinterpret_cast<const std::uint8_t*>(name.data())),
        const_cast<std::uint8_t*>(reinterpret_cast<const std::uint8_t*>(value.data())), name.size(),
        value.size(),
        static_cast<std::uint8_t>(sensitive ? NGHTTP2_NV_FLAG_NO_INDEX : NGHTTP2_NV_FLAG_NONE)});
  };
  add(":method", "POST");
  add(":scheme", tls ? "https" : "http");
  add(":path", path);
  add(":authority", authority);
  add("content-type", "application/grpc");
  add("te", "trailers");
  add("user-agent", "weft-etcd-client/1");
  if (deadline) {
    add("grpc-timeout", timeout);
  }
  for (const auto& m : metadata) {
    add(m.name, m.value, m.sensitive);
  }

  std::unique_ptr<Call> call(new Call(shared_from_this(), deadline));
  {
    std::lock_guard lock(mu_);
    if (failed_ || goaway_) {
      return base::unavailable(failed_ ? failure_ : "the server sent GOAWAY");
    }
    nghttp2_data_provider body{};
    body.read_callback = &Callbacks::read_body;
    const std::int32_t id =
        nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(), &body, nullptr);
    if (id < 0) {
      if (id == NGHTTP2_ERR_STREAM_ID_NOT_AVAILABLE) {
        goaway_ = true; // stream IDs used up: a new connection is needed
      }
      call->ended_ = true; // nothing to reset
      return base::unavailable(fmt::format("HTTP/2: {}", nghttp2_strerror(id)));
    }
    call->stream_id_ = id;
    calls_[id] = call.get();
  }
  wake();
  return call;
}

Connection::Unary Connection::unary(std::string_view path, const std::vector<Metadata>& metadata,
                                    std::string_view request, Clock::time_point deadline) {
  Unary out;
  auto call = start(path, metadata, deadline);
  if (!call.ok()) {
    out.status = {Code::kUnavailable, call.status().message()};
    return out;
  }
  (*call)->send(request, true);
  auto msg = (*call)->receive();
  out.status = (*call)->finish();
  if (out.status.ok()) {
    if (!msg) {
      out.status = {Code::kInternal, "the server sent no response message"};
    } else {
      out.response = std::move(*msg);
    }
  }
  return out;
}

} // namespace weft::store::etcd::grpc
