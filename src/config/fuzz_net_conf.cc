// libFuzzer target: net-conf.json parsing, validation and normalisation must never crash, and a
// config that passes the check must come back the same from its normalised form.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/net_config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = weft::config::parse_net_config(text);
  if (!parsed.ok()) {
    return 0;
  }
  const weft::config::NetConfig& config = *parsed;
  const weft::base::Status checked = weft::config::check_net_config(config);
  const std::string normalised = weft::config::to_normalised_json(config);
  (void)weft::config::redacted_backend_json(config);
  if (!checked.ok()) {
    return 0;
  }
  auto again = weft::config::parse_net_config(normalised);
  if (!again.ok() || !weft::config::check_net_config(*again).ok()) {
    std::abort();
  }
  if (again->network != config.network || again->subnet_len != config.subnet_len ||
      again->subnet_min != config.subnet_min || again->subnet_max != config.subnet_max ||
      again->ipv6_network != config.ipv6_network ||
      again->ipv6_subnet_len != config.ipv6_subnet_len ||
      again->ipv6_subnet_min != config.ipv6_subnet_min ||
      again->ipv6_subnet_max != config.ipv6_subnet_max ||
      again->enable_ipv4 != config.enable_ipv4 || again->enable_ipv6 != config.enable_ipv6 ||
      again->enable_nftables != config.enable_nftables ||
      again->backend_type != config.backend_type) {
    std::abort();
  }
  return 0;
}
