// The etcd client's own gRPC transport (HTTP/2 over TCP or TLS) against real etcd and against
// loopback peers that misbehave: a silent server, a server that does not speak HTTP/2, a frozen
// member under an open watch, an untrusted certificate, responses larger than the HTTP/2 windows,
// many calls at once on one connection.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "store/etcd/etcd_client.h"
#include "test/store/store_test_util.h"

namespace weft::test {
namespace {

using store::etcd::ClientConfig;
using store::etcd::EtcdClient;
using store::etcd::Rpc;
using ::testing::HasSubstr;

ClientConfig client_config(const EtcdCluster& cluster) {
  ClientConfig c;
  c.endpoints = cluster.endpoints();
  c.call_timeout = std::chrono::milliseconds(3000);
  if (!cluster.ca_file().empty()) {
    c.cafile = cluster.ca_file();
    c.certfile = cluster.client_cert_file();
    c.keyfile = cluster.client_key_file();
  }
  return c;
}

std::unique_ptr<EtcdClient> make_client(const ClientConfig& c) {
  auto client = EtcdClient::create(c);
  EXPECT_TRUE(client.ok()) << client.status().to_string();
  return client.ok() ? std::move(*client) : nullptr;
}

// A TCP listener on 127.0.0.1 that accepts and then does what `serve` says with each connection.
class LoopbackServer {
public:
  explicit LoopbackServer(std::function<void(int)> serve) : serve_(std::move(serve)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), len), 0);
    EXPECT_EQ(::listen(fd_, 8), 0);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      while (true) {
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0 || stop_) {
          if (c >= 0) {
            ::close(c);
          }
          return;
        }
        serve_(c);
        conns_.push_back(c);
      }
    });
  }
  ~LoopbackServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
    for (int c : conns_) {
      ::close(c);
    }
  }
  std::string url() const { return fmt::format("http://127.0.0.1:{}", port_); }

private:
  std::function<void(int)> serve_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::vector<int> conns_;
  std::thread thread_;
};

TEST(EtcdTransport, SilentServerEndsTheCallAtItsDeadline) {
  LoopbackServer silent([](int) {}); // accepts, reads nothing, says nothing
  ClientConfig c;
  c.endpoints = {silent.url()};
  c.call_timeout = std::chrono::milliseconds(300);
  auto client = make_client(c);
  ASSERT_NE(client, nullptr);
  const auto start = std::chrono::steady_clock::now();
  auto r = client->range("/k");
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), base::Code::kUnavailable);
  EXPECT_THAT(r.status().message(), HasSubstr("deadline exceeded"));
  // Two attempts on the only member (the fail-over loop tries n + 1 times), each 300 ms.
  EXPECT_LT(took, std::chrono::seconds(3));
}

TEST(EtcdTransport, ServerThatIsNotHttp2IsAClearError) {
  LoopbackServer http1([](int fd) {
    const char reply[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    [[maybe_unused]] auto n = ::write(fd, reply, sizeof(reply) - 1);
  });
  ClientConfig c;
  c.endpoints = {http1.url()};
  c.call_timeout = std::chrono::milliseconds(2000);
  auto client = make_client(c);
  ASSERT_NE(client, nullptr);
  auto r = client->range("/k");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), base::Code::kUnavailable);
  EXPECT_THAT(r.status().message(), HasSubstr("HTTP/2"));
}

TEST(EtcdTransport, RefusedConnectionIsUnavailableAndNamesTheEndpoint) {
  const int port = free_loopback_port();
  ClientConfig c;
  c.endpoints = {fmt::format("http://127.0.0.1:{}", port)};
  auto client = make_client(c);
  ASSERT_NE(client, nullptr);
  auto r = client->put("/k", "v");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), base::Code::kUnavailable);
  EXPECT_THAT(r.status().message(), HasSubstr(fmt::format("127.0.0.1:{}", port)));
  EXPECT_THAT(r.status().message(), HasSubstr("refused"));
}

class EtcdTransportTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    auto c = EtcdCluster::start();
    ASSERT_TRUE(c.ok()) << c.status().to_string();
    cluster_ = std::move(*c).release();
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  static EtcdCluster* cluster_;
};
EtcdCluster* EtcdTransportTest::cluster_ = nullptr;

TEST_F(EtcdTransportTest, ResponsesLargerThanTheFlowControlWindows) {
  auto client = make_client(client_config(*cluster_));
  ASSERT_NE(client, nullptr);
  // 12 MB of values: more than the 8 MB stream window and the 64 KB HTTP/2 default, so the
  // listing only completes if WINDOW_UPDATEs go out as the data is read.
  const std::string value(1000, 'v');
  for (int batch = 0; batch < 120; ++batch) {
    std::vector<std::pair<std::string, std::string>> kvs;
    for (int i = 0; i < 100; ++i) {
      kvs.emplace_back(fmt::format("/big/{:05}", batch * 100 + i), value);
    }
    ASSERT_TRUE(client->put_all(kvs).ok());
  }
  for (int round = 0; round < 2; ++round) { // twice: the connection window is used up once
    auto r = client->range("/big/", store::etcd::prefix_range_end("/big/"));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    ASSERT_EQ(r->kvs.size(), 12000u);
    EXPECT_EQ(r->kvs.front().key, "/big/00000");
    EXPECT_EQ(r->kvs.back().key, "/big/11999");
    EXPECT_EQ(r->kvs.back().value, value);
  }
  ASSERT_TRUE(client->delete_range("/big/", store::etcd::prefix_range_end("/big/")).ok());
}

// The wait meter weftd's start reports: a thread's calls add to its own figure only.
TEST_F(EtcdTransportTest, EachThreadCountsItsOwnWaitForEtcd) {
  auto client = make_client(client_config(*cluster_));
  ASSERT_NE(client, nullptr);
  const auto before = store::etcd::thread_etcd_wait();
  ASSERT_TRUE(client->put("/meter/a", "1").ok());
  const auto after_put = store::etcd::thread_etcd_wait();
  EXPECT_GT(after_put, before);
  std::chrono::nanoseconds other{0};
  std::thread([&] {
    for (int i = 0; i < 5; ++i) {
      (void)client->range("/meter/a");
    }
    other = store::etcd::thread_etcd_wait();
  }).join();
  EXPECT_GT(other, std::chrono::nanoseconds(0));
  EXPECT_EQ(store::etcd::thread_etcd_wait(), after_put);
  // A wait a store records for an answer another thread asked for adds to the figure.
  store::etcd::add_thread_etcd_wait(std::chrono::milliseconds(2));
  EXPECT_EQ(store::etcd::thread_etcd_wait(), after_put + std::chrono::milliseconds(2));
  ASSERT_TRUE(client->delete_range("/meter/", store::etcd::prefix_range_end("/meter/")).ok());
}

TEST_F(EtcdTransportTest, ManyCallsAtOnceOnOneConnection) {
  auto client = make_client(client_config(*cluster_));
  ASSERT_NE(client, nullptr);
  constexpr int kThreads = 8;
  constexpr int kCalls = 100;
  std::atomic<int> failures{0};
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kCalls; ++i) {
          const std::string key = fmt::format("/many/{}/{}", t, i);
          if (!client->put(key, key).ok()) {
            ++failures;
          }
          auto r = client->range(key);
          if (!r.ok() || r->kvs.size() != 1 || r->kvs[0].value != key) {
            ++failures;
          }
        }
      });
    }
  }
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(client->counts()[Rpc::kPut], kThreads * kCalls);
  auto all = client->range("/many/", store::etcd::prefix_range_end("/many/"));
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->kvs.size(), static_cast<std::size_t>(kThreads * kCalls));
}

TEST_F(EtcdTransportTest, WatchCancelFromAnotherThreadUnblocksNext) {
  auto client = make_client(client_config(*cluster_));
  ASSERT_NE(client, nullptr);
  auto w = client->watch("/quiet/", store::etcd::prefix_range_end("/quiet/"), 0);
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  auto first = (*w)->next();
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->created);
  std::jthread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    (*w)->cancel();
  });
  auto r = (*w)->next();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), base::Code::kCancelled);
  // The connection is still good for other calls.
  EXPECT_TRUE(client->put("/quiet/after", "x").ok());
}

TEST_F(EtcdTransportTest, WatchDeliversEventsInOrder) {
  auto client = make_client(client_config(*cluster_));
  ASSERT_NE(client, nullptr);
  auto w = client->watch("/order/", store::etcd::prefix_range_end("/order/"), 0);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->next().ok()); // created
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(client->put(fmt::format("/order/{:02}", i), std::to_string(i)).ok());
  }
  ASSERT_TRUE(client->delete_range("/order/07").ok());
  int seen = 0;
  bool deleted = false;
  while (seen < 50 || !deleted) {
    auto r = (*w)->next();
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    for (const auto& ev : r->events) {
      if (ev.type == store::etcd::WatchEvent::Type::kDelete) {
        EXPECT_EQ(ev.kv.key, "/order/07");
        deleted = true;
      } else {
        EXPECT_EQ(ev.kv.key, fmt::format("/order/{:02}", seen));
        ++seen;
      }
    }
  }
}

// A member frozen under an open watch (its TCP connection stays up and silent) is found by the
// keepalive ping and the watch ends, instead of waiting forever.
TEST(EtcdKeepalive, FrozenMemberEndsTheWatch) {
  auto c = EtcdCluster::start();
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  auto& cluster = **c;
  auto cfg = client_config(cluster);
  cfg.keepalive_time = std::chrono::milliseconds(500);
  cfg.keepalive_timeout = std::chrono::milliseconds(500);
  auto client = make_client(cfg);
  ASSERT_NE(client, nullptr);
  auto w = client->watch("/frozen/", store::etcd::prefix_range_end("/frozen/"), 0);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->next().ok());
  ASSERT_TRUE(cluster.pause_member(0, true).ok());
  const auto start = std::chrono::steady_clock::now();
  auto r = (*w)->next();
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(cluster.pause_member(0, false).ok());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), base::Code::kUnavailable);
  EXPECT_THAT(r.status().message(), HasSubstr("keepalive"));
  EXPECT_LT(took, std::chrono::seconds(10));
  // After the thaw a new connection serves calls again.
  EXPECT_TRUE(
      wait_until([&] { return client->put("/frozen/x", "1").ok(); }, std::chrono::seconds(10)));
}

TEST(EtcdTlsTransport, UntrustedServerCertificateIsRefused) {
  EtcdClusterOptions opts;
  opts.tls = true;
  auto c = EtcdCluster::start(opts);
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  auto& cluster = **c;
  // The right CA works, also under the name in the certificate (DNS:localhost).
  auto good = make_client(client_config(cluster));
  ASSERT_NE(good, nullptr);
  EXPECT_TRUE(good->put("/tls", "1").ok());
  auto by_name = client_config(cluster);
  by_name.endpoints = {fmt::format(
      "https://localhost:{}", cluster.host_port(0).substr(cluster.host_port(0).rfind(':') + 1))};
  auto named = make_client(by_name);
  ASSERT_NE(named, nullptr);
  auto r = named->range("/tls");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->kvs.size(), 1u);

  // Another CA (the client certificate's own, which did not sign the server's) is refused.
  auto wrong = client_config(cluster);
  wrong.cafile = cluster.client_cert_file();
  auto untrusting = make_client(wrong);
  ASSERT_NE(untrusting, nullptr);
  auto refused = untrusting->range("/tls");
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("certificate"));

  // A CA file that holds no certificate is a configuration error naming the flag.
  auto garbage = client_config(cluster);
  garbage.cafile = cluster.client_key_file();
  auto bad = EtcdClient::create(garbage);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), base::Code::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("--etcd-cafile"));
}

} // namespace
} // namespace weft::test
