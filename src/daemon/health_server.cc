#include "daemon/health_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <exception>
#include <optional>
#include <stop_token>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "base/fd.h"
#include "base/log.h"

namespace weft::daemon {
namespace {

// Deadlines here bound real socket waits (poll timeouts), so they read the steady clock directly
// rather than a base::Clock: a manual clock could not make a socket time out.
using SteadyClock = std::chrono::steady_clock;

// A kubelet probe or a Prometheus scrape sends its whole request at once. A client that has not
// done so by then is broken or hostile, and is dropped so that it cannot hold up the next probe.
constexpr std::chrono::milliseconds kReadDeadline{2000};
constexpr std::chrono::milliseconds kWriteDeadline{2000};
// How long to swallow input a client is still sending after an error response (see linger_close).
constexpr std::chrono::milliseconds kLingerDeadline{500};
constexpr std::size_t kMaxLingerBytes = 256 * 1024;
// Back-off after accept() fails for lack of resources (EMFILE, ENOBUFS, ...), which would
// otherwise be retried in a busy loop while the pending connection keeps the socket readable.
constexpr std::chrono::milliseconds kAcceptBackoff{100};
constexpr std::size_t kMaxHead = 8 * 1024;
constexpr int kBacklog = 64;
// Threads that each accept and serve one connection at a time: a client that holds a connection
// open (up to the read deadline) then delays a kubelet probe only when this many do at once.
constexpr int kWorkers = 4;
constexpr std::string_view kAllowed = "GET, HEAD";

using base::Fd;

enum class Wait { kReady, kTimeout, kStopped, kError };

// Waits until `fd` has one of `events`, the deadline passes, or stop() has signalled `wake_fd`
// (which then stays readable, so every later wait also returns kStopped). A negative `fd` is
// ignored by poll(), which turns this into a sleep that stop() interrupts.
Wait wait_for(int fd, short events, int wake_fd, SteadyClock::time_point deadline) {
  for (;;) {
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
    if (left <= 0) {
      return Wait::kTimeout;
    }
    std::array<pollfd, 2> fds{{{fd, events, 0}, {wake_fd, POLLIN, 0}}};
    // Capped so that a far deadline does not overflow poll's int timeout.
    const int timeout_ms = static_cast<int>(std::min<std::int64_t>(left, 60'000));
    if (::poll(fds.data(), fds.size(), timeout_ms) < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Wait::kError;
    }
    if (fds[1].revents != 0) {
      return Wait::kStopped;
    }
    if (fds[0].revents != 0) {
      // Also POLLERR / POLLHUP: the next recv, send or accept reports what happened.
      return Wait::kReady;
    }
  }
}

// Where the request head ends (just past the empty line that ends it), or npos. Empty lines before
// the request line are skipped (RFC 9112 2.2), and a bare LF is accepted as a line end. Lines
// ending before `from` have been looked at already.
std::size_t find_head_end(std::string_view buf, std::size_t from) {
  const std::size_t first = buf.find_first_not_of("\r\n");
  if (first == std::string_view::npos) {
    return std::string_view::npos;
  }
  for (std::size_t i = buf.find('\n', std::max(first, from)); i != std::string_view::npos;
       i = buf.find('\n', i + 1)) {
    if (i + 1 < buf.size() && buf[i + 1] == '\n') {
      return i + 2;
    }
    if (i + 2 < buf.size() && buf[i + 1] == '\r' && buf[i + 2] == '\n') {
      return i + 3;
    }
  }
  return std::string_view::npos;
}

bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
    return true;
  }
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

struct RequestLine {
  std::string_view method;
  std::string_view path; // the target without its query string
};

// "METHOD SP origin-form-target SP HTTP/1.x"; anything else is a bad request.
std::optional<RequestLine> parse_request_line(std::string_view head) {
  const std::size_t first = head.find_first_not_of("\r\n");
  std::string_view line = head.substr(first, head.find('\n', first) - first);
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  const std::size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) {
    return std::nullopt;
  }
  const std::size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) {
    return std::nullopt;
  }
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (method.empty() || !std::all_of(method.begin(), method.end(), is_token_char)) {
    return std::nullopt;
  }
  if (target.empty() || target.front() != '/' ||
      std::any_of(target.begin(), target.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u <= 0x20 || u == 0x7f;
      })) {
    return std::nullopt;
  }
  if (version.size() != 8 || version.substr(0, 7) != "HTTP/1." || version[7] < '0' ||
      version[7] > '9') {
    return std::nullopt;
  }
  return RequestLine{method, target.substr(0, target.find_first_of("?#"))};
}

struct Response {
  int status = 200;
  std::string content_type = "text/plain";
  std::string body;
  bool allow = false; // send "Allow: GET, HEAD" (with 405)
};

Response text_response(int status, std::string body, std::string content_type = "text/plain") {
  return Response{status, std::move(content_type), std::move(body), status == 405};
}

std::string_view reason_phrase(int status) {
  switch (status) {
  case 200:
    return "OK";
  case 400:
    return "Bad Request";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 431:
    return "Request Header Fields Too Large";
  case 500:
    return "Internal Server Error";
  case 503:
    return "Service Unavailable";
  default:
    return "Unknown";
  }
}

// The whole response: every one has a Content-Length and closes the connection, so a client never
// has to guess where the body ends. A HEAD response has the headers of the GET response only.
std::string serialize(const Response& r, bool head_only) {
  std::string out = fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
                                r.status, reason_phrase(r.status), r.content_type, r.body.size());
  if (r.allow) {
    out += fmt::format("Allow: {}\r\n", kAllowed);
  }
  out += "Connection: close\r\n\r\n";
  if (!head_only) {
    out += r.body;
  }
  return out;
}

// Sends all of `data` on the non-blocking socket `fd`. False when the client is gone, too slow, or
// the server is stopping.
bool send_all(int fd, int wake_fd, std::string_view data, SteadyClock::time_point deadline) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (wait_for(fd, POLLOUT, wake_fd, deadline) != Wait::kReady) {
        return false;
      }
      continue;
    }
    return false;
  }
  return true;
}

// Closing a socket that still has unread input makes the kernel send a reset, and a reset can
// discard the response before the client has read it. So stop sending, and swallow what the client
// still sends (a body, the rest of an oversized head) until it closes, up to `deadline`.
void linger_close(int fd, int wake_fd, SteadyClock::time_point deadline) {
  ::shutdown(fd, SHUT_WR);
  std::array<char, 4096> buf;
  std::size_t swallowed = 0;
  for (;;) {
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n > 0) {
      swallowed += static_cast<std::size_t>(n);
      if (swallowed > kMaxLingerBytes) {
        return;
      }
      continue;
    }
    if (n == 0) {
      return;
    }
    if (errno == EINTR) {
      continue;
    }
    if ((errno != EAGAIN && errno != EWOULDBLOCK) ||
        wait_for(fd, POLLIN, wake_fd, deadline) != Wait::kReady) {
      return;
    }
  }
}

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  sa_family_t family() const { return storage.ss_family; }
};

// An IPv4 or IPv6 literal and a port; nullopt for anything else (host names are not resolved).
std::optional<SocketAddress> parse_address(const std::string& ip, int port) {
  if (port < 0 || port > 65535) {
    return std::nullopt;
  }
  SocketAddress out;
  sockaddr_in v4{};
  sockaddr_in6 v6{};
  if (::inet_pton(AF_INET, ip.c_str(), &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(static_cast<std::uint16_t>(port));
    std::memcpy(&out.storage, &v4, sizeof v4);
    out.length = sizeof v4;
  } else if (::inet_pton(AF_INET6, ip.c_str(), &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(static_cast<std::uint16_t>(port));
    std::memcpy(&out.storage, &v6, sizeof v6);
    out.length = sizeof v6;
  } else {
    return std::nullopt;
  }
  return out;
}

bool is_known_path(std::string_view path) {
  return path == "/healthz" || path == "/readyz" || path == "/metrics";
}

} // namespace

struct HealthServer::Impl {
  ReadyFn ready;
  MetricsFn metrics;
  Fd listen_fd;
  Fd wake_fd;                        // an eventfd that stop() makes readable
  std::vector<std::jthread> workers; // all accept on listen_fd; a lost race is EAGAIN
  int port = 0;

  void serve(const std::stop_token& stop);
  void serve_connection(int fd);
  Response respond(std::string_view path);
};

void HealthServer::Impl::serve(const std::stop_token& stop) {
  bool accept_failing = false;
  while (!stop.stop_requested()) {
    const Wait w = wait_for(listen_fd.get(), POLLIN, wake_fd.get(), SteadyClock::time_point::max());
    if (w == Wait::kStopped) {
      return;
    }
    if (w != Wait::kReady) {
      wait_for(-1, 0, wake_fd.get(), SteadyClock::now() + kAcceptBackoff);
      continue;
    }
    Fd conn(::accept4(listen_fd.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!conn.valid()) {
      const int err = errno;
      if (err == EINTR || err == EAGAIN || err == EWOULDBLOCK || err == ECONNABORTED ||
          err == EPROTO) {
        continue; // the client gave up before we got to it, or a spurious wake-up
      }
      if (!accept_failing) {
        WEFT_WARN("health server: accept: {}", std::strerror(err));
        accept_failing = true;
      }
      wait_for(-1, 0, wake_fd.get(), SteadyClock::now() + kAcceptBackoff);
      continue;
    }
    if (accept_failing) {
      WEFT_INFO("health server: accepting connections again");
      accept_failing = false;
    }
    try {
      serve_connection(conn.get());
    } catch (const std::exception& e) {
      // A throwing ready or metrics function, or no memory: drop this connection, keep serving.
      WEFT_WARN("health server: dropped a connection: {}", e.what());
    } catch (...) {
      WEFT_WARN("health server: dropped a connection: unknown exception");
    }
  }
}

void HealthServer::Impl::serve_connection(int fd) {
  const int wake = wake_fd.get();
  const auto read_deadline = SteadyClock::now() + kReadDeadline;
  std::string buf(kMaxHead, '\0');
  std::size_t used = 0;
  std::size_t head_end = std::string_view::npos;
  while (used < kMaxHead) {
    const ssize_t n = ::recv(fd, buf.data() + used, kMaxHead - used, 0);
    if (n > 0) {
      const std::size_t from = used >= 2 ? used - 2 : 0;
      used += static_cast<std::size_t>(n);
      head_end = find_head_end(std::string_view(buf.data(), used), from);
      if (head_end != std::string_view::npos) {
        break;
      }
      continue;
    }
    if (n == 0) {
      return; // the client went away before finishing its request
    }
    if (errno == EINTR) {
      continue;
    }
    if ((errno != EAGAIN && errno != EWOULDBLOCK) ||
        wait_for(fd, POLLIN, wake, read_deadline) != Wait::kReady) {
      return; // an error, too slow, or stopping: close without an answer
    }
  }

  Response response;
  bool head_only = false;
  bool consumed = false; // the whole request has been read, so closing will not reset
  if (head_end == std::string_view::npos) {
    response = text_response(431, "431 request header fields too large\n");
  } else if (const auto line = parse_request_line(std::string_view(buf.data(), head_end)); !line) {
    response = text_response(400, "400 bad request\n");
  } else {
    const bool get_or_head = line->method == "GET" || line->method == "HEAD";
    if (!is_known_path(line->path)) {
      response = text_response(404, "404 page not found\n");
    } else if (!get_or_head) {
      response = text_response(405, "405 method not allowed\n");
    } else {
      response = respond(line->path);
    }
    head_only = line->method == "HEAD";
    consumed = get_or_head && used == head_end;
  }

  if (!send_all(fd, wake, serialize(response, head_only), SteadyClock::now() + kWriteDeadline)) {
    return;
  }
  linger_close(fd, wake, consumed ? SteadyClock::now() : SteadyClock::now() + kLingerDeadline);
}

// The answer to a GET or HEAD of a known path.
Response HealthServer::Impl::respond(std::string_view path) {
  if (path == "/readyz") {
    const Readiness r = ready();
    if (r.ready) {
      return text_response(200, "weftd is ready\n");
    }
    return text_response(503, "weftd is not ready yet: " + r.reason + "\n");
  }
  if (path == "/metrics") {
    return text_response(200, metrics(), "text/plain; version=0.0.4");
  }
  return text_response(200, "weftd is running\n");
}

HealthServer::HealthServer(ReadyFn ready, MetricsFn metrics) : impl_(std::make_unique<Impl>()) {
  impl_->ready = std::move(ready);
  impl_->metrics = std::move(metrics);
}

HealthServer::~HealthServer() {
  stop();
}

base::Status HealthServer::start(const std::string& ip, int port) {
  if (!impl_->workers.empty()) {
    return base::internal_error("health server started twice (already on port " +
                                std::to_string(impl_->port) + ")");
  }
  const auto cannot_listen = [&] {
    return base::unavailable("cannot listen on " + ip + ":" + std::to_string(port) +
                             " for --healthz-port");
  };
  const std::optional<SocketAddress> addr = parse_address(ip, port);
  if (!addr) {
    return cannot_listen();
  }

  Fd sock(::socket(addr->family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!sock.valid()) {
    return cannot_listen();
  }
  const int on = 1;
  if (::setsockopt(sock.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) {
    return cannot_listen();
  }
  if (addr->family() == AF_INET6) {
    // "::" serves IPv4 probes too, whatever net.ipv6.bindv6only says (as Go's listeners do).
    const int off = 0;
    ::setsockopt(sock.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  }
  if (::bind(sock.get(), reinterpret_cast<const sockaddr*>(&addr->storage), addr->length) != 0 ||
      ::listen(sock.get(), kBacklog) != 0) {
    return cannot_listen();
  }
  sockaddr_storage bound_addr{};
  socklen_t bound_len = sizeof bound_addr;
  if (::getsockname(sock.get(), reinterpret_cast<sockaddr*>(&bound_addr), &bound_len) != 0) {
    return cannot_listen();
  }
  // sin_port and sin6_port sit at the same offset, just after the family.
  sockaddr_in bound_v4{};
  std::memcpy(&bound_v4, &bound_addr, sizeof bound_v4);
  const int bound = ntohs(bound_v4.sin_port);

  Fd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) {
    return base::internal_error(std::string("eventfd for the health server: ") +
                                std::strerror(errno));
  }
  impl_->listen_fd = std::move(sock);
  impl_->wake_fd = std::move(wake);
  impl_->port = bound;
  for (int i = 0; i < kWorkers; ++i) {
    impl_->workers.emplace_back([impl = impl_.get()](std::stop_token stop) {
      while (!stop.stop_requested()) {
        try {
          impl->serve(stop);
        } catch (...) {
          // Only logging can throw out of serve() (no memory); pause rather than spin, then go on.
          wait_for(-1, 0, impl->wake_fd.get(), SteadyClock::now() + kAcceptBackoff);
        }
      }
    });
  }
  WEFT_INFO("health server listening on {}:{} (/healthz /readyz /metrics)", ip, bound);
  return {};
}

void HealthServer::stop() {
  if (!impl_ || impl_->workers.empty()) {
    return;
  }
  for (auto& w : impl_->workers) {
    w.request_stop();
  }
  const std::uint64_t one = 1; // the eventfd stays readable, so every worker wakes
  while (::write(impl_->wake_fd.get(), &one, sizeof one) < 0 && errno == EINTR) {
  }
  impl_->workers.clear(); // joins
  impl_->listen_fd.reset();
  impl_->wake_fd.reset();
}

int HealthServer::port() const {
  return impl_->port;
}

} // namespace weft::daemon
