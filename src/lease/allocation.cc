#include "lease/allocation.h"

#include <algorithm>
#include <string>

namespace weft::lease {
namespace {

constexpr std::size_t kMaxCandidates = 100;

template <typename U> struct Interval {
  U first;
  U last;
};

// The first `limit` block starts c (min <= c <= max, step block_mask + 1, all aligned) whose
// blocks [c, c + block_mask] overlap no taken interval. Sorting plus one sweep: the cost does not
// depend on the size of the range.
template <typename U>
std::vector<U> free_blocks(U min, U max, U block_mask, std::vector<Interval<U>> taken,
                           std::size_t limit) {
  std::sort(taken.begin(), taken.end(),
            [](const Interval<U>& a, const Interval<U>& b) { return a.first < b.first; });
  std::vector<U> out;
  std::size_t idx = 0;
  U c = min;
  while (c <= max && out.size() < limit) {
    const U block_last = c + block_mask;
    while (idx < taken.size() && taken[idx].last < c) {
      ++idx;
    }
    if (idx < taken.size() && taken[idx].first <= block_last) {
      // Everything sorted before idx ends before c; taken[idx] overlaps: jump past it.
      if (taken[idx].last >= max) {
        break;
      }
      c = (taken[idx].last + 1 + block_mask) & ~block_mask;
      continue;
    }
    out.push_back(c);
    if (c >= max) {
      break;
    }
    c += block_mask + 1;
  }
  return out;
}

// What allocation reads of an element of `existing`: a Lease (by pointer) or its LeaseFacts.
const std::optional<net::Ip4Net>& subnet_of(const Lease* l) {
  return l->subnet;
}
const std::optional<net::Ip6Net>& ipv6_subnet_of(const Lease* l) {
  return l->ipv6_subnet;
}
net::Ip4Addr public_ip_of(const Lease* l) {
  return l->attrs.public_ip;
}
const std::optional<net::Ip6Addr>& public_ipv6_of(const Lease* l) {
  return l->attrs.public_ipv6;
}
const std::optional<net::Ip4Net>& subnet_of(const LeaseFacts& f) {
  return f.subnet;
}
const std::optional<net::Ip6Net>& ipv6_subnet_of(const LeaseFacts& f) {
  return f.ipv6_subnet;
}
net::Ip4Addr public_ip_of(const LeaseFacts& f) {
  return f.public_ip;
}
const std::optional<net::Ip6Addr>& public_ipv6_of(const LeaseFacts& f) {
  return f.public_ipv6;
}

template <typename E> bool held_by_us(const AllocationInput& in, const E& l) {
  if (in.v4) {
    return public_ip_of(l) == in.public_ip;
  }
  return in.public_ipv6 && public_ipv6_of(l) == in.public_ipv6;
}

template <typename E> bool lease_compatible(const AllocationInput& in, const E& l) {
  const auto& sn = subnet_of(l);
  const auto& sn6 = ipv6_subnet_of(l);
  const bool v4_ok = in.v4 ? (sn && is_compatible(*in.v4, *sn)) : !sn;
  const bool v6_ok = in.v6 ? (sn6 && is_compatible(*in.v6, *sn6)) : !sn6;
  return v4_ok && v6_ok;
}

template <typename E> using Existing = std::span<const E>;

template <typename E>
std::optional<net::Ip4Net> pick_v4(const AllocationInput& in, Existing<E> existing,
                                   std::mt19937_64& rng, bool& from_previous, base::Status& error) {
  const SubnetRange& r = *in.v4;
  if (in.previous_subnet && is_compatible(r, *in.previous_subnet)) {
    const bool taken = std::any_of(existing.begin(), existing.end(), [&](const E& l) {
      return subnet_of(l) && subnet_of(l)->overlaps(*in.previous_subnet);
    });
    if (!taken) {
      from_previous = true;
      return *in.previous_subnet;
    }
  }
  std::vector<Interval<std::uint64_t>> taken;
  taken.reserve(existing.size());
  for (const E& l : existing) {
    if (const auto& sn = subnet_of(l)) {
      taken.push_back({sn->first().value(), sn->last().value()});
    }
  }
  const std::uint64_t mask = (std::uint64_t{1} << (32 - r.subnet_len)) - 1;
  const auto blocks = free_blocks<std::uint64_t>(r.min.value(), r.max.value(), mask,
                                                 std::move(taken), kMaxCandidates);
  if (blocks.empty()) {
    error = base::out_of_range("out of subnets: no free /" + std::to_string(r.subnet_len) + " in " +
                               r.min.to_string() + ".." + r.max.to_string() + " of " +
                               r.network.to_string());
    return std::nullopt;
  }
  std::uniform_int_distribution<std::size_t> dist(0, blocks.size() - 1);
  return net::Ip4Net(net::Ip4Addr(static_cast<std::uint32_t>(blocks[dist(rng)])), r.subnet_len);
}

template <typename E>
std::optional<net::Ip6Net> pick_v6(const AllocationInput& in, Existing<E> existing,
                                   std::optional<std::uint64_t> v4_index, std::mt19937_64& rng,
                                   bool& from_previous, base::Status& error) {
  const SubnetRange6& r = *in.v6;
  const auto free = [&](const net::Ip6Net& n) {
    return std::none_of(existing.begin(), existing.end(), [&](const E& l) {
      return ipv6_subnet_of(l) && ipv6_subnet_of(l)->overlaps(n);
    });
  };
  if (in.previous_ipv6_subnet && is_compatible(r, *in.previous_ipv6_subnet) &&
      free(*in.previous_ipv6_subnet)) {
    from_previous = true;
    return *in.previous_ipv6_subnet;
  }
  // The IPv6 subnet with the same index in its range as the IPv4 one just picked. Two nodes
  // allocating at once pick different IPv4 subnets or lose the create Txn (the key holds both
  // subnets); a random IPv6 pick could still give both the same IPv6 subnet under two different
  // keys, which no Txn can see. Random only when that subnet is not free.
  if (v4_index && r.subnet_len < 128) {
    const int shift = 128 - r.subnet_len;
    const net::Uint128 step = net::Uint128{1} << shift;
    const net::Uint128 offset = net::Uint128{*v4_index} * step;
    if ((offset >> shift) == *v4_index && r.max.value() >= r.min.value() &&
        offset <= r.max.value() - r.min.value()) {
      const net::Ip6Net paired(net::Ip6Addr::from_value(r.min.value() + offset), r.subnet_len);
      if (free(paired)) {
        return paired;
      }
    }
  }
  std::vector<Interval<net::Uint128>> taken;
  taken.reserve(existing.size());
  for (const E& l : existing) {
    if (const auto& sn6 = ipv6_subnet_of(l)) {
      taken.push_back({sn6->first().value(), sn6->last().value()});
    }
  }
  const net::Uint128 mask = ~net::Ip6Net(net::Ip6Addr(), r.subnet_len).mask();
  const auto blocks = free_blocks<net::Uint128>(r.min.value(), r.max.value(), mask,
                                                std::move(taken), kMaxCandidates);
  if (blocks.empty()) {
    error = base::out_of_range("out of subnets: no free /" + std::to_string(r.subnet_len) + " in " +
                               r.min.to_string() + ".." + r.max.to_string() + " of " +
                               r.network.to_string());
    return std::nullopt;
  }
  std::uniform_int_distribution<std::size_t> dist(0, blocks.size() - 1);
  return net::Ip6Net(net::Ip6Addr::from_value(blocks[dist(rng)]), r.subnet_len);
}

template <typename Range, typename Net, typename Addr>
base::Status validate_range(const Range& r, int max_len, const char* family) {
  const std::string where = std::string(family) + " subnet range of " + r.network.to_string();
  if (!r.network.is_network()) {
    return base::invalid_argument(where + ": network has host bits set");
  }
  if (r.subnet_len < r.network.prefix_len() || r.subnet_len > max_len) {
    return base::invalid_argument(where + ": subnet length /" + std::to_string(r.subnet_len) +
                                  " must be in /" + std::to_string(r.network.prefix_len()) + "../" +
                                  std::to_string(max_len));
  }
  for (const auto& [name, addr] : {std::pair<const char*, Addr>{"min", r.min}, {"max", r.max}}) {
    const Net block(addr, r.subnet_len);
    if (!block.is_network()) {
      return base::invalid_argument(where + ": " + name + " " + addr.to_string() +
                                    " is not aligned to /" + std::to_string(r.subnet_len));
    }
    if (!r.network.contains(addr)) {
      return base::invalid_argument(where + ": " + name + " " + addr.to_string() +
                                    " is outside the network");
    }
  }
  if (r.max < r.min) {
    return base::invalid_argument(where + ": min " + r.min.to_string() + " is after max " +
                                  r.max.to_string());
  }
  return {};
}

} // namespace

bool is_compatible(const SubnetRange& range, const net::Ip4Net& subnet) {
  return subnet.prefix_len() == range.subnet_len && subnet.is_network() &&
         range.min <= subnet.ip() && subnet.ip() <= range.max;
}

bool is_compatible(const SubnetRange6& range, const net::Ip6Net& subnet) {
  return subnet.prefix_len() == range.subnet_len && subnet.is_network() &&
         range.min <= subnet.ip() && subnet.ip() <= range.max;
}

base::Status validate(const SubnetRange& range) {
  return validate_range<SubnetRange, net::Ip4Net, net::Ip4Addr>(range, 32, "IPv4");
}

base::Status validate(const SubnetRange6& range) {
  return validate_range<SubnetRange6, net::Ip6Net, net::Ip6Addr>(range, 128, "IPv6");
}

base::Result<Allocation> allocate_subnet(const AllocationInput& in, std::mt19937_64& rng) {
  std::vector<const Lease*> existing;
  existing.reserve(in.existing.size());
  for (const Lease& l : in.existing) {
    existing.push_back(&l);
  }
  return allocate_subnet(in, existing, rng);
}

namespace {

template <typename E>
base::Result<Allocation> allocate_from(const AllocationInput& in, Existing<E> existing,
                                       std::mt19937_64& rng) {
  if (!in.v4 && !in.v6) {
    return base::invalid_argument("allocate_subnet: neither an IPv4 nor an IPv6 range is given");
  }
  if (in.v4) {
    WEFT_RETURN_IF_ERROR(validate(*in.v4));
  }
  if (in.v6) {
    WEFT_RETURN_IF_ERROR(validate(*in.v6));
  }
  Allocation out;
  for (std::size_t i = 0; i < existing.size(); ++i) {
    const E& l = existing[i];
    if (!held_by_us(in, l)) {
      continue;
    }
    if (lease_compatible(in, l)) {
      if (!out.reused) {
        out.reused = true;
        out.reused_index = i;
        out.subnet = subnet_of(l);
        out.ipv6_subnet = ipv6_subnet_of(l);
      }
    } else {
      out.incompatible_to_delete.push_back(i);
    }
  }
  if (out.reused) {
    return out;
  }
  base::Status error;
  if (in.v4) {
    out.subnet = pick_v4<E>(in, existing, rng, out.from_previous, error);
    if (!error.ok()) {
      return error;
    }
  }
  if (in.v6) {
    bool v6_previous = false;
    std::optional<std::uint64_t> v4_index;
    if (in.v4 && out.subnet && out.subnet->ip().value() >= in.v4->min.value()) {
      v4_index = (std::uint64_t{out.subnet->ip().value()} - in.v4->min.value()) >>
                 (32 - in.v4->subnet_len);
    }
    out.ipv6_subnet = pick_v6<E>(in, existing, v4_index, rng, v6_previous, error);
    if (!error.ok()) {
      return error;
    }
    out.from_previous = out.from_previous || v6_previous;
  }
  return out;
}

} // namespace

base::Result<Allocation> allocate_subnet(const AllocationInput& in,
                                         std::span<const Lease* const> existing,
                                         std::mt19937_64& rng) {
  return allocate_from<const Lease*>(in, existing, rng);
}

base::Result<Allocation> allocate_subnet(const AllocationInput& in,
                                         std::span<const LeaseFacts> existing,
                                         std::mt19937_64& rng) {
  return allocate_from<LeaseFacts>(in, existing, rng);
}

} // namespace weft::lease
