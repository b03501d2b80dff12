#pragma once
// LeaseIndex<Entry>: lets a lease event change only that lease's entries of one reconciler
// (Reconciler::patch_desired). The entries a lease had are computed again from its previous
// version, so nothing is kept per lease; what is kept is the few keys that two leases want at once
// (two leases publishing one VTEP MAC). Such a key cannot be patched safely (a full set decides
// which lease wins, the first), so a patch touching one reports a conflict and the caller sets
// the full set instead.

#include <optional>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "reconcile/diff.h"

namespace weft::backend {

template <typename Entry> class LeaseIndex {
public:
  using Key = reconcile::KeyOf<Entry>;

  // The changes of one batch of events, by key: the last event touching a key decides whether it
  // is upserted or removed.
  class Patch {
  public:
    void upsert(const Entry& e) { by_key_.insert_or_assign(e.key(), e); }
    void remove(const Key& k) { by_key_.insert_or_assign(k, std::nullopt); }
    bool touches(const Key& k) const { return by_key_.count(k) != 0; }
    std::vector<Entry> upserts() const {
      std::vector<Entry> out;
      for (const auto& [k, e] : by_key_) {
        if (e) {
          out.push_back(*e);
        }
      }
      return out;
    }
    std::vector<Key> removals() const {
      std::vector<Key> out;
      for (const auto& [k, e] : by_key_) {
        if (!e) {
          out.push_back(k);
        }
      }
      return out;
    }

  private:
    std::unordered_map<Key, std::optional<Entry>> by_key_;
  };

  // A full set: the keys that more than one lease wants, as Reconciler::set_desired returns them.
  void set_shared(std::vector<Key> keys) {
    shared_.clear();
    for (auto& k : keys) {
      shared_.insert(std::move(k));
    }
  }

  // A full set: records the keys that more than one lease wants. `entries` are all leases' entries.
  void rebuild(std::span<const Entry> entries) {
    shared_.clear();
    std::unordered_set<Key> seen;
    seen.reserve(entries.size());
    for (const Entry& e : entries) {
      if (!seen.insert(e.key()).second) {
        shared_.insert(e.key());
      }
    }
  }

  // An event: a lease that wanted `before` (its previous version's entries; none if it is new)
  // now wants `now` (none once it is gone). `desired_has(key)` tells whether the reconciler's
  // desired set holds a key. Adds what changes to `patch`; false when a key involved is, or would
  // become, wanted by another lease too.
  template <typename DesiredHas>
  bool replace(std::span<const Entry> before, std::span<const Entry> now,
               const DesiredHas& desired_has, Patch& patch) {
    bool ok = true;
    auto in = [](std::span<const Entry> v, const Key& k) {
      for (const Entry& e : v) {
        if (e.key() == k) {
          return true;
        }
      }
      return false;
    };
    for (const Entry& e : before) {
      const Key k = e.key();
      if (shared_.count(k) != 0) {
        ok = false;
      } else if (!in(now, k)) {
        patch.remove(k);
      }
    }
    for (const Entry& e : now) {
      const Key k = e.key();
      if (shared_.count(k) != 0) {
        ok = false;
      } else if (!in(before, k) && (desired_has(k) || patch.touches(k))) {
        // Another lease has this key, in the desired set or earlier in this batch. (A key this
        // batch removed from another lease is also refused: the full set then decides.)
        ok = false;
        shared_.insert(k);
      }
      patch.upsert(e);
    }
    return ok;
  }

  std::size_t shared_keys() const { return shared_.size(); }

private:
  std::unordered_set<Key> shared_;
};

} // namespace weft::backend
