#include "backend/lease_index.h"

#include <gtest/gtest.h>

#include <string>

namespace weft::backend {
namespace {

struct Item {
  std::string name;
  int value = 0;
  const std::string& key() const { return name; }
  friend bool operator==(const Item&, const Item&) = default;
};

TEST(LeaseIndex, ReplacePatchesOnlyWhatTheLeaseChanged) {
  LeaseIndex<Item> index;
  const std::vector<Item> a{{"r1", 1}, {"n1", 1}};
  index.add("lease-a", a);
  EXPECT_EQ(index.leases(), 1u);

  LeaseIndex<Item>::Patch p;
  const std::vector<Item> a2{{"r1", 2}, {"n2", 1}};
  EXPECT_TRUE(index.replace("lease-a", a2, p));
  EXPECT_EQ(p.upserts, a2);
  EXPECT_EQ(p.removals, (std::vector<std::string>{"n1"}));

  LeaseIndex<Item>::Patch gone;
  EXPECT_TRUE(index.replace("lease-a", {}, gone));
  EXPECT_TRUE(gone.upserts.empty());
  EXPECT_EQ(gone.removals, (std::vector<std::string>{"r1", "n2"}));
  EXPECT_EQ(index.leases(), 0u);
}

TEST(LeaseIndex, AKeyTwoLeasesWantIsAConflict) {
  LeaseIndex<Item> index;
  const std::vector<Item> shared{{"fdb-mac", 1}};
  index.add("lease-a", shared);

  LeaseIndex<Item>::Patch p;
  EXPECT_FALSE(index.replace("lease-b", shared, p)); // a second owner

  LeaseIndex<Item> full; // as a full set builds it: both own the key
  full.add("lease-a", shared);
  full.add("lease-b", shared);
  LeaseIndex<Item>::Patch q;
  EXPECT_FALSE(full.replace("lease-a", {}, q)); // lease-b still wants it: not removed
  EXPECT_TRUE(q.removals.empty());
}

} // namespace
} // namespace weft::backend
