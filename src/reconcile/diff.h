#pragma once
// diff(): the pure heart of reconciliation. Given desired and actual entries keyed by Entry::key(),
// it returns the changes that turn actual into desired: deletes first (to free quota), then
// creates and updates in desired order. O(n) with hashing.

#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "reconcile/target.h"

namespace weft::reconcile {

template <typename Entry> using KeyOf = std::decay_t<decltype(std::declval<const Entry&>().key())>;

template <typename Entry>
std::vector<Change<Entry>> diff(const std::vector<Entry>& desired,
                                const std::vector<Entry>& actual) {
  using Key = KeyOf<Entry>;
  std::unordered_map<Key, const Entry*> want;
  want.reserve(desired.size());
  for (const Entry& e : desired) {
    want.emplace(e.key(), &e); // the first entry for a key wins
  }
  std::unordered_map<Key, const Entry*> have;
  have.reserve(actual.size());
  // At most one change per entry on either side; reserving that (untouched, so not resident)
  // avoids growing through copies when every entry changes, as at the start.
  std::vector<Change<Entry>> changes;
  changes.reserve(desired.size() + actual.size());
  for (const Entry& e : actual) {
    auto [it, inserted] = have.emplace(e.key(), &e);
    if (!inserted || want.find(e.key()) == want.end()) {
      // Not wanted, or a duplicate of a key we already hold: remove it.
      changes.push_back(Change<Entry>{Op::kDelete, e, std::nullopt});
    }
  }
  for (const Entry& e : desired) {
    auto w = want.find(e.key());
    if (w->second != &e) {
      continue; // a later duplicate in desired
    }
    auto h = have.find(e.key());
    if (h == have.end()) {
      changes.push_back(Change<Entry>{Op::kCreate, e, std::nullopt});
    } else if (!(*h->second == e)) {
      changes.push_back(Change<Entry>{Op::kUpdate, e, *h->second});
    }
  }
  return changes;
}

// The same against actual entries already held by key (a reconciler's cache of its target):
// no copy of them and no second index. Deletes come in the map's order.
template <typename Entry>
std::vector<Change<Entry>> diff(const std::vector<Entry>& desired,
                                const std::unordered_map<KeyOf<Entry>, Entry>& actual) {
  using Key = KeyOf<Entry>;
  std::unordered_map<Key, const Entry*> want;
  want.reserve(desired.size());
  for (const Entry& e : desired) {
    want.emplace(e.key(), &e); // the first entry for a key wins
  }
  std::vector<Change<Entry>> changes;
  changes.reserve(desired.size() + actual.size());
  for (const auto& [key, e] : actual) {
    if (want.find(key) == want.end()) {
      changes.push_back(Change<Entry>{Op::kDelete, e, std::nullopt});
    }
  }
  for (const Entry& e : desired) {
    const Key key = e.key();
    if (want.find(key)->second != &e) {
      continue; // a later duplicate in desired
    }
    auto h = actual.find(key);
    if (h == actual.end()) {
      changes.push_back(Change<Entry>{Op::kCreate, e, std::nullopt});
    } else if (!(h->second == e)) {
      changes.push_back(Change<Entry>{Op::kUpdate, e, h->second});
    }
  }
  return changes;
}

} // namespace weft::reconcile
