#pragma once
// LeaseIndex<Entry>: which lease wants which entries of one reconciler, so that a lease event
// changes only that lease's entries (Reconciler::patch_desired). A key wanted by two leases at
// once cannot be patched safely (a full set decides which lease wins, the first), so the patch
// reports a conflict and the caller sets the full set instead.

#include <algorithm>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "reconcile/diff.h"

namespace weft::backend {

template <typename Entry> class LeaseIndex {
public:
  using Key = reconcile::KeyOf<Entry>;

  struct Patch {
    std::vector<Entry> upserts;
    std::vector<Key> removals;
  };

  void clear() {
    by_lease_.clear();
    refs_.clear();
  }

  // For a full set: lease `lease` wants `entries`.
  void add(const std::string& lease, std::span<const Entry> entries) {
    if (entries.empty()) {
      return;
    }
    auto& keys = by_lease_[lease];
    for (const Entry& e : entries) {
      keys.push_back(e.key());
      ++refs_[keys.back()];
    }
  }

  // An event: lease `lease` now wants `entries` (none once it is gone). Adds what changes to
  // `patch`; false when a key involved is (or was) wanted by another lease too.
  bool replace(const std::string& lease, std::span<const Entry> entries, Patch& patch) {
    bool ok = true;
    std::vector<Key> now;
    now.reserve(entries.size());
    for (const Entry& e : entries) {
      now.push_back(e.key());
    }
    auto it = by_lease_.find(lease);
    const std::vector<Key> none;
    const std::vector<Key>& before = it == by_lease_.end() ? none : it->second;
    for (const Key& k : before) {
      if (std::find(now.begin(), now.end(), k) != now.end()) {
        continue;
      }
      auto r = refs_.find(k);
      if (r == refs_.end() || --r->second > 0) {
        ok = false; // another lease still wants it
        continue;
      }
      refs_.erase(r);
      patch.removals.push_back(k);
    }
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (std::find(before.begin(), before.end(), now[i]) == before.end() && ++refs_[now[i]] > 1) {
        ok = false;
      }
      patch.upserts.push_back(entries[i]);
    }
    if (now.empty()) {
      if (it != by_lease_.end()) {
        by_lease_.erase(it);
      }
    } else {
      by_lease_[lease] = std::move(now);
    }
    return ok;
  }

  std::size_t leases() const { return by_lease_.size(); }

private:
  std::unordered_map<std::string, std::vector<Key>> by_lease_;
  std::unordered_map<Key, int> refs_;
};

} // namespace weft::backend
