// Load generator: requests/s and p50/p99 latency of the emulator over HTTP with its own limits off,
// for a VPC whose main route table holds 5000 routes. Prints figures; never passes or fails.

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <httplib.h>
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

void run(Emulator& emulator, int port, const Workload& w, int threads, double seconds) {
  std::string host = fmt::format("127.0.0.1:{}", port);
  std::vector<httplib::Headers> headers;
  for (const auto& body : w.bodies) {
    ApiRequest r = testing::signed_request(w.action, body, emulator.unix_now(), testing::kSecretId,
                                           testing::kSecretKey, "", host);
    httplib::Headers h;
    for (const auto& [k, v] : r.headers) {
      if (k != "host" && k != "content-type") {
        h.emplace(k, v);
      }
    }
    headers.push_back(h);
  }
  std::vector<std::vector<double>> latencies(static_cast<size_t>(threads));
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint64_t> bytes{0};
  auto start = std::chrono::steady_clock::now();
  auto end = start + std::chrono::duration<double>(seconds);
  std::vector<std::jthread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      httplib::Client client("127.0.0.1", port);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      size_t i = static_cast<size_t>(t);
      while (std::chrono::steady_clock::now() < end) {
        size_t k = i++ % w.bodies.size();
        auto t0 = std::chrono::steady_clock::now();
        auto res = client.Post("/", headers[k], w.bodies[k], "application/json");
        auto t1 = std::chrono::steady_clock::now();
        if (!res || res->status != 200 || res->body.find("\"Error\"") != std::string::npos) {
          ++errors;
        } else {
          bytes += res->body.size();
        }
        latencies[static_cast<size_t>(t)].push_back(
            std::chrono::duration<double, std::milli>(t1 - t0).count());
      }
    });
  }
  workers.clear();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<double> all;
  for (const auto& l : latencies) {
    all.insert(all.end(), l.begin(), l.end());
  }
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<size_t>(p * all.size()))];
  };
  fmt::print("{:<34} {:>8.0f} req/s  p50 {:>6.2f} ms  p99 {:>6.2f} ms  {:>7.1f} KiB/reply  "
             "errors {}\n",
             w.name, static_cast<double>(all.size()) / elapsed, pct(0.50), pct(0.99),
             all.empty() ? 0.0 : static_cast<double>(bytes.load()) / 1024.0 / all.size(),
             errors.load());
}

} // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::stod(argv[1]) : 3.0;
  int threads = argc > 2 ? std::stoi(argv[2]) : 4;
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
  run(emulator, frontend.api_port(), {"DescribeVpcs", "DescribeVpcs", {"{}"}}, threads, seconds);
  run(emulator, frontend.api_port(),
      {"DescribeRouteTables paging, no routes",
       "DescribeRouteTables",
       {R"({"Offset":"0","Limit":"100","NeedRouterInfo":false})"}},
      threads, seconds);
  run(emulator, frontend.api_port(),
      {"DescribeRouteTables pages of 10", "DescribeRouteTables", pages}, threads, seconds);
  run(emulator, frontend.api_port(),
      {"DescribeRouteTables 5000-route table",
       "DescribeRouteTables",
       {fmt::format(R"({{"RouteTableIds":["{}"]}})", testing::kTableId)}},
      threads, seconds);
  frontend.stop();
  return 0;
}
