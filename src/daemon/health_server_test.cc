#include "daemon/health_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace weft::daemon {
namespace {

using std::chrono::steady_clock;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;
using namespace std::chrono_literals;

// Bounds every blocking socket call of the test client, so a server bug fails a test instead of
// hanging it.
constexpr auto kClientTimeout = 10s;

class Socket {
public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Socket& operator=(Socket&&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

private:
  int fd_ = -1;
};

// A socket address for a loopback literal ("127.0.0.1", "::1").
std::pair<sockaddr_storage, socklen_t> address(const std::string& ip, int port) {
  sockaddr_storage storage{};
  sockaddr_in v4{};
  sockaddr_in6 v6{};
  if (::inet_pton(AF_INET, ip.c_str(), &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(static_cast<std::uint16_t>(port));
    std::memcpy(&storage, &v4, sizeof v4);
    return {storage, sizeof v4};
  }
  if (::inet_pton(AF_INET6, ip.c_str(), &v6.sin6_addr) != 1) {
    ADD_FAILURE() << "not an IP literal: " << ip;
  }
  v6.sin6_family = AF_INET6;
  v6.sin6_port = htons(static_cast<std::uint16_t>(port));
  std::memcpy(&storage, &v6, sizeof v6);
  return {storage, sizeof v6};
}

// A blocking TCP connection to ip:port whose reads and writes give up after kClientTimeout.
Socket connect_to(const std::string& ip, int port) {
  const auto [addr, len] = address(ip, port);
  Socket s(::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s.valid()) {
    ADD_FAILURE() << "socket: " << std::strerror(errno);
    return s;
  }
  const timeval tv{std::chrono::seconds(kClientTimeout).count(), 0};
  ::setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(s.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  const int on = 1;
  ::setsockopt(s.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  if (::connect(s.get(), reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
    ADD_FAILURE() << "connect to " << ip << ":" << port << ": " << std::strerror(errno);
  }
  return s;
}

void send_all(const Socket& s, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(s.get(), data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      ADD_FAILURE() << "send: " << std::strerror(errno);
      return;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Everything the server sends until it closes the connection.
std::string read_to_eof(const Socket& s) {
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(s.get(), buf, sizeof buf, 0);
    if (n > 0) {
      out.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0) {
      return out;
    } else if (errno != EINTR) {
      ADD_FAILURE() << "recv: " << std::strerror(errno) << " after " << out.size() << " bytes";
      return out;
    }
  }
}

struct HttpResponse {
  std::string status_line;
  std::map<std::string, std::string> headers; // names lower-cased
  std::string body;

  std::string header(const std::string& lower_case_name) const {
    const auto it = headers.find(lower_case_name);
    return it == headers.end() ? "" : it->second;
  }
};

HttpResponse parse_response(const std::string& raw) {
  HttpResponse r;
  const std::size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos) {
    ADD_FAILURE() << "no end of head in response: " << raw;
    return r;
  }
  std::istringstream head(raw.substr(0, end + 2));
  std::getline(head, r.status_line);
  if (!r.status_line.empty() && r.status_line.back() == '\r') {
    r.status_line.pop_back();
  }
  std::string line;
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) {
      ADD_FAILURE() << "bad header line: " << line;
      continue;
    }
    std::string name = line.substr(0, colon);
    for (char& c : name) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    r.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
  }
  r.body = raw.substr(end + 4);
  return r;
}

// Sends `request` as is on a new connection and returns the parsed response.
HttpResponse round_trip(int port, std::string_view request, const std::string& ip = "127.0.0.1") {
  const Socket s = connect_to(ip, port);
  send_all(s, request);
  return parse_response(read_to_eof(s));
}

HttpResponse get(int port, const std::string& target) {
  return round_trip(port, "GET " + target + " HTTP/1.1\r\nHost: localhost\r\n\r\n");
}

// How many connections wait in the accept queue of the IPv4 listener on `port`, from
// /proc/net/tcp (whose rx_queue column is the accept queue length for a listening socket);
// -1 when it cannot be read.
int accept_queue_length(int port) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line); // the column names
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues;
    fields >> slot >> local >> remote >> state >> queues;
    const std::size_t colon = local.find(':');
    if (state != "0A" || colon == std::string::npos ||
        std::stoi(local.substr(colon + 1), nullptr, 16) != port) {
      continue;
    }
    return std::stoi(queues.substr(queues.find(':') + 1), nullptr, 16);
  }
  return -1;
}

// Waits until the server has taken every pending connection off its accept queue, so that it is
// busy with the last one. Does not wait when /proc/net/tcp cannot be read.
void wait_until_accepted(int port) {
  const auto deadline = steady_clock::now() + 5s;
  while (accept_queue_length(port) > 0 && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_LE(accept_queue_length(port), 0) << "the server did not accept within 5 s";
}

class HealthServerTest : public ::testing::Test {
protected:
  HealthServerTest()
      : server_(
            [this] {
              std::lock_guard lock(mu_);
              return readiness_;
            },
            [this] {
              std::lock_guard lock(mu_);
              if (metrics_throw_) {
                throw std::runtime_error("metrics broke");
              }
              return metrics_;
            }) {}

  void SetUp() override {
    const base::Status st = server_.start("127.0.0.1", 0);
    ASSERT_TRUE(st.ok()) << st.to_string();
    port_ = server_.port();
  }

  void set_readiness(Readiness r) {
    std::lock_guard lock(mu_);
    readiness_ = std::move(r);
  }

  std::mutex mu_;
  Readiness readiness_{false, "no subnet lease yet"};
  std::string metrics_ = "# TYPE weft_up gauge\nweft_up 1\n";
  bool metrics_throw_ = false;
  HealthServer server_;
  int port_ = 0;
};

TEST_F(HealthServerTest, StartWithPortZeroReportsTheBoundPort) {
  EXPECT_GT(port_, 0);
  EXPECT_LE(port_, 65535);
}

TEST_F(HealthServerTest, HealthzAnswersRunning) {
  const HttpResponse r = get(port_, "/healthz");
  EXPECT_EQ(r.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(r.body, "weftd is running\n");
  EXPECT_EQ(r.header("content-length"), "17");
  EXPECT_EQ(r.header("content-type"), "text/plain");
  EXPECT_EQ(r.header("connection"), "close");
}

TEST_F(HealthServerTest, ReadyzIs503WithTheReasonUntilReady) {
  HttpResponse r = get(port_, "/readyz");
  EXPECT_EQ(r.status_line, "HTTP/1.1 503 Service Unavailable");
  EXPECT_EQ(r.body, "weftd is not ready yet: no subnet lease yet\n");
  EXPECT_EQ(r.header("content-length"), std::to_string(r.body.size()));
  EXPECT_EQ(r.header("content-type"), "text/plain");

  set_readiness({true, ""});
  r = get(port_, "/readyz");
  EXPECT_EQ(r.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(r.body, "weftd is ready\n");
  EXPECT_EQ(r.header("content-length"), "15");
}

TEST_F(HealthServerTest, QueryStringIsIgnored) {
  set_readiness({true, ""});
  const HttpResponse r = get(port_, "/readyz?verbose");
  EXPECT_EQ(r.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(r.body, "weftd is ready\n");
}

TEST_F(HealthServerTest, MetricsServesPrometheusText) {
  const HttpResponse r = get(port_, "/metrics");
  EXPECT_EQ(r.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(r.body, "# TYPE weft_up gauge\nweft_up 1\n");
  EXPECT_EQ(r.header("content-type"), "text/plain; version=0.0.4");
  EXPECT_EQ(r.header("content-length"), std::to_string(r.body.size()));
}

TEST_F(HealthServerTest, LargeMetricsBodyArrivesWhole) {
  {
    std::lock_guard lock(mu_);
    metrics_.clear();
    for (int i = 0; i < 20000; ++i) {
      metrics_ += "weft_series{i=\"" + std::to_string(i) + "\"} 1\n";
    }
  }
  const HttpResponse r = get(port_, "/metrics");
  EXPECT_EQ(r.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(r.body.size(), metrics_.size());
  EXPECT_EQ(r.body, metrics_);
}

TEST_F(HealthServerTest, HeadHasTheHeadersOfGetButNoBody) {
  const HttpResponse r = round_trip(port_, "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(r.header("content-length"), "17");
  EXPECT_EQ(r.header("content-type"), "text/plain");
  EXPECT_THAT(r.body, IsEmpty());
}

TEST_F(HealthServerTest, OtherMethodsOnKnownPathsAre405) {
  const HttpResponse r =
      round_trip(port_, "POST /readyz HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nx=1");
  EXPECT_EQ(r.status_line, "HTTP/1.1 405 Method Not Allowed");
  EXPECT_EQ(r.header("allow"), "GET, HEAD");
  EXPECT_EQ(r.header("content-length"), std::to_string(r.body.size()));
}

TEST_F(HealthServerTest, UnknownPathIs404) {
  const HttpResponse r = get(port_, "/nope");
  EXPECT_EQ(r.status_line, "HTTP/1.1 404 Not Found");
  EXPECT_EQ(r.header("content-length"), std::to_string(r.body.size()));
  EXPECT_EQ(get(port_, "/healthz/").status_line, "HTTP/1.1 404 Not Found");
}

TEST_F(HealthServerTest, MalformedRequestLineIs400) {
  for (const std::string_view request :
       {"HELLO\r\n\r\n", "GET /healthz\r\n\r\n", "GET healthz HTTP/1.1\r\n\r\n",
        "GET /healthz HTTP/2.0\r\n\r\n", "GET  /healthz HTTP/1.1\r\n\r\n",
        "G(T /healthz HTTP/1.1\r\n\r\n", "GET /healthz HTTP/1.1 extra\r\n\r\n"}) {
    const HttpResponse r = round_trip(port_, request);
    EXPECT_EQ(r.status_line, "HTTP/1.1 400 Bad Request") << request;
    EXPECT_EQ(r.header("content-length"), std::to_string(r.body.size())) << request;
  }
}

TEST_F(HealthServerTest, AcceptsHttp10BareLineFeedsAndLeadingEmptyLines) {
  EXPECT_EQ(round_trip(port_, "GET /healthz HTTP/1.0\r\n\r\n").status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(round_trip(port_, "GET /healthz HTTP/1.1\nHost: x\n\n").status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(round_trip(port_, "\r\nGET /healthz HTTP/1.1\r\n\r\n").status_line, "HTTP/1.1 200 OK");
}

TEST_F(HealthServerTest, RequestSentInPiecesIsServed) {
  const Socket s = connect_to("127.0.0.1", port_);
  for (const std::string_view piece : {"GET /hea", "lthz HTTP/1.1\r", "\nHost: x\r\n", "\r\n"}) {
    send_all(s, piece);
  }
  const HttpResponse r = parse_response(read_to_eof(s));
  EXPECT_EQ(r.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(r.body, "weftd is running\n");
}

TEST_F(HealthServerTest, HeadOfExactly8KiBIsServed) {
  std::string request = "GET /healthz HTTP/1.1\r\nX-Pad: ";
  request += std::string(8192 - request.size() - 4, 'a');
  request += "\r\n\r\n";
  ASSERT_EQ(request.size(), 8192u);
  EXPECT_EQ(round_trip(port_, request).status_line, "HTTP/1.1 200 OK");
}

TEST_F(HealthServerTest, OversizedHeadIs431AndTheNextClientIsServed) {
  const std::string request =
      "GET /healthz HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n";
  const HttpResponse r = round_trip(port_, request);
  EXPECT_EQ(r.status_line, "HTTP/1.1 431 Request Header Fields Too Large");
  EXPECT_EQ(r.header("content-length"), std::to_string(r.body.size()));

  EXPECT_EQ(get(port_, "/healthz").status_line, "HTTP/1.1 200 OK");
}

TEST_F(HealthServerTest, ThrowingMetricsClosesTheConnectionAndServingGoesOn) {
  {
    std::lock_guard lock(mu_);
    metrics_throw_ = true;
  }
  const Socket s = connect_to("127.0.0.1", port_);
  send_all(s, "GET /metrics HTTP/1.1\r\n\r\n");
  EXPECT_THAT(read_to_eof(s), IsEmpty());

  EXPECT_EQ(get(port_, "/healthz").status_line, "HTTP/1.1 200 OK");
}

TEST_F(HealthServerTest, SilentClientsDoNotHoldUpAProbe) {
  // Three clients connect and send nothing; a probe is still answered while they are connected.
  std::vector<Socket> silent;
  for (int i = 0; i < 3; ++i) {
    silent.push_back(connect_to("127.0.0.1", port_));
  }
  wait_until_accepted(port_);

  const HttpResponse r = get(port_, "/healthz");
  EXPECT_EQ(r.status_line, "HTTP/1.1 200 OK");
  char c = 0;
  for (const Socket& s : silent) {
    // Still open: the probe did not wait for them to be dropped.
    EXPECT_EQ(::recv(s.get(), &c, 1, MSG_DONTWAIT), -1);
    EXPECT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK) << std::strerror(errno);
  }
  // They are dropped at the read deadline, without an answer.
  for (const Socket& s : silent) {
    EXPECT_EQ(::recv(s.get(), &c, 1, 0), 0);
  }
}

TEST_F(HealthServerTest, MoreSilentClientsThanWorkersAreDroppedAndTheProbeIsServed) {
  std::vector<Socket> silent;
  for (int i = 0; i < 5; ++i) { // one more than the workers: it waits in the accept queue
    silent.push_back(connect_to("127.0.0.1", port_));
  }
  const HttpResponse r = get(port_, "/healthz");
  EXPECT_EQ(r.status_line, "HTTP/1.1 200 OK");
  char c = 0;
  for (const Socket& s : silent) {
    EXPECT_EQ(::recv(s.get(), &c, 1, 0), 0);
  }
}

TEST_F(HealthServerTest, StopReturnsPromptlyWhileASilentClientIsConnected) {
  const Socket silent = connect_to("127.0.0.1", port_);
  wait_until_accepted(port_);
  const Socket queued = connect_to("127.0.0.1", port_);
  send_all(queued, "GET /healthz HTTP/1.1\r\n");

  const auto t0 = steady_clock::now();
  server_.stop();
  EXPECT_LT(steady_clock::now() - t0, 1s);
  server_.stop(); // idempotent
  EXPECT_EQ(server_.port(), port_);
}

TEST(HealthServer, StopWithoutStartIsHarmless) {
  HealthServer s([] { return Readiness{true, ""}; }, [] { return std::string(); });
  s.stop();
  s.stop();
}

TEST(HealthServer, StartFailsWhenThePortIsTaken) {
  Socket blocker(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(blocker.valid());
  const auto [addr, len] = address("127.0.0.1", 0);
  ASSERT_EQ(::bind(blocker.get(), reinterpret_cast<const sockaddr*>(&addr), len), 0);
  ASSERT_EQ(::listen(blocker.get(), 1), 0);
  sockaddr_in bound{};
  socklen_t bound_len = sizeof bound;
  ASSERT_EQ(::getsockname(blocker.get(), reinterpret_cast<sockaddr*>(&bound), &bound_len), 0);
  const int port = ntohs(bound.sin_port);

  HealthServer s([] { return Readiness{true, ""}; }, [] { return std::string(); });
  const base::Status st = s.start("127.0.0.1", port);
  EXPECT_EQ(st.code(), base::Code::kUnavailable);
  EXPECT_EQ(st.message(),
            "cannot listen on 127.0.0.1:" + std::to_string(port) + " for --healthz-port");
}

TEST(HealthServer, StartFailsOnAnAddressThatIsNotAnIpLiteral) {
  HealthServer s([] { return Readiness{true, ""}; }, [] { return std::string(); });
  for (const std::string ip : {"localhost", "300.1.1.1", "", "1.2.3.4:80", "[::1]"}) {
    const base::Status st = s.start(ip, 0);
    EXPECT_EQ(st.code(), base::Code::kUnavailable) << ip;
    EXPECT_THAT(st.message(), StartsWith("cannot listen on " + ip + ":0")) << ip;
  }
  const base::Status st = s.start("127.0.0.1", 70000);
  EXPECT_THAT(st.message(), HasSubstr("cannot listen on 127.0.0.1:70000 for --healthz-port"));
}

TEST(HealthServer, ServesOnIpv6Loopback) {
  {
    Socket probe(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!probe.valid()) {
      GTEST_SKIP() << "no IPv6 sockets: " << std::strerror(errno);
    }
    const auto [addr, len] = address("::1", 0);
    if (::bind(probe.get(), reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
      GTEST_SKIP() << "no IPv6 loopback: " << std::strerror(errno);
    }
  }
  HealthServer s([] { return Readiness{true, ""}; }, [] { return std::string(); });
  const base::Status st = s.start("::1", 0);
  ASSERT_TRUE(st.ok()) << st.to_string();
  ASSERT_GT(s.port(), 0);
  const HttpResponse r =
      round_trip(s.port(), "GET /readyz HTTP/1.1\r\nHost: [::1]\r\n\r\n", std::string("::1"));
  EXPECT_EQ(r.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(r.body, "weftd is ready\n");
}

} // namespace
} // namespace weft::daemon
