#pragma once
// Helpers for the emulator's tests and bench: a small state, and requests signed as the official
// SDKs sign them.

#include <cstdint>
#include <string>

#include "emulator.h"
#include "state.h"

namespace weft::emulator::testing {

inline constexpr char kSecretId[] = "AKIDtestTESTtest0000000000000001";
inline constexpr char kSecretKey[] = "testSecretKey000000000000000001";
inline constexpr char kVpcId[] = "vpc-test0001";
inline constexpr char kTableId[] = "rtb-test0001";
inline constexpr char kNodeA[] = "10.0.1.10";
inline constexpr char kNodeB[] = "10.0.1.11";

// One VPC 10.0.0.0/16 with subnet 10.0.1.0/24, main table kTableId (one NETD system route,
// RouteItemId rti-netd0001, RouteId 1), table rtb-test0002, instances kNodeA (role "weft-node")
// and kNodeB, and a second VPC vpc-test0002 with instance 192.168.1.10.
State small_state();

// A request signed with TC3 (content-type;host) for `action` at `timestamp`.
ApiRequest signed_request(const std::string& action, const std::string& body,
                          std::int64_t timestamp, const std::string& secret_id = kSecretId,
                          const std::string& secret_key = kSecretKey, const std::string& token = "",
                          const std::string& host = "vpc.tencentcloudapi.com");

} // namespace weft::emulator::testing
