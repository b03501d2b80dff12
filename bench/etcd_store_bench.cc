// Acquire latency and etcd calls per acquire with 10, 1000 and 5000 existing leases, and watch
// delivery latency for a burst of 1000 lease changes, against a throwaway local etcd.

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "base/log.h"
#include "config/net_config.h"
#include "lease/subnet_key.h"
#include "store/etcd/etcd_store.h"
#include "test/support/etcd_cluster.h"

namespace {

using namespace weft;
using Clock = std::chrono::steady_clock;

constexpr const char* kConfig = R"({"Network":"10.0.0.0/8","SubnetLen":24})";

lease::LeaseAttrs attrs_for(std::uint32_t node) {
  lease::LeaseAttrs a;
  a.public_ip = net::Ip4Addr((172u << 24) | node);
  a.backend_type = "vxlan";
  a.backend_data = fmt::format(R"({{"VNI":1,"VtepMAC":"02:00:00:{:02x}:{:02x}:{:02x}"}})",
                               (node >> 16) & 0xff, (node >> 8) & 0xff, node & 0xff);
  return a;
}

double ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double pct(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[i];
}

void die(const base::Status& st) {
  std::fprintf(stderr, "bench failed: %s\n", st.to_string().c_str());
  std::exit(1);
}

// Writes leases until the store holds `n` (keys from the top of 10/8, out of the acquire path).
void populate(store::etcd::EtcdStore& store, std::size_t& have, std::size_t n) {
  for (; have < n; ++have) {
    const auto i = static_cast<std::uint32_t>(have);
    const net::Ip4Net sn(net::Ip4Addr((10u << 24) | ((0xffffu - i) << 8)), 24);
    auto r = store.client().put(store.subnets_prefix() + lease::make_subnet_key(sn, std::nullopt),
                                lease::to_json(attrs_for(100000 + i)));
    if (!r.ok()) {
      die(r.status());
    }
  }
}

} // namespace

int main() {
  base::set_log_verbosity(0);
  auto c = test::EtcdCluster::start();
  if (!c.ok()) {
    die(c.status());
  }
  auto& cluster = **c;
  if (auto r = cluster.etcdctl({"put", "/coreos.com/network/config", kConfig}); !r.ok()) {
    die(r.status());
  }
  store::etcd::EtcdStoreConfig cfg;
  cfg.endpoints = cluster.endpoints();
  auto s = store::etcd::make_etcd_store(cfg);
  if (!s.ok()) {
    die(s.status());
  }
  auto& store = **s;
  store::AcquireOptions opts;
  opts.config = *config::parse_net_config(kConfig);

  std::printf("etcd store benchmark (etcd %s, loopback, 1 member)\n", "3.4");
  std::printf("%-16s %10s %10s %10s %10s %12s %s\n", "existing leases", "p50 ms", "p99 ms",
              "max ms", "cold ms", "calls/acq", "calls by method");
  std::size_t have = 0;
  std::uint32_t node = 1;
  constexpr int kAcquires = 30;
  for (std::size_t n : {std::size_t{10}, std::size_t{1000}, std::size_t{5000}}) {
    populate(store, have, n);
    std::vector<double> lat;
    const auto before = store.rpc_counts();
    for (int i = 0; i < kAcquires; ++i) {
      const auto t0 = Clock::now();
      auto l = store.acquire_lease(attrs_for(node++), opts);
      lat.push_back(ms(Clock::now() - t0));
      if (!l.ok()) {
        die(l.status());
      }
      ++have;
    }
    const auto d = store.rpc_counts() - before;
    std::vector<double> range_lat;
    for (int i = 0; i < 10; ++i) {
      const auto r0 = Clock::now();
      auto r = store.client().range(store.subnets_prefix(),
                                    store::etcd::prefix_range_end(store.subnets_prefix()));
      range_lat.push_back(ms(Clock::now() - r0));
    }
    std::printf("  (a bare ranged read of all leases: p50 %.2f ms)\n", pct(range_lat, 0.5));
    range_lat.clear();
    for (int i = 0; i < 10; ++i) {
      const auto r0 = Clock::now();
      auto r = store.client().range(store.subnets_prefix(),
                                    store::etcd::prefix_range_end(store.subnets_prefix()), true);
      range_lat.push_back(ms(Clock::now() - r0));
    }
    std::printf("  (the same, serializable as acquire reads: p50 %.2f ms)\n", pct(range_lat, 0.5));
    // A fresh store (a starting daemon, connected by its config read) parses every lease once.
    auto fresh = store::etcd::make_etcd_store(cfg);
    if (auto nc = (*fresh)->get_network_config(); !nc.ok()) {
      die(nc.status());
    }
    const auto c0 = Clock::now();
    if (auto l = (*fresh)->acquire_lease(attrs_for(node++), opts); !l.ok()) {
      die(l.status());
    }
    const double cold = ms(Clock::now() - c0);
    ++have;
    std::string by;
    for (std::size_t m = 0; m < store::etcd::kRpcCount; ++m) {
      if (d.by_method[m] != 0) {
        by += fmt::format("{}={:.1f} ", store::etcd::rpc_name(static_cast<store::etcd::Rpc>(m)),
                          static_cast<double>(d.by_method[m]) / kAcquires);
      }
    }
    std::printf("%-16zu %10.2f %10.2f %10.2f %10.2f %12.2f %s\n", n, pct(lat, 0.5), pct(lat, 0.99),
                *std::max_element(lat.begin(), lat.end()), cold,
                static_cast<double>(d.total()) / kAcquires, by.c_str());

    // The daemon's case: its lease watch is running, so the acquire allocates from the watch's
    // mirror of the leases (LeaseGrant + Txn) instead of listing them.
    {
      std::atomic<bool> synced{false};
      std::jthread watcher([&](std::stop_token st) {
        (void)store.watch_leases(st, [&](const store::LeaseBatch& b) {
          if (b.reset) {
            synced = true;
          }
        });
      });
      while (!synced.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      std::vector<double> wlat;
      const auto wbefore = store.rpc_counts();
      for (int i = 0; i < kAcquires; ++i) {
        const auto t0 = Clock::now();
        auto l = store.acquire_lease(attrs_for(node++), opts);
        wlat.push_back(ms(Clock::now() - t0));
        if (!l.ok()) {
          die(l.status());
        }
        ++have;
      }
      const auto wd = store.rpc_counts() - wbefore;
      std::string wby;
      for (std::size_t m = 0; m < store::etcd::kRpcCount; ++m) {
        // The watch's own stream is not an acquire call.
        if (wd.by_method[m] != 0 && static_cast<store::etcd::Rpc>(m) != store::etcd::Rpc::kWatch) {
          wby += fmt::format("{}={:.1f} ", store::etcd::rpc_name(static_cast<store::etcd::Rpc>(m)),
                             static_cast<double>(wd.by_method[m]) / kAcquires);
        }
      }
      std::printf("%-16s %10.2f %10.2f %10.2f %10s %12s %s\n", "  + watch running", pct(wlat, 0.5),
                  pct(wlat, 0.99), *std::max_element(wlat.begin(), wlat.end()), "", "",
                  wby.c_str());
    }
  }

  // Watch delivery: 1000 lease puts from 4 writers, latency from just before each put is sent
  // to its delivery in a batch.
  constexpr int kBurst = 1000;
  std::mutex mu;
  std::map<std::string, Clock::time_point> sent;
  std::vector<double> delivery;
  std::atomic<bool> reset_seen{false};
  std::jthread watcher([&](std::stop_token st) {
    (void)store.watch_leases(st, [&](const store::LeaseBatch& b) {
      const auto now = Clock::now();
      if (b.reset) {
        reset_seen = true;
      }
      std::lock_guard lock(mu);
      for (const auto& ev : b.events) {
        auto it = sent.find(lease::make_subnet_key(ev.lease.subnet, ev.lease.ipv6_subnet));
        if (it != sent.end()) {
          delivery.push_back(ms(now - it->second));
          sent.erase(it);
        }
      }
    });
  });
  while (!reset_seen.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const auto burst_start = Clock::now();
  {
    std::vector<std::jthread> writers;
    for (int w = 0; w < 4; ++w) {
      writers.emplace_back([&, w] {
        for (int i = w; i < kBurst; i += 4) {
          const net::Ip4Net sn(net::Ip4Addr((10u << 24) | (static_cast<std::uint32_t>(i) << 8)),
                               24);
          const auto key = lease::make_subnet_key(sn, std::nullopt);
          {
            std::lock_guard lock(mu);
            sent[key] = Clock::now();
          }
          auto r =
              store.client().put(store.subnets_prefix() + key,
                                 lease::to_json(attrs_for(500000 + static_cast<std::uint32_t>(i))));
          if (!r.ok()) {
            die(r.status());
          }
        }
      });
    }
  }
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline) {
    {
      std::lock_guard lock(mu);
      if (delivery.size() == static_cast<std::size_t>(kBurst)) {
        break;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  watcher.request_stop();
  watcher.join();
  std::lock_guard lock(mu);
  std::printf("watch burst: %zu/%d changes delivered in %.1f ms; latency p50 %.2f ms, p99 %.2f "
              "ms, max %.2f ms\n",
              delivery.size(), kBurst, ms(Clock::now() - burst_start), pct(delivery, 0.5),
              pct(delivery, 0.99), *std::max_element(delivery.begin(), delivery.end()));
  return 0;
}
