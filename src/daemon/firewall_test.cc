#include "daemon/firewall.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace weft::daemon {
namespace {

// A /proc/sys stand-in with the given bridge files.
class ProcSys {
public:
  ProcSys() {
    char tmpl[] = "/tmp/weft-procsys-XXXXXX";
    root_ = ::mkdtemp(tmpl) != nullptr ? tmpl : "";
    std::filesystem::create_directories(root_ + "/net/bridge");
  }
  ~ProcSys() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  void add(const std::string& file) { std::ofstream(root_ + "/net/bridge/" + file) << "1\n"; }
  const std::string& root() const { return root_; }

private:
  std::string root_;
};

config::NetConfig stack(bool v4, bool v6, bool nft = false) {
  config::NetConfig c;
  c.enable_ipv4 = v4;
  c.enable_ipv6 = v6;
  c.enable_nftables = nft;
  return c;
}

TEST(BrNetfilter, IptablesModeNeedsTheBridgeHooksOfEachEnabledFamily) {
  ProcSys p;
  ASSERT_FALSE(p.root().empty());
  const base::Status missing = check_br_netfilter(stack(true, false), p.root());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find(p.root() + "/net/bridge/bridge-nf-call-iptables"),
            std::string::npos)
      << missing.message();
  EXPECT_NE(missing.message().find("modprobe br_netfilter"), std::string::npos);
  EXPECT_NE(missing.message().find("EnableNFTables"), std::string::npos);
  EXPECT_TRUE(check_br_netfilter(stack(true, false, /*nft=*/true), p.root()).ok());

  p.add("bridge-nf-call-iptables");
  EXPECT_TRUE(check_br_netfilter(stack(true, false), p.root()).ok());
  const base::Status v6 = check_br_netfilter(stack(true, true), p.root());
  ASSERT_FALSE(v6.ok());
  EXPECT_NE(v6.message().find("bridge-nf-call-ip6tables"), std::string::npos) << v6.message();
  p.add("bridge-nf-call-ip6tables");
  EXPECT_TRUE(check_br_netfilter(stack(true, true), p.root()).ok());
  EXPECT_TRUE(check_br_netfilter(stack(false, true), p.root()).ok());
}

TEST(BrNetfilter, ThisMachinesOwnProcSysIsReadByDefault) {
  // Whatever this machine has, the default path is /proc/sys: the answer matches the file.
  const bool present = std::filesystem::exists("/proc/sys/net/bridge/bridge-nf-call-iptables");
  EXPECT_EQ(check_br_netfilter(stack(true, false)).ok(), present);
}

} // namespace
} // namespace weft::daemon
