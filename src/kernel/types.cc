#include "kernel/types.h"

#include <fmt/format.h>

namespace weft::kernel {

namespace {

std::string dev_text(std::string_view dev, int ifindex) {
  return dev.empty() ? fmt::format("dev #{}", ifindex) : fmt::format("dev {}", dev);
}

} // namespace

std::string Route::to_string(std::string_view dev) const {
  std::string s = kernel::to_string(dst);
  if (gateway) {
    s += " via " + kernel::to_string(*gateway);
  }
  s += " " + dev_text(dev, ifindex);
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

std::string Neighbour::to_string(std::string_view dev) const {
  return fmt::format("{} lladdr {} {}", kernel::to_string(ip), mac.to_string(),
                     dev_text(dev, ifindex));
}

std::string FdbEntry::to_string(std::string_view dev) const {
  return fmt::format("{} dst {} {}", mac.to_string(), kernel::to_string(dst),
                     dev_text(dev, ifindex));
}

int spread_metric(const net::Ip4Net& subnet) {
  const int host_bits = 32 - subnet.prefix_len();
  const std::uint32_t number = host_bits >= 32 ? 0 : subnet.ip().value() >> host_bits;
  return 1 + static_cast<int>(number & 0xffffu);
}

} // namespace weft::kernel
