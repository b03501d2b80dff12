#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "net/ip.h"
#include "net/ip_net.h"

namespace weft::net {
namespace {

rc::Gen<Ip4Addr> gen_ip4() {
  return rc::gen::map(rc::gen::arbitrary<std::uint32_t>(),
                      [](std::uint32_t v) { return Ip4Addr(v); });
}

rc::Gen<Ip6Addr> gen_ip6() {
  // Mix uniform addresses with ones full of zero groups, which exercise "::" compression.
  return rc::gen::map(rc::gen::container<std::array<std::uint16_t, 8>>(rc::gen::oneOf(
                          rc::gen::just<std::uint16_t>(0), rc::gen::arbitrary<std::uint16_t>())),
                      [](const std::array<std::uint16_t, 8>& groups) {
                        std::array<std::uint8_t, 16> b{};
                        for (std::size_t i = 0; i < 8; ++i) {
                          b[2 * i] = static_cast<std::uint8_t>(groups[i] >> 8);
                          b[2 * i + 1] = static_cast<std::uint8_t>(groups[i]);
                        }
                        return Ip6Addr(b);
                      });
}

rc::Gen<int> gen_prefix6() {
  return rc::gen::oneOf(rc::gen::inRange(0, 4), rc::gen::inRange(60, 68),
                        rc::gen::inRange(124, 129), rc::gen::inRange(0, 129));
}

RC_GTEST_PROP(NetProperty, Ip4AddrRoundTrips, ()) {
  const Ip4Addr a = *gen_ip4();
  RC_ASSERT(Ip4Addr::parse(a.to_string()).value() == a);
}

RC_GTEST_PROP(NetProperty, Ip6AddrRoundTrips, ()) {
  const Ip6Addr a = *gen_ip6();
  const auto r = Ip6Addr::parse(a.to_string());
  RC_ASSERT(r.ok());
  RC_ASSERT(*r == a);
  RC_ASSERT(Ip6Addr::from_value(a.value()) == a);
}

RC_GTEST_PROP(NetProperty, Ip4NetRoundTripsAndContainsIp, ()) {
  const Ip4Net n(*gen_ip4(), *rc::gen::inRange(0, 33));
  RC_ASSERT(Ip4Net::parse(n.to_string()).value() == n);
  RC_ASSERT(n.network().contains(n.ip()));
  RC_ASSERT(n.network().is_network());
  RC_ASSERT(n.contains(n.first()) && n.contains(n.last()));
  RC_ASSERT(std::uint64_t{n.last().value()} - n.first().value() + 1 == n.size());
}

RC_GTEST_PROP(NetProperty, Ip6NetRoundTripsAndContainsIp, ()) {
  const Ip6Net n(*gen_ip6(), *gen_prefix6());
  RC_ASSERT(Ip6Net::parse(n.to_string()).value() == n);
  RC_ASSERT(n.network().contains(n.ip()));
  RC_ASSERT(n.network().is_network());
  RC_ASSERT(n.contains(n.first()) && n.contains(n.last()));
  if (n.prefix_len() > 0) {
    RC_ASSERT(n.last().value() - n.first().value() + 1 == n.size());
  }
}

RC_GTEST_PROP(NetProperty, Ip4ContainsImpliesOverlaps, ()) {
  const Ip4Net a(*gen_ip4(), *rc::gen::inRange(0, 33));
  // b is either random or derived from a so containment actually happens.
  const Ip4Net b = *rc::gen::oneOf(
      rc::gen::construct<Ip4Net>(gen_ip4(), rc::gen::inRange(0, 33)),
      rc::gen::construct<Ip4Net>(rc::gen::just(a.ip()), rc::gen::inRange(a.prefix_len(), 33)));
  if (a.contains(b)) {
    RC_ASSERT(a.overlaps(b));
    RC_ASSERT(b.overlaps(a));
  }
  RC_ASSERT(a.overlaps(b) == b.overlaps(a));
  RC_ASSERT(a.overlaps(b) == (a.contains(b.first()) || b.contains(a.first())));
}

RC_GTEST_PROP(NetProperty, Ip6ContainsImpliesOverlaps, ()) {
  const Ip6Net a(*gen_ip6(), *gen_prefix6());
  const Ip6Net b = *rc::gen::oneOf(
      rc::gen::construct<Ip6Net>(gen_ip6(), gen_prefix6()),
      rc::gen::construct<Ip6Net>(rc::gen::just(a.ip()), rc::gen::inRange(a.prefix_len(), 129)));
  if (a.contains(b)) {
    RC_ASSERT(a.overlaps(b));
  }
  RC_ASSERT(a.overlaps(b) == b.overlaps(a));
  RC_ASSERT(a.overlaps(b) == (a.contains(b.first()) || b.contains(a.first())));
}

RC_GTEST_PROP(NetProperty, Ip4NextIsDisjointAndAdjacent, ()) {
  const Ip4Net n(*gen_ip4(), *rc::gen::inRange(0, 33));
  const auto next = n.next();
  if (!next) {
    RC_ASSERT(n.last().value() == 0xffffffffU);
    return;
  }
  RC_ASSERT(next->is_network());
  RC_ASSERT(next->prefix_len() == n.prefix_len());
  RC_ASSERT(!next->overlaps(n));
  RC_ASSERT(next->first().value() == n.last().value() + 1);
}

RC_GTEST_PROP(NetProperty, Ip6NextIsDisjointAndAdjacent, ()) {
  const Ip6Net n(*gen_ip6(), *gen_prefix6());
  const auto next = n.next();
  if (!next) {
    RC_ASSERT(n.last().value() == ~static_cast<Uint128>(0));
    return;
  }
  RC_ASSERT(next->is_network());
  RC_ASSERT(next->prefix_len() == n.prefix_len());
  RC_ASSERT(!next->overlaps(n));
  RC_ASSERT(next->first().value() == n.last().value() + 1);
}

RC_GTEST_PROP(NetProperty, Ip4ForEachSubnetYieldsOrderedDisjointBlocks, ()) {
  const Ip4Net network = Ip4Net(*gen_ip4(), *rc::gen::inRange(0, 33)).network();
  const int len =
      *rc::gen::inRange(network.prefix_len(), std::min(network.prefix_len() + 12, 32) + 1);
  const std::uint64_t count = std::uint64_t{1} << (len - network.prefix_len());
  const std::uint64_t step = std::uint64_t{1} << (32 - len);
  const std::uint64_t i = *rc::gen::inRange<std::uint64_t>(0, count);
  const std::uint64_t j = *rc::gen::inRange<std::uint64_t>(i, count);
  const Ip4Addr from(static_cast<std::uint32_t>(network.first().value() + i * step));
  const Ip4Addr to(static_cast<std::uint32_t>(network.first().value() + j * step));
  std::vector<Ip4Net> got;
  RC_ASSERT(for_each_subnet(network, len, from, to, [&](const Ip4Net& n) {
              got.push_back(n);
              return true;
            }).ok());
  RC_ASSERT(got.size() == j - i + 1);
  RC_ASSERT(got.front().ip() == from);
  RC_ASSERT(got.back().ip() == to);
  for (std::size_t k = 0; k < got.size(); ++k) {
    RC_ASSERT(got[k].prefix_len() == len);
    RC_ASSERT(got[k].is_network());
    RC_ASSERT(network.contains(got[k]));
    if (k > 0) {
      RC_ASSERT(got[k - 1] < got[k]);
      RC_ASSERT(!got[k - 1].overlaps(got[k]));
    }
  }
}

RC_GTEST_PROP(NetProperty, Ip6ForEachSubnetYieldsOrderedDisjointBlocks, ()) {
  const Ip6Net network = Ip6Net(*gen_ip6(), *gen_prefix6()).network();
  const int len =
      *rc::gen::inRange(network.prefix_len(), std::min(network.prefix_len() + 10, 128) + 1);
  const std::uint64_t count = std::uint64_t{1} << (len - network.prefix_len());
  const Uint128 step = len == 0 ? 0 : static_cast<Uint128>(1) << (128 - len);
  const std::uint64_t i = *rc::gen::inRange<std::uint64_t>(0, count);
  const std::uint64_t j = *rc::gen::inRange<std::uint64_t>(i, count);
  // len == 0 only when network is ::/0, so count == 1 and i == j == 0.
  const Uint128 base = network.first().value();
  const Ip6Addr from = Ip6Addr::from_value(base + step * i);
  const Ip6Addr to = Ip6Addr::from_value(base + step * j);
  std::vector<Ip6Net> got;
  RC_ASSERT(for_each_subnet(network, len, from, to, [&](const Ip6Net& n) {
              got.push_back(n);
              return true;
            }).ok());
  RC_ASSERT(got.size() == j - i + 1);
  RC_ASSERT(got.front().ip() == from);
  RC_ASSERT(got.back().ip() == to);
  for (std::size_t k = 0; k < got.size(); ++k) {
    RC_ASSERT(got[k].prefix_len() == len);
    RC_ASSERT(network.contains(got[k]));
    if (k > 0) {
      RC_ASSERT(got[k - 1] < got[k]);
      RC_ASSERT(!got[k - 1].overlaps(got[k]));
    }
  }
}

} // namespace
} // namespace weft::net
