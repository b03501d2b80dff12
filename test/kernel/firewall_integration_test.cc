// The iptables-restore and nftables rule managers against the real kernel, inside a network
// namespace made by the test. The iptables tools run through `ip netns exec`; libnftables is
// created and used only on a thread that has joined the namespace.

#include <gtest/gtest.h>

#include <unistd.h>

#include <memory>

#include "kernel/iptables_manager.h"
#include "kernel/nftables_manager.h"
#include "test/support/netns.h"

namespace weft::kernel {
namespace {

using test::Netns;

bool has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

// iptables-save lines, in order, that belong to flannel (as flanneld's e2e golden files do).
std::string flannel_lines(const std::string& save) {
  std::string out;
  std::size_t pos = 0;
  while (pos < save.size()) {
    auto end = save.find('\n', pos);
    if (end == std::string::npos) {
      end = save.size();
    }
    const std::string line = save.substr(pos, end - pos);
    if (has(line, "flanneld") || has(line, ":FLANNEL-")) {
      out += line.substr(0, line.find(" [")) + "\n";
    }
    pos = end + 1;
  }
  return out;
}

TrafficConfig config() {
  TrafficConfig c;
  c.network = *parse_net("10.244.0.0/16");
  c.subnet = *parse_net("10.244.3.0/24");
  c.masquerade = true;
  c.forward = true;
  return c;
}

class FirewallTest : public ::testing::Test {
protected:
  void SetUp() override {
    if (::geteuid() != 0) {
      GTEST_SKIP() << "needs root (network namespaces)";
    }
    auto ns = Netns::create();
    ASSERT_TRUE(ns.ok()) << ns.status().to_string();
    ns_ = std::move(ns).value();
  }

  std::string save(const char* table) const {
    return ns_->exec({"iptables-save", "-t", table}).out;
  }

  // Runs fn with an NftablesManager that lives entirely inside the namespace.
  void with_nft(const std::function<void(NftablesManager&)>& fn) {
    base::Status joined = ns_->run([&] {
      auto nft = NftablesManager::create();
      ASSERT_TRUE(nft.ok()) << nft.status().to_string();
      fn(**nft);
    });
    ASSERT_TRUE(joined.ok()) << joined.to_string();
  }

  std::unique_ptr<Netns> ns_;
};

TEST_F(FirewallTest, IptablesRulesMatchFlanneldAndAreRestored) {
  IptablesRestoreManager ipt(ns_->exec_prefix());
  ASSERT_TRUE(ipt.apply(config()).ok());
  EXPECT_EQ(flannel_lines(save("nat")),
            ":FLANNEL-POSTRTG -\n"
            "-A POSTROUTING -m comment --comment \"flanneld masq\" -j FLANNEL-POSTRTG\n"
            "-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment \"flanneld "
            "masq\" -j RETURN\n"
            "-A FLANNEL-POSTRTG -s 10.244.3.0/24 -d 10.244.0.0/16 -m comment --comment "
            "\"flanneld masq\" -j RETURN\n"
            "-A FLANNEL-POSTRTG -s 10.244.0.0/16 -d 10.244.3.0/24 -m comment --comment "
            "\"flanneld masq\" -j RETURN\n"
            "-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.3.0/24 -m comment --comment "
            "\"flanneld masq\" -j RETURN\n"
            "-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "
            "\"flanneld masq\" -j MASQUERADE --random-fully\n"
            "-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.0.0/16 -m comment --comment "
            "\"flanneld masq\" -j MASQUERADE --random-fully\n");
  EXPECT_EQ(flannel_lines(save("filter")),
            ":FLANNEL-FWD -\n"
            "-A FORWARD -m comment --comment \"flanneld forward\" -j FLANNEL-FWD\n"
            "-A FLANNEL-FWD -s 10.244.0.0/16 -m comment --comment \"flanneld forward\" -j "
            "ACCEPT\n"
            "-A FLANNEL-FWD -d 10.244.0.0/16 -m comment --comment \"flanneld forward\" -j "
            "ACCEPT\n");
  const std::string nat_before = flannel_lines(save("nat"));
  const std::string filter_before = flannel_lines(save("filter"));

  // Nothing missing: ensure() changes nothing.
  auto ensured = ipt.ensure();
  ASSERT_TRUE(ensured.ok());
  EXPECT_FALSE(*ensured);

  // A rule deleted by hand is restored, in flanneld's order, without duplicating the jump.
  ASSERT_EQ(
      ns_->exec({"iptables", "-t", "nat", "-D", "FLANNEL-POSTRTG", "-s", "10.244.0.0/16", "-d",
                 "10.244.3.0/24", "-m", "comment", "--comment", "flanneld masq", "-j", "RETURN"})
          .exit_code,
      0);
  ASSERT_EQ(ns_->exec({"iptables", "-t", "filter", "-D", "FORWARD", "-m", "comment", "--comment",
                       "flanneld forward", "-j", "FLANNEL-FWD"})
                .exit_code,
            0);
  ensured = ipt.ensure();
  ASSERT_TRUE(ensured.ok()) << ensured.status().to_string();
  EXPECT_TRUE(*ensured);
  EXPECT_EQ(flannel_lines(save("nat")), nat_before);
  EXPECT_EQ(flannel_lines(save("filter")), filter_before);

  // Applying again (restart) leaves exactly one copy of everything.
  ASSERT_TRUE(ipt.apply(config()).ok());
  EXPECT_EQ(flannel_lines(save("nat")), nat_before);

  ASSERT_TRUE(ipt.cleanup().ok());
  EXPECT_EQ(flannel_lines(save("nat")), "");
  EXPECT_EQ(flannel_lines(save("filter")), "");
}

// weftd in iptables mode loads libnftables only when this says there is something to remove.
TEST_F(FirewallTest, LeftoverFlannelTablesAreSeenWithoutLibnftables) {
  auto present = [&] {
    base::Result<bool> r(false);
    EXPECT_TRUE(ns_->run([&] { r = flannel_nft_tables_present(); }).ok());
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() && *r;
  };
  EXPECT_FALSE(present());
  ASSERT_EQ(ns_->exec({"nft", "add", "table", "ip", "other"}).exit_code, 0);
  ASSERT_EQ(ns_->exec({"nft", "add", "table", "ip6", "flannel-ipv4"}).exit_code, 0); // wrong family
  ASSERT_EQ(ns_->exec({"nft", "add", "table", "inet", "flannel-ipv6"}).exit_code, 0);
  EXPECT_FALSE(present());
  ASSERT_EQ(ns_->exec({"nft", "add", "table", "ip", "flannel-ipv4"}).exit_code, 0);
  EXPECT_TRUE(present());
  ASSERT_EQ(ns_->exec({"nft", "delete", "table", "ip", "flannel-ipv4"}).exit_code, 0);
  EXPECT_FALSE(present());
  ASSERT_EQ(ns_->exec({"nft", "add", "table", "ip6", "flannel-ipv6"}).exit_code, 0);
  EXPECT_TRUE(present());
}

TEST_F(FirewallTest, NftablesTablesAreAppliedEnsuredAndSwitchedAway) {
  with_nft([&](NftablesManager& nft) {
    ASSERT_TRUE(nft.apply(config()).ok());
    auto listing = ns_->exec({"nft", "list", "table", "ip", "flannel-ipv4"}).out;
    EXPECT_TRUE(has(listing, "comment \"rules for flannel-ipv4\"")) << listing;
    EXPECT_TRUE(has(listing, "type nat hook postrouting priority srcnat; policy accept;"))
        << listing;
    EXPECT_TRUE(has(listing, "ip saddr != 10.244.3.0/24 ip daddr 10.244.0.0/16 return")) << listing;
    EXPECT_TRUE(has(listing, "ip saddr 10.244.0.0/16 ip daddr != 224.0.0.0/4 masquerade "
                             "fully-random"))
        << listing;
    EXPECT_TRUE(has(listing, "type filter hook forward priority filter; policy accept;"))
        << listing;
    EXPECT_TRUE(has(listing, "ip daddr 10.244.0.0/16 accept")) << listing;

    auto ensured = nft.ensure();
    ASSERT_TRUE(ensured.ok());
    EXPECT_FALSE(*ensured);
    ASSERT_EQ(ns_->exec({"nft", "flush", "chain", "ip", "flannel-ipv4", "forward"}).exit_code, 0);
    ensured = nft.ensure();
    ASSERT_TRUE(ensured.ok()) << ensured.status().to_string();
    EXPECT_TRUE(*ensured);
    EXPECT_EQ(ns_->exec({"nft", "list", "table", "ip", "flannel-ipv4"}).out, listing);
    ASSERT_TRUE(ns_->exec({"nft", "delete", "table", "ip", "flannel-ipv4"}).exit_code == 0);
    ensured = nft.ensure();
    ASSERT_TRUE(ensured.ok());
    EXPECT_TRUE(*ensured);
    EXPECT_EQ(ns_->exec({"nft", "list", "table", "ip", "flannel-ipv4"}).out, listing);

    // Switching to iptables mode: the nft tables go, the iptables rules come.
    ASSERT_TRUE(nft.cleanup().ok());
    EXPECT_NE(ns_->exec({"nft", "list", "table", "ip", "flannel-ipv4"}).exit_code, 0);
    // Cleaning up again (nothing there) is fine.
    ASSERT_TRUE(nft.cleanup().ok());
  });
  IptablesRestoreManager ipt(ns_->exec_prefix());
  ASSERT_TRUE(ipt.apply(config()).ok());
  EXPECT_TRUE(has(save("nat"), "-A FLANNEL-POSTRTG"));

  // And back to nftables mode: iptables' chains and jumps are removed.
  ASSERT_TRUE(ipt.cleanup().ok());
  EXPECT_EQ(flannel_lines(save("nat")), "");
  EXPECT_EQ(flannel_lines(save("filter")), "");
  with_nft([&](NftablesManager& nft) { ASSERT_TRUE(nft.apply(config()).ok()); });
  EXPECT_EQ(ns_->exec({"nft", "list", "table", "ip", "flannel-ipv4"}).exit_code, 0);
}

} // namespace
} // namespace weft::kernel
