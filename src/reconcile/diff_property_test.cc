#include "reconcile/diff.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <tuple>
#include <unordered_map>

namespace weft::reconcile {
namespace {

struct Kv {
  int k = 0;
  int v = 0;
  int key() const { return k; }
  friend bool operator==(const Kv&, const Kv&) = default;
};

std::vector<Kv> to_entries(const std::map<int, int>& m) {
  std::vector<Kv> out;
  for (const auto& [k, v] : m) {
    out.push_back(Kv{k, v});
  }
  return out;
}

// Applying diff(desired, actual) to actual yields desired, and the diff is minimal: every change
// is needed and no key is touched twice.
RC_GTEST_PROP(DiffProperty, ApplyingTheDiffConverges,
              (const std::map<int, int>& desired, const std::map<int, int>& actual)) {
  auto changes = diff(to_entries(desired), to_entries(actual));
  std::map<int, int> state = actual;
  std::map<int, int> touched;
  for (const auto& c : changes) {
    RC_ASSERT(++touched[c.entry.k] == 1);
    switch (c.op) {
    case Op::kCreate:
      RC_ASSERT(state.count(c.entry.k) == 0u);
      state[c.entry.k] = c.entry.v;
      break;
    case Op::kUpdate:
      RC_ASSERT(state.at(c.entry.k) != c.entry.v);
      RC_ASSERT(c.previous.has_value() && c.previous->v == state.at(c.entry.k));
      state[c.entry.k] = c.entry.v;
      break;
    case Op::kDelete:
      RC_ASSERT(desired.count(c.entry.k) == 0u);
      state.erase(c.entry.k);
      break;
    }
  }
  RC_ASSERT(state == desired);
}

// Diffing against a reconciler's cache (actual held by key) gives the same changes, with the
// deletes in any order.
RC_GTEST_PROP(DiffProperty, AgainstAKeyedCacheIsTheSame,
              (const std::map<int, int>& desired, const std::map<int, int>& actual)) {
  std::unordered_map<int, Kv> cache;
  for (const auto& [k, v] : actual) {
    cache.emplace(k, Kv{k, v});
  }
  auto by_vector = diff(to_entries(desired), to_entries(actual));
  auto by_map = diff(to_entries(desired), cache);
  auto canon = [](std::vector<Change<Kv>> c) {
    std::vector<std::tuple<int, int, int, int>> out;
    for (const auto& x : c) {
      out.emplace_back(static_cast<int>(x.op), x.entry.k, x.entry.v,
                       x.previous ? x.previous->v : -1);
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  RC_ASSERT(canon(by_vector) == canon(by_map));
}

} // namespace
} // namespace weft::reconcile
