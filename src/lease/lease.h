#pragma once
// A subnet lease as flannel stores it: the node's attributes (LeaseAttrs, the JSON value of a lease
// key in etcd) plus the subnet(s) it holds, and the JSON codec that is byte-compatible with
// flannel's Go encoding/json output.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "net/ip.h"
#include "net/ip_net.h"

namespace weft::lease {

// flannel's lease.LeaseAttrs. backend_data and backend_v6_data hold raw JSON text (compacted as
// Go does); empty means absent.
struct LeaseAttrs {
  net::Ip4Addr public_ip;
  std::optional<net::Ip6Addr> public_ipv6;
  std::string backend_type;
  std::string backend_data;
  std::string backend_v6_data;

  friend bool operator==(const LeaseAttrs&, const LeaseAttrs&) = default;
};

// flannel's lease.Lease.
struct Lease {
  bool enable_ipv4 = true;
  bool enable_ipv6 = false;
  std::optional<net::Ip4Net> subnet;
  std::optional<net::Ip6Net> ipv6_subnet;
  LeaseAttrs attrs;
  std::chrono::system_clock::time_point expiration{};
  std::int64_t asof = 0;

  friend bool operator==(const Lease&, const Lease&) = default;
};

// The JSON flannel writes for attrs, byte for byte:
// {"PublicIP":"a.b.c.d","PublicIPv6":null|"v6"[,"BackendType":"t"][,"BackendData":raw]
//  [,"BackendV6Data":raw]}.
std::string to_json(const LeaseAttrs& attrs);

// Parses a lease value as Go's json.Unmarshal into flannel's LeaseAttrs would: keys matched
// case-insensitively, unknown keys ignored, the last duplicate wins, `null` leaves a field unset.
// Errors (invalid_argument) name the field and value.
// Flannel's own form of the value (to_json's output) is read by a fast path; anything else by
// the general parser below, with the same result. Without keep_backend_data the backend data
// is checked as always but not kept (backend_data and backend_v6_data are left empty): for
// readers that need only the addresses, such as an allocation.
base::Result<LeaseAttrs> parse_lease_attrs(std::string_view json, bool keep_backend_data = true);
// The general parser alone (the fuzzer and the tests check the fast path against it).
base::Result<LeaseAttrs> parse_lease_attrs_general(std::string_view json);
// The fast path alone: the attributes when the value is in flannel's own form,
// {"PublicIP":"a.b.c.d","PublicIPv6":null|"v6"[,"BackendType":"t"][,"BackendData":raw]
// [,"BackendV6Data":raw]} with no space or escape and raw values that are valid JSON Go's
// compaction leaves as they are; nullopt for anything else, invalid JSON included. The form
// decides the validity of everything but the raw values, so only those are scanned.
std::optional<LeaseAttrs> parse_lease_attrs_flannel_form(std::string_view json,
                                                         bool keep_backend_data = true);

// Whether `text` is one JSON value (RFC 8259) by nlohmann::json::accept's rules, which lease
// values have always been checked with: UTF-8 is validated, a \u escape of a high surrogate must
// be followed by one of a low surrogate, a leading UTF-8 BOM is skipped and a NUL byte after the
// value ends the input. One pass, no allocation below 16 levels of nesting.
bool is_valid_json(std::string_view text);

// Go's json.Compact with HTML escaping (what encoding/json applies to a RawMessage): removes
// insignificant whitespace and writes <, >, &, U+2028 and U+2029 inside strings as \u escapes.
// `json` must be valid JSON.
std::string go_compact_json(std::string_view json);

// How flannel prints an IPv6 address (Go's net.IP.String): RFC 5952, except that an IPv4-mapped
// address is written as a dotted quad.
std::string go_ip6_string(const net::Ip6Addr& addr);
std::string go_ip6_net_string(const net::Ip6Net& net);

// Parses an IPv6 address as Go's net.ParseIP does for flannel's IP6: a dotted quad is accepted and
// becomes the IPv4-mapped address.
base::Result<net::Ip6Addr> parse_go_ip6(std::string_view text);

} // namespace weft::lease
