#pragma once
// NetConfig: the cluster network config (flannel's net-conf.json, or etcd `<prefix>/config`),
// parsed with flannel's field names, defaults and validation rules (pkg/subnet/config.go).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "net/ip.h"
#include "net/ip_net.h"

namespace weft::config {

// Backend type names weftd knows. `tx-vpc` is accepted as an alias and normalised to tencent-vpc.
inline constexpr std::string_view kBackendHostGw = "host-gw";
inline constexpr std::string_view kBackendVxlan = "vxlan";
inline constexpr std::string_view kBackendTencentVpc = "tencent-vpc";
inline constexpr std::string_view kBackendTencentVpcAlias = "tx-vpc";

struct NetConfig {
  bool enable_ipv4 = true;
  bool enable_ipv6 = false;
  bool enable_nftables = false;

  // Stored as the network block (host bits cleared), as Go's net.ParseCIDR returns it.
  std::optional<net::Ip4Net> network;
  // 0 means "not given"; parse_net_config fills the default when the network allows one.
  std::uint64_t subnet_len = 0;
  std::optional<net::Ip4Addr> subnet_min;
  std::optional<net::Ip4Addr> subnet_max;

  std::optional<net::Ip6Net> ipv6_network;
  std::uint64_t ipv6_subnet_len = 0;
  std::optional<net::Ip6Addr> ipv6_subnet_min;
  std::optional<net::Ip6Addr> ipv6_subnet_max;

  // Backend.Type lower-cased, aliases resolved; "vxlan" when Backend is absent.
  std::string backend_type;
  // The Backend object as compact JSON, unredacted: backends read their settings (and
  // credentials) from it. Never log it; use redacted_backend_json().
  std::string backend_json;
  bool backend_given = false;

  friend bool operator==(const NetConfig&, const NetConfig&) = default;
};

// Parses net-conf.json with Go encoding/json semantics (keys matched case-insensitively, unknown
// keys ignored, `null` leaves a field at its default where Go does) and fills flannel's defaults
// (SubnetLen, SubnetMin, SubnetMax and the IPv6 equivalents) where the network allows them. No
// range validation: that is check_net_config. Errors name the field and the offending value.
base::Result<NetConfig> parse_net_config(std::string_view json);

// flannel's CheckNetworkConfig rules, with flannel's error text followed by the values involved,
// plus "none defined stack" when neither family is enabled (flannel fails on it at startup).
base::Status check_net_config(const NetConfig& config);

// Whether weftd has a backend registered under this (normalised) type.
bool is_known_backend_type(std::string_view type);
// "host-gw, vxlan, tencent-vpc (alias tx-vpc)".
std::string known_backend_types();

// The config with all defaults filled, in a stable key order, Backend secrets redacted.
std::string to_normalised_json(const NetConfig& config);

// The Backend object with the values of secret-looking keys replaced by "<redacted>".
std::string redacted_backend_json(const NetConfig& config);

// Whether a Backend key names a secret: it contains secret, password, passwd, token, credential or
// psk, or ends with "key" (SecretKey, PrivateKey), ignoring case. "AccessKeyID" is not a secret.
bool is_secret_key_name(std::string_view key);

} // namespace weft::config
