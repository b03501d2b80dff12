// Load generator: requests/s and p50/p99 latency of the emulator over HTTP with its own limits off,
// for a VPC whose main route table holds 5000 routes. Prints figures; never passes or fails.

#include <fmt/format.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstring>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "http_frontend.h"
#include "test_support.h"

namespace {

using namespace weft::emulator;
using nlohmann::json;

constexpr int kRoutes = 5000;
constexpr int kTables = 100;

State big_state() {
  json s = json::parse(serialize_state(testing::small_state()));
  s["Quotas"]["route-table-max-policies"] = 10000;
  json routes = json::array();
  for (int i = 0; i < kRoutes; ++i) {
    routes.push_back(
        {{"RouteId", 100 + i},
         {"RouteItemId", fmt::format("rti-b{:07d}", i)},
         {"DestinationCidrBlock", fmt::format("172.{}.{}.0/24", 16 + i / 256, i % 256)},
         {"GatewayType", "NORMAL_CVM"},
         {"GatewayId", testing::kNodeA},
         {"RouteDescription", "weft:bench"}});
  }
  s["RouteTables"][0]["Routes"] = routes;
  for (int i = 0; i < kTables; ++i) {
    s["RouteTables"].push_back({{"RouteTableId", fmt::format("rtb-x{:07d}", i)},
                                {"RouteTableName", "extra"},
                                {"VpcId", testing::kVpcId}});
  }
  auto parsed = parse_state(s.dump());
  if (!parsed.ok()) {
    fmt::print(stderr, "{}\n", parsed.status().to_string());
    std::exit(1);
  }
  return *parsed;
}

struct Workload {
  std::string name;
  std::string action;
  std::vector<std::string> bodies; // cycled through
};

// A minimal HTTP/1.1 keep-alive client over one socket: it sends prebuilt request bytes and reads
// a reply with few, large recv calls, checking the status, Content-Length and the reply's two ends
// without parsing it, so the figures are the emulator's and not the client's (httplib's client
// polls before every 4 KiB read, and a JSON parse of a 1.6 MB reply costs more than serving it).
class LeanClient {
public:
  explicit LeanClient(int port) : port_(port) {}
  ~LeanClient() { disconnect(); }
  LeanClient(const LeanClient&) = delete;
  LeanClient& operator=(const LeanClient&) = delete;

  // The reply's body size, or nullopt on a failed or error reply.
  std::optional<std::size_t> post(const std::string& request) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (fd_ < 0 && !connect_socket()) {
        return std::nullopt;
      }
      if (auto size = exchange(request)) {
        return size;
      }
      bool reused = reused_;
      disconnect();
      if (!reused) {
        return std::nullopt; // a fresh connection failed: no point retrying
      }
    }
    return std::nullopt;
  }

  const std::string& body() const { return body_; }

private:
  bool connect_socket() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) {
      return false;
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      disconnect();
      return false;
    }
    reused_ = false;
    return true;
  }

  void disconnect() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

  std::optional<std::size_t> exchange(const std::string& request) {
    std::size_t sent = 0;
    while (sent < request.size()) {
      ssize_t n = ::send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) {
        return std::nullopt;
      }
      sent += static_cast<std::size_t>(n);
    }
    // Headers: read until the blank line; what follows it is the start of the body.
    head_.clear();
    std::size_t head_end = std::string::npos;
    char buf[16 * 1024];
    while (head_end == std::string::npos) {
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) {
        return std::nullopt;
      }
      head_.append(buf, static_cast<std::size_t>(n));
      head_end = head_.find("\r\n\r\n");
    }
    reused_ = true;
    if (head_.compare(0, 12, "HTTP/1.1 200") != 0) {
      return std::nullopt;
    }
    std::size_t length = content_length(head_.substr(0, head_end));
    if (length == 0) {
      return std::nullopt;
    }
    std::size_t have = head_.size() - head_end - 4;
    body_.resize(length);
    std::memcpy(body_.data(), head_.data() + head_end + 4, std::min(have, length));
    while (have < length) {
      ssize_t n = ::recv(fd_, body_.data() + have, length - have, 0);
      if (n <= 0) {
        return std::nullopt;
      }
      have += static_cast<std::size_t>(n);
    }
    // A success starts {"Response":{ without "Error" and ends with the RequestId.
    static constexpr std::string_view kOpen = R"({"Response":{)";
    static constexpr std::string_view kError = R"({"Response":{"Error")";
    std::string_view b(body_);
    std::string_view tail = b.substr(b.size() > 64 ? b.size() - 64 : 0);
    if (b.substr(0, kOpen.size()) != kOpen || b.substr(0, kError.size()) == kError ||
        tail.find("\"RequestId\":\"") == std::string_view::npos ||
        b.substr(b.size() - 3) != "\"}}") {
      return std::nullopt;
    }
    return length;
  }

  static std::size_t content_length(const std::string& head) {
    std::string lower = head;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    static constexpr std::string_view kName = "\r\ncontent-length:";
    std::size_t at = lower.find(kName);
    if (at == std::string::npos) {
      return 0;
    }
    return static_cast<std::size_t>(std::strtoull(lower.c_str() + at + kName.size(), nullptr, 10));
  }

  int port_;
  int fd_ = -1;
  bool reused_ = false;
  std::string head_;
  std::string body_;
};

double thread_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

void run(Emulator& emulator, int port, const Workload& w, int threads, double seconds) {
  std::string host = fmt::format("127.0.0.1:{}", port);
  std::vector<std::string> requests;
  for (const auto& body : w.bodies) {
    ApiRequest r = testing::signed_request(w.action, body, emulator.unix_now(), testing::kSecretId,
                                           testing::kSecretKey, "", host);
    std::string text = fmt::format("POST / HTTP/1.1\r\nContent-Length: {}\r\n", body.size());
    for (const auto& [k, v] : r.headers) {
      text += fmt::format("{}: {}\r\n", k, v);
    }
    requests.push_back(text + "\r\n" + body);
  }
  // Checked once in full, outside the timing: every reply is a success of the expected action.
  for (const auto& request : requests) {
    LeanClient client(port);
    auto size = client.post(request);
    if (!size || !json::parse(client.body()).at("Response").contains("RequestId")) {
      fmt::print(stderr, "{}: bad reply {}\n", w.name, client.body().substr(0, 300));
      std::exit(1);
    }
  }
  std::vector<std::vector<double>> latencies(static_cast<size_t>(threads));
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint64_t> bytes{0};
  std::vector<double> client_cpu(static_cast<size_t>(threads));
  double cpu_start = process_cpu_seconds();
  auto start = std::chrono::steady_clock::now();
  auto end = start + std::chrono::duration<double>(seconds);
  std::vector<std::jthread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      double cpu0 = thread_cpu_seconds();
      LeanClient client(port);
      size_t i = static_cast<size_t>(t);
      while (std::chrono::steady_clock::now() < end) {
        size_t k = i++ % requests.size();
        auto t0 = std::chrono::steady_clock::now();
        auto size = client.post(requests[k]);
        auto t1 = std::chrono::steady_clock::now();
        if (!size) {
          ++errors;
        } else {
          bytes += *size;
        }
        latencies[static_cast<size_t>(t)].push_back(
            std::chrono::duration<double, std::milli>(t1 - t0).count());
      }
      client_cpu[static_cast<size_t>(t)] = thread_cpu_seconds() - cpu0;
    });
  }
  workers.clear();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double cpu_total = process_cpu_seconds() - cpu_start;
  double cpu_client = 0;
  for (double c : client_cpu) {
    cpu_client += c;
  }
  std::vector<double> all;
  for (const auto& l : latencies) {
    all.insert(all.end(), l.begin(), l.end());
  }
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<size_t>(p * all.size()))];
  };
  double n = all.empty() ? 1.0 : static_cast<double>(all.size());
  // CPU per request: the emulator's share is the process's minus the client threads'.
  fmt::print("{:<38} {:>6.0f} req/s  p50 {:>6.2f} ms  p99 {:>6.2f} ms  {:>7.1f} KiB/reply  "
             "cpu/req server {:>5.3f} ms client {:>5.3f} ms  errors {}\n",
             w.name, static_cast<double>(all.size()) / elapsed, pct(0.50), pct(0.99),
             static_cast<double>(bytes.load()) / 1024.0 / n, (cpu_total - cpu_client) * 1e3 / n,
             cpu_client * 1e3 / n, errors.load());
}

} // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::stod(argv[1]) : 3.0;
  int threads = argc > 2 ? std::stoi(argv[2]) : 4;
  std::string only = argc > 3 ? argv[3] : ""; // runs the workloads whose name contains it
  EmulatorOptions options;
  options.rate_limit_per_second = 0;
  Emulator emulator(big_state(), weft::base::system_clock(), options);
  FrontendOptions frontend_options;
  frontend_options.threads = threads;
  HttpFrontend frontend(emulator, nullptr, frontend_options);
  if (auto s = frontend.start(); !s.ok()) {
    fmt::print(stderr, "{}\n", s.to_string());
    return 1;
  }
  fmt::print("vpc-emulator bench: {} routes in {}, {} more tables, {} client threads, {} s each\n",
             kRoutes, testing::kTableId, kTables, threads, seconds);
  std::vector<std::string> pages;
  for (int offset = 0; offset < kTables + 3; offset += 10) {
    pages.push_back(fmt::format(
        R"({{"Filters":[{{"Name":"vpc-id","Values":["{}"]}}],"Offset":"{}","Limit":"10"}})",
        testing::kVpcId, offset));
  }
  std::vector<Workload> workloads = {
      {"DescribeVpcs", "DescribeVpcs", {"{}"}},
      {"DescribeRouteTables paging, no routes",
       "DescribeRouteTables",
       {R"({"Offset":"0","Limit":"100","NeedRouterInfo":false})"}},
      {"DescribeRouteTables pages of 10", "DescribeRouteTables", pages},
      {"DescribeRouteTables 5000-route table",
       "DescribeRouteTables",
       {fmt::format(R"({{"RouteTableIds":["{}"]}})", testing::kTableId)}}};
  for (const auto& w : workloads) {
    if (w.name.find(only) != std::string::npos) {
      run(emulator, frontend.api_port(), w, threads, seconds);
    }
  }
  frontend.stop();
  return 0;
}
