#include "backend/lease_index.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace weft::backend {
namespace {

struct Item {
  std::string name;
  int value = 0;
  const std::string& key() const { return name; }
  friend bool operator==(const Item&, const Item&) = default;
};

// The reconciler's desired set, as far as the index asks about it.
struct Desired {
  std::set<std::string> keys;
  bool operator()(const std::string& k) const { return keys.count(k) != 0; }
};

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST(LeaseIndex, ReplacePatchesOnlyWhatTheLeaseChanged) {
  LeaseIndex<Item> index;
  const std::vector<Item> a{{"r1", 1}, {"n1", 1}};
  index.rebuild(a);
  Desired desired{{"r1", "n1"}};

  LeaseIndex<Item>::Patch p;
  const std::vector<Item> a2{{"r1", 2}, {"n2", 1}};
  EXPECT_TRUE(index.replace(a, a2, desired, p));
  auto up = p.upserts();
  std::sort(up.begin(), up.end(), [](const Item& x, const Item& y) { return x.name < y.name; });
  EXPECT_EQ(up, (std::vector<Item>{{"n2", 1}, {"r1", 2}}));
  EXPECT_EQ(p.removals(), (std::vector<std::string>{"n1"}));

  LeaseIndex<Item>::Patch gone;
  EXPECT_TRUE(index.replace(a2, {}, Desired{{"r1", "n2"}}, gone));
  EXPECT_TRUE(gone.upserts().empty());
  EXPECT_EQ(sorted(gone.removals()), (std::vector<std::string>{"n2", "r1"}));
}

TEST(LeaseIndex, AKeyTwoLeasesWantIsAConflict) {
  LeaseIndex<Item> index;
  const std::vector<Item> shared{{"fdb-mac", 1}};
  index.rebuild(shared);

  LeaseIndex<Item>::Patch p;
  EXPECT_FALSE(index.replace({}, shared, Desired{{"fdb-mac"}}, p)); // a second owner

  LeaseIndex<Item> full; // as a full set builds it: both leases want the key
  const std::vector<Item> both{{"fdb-mac", 1}, {"fdb-mac", 2}};
  full.rebuild(both);
  EXPECT_EQ(full.shared_keys(), 1u);
  LeaseIndex<Item>::Patch q;
  EXPECT_FALSE(full.replace(shared, {}, Desired{{"fdb-mac"}}, q)); // the other still wants it
}

TEST(LeaseIndex, TwoNewLeasesWantingOneKeyInOneBatchConflict) {
  LeaseIndex<Item> index;
  index.rebuild({});
  LeaseIndex<Item>::Patch p;
  const std::vector<Item> x{{"fdb-mac", 1}};
  const std::vector<Item> y{{"fdb-mac", 2}};
  EXPECT_TRUE(index.replace({}, x, Desired{}, p));
  EXPECT_FALSE(index.replace({}, y, Desired{}, p));
}

TEST(LeaseIndex, TheLastEventOnAKeyDecides) {
  // A lease added and then removed in one batch leaves nothing behind.
  LeaseIndex<Item> index;
  index.rebuild({});
  LeaseIndex<Item>::Patch p;
  const std::vector<Item> v{{"r9", 1}};
  EXPECT_TRUE(index.replace({}, v, Desired{}, p));
  EXPECT_TRUE(index.replace(v, {}, Desired{}, p));
  EXPECT_TRUE(p.upserts().empty());
  EXPECT_EQ(p.removals(), (std::vector<std::string>{"r9"}));
}

} // namespace
} // namespace weft::backend
