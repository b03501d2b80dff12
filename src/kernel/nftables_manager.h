#pragma once
// NftablesManager: flanneld's EnableNFTables rules, the tables `ip flannel-ipv4` and
// `ip6 flannel-ipv6` with chains postrtg and forward, applied through libnftables as one text
// transaction. ensure() re-applies when the tables differ from what the last apply left.

#include <memory>
#include <optional>
#include <string>

#include "kernel/rule_manager.h"

namespace weft::kernel {

// The transaction for `config` (pure): per family, add table, add+flush each chain, add rules.
std::string nft_script(const TrafficConfig& config);
// Deletes both flannel tables whether or not they exist (add-then-delete in one transaction).
std::string nft_cleanup_script();

// Whether this network namespace holds `ip flannel-ipv4` or `ip6 flannel-ipv6`, asked of the
// kernel over nfnetlink (an NFT_MSG_GETTABLE dump) without loading libnftables: in iptables mode
// weftd removes leftover flannel tables at start, and most starts have none to remove.
base::Result<bool> flannel_nft_tables_present();

class NftablesManager final : public RuleManager {
public:
  // libnftables binds to the network namespace of the thread that creates and uses it.
  static base::Result<std::unique_ptr<NftablesManager>> create();
  ~NftablesManager() override;

  base::Status apply(const TrafficConfig& config) override;
  base::Result<bool> ensure() override;
  base::Status cleanup() override;

  // Runs a script; returns its output (JSON is not requested).
  base::Result<std::string> run(const std::string& script);

private:
  struct Ctx;
  explicit NftablesManager(std::unique_ptr<Ctx> ctx);
  base::Result<std::string> list_ours();

  std::unique_ptr<Ctx> ctx_;
  std::optional<TrafficConfig> config_;
  std::string applied_listing_;
};

} // namespace weft::kernel
