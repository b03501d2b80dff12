// EtcdStore against a 3-member etcd cluster (fail-over) and a TLS etcd with client certificates.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "lease/subnet_key.h"
#include "test/store/store_test_util.h"

namespace weft::test {
namespace {

constexpr const char* kConfig = R"({"Network":"10.7.0.0/16","Backend":{"Type":"host-gw"}})";

store::AcquireOptions options() {
  store::AcquireOptions o;
  o.config = net_config(kConfig);
  return o;
}

TEST(EtcdFailover, AcquireRenewAndWatchSurviveLosingTheMemberInUse) {
  EtcdClusterOptions opts;
  opts.members = 3;
  auto c = EtcdCluster::start(opts);
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  auto& cluster = **c;
  ASSERT_TRUE(cluster.etcdctl({"put", "/coreos.com/network/config", kConfig}).ok());

  auto s = store::etcd::make_etcd_store(store_config(cluster));
  ASSERT_TRUE(s.ok());
  auto& store = **s;
  auto mine = store.acquire_lease(attrs_for(1), options());
  ASSERT_TRUE(mine.ok()) << mine.status().to_string();

  LeaseModel model;
  std::jthread watcher([&](std::stop_token st) {
    (void)store.watch_leases(st, [&](const store::LeaseBatch& b) { model.apply(b); });
  });
  ASSERT_TRUE(wait_until([&] { return model.resets() == 1; }));

  const int victim = cluster.member_of(store.current_endpoint());
  ASSERT_GE(victim, 0);
  ASSERT_TRUE(cluster.stop_member(victim).ok());

  // A second node, configured with the surviving members only, writes while we fail over.
  auto other_cfg = store_config(cluster);
  other_cfg.endpoints.erase(other_cfg.endpoints.begin() + victim);
  auto other = store::etcd::make_etcd_store(other_cfg);
  ASSERT_TRUE(other.ok());
  auto theirs = (*other)->acquire_lease(attrs_for(2), options());
  ASSERT_TRUE(theirs.ok()) << theirs.status().to_string();

  auto renewed = store.renew_lease(*mine);
  ASSERT_TRUE(renewed.ok()) << renewed.status().to_string();
  EXPECT_NE(cluster.member_of(store.current_endpoint()), victim);
  auto third = store.acquire_lease(attrs_for(3), options());
  ASSERT_TRUE(third.ok()) << third.status().to_string();

  const auto k2 = lease::make_subnet_key(theirs->subnet, theirs->ipv6_subnet);
  const auto k3 = lease::make_subnet_key(third->subnet, third->ipv6_subnet);
  ASSERT_TRUE(wait_until([&] { return model.has(k2) && model.has(k3); }));
  EXPECT_EQ(model.leases().size(), 3u);
}

TEST(EtcdTls, ClientCertificatesRequired) {
  EtcdClusterOptions opts;
  opts.tls = true;
  auto c = EtcdCluster::start(opts);
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  auto& cluster = **c;
  ASSERT_TRUE(cluster.etcdctl({"put", "/coreos.com/network/config", kConfig}).ok());
  ASSERT_EQ(cluster.endpoint(0).rfind("https://", 0), 0u);

  auto s = store::etcd::make_etcd_store(store_config(cluster));
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  auto cfg = (*s)->get_network_config();
  ASSERT_TRUE(cfg.ok()) << cfg.status().to_string();
  EXPECT_EQ(*cfg, kConfig);
  auto l = (*s)->acquire_lease(attrs_for(1), options());
  ASSERT_TRUE(l.ok()) << l.status().to_string();
  LeaseModel model;
  std::jthread watcher([&](std::stop_token st) {
    (void)(*s)->watch_leases(st, [&](const store::LeaseBatch& b) { model.apply(b); });
  });
  ASSERT_TRUE(wait_until([&] { return model.resets() == 1 && model.leases().size() == 1; }));

  // Without a client certificate the server refuses us.
  auto no_cert = store_config(cluster);
  no_cert.certfile.clear();
  no_cert.keyfile.clear();
  auto bare = store::etcd::make_etcd_store(no_cert);
  ASSERT_TRUE(bare.ok());
  EXPECT_FALSE((*bare)->get_network_config().ok());

  // Half a key pair is a configuration error.
  auto half = store_config(cluster);
  half.keyfile.clear();
  EXPECT_EQ(store::etcd::make_etcd_store(half).status().code(), base::Code::kInvalidArgument);
}

} // namespace
} // namespace weft::test
