#include "kernel/types.h"

#include <fmt/format.h>

namespace weft::kernel {

std::string Route::to_string() const {
  std::string s = kernel::to_string(dst);
  if (gateway) {
    s += " via " + kernel::to_string(*gateway);
  }
  s += fmt::format(" dev #{}", ifindex);
  if (onlink) {
    s += " onlink";
  }
  if (table != kMainTable) {
    s += fmt::format(" table {}", table);
  }
  if (metric != 0) {
    s += fmt::format(" metric {}", metric);
  }
  return s;
}

std::string Neighbour::to_string() const {
  return fmt::format("{} lladdr {} dev #{}", kernel::to_string(ip), mac.to_string(), ifindex);
}

std::string FdbEntry::to_string() const {
  return fmt::format("{} dst {} dev #{}", mac.to_string(), kernel::to_string(dst), ifindex);
}

int spread_metric(const net::Ip4Net& subnet) {
  const int host_bits = 32 - subnet.prefix_len();
  const std::uint32_t number = host_bits >= 32 ? 0 : subnet.ip().value() >> host_bits;
  return 1 + static_cast<int>(number & 0xffffu);
}

} // namespace weft::kernel
