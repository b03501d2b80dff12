#include "store/etcd/etcd_store.h"

#include <fmt/format.h>

#include <condition_variable>
#include <future>
#include <thread>

#include "base/backoff.h"
#include "base/log.h"
#include "base/prefault.h"
#include "lease/allocation.h"
#include "lease/subnet_key.h"

namespace weft::store::etcd {
namespace {

std::string join_path(const std::string& prefix, const std::string& name) {
  std::string p = prefix;
  while (!p.empty() && p.back() == '/') {
    p.pop_back();
  }
  return p + "/" + name;
}

std::string subnets_text(const std::optional<net::Ip4Net>& sn,
                         const std::optional<net::Ip6Net>& sn6) {
  std::string out = sn ? sn->to_string() : std::string("-");
  if (sn6) {
    out += " ipv6 " + lease::go_ip6_net_string(*sn6);
  }
  return out;
}

// The IPv4/IPv6 ranges of a checked config, as the allocator wants them.
lease::AllocationInput allocation_input(const lease::LeaseAttrs& attrs,
                                        const AcquireOptions& options) {
  lease::AllocationInput in;
  const auto& c = options.config;
  if (c.enable_ipv4 && c.network && c.subnet_min && c.subnet_max) {
    in.v4 = lease::SubnetRange{*c.network, static_cast<int>(c.subnet_len), *c.subnet_min,
                               *c.subnet_max};
  }
  if (c.enable_ipv6 && c.ipv6_network && c.ipv6_subnet_min && c.ipv6_subnet_max) {
    in.v6 = lease::SubnetRange6{*c.ipv6_network, static_cast<int>(c.ipv6_subnet_len),
                                *c.ipv6_subnet_min, *c.ipv6_subnet_max};
  }
  in.public_ip = attrs.public_ip;
  in.public_ipv6 = attrs.public_ipv6;
  in.previous_subnet = options.previous_subnet;
  in.previous_ipv6_subnet = options.previous_ipv6_subnet;
  return in;
}

} // namespace

base::Result<std::unique_ptr<EtcdStore>> make_etcd_store(const EtcdStoreConfig& config,
                                                         base::Clock& clock) {
  return EtcdStore::create(config, clock);
}

base::Result<std::unique_ptr<EtcdStore>> EtcdStore::create(const EtcdStoreConfig& config,
                                                           base::Clock& clock) {
  if (config.prefix.empty() || config.prefix[0] != '/') {
    return base::invalid_argument(
        fmt::format("--etcd-prefix {:?} must be an absolute key path", config.prefix));
  }
  if (config.lease_ttl.count() <= 0) {
    return base::invalid_argument("lease TTL must be positive");
  }
  ClientConfig cc;
  cc.endpoints = config.endpoints;
  cc.keyfile = config.keyfile;
  cc.certfile = config.certfile;
  cc.cafile = config.cafile;
  cc.username = config.username;
  cc.password = config.password;
  cc.call_timeout = config.call_timeout;
  cc.keepalive_time = config.keepalive_time;
  cc.keepalive_timeout = config.keepalive_timeout;
  auto client = EtcdClient::create(cc);
  if (!client.ok()) {
    return client.status();
  }
  return std::unique_ptr<EtcdStore>(new EtcdStore(config, clock, std::move(*client)));
}

EtcdStore::EtcdStore(const EtcdStoreConfig& config, base::Clock& clock,
                     std::unique_ptr<EtcdClient> client)
    : config_(config), clock_(clock), client_(std::move(client)),
      config_key_(join_path(config.prefix, "config")),
      subnets_prefix_(join_path(config.prefix, "subnets") + "/"), rng_(std::random_device{}()) {}

EtcdStore::~EtcdStore() {
  std::future<base::Result<LeaseGrant>> unused;
  {
    std::lock_guard lock(mu_);
    unused = std::move(grant_ahead_);
  }
  if (unused.valid()) {
    if (auto g = unused.get(); g.ok()) {
      (void)client_->lease_revoke(g->id); // best effort: it would expire with its TTL anyway
    }
  }
}

void EtcdStore::grant_ahead() {
  std::lock_guard lock(mu_);
  if (!grant_ahead_.valid()) {
    grant_ahead_ =
        std::async(std::launch::async, [this] { return client_->lease_grant(config_.lease_ttl); });
  }
}

std::string EtcdStore::lease_key(const lease::Lease& l) const {
  return subnets_prefix_ + lease::make_subnet_key(l.subnet, l.ipv6_subnet);
}

base::Result<std::string> EtcdStore::get_network_config() {
  auto r = client_->range(config_key_);
  if (!r.ok()) {
    return r.status();
  }
  if (r->kvs.empty()) {
    return base::not_found(fmt::format("flannel config not found in etcd store. Did you create "
                                       "your config using etcdv3 API? (key {})",
                                       config_key_));
  }
  return r->kvs[0].value;
}

void EtcdStore::report_malformed(const KeyValue& kv, const base::Status& st) {
  {
    std::lock_guard lock(mu_);
    if (!reported_.emplace(kv.key, kv.mod_revision).second) {
      return;
    }
  }
  WEFT_WARN("skipping malformed lease {:?} (revision {}): {}", kv.key, kv.mod_revision,
            st.to_string());
}

base::Result<lease::Lease> EtcdStore::parse_kv(const KeyValue& kv) {
  return parse_kv(kv.key, kv.value, kv.lease, kv.mod_revision);
}

base::Result<lease::Lease> EtcdStore::parse_kv(std::string_view key_text, std::string_view value,
                                               std::int64_t etcd_lease, std::int64_t mod_revision,
                                               bool keep_backend_data) {
  auto key = lease::parse_subnet_key(key_text.substr(subnets_prefix_.size()));
  if (!key.ok()) {
    return key.status();
  }
  auto attrs = lease::parse_lease_attrs(value, keep_backend_data);
  if (!attrs.ok()) {
    return attrs.status();
  }
  lease::Lease l;
  l.subnet = key->first;
  l.ipv6_subnet = key->second;
  l.enable_ipv4 = l.subnet.has_value();
  l.enable_ipv6 = l.ipv6_subnet.has_value();
  l.attrs = std::move(*attrs);
  if (etcd_lease != 0) {
    // An upper bound: we do not spend a TimeToLive call per key.
    l.expiration = clock_.wall_now() + config_.lease_ttl;
  }
  l.asof = mod_revision;
  return l;
}

std::vector<EtcdStore::Entry> EtcdStore::parse_listing(const RangeBuffer& listing) {
  std::vector<Entry> out;
  // Headroom for the leases that join after the listing (the node's own first): the mirror
  // inserts them in place instead of doubling, which held the old and the new array at once.
  const std::size_t n = listing.kvs.size();
  out.reserve(n + n / 16 + 16);
  base::prefault(out.data(), n * sizeof(Entry));
  for (const KeyValueView& v : listing.kvs) {
    auto r = parse_kv(v.key, v.value, v.lease, v.mod_revision);
    KeyValue kv{std::string(v.key), {}, v.create_revision, v.mod_revision, v.version, v.lease};
    if (r.ok()) {
      out.push_back(Entry{std::move(kv), std::move(*r)});
    } else {
      kv.value = std::string(v.value);
      report_malformed(kv, r.status());
    }
  }
  return out;
}

std::vector<EtcdStore::Entry> EtcdStore::parse_kvs(std::vector<KeyValue>&& kvs) {
  std::vector<Entry> out;
  out.reserve(kvs.size());
  const auto now = clock_.wall_now();
  std::lock_guard lock(parse_mu_);
  const std::uint64_t generation = ++parse_generation_;
  parsed_.reserve(kvs.size());
  for (auto& kv : kvs) {
    auto [it, inserted] = parsed_.try_emplace(kv.key);
    CachedLease& c = it->second;
    if (inserted || c.mod_revision != kv.mod_revision) {
      c.mod_revision = kv.mod_revision;
      auto r = parse_kv(kv);
      if (r.ok()) {
        c.lease = std::move(*r);
      } else {
        c.lease.reset();
        report_malformed(kv, r.status());
      }
    }
    c.generation = generation;
    if (c.lease) {
      c.lease->expiration =
          kv.lease != 0 ? now + config_.lease_ttl : std::chrono::system_clock::time_point{};
      out.push_back(Entry{std::move(kv), *c.lease});
    }
  }
  if (parsed_.size() > kvs.size()) { // drop keys gone since the last listing
    std::erase_if(parsed_, [&](const auto& e) { return e.second.generation != generation; });
  }
  return out;
}

lease::Lease EtcdStore::make_lease(const std::optional<net::Ip4Net>& sn,
                                   const std::optional<net::Ip6Net>& sn6,
                                   const lease::LeaseAttrs& attrs, std::int64_t etcd_lease,
                                   std::int64_t ttl, std::int64_t revision) const {
  lease::Lease l;
  l.subnet = sn;
  l.ipv6_subnet = sn6;
  l.enable_ipv4 = sn.has_value();
  l.enable_ipv6 = sn6.has_value();
  l.attrs = attrs;
  if (etcd_lease != 0) {
    l.expiration = clock_.wall_now() + std::chrono::seconds(ttl);
  }
  l.asof = revision;
  return l;
}

void EtcdStore::remember(const std::string& key, const std::string& value, std::int64_t etcd_lease,
                         const AcquireOptions* options) {
  std::lock_guard lock(mu_);
  Own own;
  if (own_) {
    own.options = own_->options;
  }
  own.key = key;
  own.value = value;
  own.etcd_lease = etcd_lease;
  if (options != nullptr) {
    own.options = *options;
  }
  own_ = std::move(own);
}

base::Result<LeaseSnapshot> EtcdStore::list_leases() {
  auto r = client_->range(subnets_prefix_, prefix_range_end(subnets_prefix_));
  if (!r.ok()) {
    return r.status();
  }
  LeaseSnapshot snap;
  auto entries = parse_kvs(std::move(r->kvs));
  snap.leases.reserve(entries.size());
  for (auto& e : entries) {
    snap.leases.push_back(std::move(e.lease));
  }
  snap.revision = r->revision;
  return snap;
}

EtcdStore::AcquirePlan EtcdStore::plan_from(const std::vector<Entry>& entries,
                                            lease::Allocation alloc) {
  AcquirePlan plan;
  if (alloc.reused && alloc.reused_index) {
    plan.reused = entries[*alloc.reused_index];
  }
  for (std::size_t i : alloc.incompatible_to_delete) {
    plan.to_delete.emplace_back(entries[i].kv.key, entries[i].kv.create_revision);
  }
  plan.alloc = std::move(alloc);
  return plan;
}

base::Result<lease::Allocation> EtcdStore::allocate(const lease::AllocationInput& input,
                                                    std::span<const lease::Lease* const> existing) {
  std::lock_guard lock(mu_); // rng_
  return lease::allocate_subnet(input, existing, rng_);
}

base::Result<lease::Allocation> EtcdStore::allocate(const lease::AllocationInput& input,
                                                    std::span<const lease::LeaseFacts> existing) {
  std::lock_guard lock(mu_); // rng_
  return lease::allocate_subnet(input, existing, rng_);
}

base::Result<lease::LeaseFacts> EtcdStore::parse_facts(std::string_view key_text,
                                                       std::string_view value) const {
  // parse_kv's checks, in its order: a value it skips is skipped here.
  auto key = lease::parse_subnet_key(key_text.substr(subnets_prefix_.size()));
  if (!key.ok()) {
    return key.status();
  }
  auto attrs = lease::parse_lease_attrs(value, /*keep_backend_data=*/false);
  if (!attrs.ok()) {
    return attrs.status();
  }
  return lease::LeaseFacts{key->first, key->second, attrs->public_ip, attrs->public_ipv6};
}

base::Result<EtcdStore::AcquirePlan>
EtcdStore::plan_from_listing(const lease::AllocationInput& input, const RangeBuffer& listing) {
  // What allocation reads of the leases parse_listing would make (malformed values skipped the
  // same way, in the same key order): a fifth of a Lease each, nothing copied. The entries the
  // plan names are parsed whole.
  std::vector<lease::LeaseFacts> facts;
  std::vector<std::size_t> at; // facts[i] is listing.kvs[at[i]]
  facts.reserve(listing.kvs.size());
  at.reserve(listing.kvs.size());
  base::prefault_reserved(facts);
  for (std::size_t i = 0; i < listing.kvs.size(); ++i) {
    const KeyValueView& v = listing.kvs[i];
    if (auto f = parse_facts(v.key, v.value); f.ok()) {
      facts.push_back(*f);
      at.push_back(i);
    }
  }
  base::Result<lease::Allocation> alloc = allocate(input, facts);
  if (!alloc.ok()) {
    return alloc.status();
  }
  auto kv_of = [&](std::size_t i) {
    const KeyValueView& v = listing.kvs[at[i]];
    return KeyValue{std::string(v.key), {}, v.create_revision, v.mod_revision, v.version, v.lease};
  };
  AcquirePlan plan;
  if (alloc->reused && alloc->reused_index) {
    const KeyValueView& v = listing.kvs[at[*alloc->reused_index]];
    auto l = parse_kv(v.key, v.value, v.lease, v.mod_revision, /*keep_backend_data=*/false);
    if (!l.ok()) {
      return l.status(); // parse_facts accepted it: cannot happen
    }
    plan.reused = Entry{kv_of(*alloc->reused_index), std::move(*l)};
  }
  for (std::size_t i : alloc->incompatible_to_delete) {
    KeyValue kv = kv_of(i);
    plan.to_delete.emplace_back(std::move(kv.key), kv.create_revision);
  }
  plan.alloc = std::move(*alloc);
  return plan;
}

base::Result<EtcdStore::AcquirePlan> EtcdStore::plan_acquire(const lease::AllocationInput& input,
                                                             bool allow_mirror) {
  auto plan_entries = [&](const std::vector<Entry>& entries) -> base::Result<AcquirePlan> {
    std::vector<const lease::Lease*> existing;
    existing.reserve(entries.size());
    for (const Entry& e : entries) {
      existing.push_back(&e.lease);
    }
    base::Result<lease::Allocation> alloc = allocate(input, existing);
    if (!alloc.ok()) {
      return alloc.status();
    }
    return plan_from(entries, std::move(*alloc));
  };
  if (allow_mirror) {
    std::shared_ptr<const RangeBuffer> listing;
    {
      std::unique_lock lock(mirror_mu_);
      // A watch reading its snapshot right now: that read replaces ours.
      ++acquires_waiting_;
      {
        const EtcdWaitMeter meter;
        mirror_cv_.wait_for(lock, config_.call_timeout,
                            [&] { return !mirror_starting_ || listing_ != nullptr; });
      }
      --acquires_waiting_;
      if (mirror_live_) {
        return plan_entries(mirror_); // under the mirror's lock: nothing is copied but the result
      }
      listing = listing_;
      listing_readers_ += listing ? 1 : 0;
    }
    if (listing) {
      // Released when the attempt's plan goes (its Txn answered): the watch's parse waits.
      std::shared_ptr<void> hold(nullptr, [this](void*) {
        std::lock_guard lock(mirror_mu_);
        --listing_readers_;
        mirror_cv_.notify_all();
      });
      auto plan = plan_from_listing(input, *listing);
      if (plan.ok()) {
        plan->listing_hold = std::move(hold);
      }
      return plan;
    }
  }
  // Serializable: the create-if-absent Txn (or the compare on a reused lease's value) is what
  // guarantees uniqueness, so a slightly stale listing only costs a retry.
  auto r = client_->range(subnets_prefix_, prefix_range_end(subnets_prefix_),
                          /*serializable=*/true);
  if (!r.ok()) {
    return r.status();
  }
  return plan_entries(parse_kvs(std::move(r->kvs)));
}

std::optional<EtcdStore::Entry> EtcdStore::previous_entry(const lease::AllocationInput& input) {
  if (!input.previous_subnet && !input.previous_ipv6_subnet) {
    return std::nullopt;
  }
  const std::string key =
      subnets_prefix_ + lease::make_subnet_key(input.previous_subnet, input.previous_ipv6_subnet);
  auto r = client_->range(key, {}, /*serializable=*/true); // the Txn compares the value read
  if (!r.ok() || r->kvs.empty()) {
    return std::nullopt;
  }
  auto l = parse_kv(r->kvs[0]);
  if (!l.ok()) {
    return std::nullopt;
  }
  // Whether flanneld's first rule reuses it: held by this node and fitting the config.
  const std::vector<const lease::Lease*> one{&*l};
  base::Result<lease::Allocation> alloc = allocate(input, one);
  if (!alloc.ok() || !alloc->reused) {
    return std::nullopt;
  }
  return Entry{std::move(r->kvs[0]), std::move(*l)};
}

namespace {

template <typename Entries> auto find_key(Entries& entries, const std::string& key) {
  return std::lower_bound(entries.begin(), entries.end(), key,
                          [](const auto& e, const std::string& k) { return e.kv.key < k; });
}

} // namespace

void EtcdStore::mirror_reset(std::vector<Entry>&& entries) {
  const auto by_key = [](const Entry& a, const Entry& b) { return a.kv.key < b.kv.key; };
  if (!std::is_sorted(entries.begin(), entries.end(), by_key)) { // etcd lists in key order
    std::sort(entries.begin(), entries.end(), by_key);
  }
  std::lock_guard lock(mirror_mu_);
  mirror_ = std::move(entries);
  mirror_live_ = true;
  mirror_starting_ = false;
  listing_.reset();
  mirror_cv_.notify_all();
}

void EtcdStore::mirror_put(const KeyValue& kv, const lease::Lease& lease) {
  std::lock_guard lock(mirror_mu_);
  auto it = find_key(mirror_, kv.key);
  KeyValue stored{kv.key, {}, kv.create_revision, kv.mod_revision, kv.version, kv.lease};
  if (it != mirror_.end() && it->kv.key == kv.key) {
    it->kv = std::move(stored);
    it->lease = lease;
  } else {
    mirror_.insert(it, Entry{std::move(stored), lease});
  }
}

void EtcdStore::mirror_erase(const std::string& key) {
  std::lock_guard lock(mirror_mu_);
  auto it = find_key(mirror_, key);
  if (it != mirror_.end() && it->kv.key == key) {
    mirror_.erase(it);
  }
}

void EtcdStore::expect_watch() {
  std::lock_guard lock(mirror_mu_);
  if (!mirror_live_) {
    mirror_starting_ = true;
  }
}

void EtcdStore::mirror_set_live(bool live) {
  std::lock_guard lock(mirror_mu_);
  mirror_live_ = live;
  if (!live) {
    mirror_starting_ = false; // an acquire waiting for the snapshot reads etcd itself
    listing_.reset();
  }
  mirror_cv_.notify_all();
}

base::Result<lease::Lease> EtcdStore::acquire_lease(const lease::LeaseAttrs& attrs,
                                                    const AcquireOptions& options) {
  lease::AllocationInput input = allocation_input(attrs, options);
  if (!input.v4 && !input.v6) {
    return base::invalid_argument("acquire_lease: the config enables neither IPv4 nor IPv6");
  }
  const std::string value = lease::to_json(attrs);
  // The etcd lease is granted while the leases are listed: nearly every acquire needs one (all
  // but the reuse of a reservation, which revokes it), and the grant then costs no wait.
  std::optional<LeaseGrant> grant; // granted once, reused across lost races
  std::future<base::Result<LeaseGrant>> granting;
  {
    std::lock_guard lock(mu_);
    granting = std::move(grant_ahead_); // granted ahead (grant_ahead), else started here
  }
  if (!granting.valid()) {
    granting =
        std::async(std::launch::async, [this] { return client_->lease_grant(config_.lease_ttl); });
  }
  auto take_grant = [&]() -> base::Status {
    if (granting.valid()) {
      auto g = [&] {
        const EtcdWaitMeter meter;
        return granting.get();
      }();
      if (!g.ok()) {
        return g.status();
      }
      grant = *g;
    } else if (!grant) {
      auto g = client_->lease_grant(config_.lease_ttl);
      if (!g.ok()) {
        return g.status();
      }
      grant = *g;
    }
    return {};
  };
  auto drop_grant = [&] {
    if (granting.valid()) {
      if (auto g = granting.get(); g.ok()) {
        grant = *g;
      }
    }
    if (grant) {
      (void)client_->lease_revoke(grant->id);
      grant.reset();
    }
  };

  // Renews a lease this node holds with its new value; nullopt when the key changed meanwhile.
  auto reuse = [&](const Entry& e) -> std::optional<base::Result<lease::Lease>> {
    const KeyValue& kv = e.kv;
    const lease::Lease& old = e.lease;
    WEFT_INFO("Found lease ({}) for current IP ({}), reusing",
              subnets_text(old.subnet, old.ipv6_subnet), attrs.public_ip.to_string());
    std::int64_t id = 0;
    std::int64_t ttl = 0;
    if (kv.lease != 0) { // a reservation (no etcd lease) stays one
      if (auto st = take_grant(); !st.ok()) {
        drop_grant();
        return base::Result<lease::Lease>(st);
      }
      id = grant->id;
      ttl = grant->ttl_seconds;
    }
    // The mirror keeps no values: the key must be as it was at the revision it was read.
    auto t = client_->put_if_unchanged(kv.key, kv.mod_revision, value, id, kv.lease);
    if (!t.ok()) {
      drop_grant();
      return base::Result<lease::Lease>(t.status());
    }
    if (!t->succeeded) {
      WEFT_INFO("lease {:?} changed while reusing it; looking again", kv.key);
      return std::nullopt;
    }
    if (id == 0) {
      drop_grant(); // a reservation needs none
    }
    remember(kv.key, value, id, &options);
    return make_lease(old.subnet, old.ipv6_subnet, attrs, id, ttl, t->revision);
  };

  // A restart: subnet.env names the subnet this node held. When that key still holds this node's
  // lease, it is renewed after a single-key read instead of a listing of every lease.
  if (auto previous = previous_entry(input)) {
    if (auto done = reuse(*previous)) {
      return std::move(*done);
    }
  }

  for (int attempt = 0; attempt <= config_.max_race_retries; ++attempt) {
    // After a lost race the mirror may not have seen the winner yet: read etcd itself.
    auto planned = plan_acquire(input, /*allow_mirror=*/attempt == 0);
    if (!planned.ok()) {
      drop_grant();
      return planned.status();
    }
    AcquirePlan plan = std::move(*planned);
    const lease::Allocation* alloc = &plan.alloc;
    for (const auto& [key, create_revision] : plan.to_delete) {
      WEFT_INFO("Found lease {:?} for current IP ({}) but not compatible with current config, "
                "deleting",
                key, attrs.public_ip.to_string());
      auto d = client_->delete_if_created(key, create_revision);
      if (!d.ok()) {
        drop_grant();
        return d.status();
      }
    }

    if (plan.reused) {
      if (auto done = reuse(*plan.reused)) {
        return std::move(*done);
      }
      continue; // changed meanwhile: look again
    }

    const std::string key =
        subnets_prefix_ + lease::make_subnet_key(alloc->subnet, alloc->ipv6_subnet);
    if (auto st = take_grant(); !st.ok()) {
      drop_grant();
      return st;
    }
    auto t = client_->create(key, value, grant->id);
    if (!t.ok()) {
      drop_grant();
      return t.status();
    }
    if (!t->succeeded) {
      // flanneld exits here; we pick again from a fresh listing (the grant is kept for it).
      WEFT_INFO("subnet {} was taken by another node at the same time; picking again",
                subnets_text(alloc->subnet, alloc->ipv6_subnet));
      continue;
    }
    if (alloc->from_previous) {
      WEFT_INFO("Found previously leased subnet ({}), reusing",
                subnets_text(alloc->subnet, alloc->ipv6_subnet));
    }
    WEFT_INFO("Allocated lease ({}) to current node ({})",
              subnets_text(alloc->subnet, alloc->ipv6_subnet), attrs.public_ip.to_string());
    remember(key, value, grant->id, &options);
    return make_lease(alloc->subnet, alloc->ipv6_subnet, attrs, grant->id, grant->ttl_seconds,
                      t->revision);
  }
  drop_grant();
  return base::conflict(fmt::format("acquire_lease: lost {} races for a subnet in a row",
                                    config_.max_race_retries + 1));
}

base::Result<lease::Lease> EtcdStore::renew_lease(const lease::Lease& l) {
  const std::string key = lease_key(l);
  const std::string value = lease::to_json(l.attrs);
  std::string expected = value;
  std::optional<std::int64_t> expected_lease;
  {
    std::lock_guard lock(mu_);
    if (own_ && own_->key == key) {
      expected = own_->value;
      expected_lease = own_->etcd_lease;
    }
  }
  for (int attempt = 0; attempt < 3; ++attempt) {
    const bool reservation = expected_lease && *expected_lease == 0;
    std::int64_t id = 0;
    std::int64_t ttl = 0;
    if (!reservation) {
      auto g = client_->lease_grant(config_.lease_ttl);
      if (!g.ok()) {
        return g.status();
      }
      id = g->id;
      ttl = g->ttl_seconds;
    }
    auto t = client_->put_if_value(key, expected, value, id, expected_lease);
    if (!t.ok()) {
      if (id != 0) {
        (void)client_->lease_revoke(id);
      }
      return t.status();
    }
    if (t->succeeded) {
      // The previous etcd lease now holds no key; it lapses by itself (as with flanneld).
      remember(key, value, id, nullptr);
      return make_lease(l.subnet, l.ipv6_subnet, l.attrs, id, ttl, t->revision);
    }
    if (id != 0) {
      (void)client_->lease_revoke(id);
    }
    if (t->kvs.empty()) {
      return base::not_found(fmt::format("renewing lease {:?}: the key is gone", key));
    }
    const KeyValue& cur = t->kvs[0];
    if (cur.value != expected && cur.value != value) {
      return base::conflict(
          fmt::format("renewing lease {:?}: now held by someone else ({})", key, cur.value));
    }
    // Still ours but re-put (e.g. made a reservation by an operator): adopt its lease state.
    expected = cur.value;
    expected_lease = cur.lease;
  }
  return base::conflict(fmt::format("renewing lease {:?}: it keeps changing", key));
}

base::Status EtcdStore::release_lease(const lease::Lease& l) {
  const std::string key = lease_key(l);
  std::string expected = lease::to_json(l.attrs);
  std::int64_t etcd_lease = 0;
  {
    std::lock_guard lock(mu_);
    if (own_ && own_->key == key) {
      expected = own_->value;
      etcd_lease = own_->etcd_lease;
      own_.reset();
    }
  }
  auto t = client_->delete_if_value(key, expected);
  if (!t.ok()) {
    return t.status();
  }
  if (etcd_lease != 0) {
    (void)client_->lease_revoke(etcd_lease);
  }
  return {};
}

base::Status EtcdStore::watch_leases(std::stop_token stop,
                                     const std::function<void(const LeaseBatch&)>& on_batch) {
  bool expected_owner = false;
  const bool owns_mirror = mirror_owned_.compare_exchange_strong(expected_owner, true);
  if (owns_mirror) {
    std::lock_guard lock(mirror_mu_);
    mirror_starting_ = true;
  }
  struct MirrorRelease {
    EtcdStore* store;
    bool owns;
    ~MirrorRelease() {
      if (owns) {
        store->mirror_set_live(false);
        std::lock_guard lock(store->mirror_mu_);
        store->mirror_.clear();
        store->mirror_owned_ = false;
      }
    }
  } mirror_release{this, owns_mirror};
  base::Backoff backoff(config_.retry_initial, config_.retry_max);
  std::mutex stream_mu;
  WatchStream* live = nullptr;
  std::stop_callback on_stop(stop, [&] {
    {
      std::lock_guard lock(stream_mu);
      if (live != nullptr) {
        live->cancel();
      }
    }
    {
      std::lock_guard lock(mirror_mu_); // ends the wait for an acquire below
    }
    mirror_cv_.notify_all();
  });
  bool need_list = true;
  std::int64_t next_rev = 0;
  std::string failing;      // the last error logged, for one line per change of state
  bool mirror_live = false; // as last told to the mirror, so it is told once per change
  auto fail = [&](const std::string& what, const base::Status& st) {
    if (owns_mirror) {
      mirror_set_live(false);
      mirror_live = false;
    }
    const std::string msg = fmt::format("{}: {}", what, st.to_string());
    if (failing.empty()) {
      WEFT_WARN("lease watch interrupted ({}); reconnecting with backoff", msg);
    } else if (failing != msg) {
      WEFT_VLOG(1, "lease watch still failing: {}", msg);
    }
    failing = msg;
    return sleep_for(stop, backoff.next());
  };

  // Opens the watch from next_rev; null when that fails (reported when `report`).
  auto open_watch = [&](bool report) -> std::unique_ptr<WatchStream> {
    auto opened = client_->watch(subnets_prefix_, prefix_range_end(subnets_prefix_), next_rev);
    if (!opened.ok()) {
      if (report) {
        fail("opening watch", opened.status());
      }
      return nullptr;
    }
    std::unique_ptr<WatchStream> stream = std::move(*opened);
    std::lock_guard lock(stream_mu);
    live = stream.get();
    return stream;
  };

  while (!stop.stop_requested()) {
    std::unique_ptr<WatchStream> stream;
    if (need_list) {
      // Serializable: the member's own state at some revision R, without a round through the
      // leader; the watch from R + 1 then delivers everything after it, wherever R is.
      auto r = client_->range_buffer(subnets_prefix_, prefix_range_end(subnets_prefix_),
                                     /*serializable=*/true);
      if (!r.ok()) {
        fail("listing leases", r.status());
        continue;
      }
      const std::int64_t listed_at = r->revision;
      auto listing = std::make_shared<const RangeBuffer>(std::move(*r));
      if (owns_mirror) {
        // An acquire waiting for the mirror allocates from the listing, and goes first: its pass
        // and its writes decide the node's subnet (subnet.env waits for them), this parse only
        // feeds the mirror.
        std::lock_guard lock(mirror_mu_);
        listing_ = listing;
        mirror_cv_.notify_all();
      }
      // The watch opens now, while etcd is still at R (nothing is written meanwhile unless
      // another node writes): etcd delivers at once to a watcher that starts past its current
      // revision, and catches up one that starts at or below it only in its sync loop, every
      // 100 ms. Opened after the acquire's write, the watch held back that write's event and
      // every change after it for up to 100 ms. Its events wait in the stream until the
      // snapshot is delivered. A failure here is retried (and reported) below, once the snapshot
      // is delivered, without listing again.
      next_rev = listed_at + 1;
      stream = open_watch(/*report=*/false);
      if (owns_mirror) {
        std::unique_lock lock(mirror_mu_);
        mirror_cv_.wait_for(lock, config_.call_timeout, [&] {
          return (acquires_waiting_ == 0 && listing_readers_ == 0) || stop.stop_requested();
        });
      }
      if (owns_mirror && config_.on_snapshot_read) {
        config_.on_snapshot_read();
      }
      // The mirror keeps the parsed leases, not their JSON text (a fifth of its memory).
      std::vector<Entry> entries = parse_listing(*listing);
      // The message and its views go before the batch is delivered (once an acquire reading
      // them is done too).
      listing.reset();
      LeaseBatch batch;
      batch.reset = true;
      batch.revision = listed_at;
      batch.snapshot.reserve(entries.size());
      if (owns_mirror) {
        // Live from its snapshot; an acquire waiting for it allocates from it now, while the
        // batch's copy is made (this thread alone writes the mirror, so it reads it unlocked).
        mirror_reset(std::move(entries));
        mirror_live = true;
        for (const Entry& e : mirror_) {
          batch.snapshot.push_back(e.lease);
        }
      } else {
        for (Entry& e : entries) {
          batch.snapshot.push_back(std::move(e.lease));
        }
      }
      on_batch(batch);
      need_list = false;
    }
    if (!stream) {
      stream = open_watch(/*report=*/true);
      if (!stream) {
        continue;
      }
    }
    if (stop.stop_requested()) {
      stream->cancel();
    }
    while (true) {
      auto resp = stream->next();
      if (!resp.ok()) {
        if (!stop.stop_requested()) {
          fail(fmt::format("watch from revision {}", next_rev), resp.status());
        }
        break;
      }
      if (resp->compact_revision != 0) {
        WEFT_WARN("lease watch: revision {} was compacted (compacted up to {}); re-listing",
                  next_rev, resp->compact_revision);
        need_list = true;
        break;
      }
      if (resp->canceled) {
        fail("watch", base::unavailable(fmt::format("canceled by etcd: {}", resp->cancel_reason)));
        break;
      }
      if (!failing.empty()) {
        WEFT_INFO("lease watch resumed at revision {} on {}", next_rev, stream->endpoint());
        failing.clear();
      }
      if (owns_mirror && !mirror_live) {
        mirror_set_live(true); // resumed where it broke: the mirror catches up from here
        mirror_live = true;
      }
      backoff.reset();
      if (resp->events.empty()) {
        continue;
      }
      LeaseBatch batch;
      batch.revision = resp->revision;
      for (const auto& ev : resp->events) {
        next_rev = std::max(next_rev, ev.kv.mod_revision + 1);
        LeaseEvent le;
        if (ev.type == WatchEvent::Type::kPut) {
          auto l = parse_kv(ev.kv);
          if (!l.ok()) {
            report_malformed(ev.kv, l.status());
            if (owns_mirror) {
              mirror_erase(ev.kv.key); // as a listing does: malformed values are skipped
            }
            continue;
          }
          le.type = LeaseEvent::Type::kAdded;
          le.lease = std::move(*l);
          if (owns_mirror) {
            mirror_put(ev.kv, le.lease);
          }
        } else {
          if (owns_mirror) {
            mirror_erase(ev.kv.key);
          }
          auto key =
              lease::parse_subnet_key(std::string_view(ev.kv.key).substr(subnets_prefix_.size()));
          if (!key.ok()) {
            continue; // a malformed key was never delivered as added
          }
          le.type = LeaseEvent::Type::kRemoved;
          le.lease.subnet = key->first;
          le.lease.ipv6_subnet = key->second;
          le.lease.enable_ipv4 = key->first.has_value();
          le.lease.enable_ipv6 = key->second.has_value();
          le.lease.asof = ev.kv.mod_revision;
        }
        batch.events.push_back(std::move(le));
      }
      if (!batch.events.empty()) {
        on_batch(batch);
      }
    }
    {
      std::lock_guard lock(stream_mu);
      live = nullptr;
    }
  }
  return base::cancelled("lease watch stopped");
}

} // namespace weft::store::etcd
