// EtcdStore against a real single-member etcd: flanneld compatibility, acquire (calls, reuse,
// races, exhaustion), renew/keep, watch (events, malformed values, resume, compaction), startup
// retry and election.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <latch>
#include <mutex>
#include <set>
#include <thread>

#include "base/log.h"
#include "lease/subnet_key.h"
#include "test/store/store_test_util.h"

namespace weft::test {
namespace {

using store::etcd::EtcdStore;
using store::etcd::Rpc;

constexpr const char* kConfig = R"({"Network":"10.5.0.0/16","Backend":{"Type":"vxlan"}})";

class EtcdStoreTest : public ::testing::Test {
protected:
  void SetUp() override {
    auto c = EtcdCluster::start();
    ASSERT_TRUE(c.ok()) << c.status().to_string();
    cluster_ = std::move(*c);
    put_config(kConfig);
  }

  void put_config(const std::string& json) {
    auto r = cluster_->etcdctl({"put", "/coreos.com/network/config", json});
    ASSERT_TRUE(r.ok()) << r.status().to_string();
  }

  std::unique_ptr<EtcdStore> make_store(store::etcd::EtcdStoreConfig cfg = {}) {
    if (cfg.endpoints.size() == 1 && cfg.endpoints[0] == "http://127.0.0.1:2379") {
      cfg = store_config(*cluster_);
    }
    auto s = store::etcd::make_etcd_store(cfg);
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    return std::move(*s);
  }

  store::AcquireOptions options(const std::string& json = kConfig) {
    store::AcquireOptions o;
    o.config = net_config(json);
    return o;
  }

  // Every store acquires (client i as node i + 1) at the same moment; the results in order.
  std::vector<base::Result<lease::Lease>>
  acquire_at_once(const std::vector<std::unique_ptr<EtcdStore>>& stores, const std::string& cfg) {
    const std::size_t n = stores.size();
    std::vector<base::Result<lease::Lease>> results(n, base::internal_error("not run"));
    std::latch go(static_cast<std::ptrdiff_t>(n));
    {
      std::vector<std::jthread> threads;
      for (std::size_t i = 0; i < n; ++i) {
        threads.emplace_back([&, i] {
          auto o = options(cfg);
          go.arrive_and_wait();
          results[i] = stores[i]->acquire_lease(attrs_for(static_cast<int>(i) + 1), o);
        });
      }
    }
    return results;
  }

  std::unique_ptr<EtcdCluster> cluster_;
};

TEST_F(EtcdStoreTest, ReadsNetworkConfig) {
  auto store = make_store();
  auto cfg = store->get_network_config();
  ASSERT_TRUE(cfg.ok()) << cfg.status().to_string();
  EXPECT_EQ(*cfg, kConfig);

  ASSERT_TRUE(cluster_->etcdctl({"del", "/coreos.com/network/config"}).ok());
  cfg = store->get_network_config();
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(cfg.status().code(), base::Code::kNotFound);
  EXPECT_THAT(cfg.status().message(), ::testing::HasSubstr("flannel config not found"));
}

TEST_F(EtcdStoreTest, ReadsLeasesWrittenByFlanneld) {
  // Exactly what flanneld writes (reference/flannel.md 3.1), with etcd leases and a reservation.
  auto grant = cluster_->etcdctl({"lease", "grant", "600"});
  ASSERT_TRUE(grant.ok());
  const std::string id = grant->substr(6, grant->find(' ', 6) - 6); // "lease <hex> granted..."
  const std::string vxlan =
      R"({"PublicIP":"192.168.64.3","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:3e:4f:5a:6b"}})";
  const std::string tencent = R"({"PublicIP":"192.168.64.4","PublicIPv6":null})";
  const std::string dual =
      R"({"PublicIP":"192.168.64.5","PublicIPv6":"fc00::5","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:3e:4f:5a:6c"},"BackendV6Data":{"VNI":1,"VtepMAC":"c6:d2:3e:4f:5a:6c"}})";
  ASSERT_TRUE(
      cluster_->etcdctl({"put", "--lease", id, "/coreos.com/network/subnets/10.5.7.0-24", vxlan})
          .ok());
  ASSERT_TRUE(cluster_->etcdctl({"put", "/coreos.com/network/subnets/10.5.8.0-24", tencent}).ok());
  ASSERT_TRUE(cluster_
                  ->etcdctl({"put", "--lease", id,
                             "/coreos.com/network/subnets/10.5.9.0-24&fc00::-64", dual})
                  .ok());

  auto store = make_store();
  auto snap = store->list_leases();
  ASSERT_TRUE(snap.ok()) << snap.status().to_string();
  ASSERT_EQ(snap->leases.size(), 3u);
  std::map<std::string, lease::Lease> by_key;
  for (const auto& l : snap->leases) {
    by_key[lease::make_subnet_key(l.subnet, l.ipv6_subnet)] = l;
  }
  const auto& a = by_key.at("10.5.7.0-24");
  EXPECT_EQ(a.attrs.public_ip.to_string(), "192.168.64.3");
  EXPECT_EQ(a.attrs.backend_type, "vxlan");
  EXPECT_EQ(a.attrs.backend_data, R"({"VNI":1,"VtepMAC":"c6:d2:3e:4f:5a:6b"})");
  EXPECT_NE(a.expiration, std::chrono::system_clock::time_point{});
  EXPECT_EQ(lease::to_json(a.attrs), vxlan); // and we would write it back byte for byte

  const auto& b = by_key.at("10.5.8.0-24"); // a reservation: no etcd lease
  EXPECT_EQ(b.expiration, std::chrono::system_clock::time_point{});
  EXPECT_EQ(lease::to_json(b.attrs), tencent);

  const auto& c = by_key.at("10.5.9.0-24&fc00::-64");
  ASSERT_TRUE(c.ipv6_subnet.has_value());
  EXPECT_EQ(c.ipv6_subnet->to_string(), "fc00::/64");
  EXPECT_TRUE(c.enable_ipv6);
  EXPECT_EQ(lease::to_json(c.attrs), dual);
}

TEST_F(EtcdStoreTest, WritesFlanneldKeyAndJsonWithTtlLease) {
  auto store = make_store();
  lease::LeaseAttrs attrs;
  attrs.public_ip = *net::Ip4Addr::parse("192.168.64.3");
  attrs.backend_type = "vxlan";
  attrs.backend_data = R"({"VNI":1,"VtepMAC":"c6:d2:3e:4f:5a:6b"})";
  auto l = store->acquire_lease(attrs, options());
  ASSERT_TRUE(l.ok()) << l.status().to_string();
  ASSERT_TRUE(l->subnet.has_value());
  EXPECT_EQ(l->subnet->prefix_len(), 24);

  const std::string key = "/coreos.com/network/subnets/" + l->subnet->ip().to_string() + "-24";
  auto got = store->client().range(key);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->kvs.size(), 1u);
  EXPECT_EQ(
      got->kvs[0].value,
      R"({"PublicIP":"192.168.64.3","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:3e:4f:5a:6b"}})");
  ASSERT_NE(got->kvs[0].lease, 0);
  auto ttl = store->client().lease_time_to_live(got->kvs[0].lease);
  ASSERT_TRUE(ttl.ok());
  EXPECT_GT(*ttl, 86000);
  EXPECT_LE(*ttl, 86400);
  // etcdctl (Go clientv3) reads the same bytes.
  auto ctl = cluster_->etcdctl({"get", "--print-value-only", key});
  ASSERT_TRUE(ctl.ok());
  EXPECT_EQ(*ctl, got->kvs[0].value + "\n");

  // tencent-vpc sets no BackendType: flanneld's shortest form.
  lease::LeaseAttrs tc;
  tc.public_ip = *net::Ip4Addr::parse("192.168.64.4");
  auto l2 = store->acquire_lease(tc, options());
  ASSERT_TRUE(l2.ok());
  auto got2 = store->client().range(store->lease_key(*l2));
  ASSERT_TRUE(got2.ok());
  ASSERT_EQ(got2->kvs.size(), 1u);
  EXPECT_EQ(got2->kvs[0].value, R"({"PublicIP":"192.168.64.4","PublicIPv6":null})");
}

TEST_F(EtcdStoreTest, AcquireCostsThreeCallsAndReusesOwnLease) {
  auto store = make_store();
  for (int i = 1; i <= 10; ++i) {
    ASSERT_TRUE(store->acquire_lease(attrs_for(1000 + i), options()).ok());
  }
  const auto before = store->rpc_counts();
  auto l = store->acquire_lease(attrs_for(7), options());
  ASSERT_TRUE(l.ok()) << l.status().to_string();
  const auto d = store->rpc_counts() - before;
  EXPECT_EQ(d[Rpc::kRange], 1u);
  EXPECT_EQ(d[Rpc::kLeaseGrant], 1u);
  EXPECT_EQ(d[Rpc::kTxn], 1u);
  EXPECT_EQ(d[Rpc::kLeaseTimeToLive], 0u);
  EXPECT_EQ(d.total(), 3u);

  // A restarted node (new store) with the same PublicIP gets the same subnet back.
  auto other = make_store();
  auto again = other->acquire_lease(attrs_for(7), options());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->subnet, l->subnet);
  auto snap = other->list_leases();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->leases.size(), 11u);
}

// Runs a lease watch on a store until destroyed; waits for its snapshot.
class RunningWatch {
public:
  explicit RunningWatch(store::SubnetStore& store) {
    thread_ = std::jthread([this, &store](std::stop_token st) {
      (void)store.watch_leases(st, [this](const store::LeaseBatch& b) {
        if (b.reset) {
          synced_ = true;
        }
      });
    });
    for (int i = 0; i < 1000 && !synced_.load(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  bool synced() const { return synced_.load(); }

private:
  std::atomic<bool> synced_{false};
  std::jthread thread_;
};

TEST_F(EtcdStoreTest, AcquireWithWatchRunningAllocatesFromItsMirror) {
  auto writer = make_store();
  for (int i = 1; i <= 10; ++i) {
    ASSERT_TRUE(writer->acquire_lease(attrs_for(1000 + i), options()).ok());
  }
  auto first = writer->acquire_lease(attrs_for(7), options());
  ASSERT_TRUE(first.ok());

  auto store = make_store();
  RunningWatch watch(*store);
  ASSERT_TRUE(watch.synced());
  // A lease written after the snapshot reaches the mirror through the watch.
  auto late = writer->acquire_lease(attrs_for(2000), options());
  ASSERT_TRUE(late.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));

  // Reuse by public IP, found in the mirror: a LeaseGrant and a Txn, no listing.
  auto before = store->rpc_counts();
  auto again = store->acquire_lease(attrs_for(7), options());
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  auto d = store->rpc_counts() - before;
  EXPECT_EQ(again->subnet, first->subnet);
  EXPECT_EQ(d[Rpc::kRange], 0u);
  EXPECT_EQ(d[Rpc::kLeaseGrant], 1u);
  EXPECT_EQ(d[Rpc::kTxn], 1u);

  // A new node: a fresh subnet, none of the 12 others (the late one included).
  before = store->rpc_counts();
  auto fresh = store->acquire_lease(attrs_for(3000), options());
  ASSERT_TRUE(fresh.ok()) << fresh.status().to_string();
  d = store->rpc_counts() - before;
  EXPECT_EQ(d[Rpc::kRange], 0u);
  auto snap = writer->list_leases();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->leases.size(), 13u);
  std::set<std::string> subnets;
  for (const auto& l : snap->leases) {
    subnets.insert(l.subnet->to_string());
  }
  EXPECT_EQ(subnets.size(), 13u);
  EXPECT_TRUE(subnets.contains(fresh->subnet->to_string()));

  // A lease deleted after the snapshot leaves the mirror: its subnet is free again for a node
  // that held it before (subnet.env), still without a listing.
  ASSERT_TRUE(writer->release_lease(*late).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto opts = options();
  opts.previous_subnet = late->subnet;
  before = store->rpc_counts();
  auto back = store->acquire_lease(attrs_for(4000), opts);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  d = store->rpc_counts() - before;
  EXPECT_EQ(back->subnet, late->subnet);
  EXPECT_EQ(d[Rpc::kRange], 1u); // the single-key read of the previous subnet (gone): no listing
}

TEST_F(EtcdStoreTest, AcquireDuringTheWatchSnapshotAllocatesFromTheListing) {
  // A starting daemon: the watch has read its snapshot and is still parsing it when the acquire
  // asks. The acquire allocates from that listing (no listing of its own), deciding as from the
  // mirror: reuse by public IP, deletion of the node's incompatible lease, a free subnet.
  auto writer = make_store();
  const std::string prefix = "/coreos.com/network/subnets/";
  ASSERT_TRUE(writer->client().put(prefix + "10.5.7.0-24", lease::to_json(attrs_for(7))).ok());
  ASSERT_TRUE(writer->client().put(prefix + "10.5.9.0-25", lease::to_json(attrs_for(9))).ok());
  for (int i = 1; i <= 20; ++i) {
    ASSERT_TRUE(writer->acquire_lease(attrs_for(1000 + i), options()).ok());
  }

  struct Case {
    int node;
    const char* want; // the subnet, or "" for any free one
    std::size_t deleted;
  };
  for (const Case& c : {Case{7, "10.5.7.0/24", 0}, Case{9, "", 1}, Case{3000, "", 0}}) {
    SCOPED_TRACE(c.node);
    std::mutex mu;
    std::condition_variable cv;
    bool acquired = false;
    bool held = false;
    auto cfg = store_config(*cluster_);
    cfg.on_snapshot_read = [&] { // the watch waits here until the acquire is done
      std::unique_lock lock(mu);
      held = true;
      cv.notify_all();
      cv.wait_for(lock, std::chrono::seconds(10), [&] { return acquired; });
    };
    auto store = make_store(cfg);
    store->expect_watch();
    std::atomic<int> resets{0};
    std::jthread watch([&](std::stop_token st) {
      (void)store->watch_leases(st, [&](const store::LeaseBatch& b) { resets += b.reset ? 1 : 0; });
    });
    {
      std::unique_lock lock(mu);
      ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return held; }));
    }
    const auto before = store->rpc_counts();
    const auto before_all = writer->list_leases();
    ASSERT_TRUE(before_all.ok());
    auto got = store->acquire_lease(attrs_for(c.node), options());
    const int resets_during_acquire = resets.load();
    {
      std::lock_guard lock(mu);
      acquired = true;
      cv.notify_all();
    }
    ASSERT_TRUE(got.ok()) << got.status().to_string();
    const auto d = store->rpc_counts() - before;
    EXPECT_EQ(resets_during_acquire, 0); // decided before the mirror existed
    EXPECT_EQ(d[Rpc::kRange], 0u);
    EXPECT_EQ(d[Rpc::kDeleteRange] + d[Rpc::kTxn], 1u + c.deleted);
    if (*c.want != '\0') {
      EXPECT_EQ(got->subnet->to_string(), c.want);
    } else {
      for (const auto& l : before_all->leases) {
        EXPECT_NE(l.subnet, got->subnet);
      }
    }
    auto after = writer->list_leases();
    ASSERT_TRUE(after.ok());
    for (const auto& l : after->leases) {
      if (l.attrs.public_ip == attrs_for(c.node).public_ip) {
        EXPECT_EQ(l.subnet, got->subnet); // the incompatible /25 is gone
      }
    }
  }
}

TEST_F(EtcdStoreTest, WatchOpensBeforeTheStartWritesTheNodesLease) {
  // etcd sends at once to a watcher that starts past its current revision, and catches up one
  // that starts at or below it only in its sync loop, every 100 ms. A starting daemon's watch
  // opens right after its listing, so before the acquire writes the node's lease: opened after
  // that write, it held back the lease's event, and every change after it, for up to 100 ms.
  auto writer = make_store();
  ASSERT_TRUE(writer->acquire_lease(attrs_for(1), options()).ok());
  std::mutex mu;
  std::condition_variable cv;
  bool acquired = false;
  bool held = false;
  std::uint64_t watches_at_snapshot = 0;
  EtcdStore* watching = nullptr;
  auto cfg = store_config(*cluster_);
  cfg.on_snapshot_read = [&] { // the watch waits here (its snapshot read) until the acquire
    std::unique_lock lock(mu);
    watches_at_snapshot = watching->rpc_counts()[Rpc::kWatch];
    held = true;
    cv.notify_all();
    cv.wait_for(lock, std::chrono::seconds(10), [&] { return acquired; });
  };
  auto store = make_store(cfg);
  watching = store.get();
  store->expect_watch();
  LeaseModel model;
  std::jthread watch([&](std::stop_token st) {
    (void)store->watch_leases(st, [&](const store::LeaseBatch& b) { model.apply(b); });
  });
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return held; }));
  }
  auto own = store->acquire_lease(attrs_for(2), options());
  {
    std::lock_guard lock(mu);
    acquired = true;
    cv.notify_all();
  }
  ASSERT_TRUE(own.ok()) << own.status().to_string();
  EXPECT_EQ(watches_at_snapshot, 1u); // open before the node's lease was written
  // The write's event comes through that watch, after the snapshot (which did not hold it).
  const std::string key = lease::make_subnet_key(own->subnet, own->ipv6_subnet);
  ASSERT_TRUE(wait_until([&] { return model.has(key); }));
  EXPECT_EQ(model.resets(), 1);
  EXPECT_EQ(model.leases().size(), 2u);
  EXPECT_EQ(store->rpc_counts()[Rpc::kWatch], 1u);
}

TEST_F(EtcdStoreTest, LeaseGrantedAheadIsTheAcquiresOrIsRevoked) {
  auto leases_in_etcd = [&] {
    auto out = cluster_->etcdctl({"lease", "list"});
    EXPECT_TRUE(out.ok());
    return out.ok() ? *out : std::string();
  };
  {
    // Granted ahead: the acquire attaches that lease and grants no other.
    auto store = make_store();
    store->grant_ahead();
    store->grant_ahead(); // a second call starts nothing new
    auto got = store->acquire_lease(attrs_for(1), options());
    ASSERT_TRUE(got.ok()) << got.status().to_string();
    EXPECT_EQ(store->rpc_counts()[Rpc::kLeaseGrant], 1u);
    EXPECT_THAT(leases_in_etcd(), ::testing::HasSubstr("found 1 leases"));
  }
  {
    // Never used: revoked when the store goes (a daemon that stops before its acquire).
    auto store = make_store();
    store->grant_ahead();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_THAT(leases_in_etcd(), ::testing::HasSubstr("found 2 leases"));
  }
  EXPECT_THAT(leases_in_etcd(), ::testing::HasSubstr("found 1 leases"));
}

TEST_F(EtcdStoreTest, RestartReusesItsSubnetFromOneKeyRead) {
  auto writer = make_store();
  // Node 7 holds two leases (reservations written by hand, before the others are allocated so
  // that none lands on them): a listing would reuse the first in key order, 10.5.1.0/24; its
  // subnet.env names 10.5.200.0/24.
  const std::string value = lease::to_json(attrs_for(7));
  const std::string prefix = "/coreos.com/network/subnets/";
  ASSERT_TRUE(writer->client().put(prefix + "10.5.1.0-24", value).ok());
  ASSERT_TRUE(writer->client().put(prefix + "10.5.200.0-24", value).ok());
  for (int i = 1; i <= 50; ++i) {
    ASSERT_TRUE(writer->acquire_lease(attrs_for(1000 + i), options()).ok());
  }

  // The node restarts (a new store): one Range of its subnet.env key, and a Txn; the 52 leases
  // are not listed, and the subnet its pods use is kept.
  auto restarted = make_store();
  auto opts = options();
  opts.previous_subnet = net::Ip4Net::parse("10.5.200.0/24").value();
  auto before = restarted->rpc_counts();
  auto again = restarted->acquire_lease(attrs_for(7), opts);
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  auto d = restarted->rpc_counts() - before;
  EXPECT_EQ(again->subnet->to_string(), "10.5.200.0/24");
  EXPECT_EQ(d[Rpc::kRange], 1u);
  EXPECT_EQ(d[Rpc::kTxn], 1u);
  auto snap = writer->list_leases();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->leases.size(), 52u);

  // Another node whose subnet.env names that subnet (a copied disk image, say) does not take it:
  // the key is not its lease, so it lists the leases and allocates a free subnet.
  auto stranger = make_store();
  before = stranger->rpc_counts();
  auto other = stranger->acquire_lease(attrs_for(8), opts);
  ASSERT_TRUE(other.ok()) << other.status().to_string();
  d = stranger->rpc_counts() - before;
  EXPECT_NE(other->subnet, again->subnet);
  EXPECT_EQ(d[Rpc::kRange], 2u);
  auto held = writer->client().range(prefix + "10.5.200.0-24");
  ASSERT_TRUE(held.ok());
  ASSERT_EQ(held->kvs.size(), 1u);
  EXPECT_EQ(held->kvs[0].value, value);
}

TEST_F(EtcdStoreTest, ConcurrentClientsWithWatchesGetDistinctSubnets) {
  // Every client allocates from its watch's mirror, which cannot show the others' concurrent
  // picks: lost races are likely, and each must fall back to a fresh listing.
  constexpr int kClients = 16;
  std::vector<std::unique_ptr<EtcdStore>> stores;
  std::vector<std::unique_ptr<RunningWatch>> watches;
  for (int i = 0; i < kClients; ++i) {
    stores.push_back(make_store());
    watches.push_back(std::make_unique<RunningWatch>(*stores.back()));
    ASSERT_TRUE(watches.back()->synced());
  }
  const std::string cfg =
      R"({"Network":"10.5.0.0/16","SubnetMin":"10.5.1.0","SubnetMax":"10.5.20.0"})";
  auto results = acquire_at_once(stores, cfg);
  std::set<std::string> subnets;
  for (int i = 0; i < kClients; ++i) {
    const auto& r = results[static_cast<std::size_t>(i)];
    ASSERT_TRUE(r.ok()) << "client " << i << ": " << r.status().to_string();
    subnets.insert(r->subnet->to_string());
  }
  EXPECT_EQ(subnets.size(), static_cast<std::size_t>(kClients));
  watches.clear();
}

TEST_F(EtcdStoreTest, PreviousSubnetIsPreferred) {
  auto store = make_store();
  auto o = options();
  o.previous_subnet = *net::Ip4Net::parse("10.5.200.0/24");
  auto l = store->acquire_lease(attrs_for(3), o);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->subnet->to_string(), "10.5.200.0/24");
}

TEST_F(EtcdStoreTest, SixtyFourConcurrentClientsGetDistinctSubnets) {
  constexpr int kClients = 64;
  std::vector<std::unique_ptr<EtcdStore>> stores;
  for (int i = 0; i < kClients; ++i) {
    stores.push_back(make_store());
  }
  // Spread the initial picks little: a small range makes collisions (lost races) likely.
  const std::string cfg =
      R"({"Network":"10.5.0.0/16","SubnetMin":"10.5.1.0","SubnetMax":"10.5.100.0"})";
  auto results = acquire_at_once(stores, cfg);
  std::set<std::string> subnets;
  std::uint64_t txns = 0;
  for (int i = 0; i < kClients; ++i) {
    const auto& r = results[static_cast<std::size_t>(i)];
    ASSERT_TRUE(r.ok()) << "client " << i << ": " << r.status().to_string();
    const auto& sn = *r->subnet;
    EXPECT_EQ(sn.prefix_len(), 24);
    EXPECT_GE(sn.ip(), *net::Ip4Addr::parse("10.5.1.0"));
    EXPECT_LE(sn.ip(), *net::Ip4Addr::parse("10.5.100.0"));
    subnets.insert(sn.to_string());
    txns += stores[static_cast<std::size_t>(i)]->rpc_counts()[Rpc::kTxn];
  }
  EXPECT_EQ(subnets.size(), static_cast<std::size_t>(kClients)); // distinct /24s never overlap
  auto snap = stores[0]->list_leases();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->leases.size(), static_cast<std::size_t>(kClients));
  std::cout << "64 concurrent acquires: " << txns << " Txns (" << txns - kClients
            << " lost races retried)\n";
}

TEST_F(EtcdStoreTest, FifthClientIsOutOfSubnets) {
  const std::string cfg = R"({"Network":"10.6.0.0/21","SubnetLen":24,"SubnetMin":"10.6.1.0",)"
                          R"("SubnetMax":"10.6.4.0"})";
  std::set<std::string> got;
  for (int i = 1; i <= 4; ++i) {
    auto store = make_store();
    auto l = store->acquire_lease(attrs_for(i), options(cfg));
    ASSERT_TRUE(l.ok()) << l.status().to_string();
    got.insert(l->subnet->to_string());
  }
  EXPECT_EQ(got,
            (std::set<std::string>{"10.6.1.0/24", "10.6.2.0/24", "10.6.3.0/24", "10.6.4.0/24"}));
  auto store = make_store();
  auto fifth = store->acquire_lease(attrs_for(5), options(cfg));
  ASSERT_FALSE(fifth.ok());
  EXPECT_EQ(fifth.status().code(), base::Code::kOutOfRange);
  EXPECT_THAT(fifth.status().message(), ::testing::HasSubstr("out of subnets"));
}

TEST_F(EtcdStoreTest, RenewAndRelease) {
  auto store = make_store();
  auto l = store->acquire_lease(attrs_for(1), options());
  ASSERT_TRUE(l.ok());
  const auto key = store->lease_key(*l);
  auto before = store->client().range(key);
  ASSERT_TRUE(before.ok());
  auto r = store->renew_lease(*l);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  auto after = store->client().range(key);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->kvs.size(), 1u);
  EXPECT_NE(after->kvs[0].lease, before->kvs[0].lease); // a fresh 24h etcd lease, as flanneld
  EXPECT_EQ(after->kvs[0].value, before->kvs[0].value);

  // A renewal of a subnet someone else took is refused.
  ASSERT_TRUE(store->release_lease(*r).ok());
  EXPECT_TRUE(store->client().range(key)->kvs.empty());
  auto thief = make_store();
  auto o = options();
  o.previous_subnet = l->subnet;
  auto t = thief->acquire_lease(attrs_for(2), o);
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->subnet, l->subnet);
  auto denied = store->renew_lease(*r);
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.status().code(), base::Code::kConflict);
}

TEST_F(EtcdStoreTest, KeepLeaseRenewsAndReacquiresWhenDeleted) {
  auto cfg = store_config(*cluster_);
  cfg.lease_ttl = std::chrono::seconds(6);
  cfg.renew_margin = std::chrono::seconds(4); // renew every ~2 s
  auto store = make_store(cfg);
  auto l = store->acquire_lease(attrs_for(1), options());
  ASSERT_TRUE(l.ok());
  LogCapture logs;
  std::mutex mu;
  std::vector<lease::Lease> changes;
  std::jthread keeper([&](std::stop_token st) {
    (void)store->keep_lease(st, *l, [&](const lease::Lease& nl) {
      std::lock_guard lock(mu);
      changes.push_back(nl);
    });
  });
  auto n_changes = [&] {
    std::lock_guard lock(mu);
    return changes.size();
  };
  ASSERT_TRUE(wait_until([&] { return n_changes() >= 2; })); // two renewals
  // Past the first TTL: the key lives on thanks to renewals.
  EXPECT_EQ(store->client().range(store->lease_key(*l))->kvs.size(), 1u);

  const std::size_t before = n_changes();
  ASSERT_TRUE(cluster_->etcdctl({"del", store->lease_key(*l)}).ok());
  ASSERT_TRUE(wait_until([&] { return logs.count("re-acquired lease") == 1; }));
  EXPECT_EQ(logs.count("disappeared from the store"), 1);
  ASSERT_GT(n_changes(), before);
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(changes.back().subnet, l->subnet); // the same subnet, as it was free
  }
  EXPECT_EQ(store->client().range(store->lease_key(*l))->kvs.size(), 1u);
}

TEST_F(EtcdStoreTest, WatchDeliversSnapshotThenChangesAndSkipsMalformedOnce) {
  auto store = make_store();
  auto writer = make_store();
  ASSERT_TRUE(writer->acquire_lease(attrs_for(1), options()).ok());
  LogCapture logs;
  LeaseModel model;
  std::jthread watcher([&](std::stop_token st) {
    (void)store->watch_leases(st, [&](const store::LeaseBatch& b) { model.apply(b); });
  });
  ASSERT_TRUE(wait_until([&] { return model.resets() == 1; }));
  EXPECT_EQ(model.leases().size(), 1u);

  ASSERT_TRUE(
      cluster_->etcdctl({"put", "/coreos.com/network/subnets/10.5.99.0-24", "{not json"}).ok());
  ASSERT_TRUE(cluster_->etcdctl({"put", "/coreos.com/network/subnets/garbage", "{}"}).ok());
  // The watching store reports each bad value once.
  ASSERT_TRUE(wait_until([&] { return logs.count("skipping malformed lease") == 2; }));
  auto l2 = writer->acquire_lease(attrs_for(2), options()); // the writer reports them too
  ASSERT_TRUE(l2.ok());
  const auto k2 = lease::make_subnet_key(l2->subnet, l2->ipv6_subnet);
  ASSERT_TRUE(wait_until([&] { return model.has(k2); }));
  EXPECT_FALSE(model.has("10.5.99.0-24"));
  EXPECT_EQ(logs.count("skipping malformed lease"), 4);
  // Reading the same bad values again does not report them again.
  ASSERT_TRUE(store->list_leases().ok());
  ASSERT_TRUE(writer->list_leases().ok());
  EXPECT_EQ(logs.count("skipping malformed lease"), 4);

  ASSERT_TRUE(writer->release_lease(*l2).ok());
  ASSERT_TRUE(wait_until([&] { return !model.has(k2); }));
  EXPECT_EQ(model.leases().size(), 1u);
  EXPECT_EQ(model.resets(), 1);
}

TEST_F(EtcdStoreTest, WatchResumesAfterEtcdRestartWithoutLosingEvents) {
  auto cfg = store_config(*cluster_);
  cfg.retry_initial = std::chrono::milliseconds(300); // changes land while we are away
  auto store = make_store(cfg);
  auto writer = make_store();
  LeaseModel model;
  std::jthread watcher([&](std::stop_token st) {
    (void)store->watch_leases(st, [&](const store::LeaseBatch& b) { model.apply(b); });
  });
  ASSERT_TRUE(wait_until([&] { return model.resets() == 1; }));
  std::vector<std::string> written;
  for (int i = 1; i <= 20; ++i) {
    auto l = writer->acquire_lease(attrs_for(i), options());
    ASSERT_TRUE(l.ok());
    written.push_back(lease::make_subnet_key(l->subnet, l->ipv6_subnet));
  }
  ASSERT_TRUE(cluster_->stop_member(0).ok());
  ASSERT_TRUE(cluster_->restart_member(0).ok());
  for (int i = 21; i <= 60; ++i) {
    auto l = writer->acquire_lease(attrs_for(i), options());
    ASSERT_TRUE(l.ok()) << l.status().to_string();
    written.push_back(lease::make_subnet_key(l->subnet, l->ipv6_subnet));
  }
  ASSERT_TRUE(wait_until([&] { return model.leases().size() == written.size(); }))
      << model.leases().size();
  const auto added = model.added_keys();
  EXPECT_EQ(added, written);    // every change seen once, in order
  EXPECT_EQ(model.resets(), 1); // resumed from the revision, no re-list
  EXPECT_GE(store->rpc_counts()[Rpc::kWatch], 2u);
}

TEST_F(EtcdStoreTest, WatchRelistsAfterCompaction) {
  auto store = make_store();
  auto writer = make_store();
  LeaseModel model;
  std::mutex gate;
  std::atomic<bool> block{false};
  std::atomic<bool> parked{false};
  std::jthread watcher([&](std::stop_token st) {
    (void)store->watch_leases(st, [&](const store::LeaseBatch& b) {
      if (block.load()) {
        parked = true;
        std::lock_guard lock(gate); // held by the test while history is compacted away
      }
      model.apply(b);
    });
  });
  ASSERT_TRUE(wait_until([&] { return model.resets() == 1; }));
  std::unique_lock hold(gate);
  block = true;
  auto first = writer->acquire_lease(attrs_for(1), options());
  ASSERT_TRUE(first.ok());
  // Once the watcher is parked in the callback (with the event of the first lease), break its
  // stream, change and compact history.
  ASSERT_TRUE(wait_until([&] { return parked.load(); }));
  ASSERT_TRUE(cluster_->stop_member(0).ok());
  ASSERT_TRUE(cluster_->restart_member(0).ok());
  std::vector<std::string> later;
  for (int i = 2; i <= 6; ++i) {
    auto l = writer->acquire_lease(attrs_for(i), options());
    ASSERT_TRUE(l.ok());
    later.push_back(lease::make_subnet_key(l->subnet, l->ipv6_subnet));
  }
  auto rev = writer->list_leases();
  ASSERT_TRUE(rev.ok());
  ASSERT_TRUE(writer->client().compact(rev->revision).ok());
  block = false;
  hold.unlock();
  ASSERT_TRUE(wait_until([&] { return model.resets() == 2; }));
  ASSERT_TRUE(wait_until([&] { return model.leases().size() == 6u; }));
  for (const auto& k : later) {
    EXPECT_TRUE(model.has(k)) << k;
  }
}

TEST_F(EtcdStoreTest, StartupWaitsForUnreachableEtcd) {
  auto store = make_store();
  ASSERT_TRUE(cluster_->stop_member(0).ok());
  LogCapture logs;
  std::atomic<bool> done{false};
  base::Result<std::string> got = base::internal_error("not run");
  std::jthread t([&](std::stop_token st) {
    got = store::retry_unavailable<std::string>(st, "reading the network config",
                                                [&] { return store->get_network_config(); });
    done = true;
  });
  ASSERT_TRUE(wait_until([&] { return logs.count("store unreachable") == 1; }));
  EXPECT_FALSE(done.load());
  ASSERT_TRUE(cluster_->restart_member(0).ok());
  ASSERT_TRUE(wait_until([&] { return done.load(); })) << logs.dump();
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ(*got, kConfig);
  EXPECT_EQ(logs.count("store unreachable"), 1); // one line per change of state
  EXPECT_EQ(logs.count("store reachable again"), 1);
}

std::mutex g_log_mu;
std::string g_log; // lines logged while a test's sink is installed

void capture_log(std::string_view line) {
  std::lock_guard lock(g_log_mu);
  g_log.append(line);
  g_log += '\n';
}

// --etcd-username/--etcd-password against an etcd with auth enabled and 1-second tokens: leases
// are acquired, watched and renewed across token expiry; a wrong password is an error that names
// the user and stops (no retry loop); the password never reaches a log line or an error.
TEST(EtcdStoreAuthTest, UsernamePasswordWithExpiringTokens) {
  EtcdClusterOptions opts;
  opts.extra_args = {"--auth-token=simple", "--auth-token-ttl=1"};
  auto c = EtcdCluster::start(opts);
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  auto& cluster = **c;
  const std::string password = "pw-Zq7!never-logged";
  const std::string root = "root:root-pw-3";
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"put", "/coreos.com/network/config", kConfig},
           {"user", "add", root, "--interactive=false"},
           {"role", "add", "root"},
           {"user", "grant-role", "root", "root"},
           {"role", "add", "flannel"},
           {"role", "grant-permission", "flannel", "--prefix=true", "readwrite",
            "/coreos.com/network/"},
           {"user", "add", "weft:" + password, "--interactive=false"},
           {"user", "grant-role", "weft", "flannel"},
           {"auth", "enable"}}) {
    auto r = cluster.etcdctl(args);
    ASSERT_TRUE(r.ok()) << args[0] << " " << args[1] << ": " << r.status().to_string();
  }
  // Auth is on: an anonymous client is refused.
  {
    auto anon = store::etcd::make_etcd_store(store_config(cluster));
    ASSERT_TRUE(anon.ok());
    auto cfg = (*anon)->get_network_config();
    ASSERT_FALSE(cfg.ok());
  }

  {
    std::lock_guard lock(g_log_mu);
    g_log.clear();
  }
  base::set_log_sink(&capture_log);
  auto cfg = store_config(cluster);
  cfg.username = "weft";
  cfg.password = base::Secret(password);
  auto s = store::etcd::make_etcd_store(cfg);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  auto& store = **s;
  auto nc = store.get_network_config();
  ASSERT_TRUE(nc.ok()) << nc.status().to_string();
  store::AcquireOptions o;
  o.config = net_config(kConfig);
  auto l = store.acquire_lease(attrs_for(1), o);
  ASSERT_TRUE(l.ok()) << l.status().to_string();

  std::atomic<int> events{0};
  std::jthread watcher([&](std::stop_token st) {
    (void)store.watch_leases(st, [&](const store::LeaseBatch& b) {
      events += static_cast<int>(b.events.size() + b.snapshot.size());
    });
  });
  // Tokens expire after a second: every later call re-authenticates once and goes on.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  auto renewed = store.renew_lease(*l);
  ASSERT_TRUE(renewed.ok()) << renewed.status().to_string();
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  auto second = store.acquire_lease(attrs_for(2), o);
  ASSERT_TRUE(second.ok()) << second.status().to_string();
  EXPECT_NE(second->subnet, l->subnet);
  for (int i = 0; i < 200 && events.load() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GE(events.load(), 2); // the first lease (snapshot) and the second (event)
  EXPECT_GE(store.rpc_counts()[Rpc::kAuthenticate], 2u);
  watcher = {};

  // A wrong password: a clear, final error naming the user.
  auto bad_cfg = cfg;
  bad_cfg.password = base::Secret("wrong-" + password);
  auto bad = store::etcd::make_etcd_store(bad_cfg);
  ASSERT_TRUE(bad.ok());
  auto denied = (*bad)->get_network_config();
  ASSERT_FALSE(denied.ok());
  EXPECT_FALSE(base::is_retryable(denied.status().code())) << denied.status().to_string();
  EXPECT_THAT(denied.status().message(), ::testing::HasSubstr("\"weft\""));
  EXPECT_THAT(denied.status().message(), ::testing::Not(::testing::HasSubstr(password)));
  base::set_log_sink(nullptr);
  std::lock_guard lock(g_log_mu);
  EXPECT_THAT(g_log, ::testing::Not(::testing::HasSubstr(password)));
}

TEST_F(EtcdStoreTest, ElectionHasOneLeaderAndHandsOver) {
  auto s1 = make_store();
  auto s2 = make_store();
  auto e1 = s1->make_election("route-controller", "node-a", std::chrono::seconds(3));
  auto e2 = s2->make_election("route-controller", "node-b", std::chrono::seconds(3));
  ASSERT_TRUE(e1.ok() && e2.ok());
  std::stop_source stop;
  ASSERT_TRUE((*e1)->campaign(stop.get_token(), [] {}).ok());
  EXPECT_TRUE((*e1)->is_leader());
  std::atomic<bool> b_leads{false};
  std::jthread t([&](std::stop_token st) {
    if ((*e2)->campaign(st, [] {}).ok()) {
      b_leads = true;
    }
  });
  EXPECT_EQ(*(*e1)->leader(), "node-a");
  EXPECT_FALSE(b_leads.load());
  ASSERT_TRUE((*e1)->resign().ok());
  EXPECT_FALSE((*e1)->is_leader());
  ASSERT_TRUE(wait_until([&] { return b_leads.load(); }));
  EXPECT_EQ(*(*e2)->leader(), "node-b");
}

} // namespace
} // namespace weft::test
