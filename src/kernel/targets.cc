#include "kernel/targets.h"

#include <fmt/format.h>

namespace weft::kernel {
namespace {

// Splits a batch into one replace call and one delete call (each itself a netlink batch) and
// puts the results back in the batch's order. An update whose key changed is not possible:
// the reconciler pairs entries by key.
template <typename Entry, typename Replace, typename Remove>
std::vector<base::Status> apply_split(const std::vector<reconcile::Change<Entry>>& batch,
                                      Replace&& replace, Remove&& remove,
                                      bool upserts_first = false) {
  std::vector<Entry> upserts;
  std::vector<Entry> deletes;
  std::vector<std::size_t> upsert_at;
  std::vector<std::size_t> delete_at;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].op == reconcile::Op::kDelete) {
      deletes.push_back(batch[i].entry);
      delete_at.push_back(i);
    } else {
      upserts.push_back(batch[i].entry);
      upsert_at.push_back(i);
    }
  }
  std::vector<base::Status> out(batch.size());
  auto do_deletes = [&] {
    if (!deletes.empty()) {
      auto results = remove(deletes);
      for (std::size_t j = 0; j < delete_at.size(); ++j) {
        out[delete_at[j]] =
            j < results.size() ? results[j] : base::internal_error("missing delete result");
      }
    }
  };
  auto do_upserts = [&] {
    if (!upserts.empty()) {
      auto results = replace(upserts);
      for (std::size_t j = 0; j < upsert_at.size(); ++j) {
        out[upsert_at[j]] =
            j < results.size() ? results[j] : base::internal_error("missing replace result");
      }
    }
  };
  if (upserts_first) {
    do_upserts();
    do_deletes();
  } else {
    do_deletes();
    do_upserts();
  }
  return out;
}

} // namespace

std::string RouteTarget::name() const {
  return fmt::format("kernel-routes/{}/table{}", family_ == AF_INET6 ? "v6" : "v4", table_);
}

base::Result<std::vector<Route>> RouteTarget::list() {
  auto routes = netlink_.list_routes(family_, table_,
                                     adopt_within_.empty() ? std::optional<int>(kWeftRouteProtocol)
                                                           : std::nullopt);
  if (!routes.ok()) {
    return routes;
  }
  std::erase_if(*routes, [&](const Route& r) {
    if (r.protocol == kWeftRouteProtocol) {
      return false;
    }
    if (r.protocol != kFlannelRouteProtocol) {
      return true;
    }
    // What flanneld makes: a route via a next hop to a lease subnet, strictly inside the cluster
    // network. A blackhole (no gateway) or a route for the whole network is someone else's.
    if (!r.gateway) {
      return true;
    }
    return std::none_of(adopt_within_.begin(), adopt_within_.end(), [&](const IpNet& n) {
      return family_of(n) == family_of(r.dst) && contains(n, ip_of(r.dst)) &&
             prefix_len_of(r.dst) > prefix_len_of(n);
    });
  });
  for (auto& r : *routes) {
    // The kernel stores an IPv6 route added with metric 0 as 1024; report it as asked for.
    if (family_of(r.dst) == AF_INET6 && r.metric == kIp6DefaultMetric) {
      r.metric = 0;
    }
  }
  return routes;
}

std::vector<base::Status> RouteTarget::apply(const std::vector<reconcile::Change<Route>>& batch) {
  return apply_split(
      batch,
      [this](std::vector<Route> routes) {
        for (auto& r : routes) {
          r.protocol = kWeftRouteProtocol;
          r.table = table_;
        }
        return netlink_.replace_routes(routes);
      },
      [this](std::vector<Route> routes) {
        for (auto& r : routes) {
          // The kernel then deletes only a route of ours (or the adopted flanneld route listed).
          if (r.protocol != kFlannelRouteProtocol) {
            r.protocol = kWeftRouteProtocol;
          }
        }
        return netlink_.delete_routes(routes);
      },
      /*upserts_first=*/true); // a route replacing an adopted one is in before that one goes
}

std::string NeighTarget::name() const {
  return fmt::format("kernel-neigh/#{}", ifindex_);
}

base::Result<std::vector<Neighbour>> NeighTarget::list() {
  return netlink_.list_neighbours(ifindex_);
}

std::vector<base::Status>
NeighTarget::apply(const std::vector<reconcile::Change<Neighbour>>& batch) {
  return apply_split(
      batch, [this](const std::vector<Neighbour>& n) { return netlink_.replace_neighbours(n); },
      [this](const std::vector<Neighbour>& n) { return netlink_.delete_neighbours(n); });
}

std::string FdbTarget::name() const {
  return fmt::format("kernel-fdb/#{}", ifindex_);
}

base::Result<std::vector<FdbEntry>> FdbTarget::list() {
  return netlink_.list_fdb(ifindex_);
}

std::vector<base::Status> FdbTarget::apply(const std::vector<reconcile::Change<FdbEntry>>& batch) {
  return apply_split(
      batch, [this](const std::vector<FdbEntry>& f) { return netlink_.replace_fdb(f); },
      [this](const std::vector<FdbEntry>& f) { return netlink_.delete_fdb(f); });
}

} // namespace weft::kernel
