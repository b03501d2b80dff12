#pragma once
// A gRPC client connection of our own: HTTP/2 (libnghttp2 for framing, HPACK and flow control)
// over TCP or TLS (OpenSSL, ALPN "h2"), one I/O thread per connection, calls that send and
// receive length-prefixed messages. weftd needs a handful of etcd calls; this is what it costs
// instead of linking gRPC, protobuf and absl (about 9 MB of resident code).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/status.h"

struct nghttp2_session;
struct ssl_ctx_st;
struct ssl_st;

namespace weft::store::etcd::grpc {

using Clock = std::chrono::steady_clock;

// gRPC status codes (grpc/status.h numbering, as on the wire in grpc-status).
enum class Code : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

struct Status {
  Code code = Code::kOk;
  std::string message;
  bool ok() const { return code == Code::kOk; }
};

// grpc-message is percent-encoded on the wire (gRPC over HTTP/2 spec).
std::string percent_decode(std::string_view in);
// A gRPC status from an HTTP status when the response carries no grpc-status.
Code code_from_http_status(int http_status);

// One header sent with a call. Sensitive values (an auth token) are never put in the HPACK
// dynamic table.
struct Metadata {
  std::string name;
  std::string value;
  bool sensitive = false;
};

// The TLS settings shared by the connections of one client.
class TlsContext {
public:
  // ca_file empty: the system's roots. cert_file and key_file: a client certificate, or both
  // empty. invalid_argument naming the flag when a file cannot be used.
  static base::Result<std::shared_ptr<TlsContext>>
  create(const std::string& ca_file, const std::string& cert_file, const std::string& key_file);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  ssl_ctx_st* get() const { return ctx_; }

private:
  explicit TlsContext(ssl_ctx_st* ctx) : ctx_(ctx) {}
  ssl_ctx_st* ctx_;
};

struct ConnectionOptions {
  std::string host; // a name or an IP literal (without brackets)
  std::string port;
  std::shared_ptr<TlsContext> tls; // null: plaintext HTTP/2 (h2c with prior knowledge)
  // While calls are open, a PING goes out after this long without a byte from the peer; the
  // connection is closed when the PING is not answered within keepalive_timeout.
  std::chrono::milliseconds keepalive_time{10000};
  std::chrono::milliseconds keepalive_timeout{5000};
  std::size_t max_message_bytes = 256u << 20;
};

class Connection;

// One call (HTTP/2 stream). Thread-safe: one thread may send while another receives.
class Call {
public:
  ~Call(); // cancels the call if it is still open
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  // Queues one request message; `last` half-closes the request side. False when the call ended.
  bool send(std::string_view message, bool last);
  // The next response message, or nullopt when the call ended (status() tells how). Waits until
  // the call's deadline, if it has one.
  std::optional<std::string> receive();
  // Waits for the end of the call and returns its status.
  Status finish();
  // Ends the call at once (RST_STREAM CANCEL); receive() returns nullopt with kCancelled.
  void cancel();

private:
  friend class Connection;
  friend struct Callbacks;
  Call(std::shared_ptr<Connection> conn, std::optional<Clock::time_point> deadline)
      : conn_(std::move(conn)), deadline_(deadline) {}
  // Waits (mu_ held) until pred or the deadline; on the deadline the call ends.
  template <typename Pred> void wait(std::unique_lock<std::mutex>& lock, Pred pred);
  void end_locked(Status status);

  std::shared_ptr<Connection> conn_;
  std::optional<Clock::time_point> deadline_;
  std::int32_t stream_id_ = -1;
  // Guarded by the connection's mutex.
  std::string out_;
  std::size_t out_sent_ = 0;
  bool out_last_ = false;
  std::string in_; // bytes of a message not yet complete
  std::deque<std::string> messages_;
  int http_status_ = 0;
  std::optional<Code> grpc_status_;
  std::string grpc_message_;
  bool ended_ = false;
  Status status_;
  std::condition_variable cv_;
};

class Connection : public std::enable_shared_from_this<Connection> {
public:
  // Connects (TCP, then TLS when configured), sends the HTTP/2 preface and starts the I/O thread.
  // unavailable when the peer cannot be reached before the deadline.
  static base::Result<std::shared_ptr<Connection>> open(const ConnectionOptions& options,
                                                        Clock::time_point deadline);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Starts a call to `path` ("/etcdserverpb.KV/Range"). The request follows with Call::send.
  // unavailable when the connection is closed or draining (GOAWAY).
  base::Result<std::unique_ptr<Call>> start(std::string_view path,
                                            const std::vector<Metadata>& metadata,
                                            std::optional<Clock::time_point> deadline);
  // False once the connection failed or the peer asked it to go away: open a new one.
  bool usable() const;
  // True once the peer sent GOAWAY with ENHANCE_YOUR_CALM "too_many_pings".
  bool told_too_many_pings() const;

  // Unary call helper: one request, one response.
  struct Unary {
    Status status;
    std::string response;
  };
  Unary unary(std::string_view path, const std::vector<Metadata>& metadata,
              std::string_view request, Clock::time_point deadline);

private:
  friend class Call;
  explicit Connection(const ConnectionOptions& options) : options_(options) {}
  base::Status connect(Clock::time_point deadline);
  base::Status setup_session();
  void run();
  void fail_locked(const std::string& why);
  void wake();
  // I/O on the socket (TLS or plain): bytes moved, 0 when it would block, -1 on error/EOF.
  long read_some(char* buf, std::size_t len);
  long write_some(const char* buf, std::size_t len);

  // nghttp2 callbacks (C ABI trampolines in the .cc).
  friend struct Callbacks;

  ConnectionOptions options_;
  int fd_ = -1;
  int wake_fd_ = -1;
  ssl_st* ssl_ = nullptr;
  std::string io_error_;
  bool ssl_read_wants_write_ = false;

  mutable std::mutex mu_;
  nghttp2_session* session_ = nullptr;
  std::unordered_map<std::int32_t, Call*> calls_;
  bool stop_ = false;
  bool failed_ = false;
  bool goaway_ = false;
  bool too_many_pings_ = false;
  std::string failure_;
  std::string h2_error_; // nghttp2's message for the last protocol error
  Clock::time_point last_read_{};
  std::optional<Clock::time_point> ping_sent_;

  std::thread thread_;
};

} // namespace weft::store::etcd::grpc
