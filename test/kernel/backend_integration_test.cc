// The vxlan backend against a real kernel in a network namespace made by the test: lease events
// applied one by one (Backend::apply_lease_changes) leave exactly the entries that the full lease
// set maps to, for every kind of change: a new lease, a changed VTEP MAC, a lease gone, two leases
// sharing a MAC (which the event path cannot patch alone), and the node's own lease. Needs root.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>

#include "backend/backend.h"
#include "backend/mapping.h"
#include "kernel/netlink_impl.h"
#include "kernel/targets.h"
#include "lease/subnet_key.h"
#include "test/support/netns.h"

namespace weft::backend {
namespace {

using test::Netns;

lease::Lease vxlan_lease(int subnet, int host, int mac) {
  lease::Lease l;
  l.subnet = net::Ip4Net::parse(fmt::format("10.244.{}.0/24", subnet)).value();
  l.attrs.public_ip = net::Ip4Addr::parse(fmt::format("192.168.77.{}", host)).value();
  l.attrs.backend_type = "vxlan";
  l.attrs.backend_data =
      vxlan_backend_data(1, net::MacAddr::parse(fmt::format("0e:00:00:00:01:{:02x}", mac)).value());
  return l;
}

// What a full set maps to, the first entry of a key winning (as a reconciler's set_desired).
template <typename Entry> std::vector<Entry> first_per_key(const std::vector<Entry>& in) {
  std::vector<Entry> out;
  for (const Entry& e : in) {
    if (std::none_of(out.begin(), out.end(), [&](const Entry& o) { return o.key() == e.key(); })) {
      out.push_back(e);
    }
  }
  return out;
}

template <typename Entry> bool same_set(std::vector<Entry> a, std::vector<Entry> b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (const Entry& e : a) {
    if (std::find(b.begin(), b.end(), e) == b.end()) {
      return false;
    }
  }
  return true;
}

class VxlanBackendTest : public ::testing::Test {
protected:
  virtual std::string backend_json() const { return R"({"Type":"vxlan"})"; }

  void SetUp() override {
    if (::geteuid() != 0) {
      GTEST_SKIP() << "needs root (network namespaces)";
    }
    auto a = Netns::create();
    ASSERT_TRUE(a.ok()) << a.status().to_string();
    ns_ = std::move(a).value();
    ASSERT_EQ(ns_->sh("ip link add veth0 type veth peer name veth1 && "
                      "ip addr add 192.168.77.1/24 dev veth0 && ip link set veth0 up && "
                      "ip link set veth1 up")
                  .exit_code,
              0);
    base::Status opened = ns_->run([this] {
      auto nl = kernel::NetlinkImpl::open();
      auto watch = kernel::NetlinkImpl::open();
      if (nl.ok() && watch.ok()) {
        nl_ = std::move(nl).value();
        watch_ = std::move(watch).value();
      }
    });
    ASSERT_TRUE(opened.ok()) << opened.to_string();
    ASSERT_NE(nl_, nullptr);
    auto links = watch_->list_links();
    ASSERT_TRUE(links.ok());
    for (const auto& l : *links) { // the sockets see the test namespace, never the root one
      ASSERT_TRUE(l.name == "lo" || l.name == "veth0" || l.name == "veth1") << l.name;
    }
    auto veth = nl_->link_by_name("veth0");
    ASSERT_TRUE(veth.ok());

    BackendContext ctx;
    ctx.config.backend_type = "vxlan";
    ctx.config.backend_json = backend_json();
    ctx.config.network = net::Ip4Net::parse("10.244.0.0/16").value();
    ctx.config.subnet_len = 24;
    ctx.ext.link = *veth;
    ctx.ext.iface_addr = net::Ip4Addr::parse("192.168.77.1").value();
    ctx.ext.ext_addr = ctx.ext.iface_addr;
    ctx.netlink = nl_.get();
    ctx.resync = std::chrono::seconds(3600); // only events and the first sync: no repair by resync
    auto be = make_backend(ctx);
    ASSERT_TRUE(be.ok()) << be.status().to_string();
    backend_ = std::move(be).value();
    auto attrs = backend_->prepare();
    ASSERT_TRUE(attrs.ok()) << attrs.status().to_string();
    own_ = vxlan_lease(1, 1, 1);
    own_.attrs = *attrs;
    ASSERT_TRUE(backend_->configure_own_lease(own_).ok());
    auto dev = watch_->link_by_name("flannel.1");
    ASSERT_TRUE(dev.ok());
    devices_.v4_ifindex = dev->index;
    devices_.uplink_ifindex = veth->index;
    loop_ = std::jthread([this](std::stop_token st) { backend_->run(st); });
  }

  void TearDown() override {
    if (loop_.joinable()) {
      loop_.request_stop();
      loop_.join();
    }
  }

  std::vector<lease::Lease> all() const {
    std::vector<lease::Lease> out{own_};
    for (const auto& [k, l] : leases_) {
      out.push_back(l);
    }
    return out;
  }

  // As the daemon does: each change carries the lease's previous version, if any.
  std::optional<lease::Lease> previous(const lease::Lease& l) const {
    const auto it = leases_.find(lease::make_subnet_key(l.subnet, l.ipv6_subnet));
    return it == leases_.end() ? std::nullopt : std::optional<lease::Lease>(it->second);
  }

  void change(const lease::Lease& l) {
    LeaseChange c{false, l, previous(l)};
    leases_[lease::make_subnet_key(l.subnet, l.ipv6_subnet)] = l;
    backend_->apply_lease_changes({c}, [this] { return all(); });
  }

  void remove(const lease::Lease& l) {
    LeaseChange c{true, {}, previous(l)};
    c.lease.subnet = l.subnet;
    leases_.erase(lease::make_subnet_key(l.subnet, l.ipv6_subnet));
    backend_->apply_lease_changes({c}, [this] { return all(); });
  }

  // Waits until the kernel holds exactly what the full lease set maps to.
  ::testing::AssertionResult converges() {
    const VxlanEntries want = vxlan_entries(all(), own_.subnet, std::nullopt, devices_);
    const auto routes = first_per_key(want.routes);
    const auto neighs = first_per_key(want.neighbours);
    const auto fdb = first_per_key(want.fdb);
    kernel::RouteTarget rt(*watch_, AF_INET);
    kernel::NeighTarget nt(*watch_, devices_.v4_ifindex);
    kernel::FdbTarget ft(*watch_, devices_.v4_ifindex);
    std::string last;
    for (int i = 0; i < 500; ++i) {
      auto r = rt.list();
      auto n = nt.list();
      auto f = ft.list();
      if (r.ok() && n.ok() && f.ok() && same_set(*r, routes) && same_set(*n, neighs) &&
          same_set(*f, fdb)) {
        return ::testing::AssertionSuccess();
      }
      last = fmt::format("routes {}/{}, neighbours {}/{}, fdb {}/{}", r.ok() ? r->size() : 0,
                         routes.size(), n.ok() ? n->size() : 0, neighs.size(),
                         f.ok() ? f->size() : 0, fdb.size());
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return ::testing::AssertionFailure() << "kernel (have/want): " << last;
  }

  std::unique_ptr<Netns> ns_;
  std::unique_ptr<kernel::NetlinkImpl> nl_;    // the backend's
  std::unique_ptr<kernel::NetlinkImpl> watch_; // the test's, to read the kernel
  std::unique_ptr<Backend> backend_;
  VxlanDevices devices_;
  lease::Lease own_;
  std::map<std::string, lease::Lease> leases_;
  std::jthread loop_;
};

TEST_F(VxlanBackendTest, LeaseEventsLeaveWhatTheFullSetMapsTo) {
  for (int i = 2; i <= 6; ++i) {
    leases_[lease::make_subnet_key(vxlan_lease(i, i, i).subnet, std::nullopt)] =
        vxlan_lease(i, i, i);
  }
  backend_->set_leases(all());
  ASSERT_TRUE(converges());

  change(vxlan_lease(7, 7, 7)); // a new node
  ASSERT_TRUE(converges());
  change(vxlan_lease(3, 3, 0x33)); // a node restarted with a new VTEP MAC
  ASSERT_TRUE(converges());
  change(vxlan_lease(4, 40, 4)); // a node with a new public IP
  ASSERT_TRUE(converges());
  remove(vxlan_lease(5, 5, 5)); // a node gone
  ASSERT_TRUE(converges());
  change(vxlan_lease(1, 1, 1)); // the node's own lease: no entries
  ASSERT_TRUE(converges());

  // Two leases with one MAC want one FDB entry: the event path gives way to the full set, and
  // removing either lease leaves the other's entry in place.
  change(vxlan_lease(8, 8, 0x33));
  ASSERT_TRUE(converges());
  remove(vxlan_lease(3, 3, 0x33));
  ASSERT_TRUE(converges());
  remove(vxlan_lease(8, 8, 0x33));
  ASSERT_TRUE(converges());

  // A lease whose BackendData has no MAC maps to nothing; fixing it adds its entries.
  lease::Lease broken = vxlan_lease(9, 9, 9);
  broken.attrs.backend_data = R"({"VNI":1})";
  change(broken);
  ASSERT_TRUE(converges());
  change(vxlan_lease(9, 9, 9));
  ASSERT_TRUE(converges());
}

class VxlanDirectRoutingTest : public VxlanBackendTest {
protected:
  std::string backend_json() const override { return R"({"Type":"vxlan","DirectRouting":true})"; }

  // Waits until every `want` line is in `command`'s output and no `unwanted` one is.
  ::testing::AssertionResult shows(const std::string& command, const std::vector<std::string>& want,
                                   const std::vector<std::string>& unwanted = {}) {
    std::string out;
    for (int i = 0; i < 500; ++i) {
      out = ns_->sh(command).out;
      const auto has = [&](const std::string& w) { return out.find(w) != std::string::npos; };
      if (std::all_of(want.begin(), want.end(), has) &&
          std::none_of(unwanted.begin(), unwanted.end(), has)) {
        return ::testing::AssertionSuccess();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return ::testing::AssertionFailure() << command << " shows:\n" << out;
  }
};

TEST_F(VxlanDirectRoutingTest, PeersTheKernelReachesWithoutAGatewayAreRoutedDirectly) {
  // As flanneld decides (the kernel's route to the peer has no gateway): 192.168.77.2 on the
  // uplink's subnet and 10.99.0.3 behind an on-link route are direct, 10.98.0.4 behind a gateway
  // is not. The same holds through lease events, which ask the kernel again.
  ASSERT_EQ(ns_->sh("ip route add 10.99.0.0/16 dev veth0 && "
                    "ip route add 10.98.0.0/16 via 192.168.77.254")
                .exit_code,
            0);
  const std::string routes = "ip route show proto 247";
  const std::string neighs = "ip neigh show dev flannel.1 nud permanent";
  for (const auto& [subnet, ip] :
       {std::pair{2, "192.168.77.2"}, std::pair{3, "10.99.0.3"}, std::pair{4, "10.98.0.4"}}) {
    lease::Lease l = vxlan_lease(subnet, 0, subnet);
    l.attrs.public_ip = net::Ip4Addr::parse(ip).value();
    leases_[lease::make_subnet_key(l.subnet, std::nullopt)] = l;
  }
  backend_->set_leases(all());
  EXPECT_TRUE(
      shows(routes,
            {"10.244.2.0/24 via 192.168.77.2 dev veth0", "10.244.3.0/24 via 10.99.0.3 dev veth0",
             "10.244.4.0/24 via 10.244.4.0 dev flannel.1 metric"},
            {"10.244.2.0/24 via 10.244.2.0", "10.244.3.0/24 via 10.244.3.0"}));
  EXPECT_TRUE(
      shows(neighs, {"10.244.4.0 lladdr 0e:00:00:00:01:04"}, {"10.244.2.0 ", "10.244.3.0 "}));

  lease::Lease moved = leases_.at("10.244.3.0-24");
  moved.attrs.public_ip = net::Ip4Addr::parse("10.98.0.3").value(); // now behind the gateway
  change(moved);
  lease::Lease near = leases_.at("10.244.4.0-24");
  near.attrs.public_ip = net::Ip4Addr::parse("192.168.77.4").value(); // now on the segment
  change(near);
  EXPECT_TRUE(shows(routes,
                    {"10.244.2.0/24 via 192.168.77.2 dev veth0",
                     "10.244.3.0/24 via 10.244.3.0 dev flannel.1",
                     "10.244.4.0/24 via 192.168.77.4 dev veth0"},
                    {"10.244.3.0/24 via 10.99.0.3", "10.244.4.0/24 via 10.244.4.0"}));
  EXPECT_TRUE(
      shows(neighs, {"10.244.3.0 lladdr 0e:00:00:00:01:03"}, {"10.244.4.0 ", "10.244.2.0 "}));
  EXPECT_TRUE(shows("bridge fdb show dev flannel.1", {"0e:00:00:00:01:03 dst 10.98.0.3"},
                    {"0e:00:00:00:01:04"}));

  remove(leases_.at("10.244.2.0-24"));
  EXPECT_TRUE(shows(routes, {"10.244.4.0/24 via 192.168.77.4 dev veth0"}, {"10.244.2.0/24"}));
}

} // namespace
} // namespace weft::backend
