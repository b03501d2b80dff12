#include "reconcile/reconciler.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <functional>
#include <map>
#include <string>
#include <thread>

#include "reconcile/diff.h"

namespace weft::reconcile {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

struct Item {
  std::string name;
  int value = 0;
  const std::string& key() const { return name; }
  friend bool operator==(const Item&, const Item&) = default;
};

// An in-memory target. `fail` decides, per apply call and change, whether the change fails.
class FakeTarget : public Target<Item> {
public:
  std::string name() const override { return "fake"; }

  base::Result<std::vector<Item>> list() override {
    std::lock_guard lock(mu_);
    ++lists;
    if (fail_list) {
      return base::unavailable("list down");
    }
    std::vector<Item> out;
    for (const auto& [k, v] : items) {
      out.push_back(Item{k, v});
    }
    return out;
  }

  std::vector<base::Status> apply(const std::vector<Change<Item>>& batch) override {
    std::lock_guard lock(mu_);
    ++applies;
    batch_sizes.push_back(batch.size());
    std::vector<base::Status> out;
    for (const auto& c : batch) {
      ++calls;
      if (fail && fail(c)) {
        out.push_back(base::unavailable("injected failure for " + c.entry.name));
        continue;
      }
      if (c.op == Op::kDelete) {
        items.erase(c.entry.name);
      } else {
        items[c.entry.name] = c.entry.value;
      }
      out.push_back(base::Status{});
    }
    return out;
  }

  std::map<std::string, int> snapshot() {
    std::lock_guard lock(mu_);
    return items;
  }

  std::mutex mu_;
  std::map<std::string, int> items;
  std::function<bool(const Change<Item>&)> fail;
  bool fail_list = false;
  int lists = 0;
  int applies = 0;
  int calls = 0;
  std::vector<std::size_t> batch_sizes;
};

std::vector<Item> items(int n, int value = 1) {
  std::vector<Item> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(Item{"k" + std::to_string(i), value});
  }
  return out;
}

ReconcilerOptions quick_options() {
  ReconcilerOptions o;
  o.seed = 42;
  o.retry_initial = milliseconds(100);
  o.retry_max = seconds(10);
  o.resync_period = seconds(30);
  return o;
}

TEST(Diff, CreatesUpdatesDeletesByKey) {
  std::vector<Item> desired{{"a", 1}, {"b", 2}, {"c", 3}};
  std::vector<Item> actual{{"b", 2}, {"c", 9}, {"d", 4}};
  auto changes = diff(desired, actual);
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0].op, Op::kDelete);
  EXPECT_EQ(changes[0].entry, (Item{"d", 4}));
  EXPECT_EQ(changes[1].op, Op::kCreate);
  EXPECT_EQ(changes[1].entry, (Item{"a", 1}));
  EXPECT_EQ(changes[2].op, Op::kUpdate);
  EXPECT_EQ(changes[2].entry, (Item{"c", 3}));
  ASSERT_TRUE(changes[2].previous.has_value());
  EXPECT_EQ(*changes[2].previous, (Item{"c", 9}));
}

TEST(Diff, EqualSetsNeedNothing) {
  EXPECT_TRUE(diff(items(100), items(100)).empty());
  EXPECT_TRUE(diff(std::vector<Item>{}, std::vector<Item>{}).empty());
}

TEST(Diff, DuplicatesInActualAreDeletedFirstInDesiredIgnored) {
  std::vector<Item> desired{{"a", 1}, {"a", 2}};
  std::vector<Item> actual{{"a", 1}, {"a", 1}};
  auto changes = diff(desired, actual);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].op, Op::kDelete);
}

TEST(Reconciler, SetDesiredKeepsTheFirstOfARepeatedKeyAndNamesIt) {
  base::ManualClock clock;
  FakeTarget target;
  Reconciler<Item> r(target, clock, quick_options());
  const auto repeated = r.set_desired({{"a", 1}, {"b", 2}, {"a", 3}, {"a", 4}, {"c", 5}});
  EXPECT_EQ(repeated, (std::vector<std::string>{"a", "a"}));
  EXPECT_TRUE(r.wants("a"));
  EXPECT_FALSE(r.wants("z"));
  ASSERT_TRUE(r.sync_once().converged());
  auto snap = target.snapshot();
  ASSERT_EQ(snap.size(), 3u);
  EXPECT_EQ(snap["a"], 1); // the first wins
  EXPECT_TRUE(r.set_desired(items(3)).empty());
}

TEST(Reconciler, ConvergesFromEmptyAndCountsCreates) {
  base::ManualClock clock;
  FakeTarget target;
  Reconciler<Item> r(target, clock, quick_options());
  r.set_desired(items(10));
  auto report = r.sync_once();
  EXPECT_TRUE(report.converged());
  EXPECT_EQ(report.applied, 10u);
  EXPECT_EQ(target.snapshot().size(), 10u);
  auto c = r.counters();
  EXPECT_EQ(c.created, 10u);
  EXPECT_EQ(c.syncs, 1u);
  ASSERT_TRUE(c.last_success.has_value());
  EXPECT_EQ(*c.last_success, clock.now());
}

TEST(Reconciler, DeletesOnlyWhatListReturnsAndUpdatesChanged) {
  base::ManualClock clock;
  FakeTarget target;
  target.items = {{"k0", 1}, {"k1", 5}, {"stale", 1}};
  Reconciler<Item> r(target, clock, quick_options());
  r.set_desired(items(3));
  auto report = r.sync_once();
  EXPECT_TRUE(report.converged());
  EXPECT_EQ(target.snapshot(), (std::map<std::string, int>{{"k0", 1}, {"k1", 1}, {"k2", 1}}));
  auto c = r.counters();
  EXPECT_EQ(c.created, 1u);
  EXPECT_EQ(c.updated, 1u);
  EXPECT_EQ(c.deleted, 1u);
}

TEST(Reconciler, SecondPassOnConvergedTargetAppliesNothing) {
  base::ManualClock clock;
  FakeTarget target;
  Reconciler<Item> r(target, clock, quick_options());
  r.set_desired(items(50));
  r.sync_once();
  const int applies = target.applies;
  auto report = r.sync_once();
  EXPECT_TRUE(report.converged());
  EXPECT_EQ(report.changes, 0u);
  EXPECT_EQ(target.applies, applies);
}

TEST(Reconciler, AppliesInBatches) {
  base::ManualClock clock;
  FakeTarget target;
  auto o = quick_options();
  o.batch_size = 4;
  Reconciler<Item> r(target, clock, o);
  r.set_desired(items(10));
  r.sync_once();
  EXPECT_EQ(target.batch_sizes, (std::vector<std::size_t>{4, 4, 2}));
}

TEST(Reconciler, LevelTriggeredDueOnlyWhenTriggeredOrResyncElapsed) {
  base::ManualClock clock;
  FakeTarget target;
  Reconciler<Item> r(target, clock, quick_options());
  r.set_desired(items(2));
  ASSERT_TRUE(r.sync_if_due().has_value());
  EXPECT_FALSE(r.sync_if_due().has_value());
  // Someone removes an entry behind our back: nothing happens until a trigger or the resync.
  target.items.erase("k0");
  clock.advance(seconds(29));
  EXPECT_FALSE(r.sync_if_due().has_value());
  clock.advance(seconds(1));
  auto report = r.sync_if_due();
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->applied, 1u);
  target.items.erase("k1");
  r.trigger();
  report = r.sync_if_due();
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(target.snapshot().size(), 2u);
}

TEST(Reconciler, TargetFailingHalfItsCallsConvergesWithBackoff) {
  base::ManualClock clock;
  FakeTarget target;
  int n = 0;
  target.fail = [&n](const Change<Item>&) { return (n++ % 2) == 0; };
  Reconciler<Item> r(target, clock, quick_options());
  r.set_desired(items(64));

  auto first = r.sync_once();
  EXPECT_EQ(first.failed, 32u);
  EXPECT_EQ(first.applied, 32u);
  EXPECT_FALSE(first.converged());
  EXPECT_EQ(r.counters().failed, 32u);
  EXPECT_EQ(r.counters().pending, 32u);
  EXPECT_EQ(r.backing_off_keys(), 32u);
  // The retry is due within the first backoff (jitter in [initial/2, initial]), not at the resync.
  EXPECT_LE(r.next_due(), clock.now() + milliseconds(100));
  EXPECT_GE(r.next_due(), clock.now() + milliseconds(50));

  // Before the backoff expires, a triggered pass does not retry the failed keys.
  r.trigger();
  const int calls = target.calls;
  auto early = r.sync_once();
  EXPECT_EQ(early.backing_off, 32u);
  EXPECT_EQ(target.calls, calls);

  int passes = 0;
  while (target.snapshot().size() < 64 && passes < 100) {
    clock.advance(r.next_due() - clock.now());
    ASSERT_TRUE(r.sync_if_due().has_value());
    ++passes;
  }
  EXPECT_EQ(target.snapshot().size(), 64u);
  auto c = r.counters();
  EXPECT_EQ(c.created, 64u);
  EXPECT_GE(c.failed, 32u);
  EXPECT_EQ(r.backing_off_keys(), 0u);
  // Converged: the next pass is the periodic resync.
  EXPECT_EQ(r.counters().pending, 0u);
  auto last = r.sync_once();
  EXPECT_TRUE(last.converged());
  EXPECT_EQ(r.next_due(), clock.now() + seconds(30));
}

TEST(Reconciler, BackoffGrowsForAKeyThatKeepsFailing) {
  base::ManualClock clock;
  FakeTarget target;
  target.fail = [](const Change<Item>& c) { return c.entry.name == "k0"; };
  auto o = quick_options();
  o.retry_initial = milliseconds(100);
  o.retry_max = milliseconds(1600);
  Reconciler<Item> r(target, clock, o);
  r.set_desired(items(1));
  std::vector<base::Clock::Duration> gaps;
  for (int i = 0; i < 7; ++i) {
    r.sync_once();
    gaps.push_back(r.next_due() - clock.now());
    clock.advance(gaps.back());
  }
  // Each gap lies within [base/2, base] of a doubling base capped at 1.6 s.
  std::int64_t base_ms = 100;
  for (auto gap : gaps) {
    const auto ms = std::chrono::duration_cast<milliseconds>(gap).count();
    EXPECT_GE(ms, base_ms / 2);
    EXPECT_LE(ms, base_ms);
    base_ms = std::min<std::int64_t>(base_ms * 2, 1600);
  }
  EXPECT_EQ(r.counters().failed, 7u);
}

// Keys that fail together are retried together: every pass retries all of them or none, so a
// target rejecting 1000 changes for good costs a pass per backoff step, not one per key.
TEST(Reconciler, KeysFailingTogetherAreRetriedInOnePass) {
  base::ManualClock clock;
  FakeTarget target;
  target.fail = [](const Change<Item>&) { return true; };
  auto o = quick_options();
  o.retry_initial = milliseconds(100);
  o.retry_max = seconds(10);
  Reconciler<Item> r(target, clock, o);
  r.set_desired(items(1000));
  const auto until = clock.now() + minutes(10);
  int passes = 0;
  int retry_passes = 0;
  while (clock.now() < until) {
    auto report = r.sync_if_due();
    ASSERT_TRUE(report.has_value());
    ++passes;
    // All or nothing: none of the 1000 is retried alone.
    EXPECT_TRUE((report->failed == 1000 && report->backing_off == 0) ||
                (report->failed == 0 && report->backing_off == 1000))
        << "pass " << passes << ": " << report->failed << " failed, " << report->backing_off
        << " backing off";
    retry_passes += report->failed == 1000 ? 1 : 0;
    clock.advance(r.next_due() - clock.now());
  }
  // About 7 doublings from 100 ms to 10 s, then one pass every 5 to 10 s for the rest of the 10
  // minutes, plus a resync every 30 s: a few hundred passes at most (one per key and attempt
  // would be tens of thousands).
  EXPECT_LE(passes, 200);
  EXPECT_GE(retry_passes, 60);
  EXPECT_EQ(r.backing_off_keys(), 1000u);
}

// relist(): the target was rebuilt behind the reconciler's back (a device recreated): the next
// pass runs at once, lists the target instead of trusting its cache, and retries failed keys
// without waiting out their backoff.
TEST(Reconciler, RelistListsAtOnceAndRetriesWithoutWaiting) {
  base::ManualClock clock;
  FakeTarget target;
  bool broken = true;
  target.fail = [&broken](const Change<Item>&) { return broken; };
  auto o = quick_options();
  o.cache_actual = true;
  Reconciler<Item> r(target, clock, o);
  r.set_desired(items(3));
  EXPECT_EQ(r.sync_once().failed, 3u);
  ASSERT_TRUE(r.sync_if_due() == std::nullopt); // backing off
  broken = false;
  const int lists = target.lists;
  r.relist();
  auto report = r.sync_if_due();
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->applied, 3u);
  EXPECT_EQ(report->backing_off, 0u);
  EXPECT_EQ(target.lists, lists + 1);
  EXPECT_EQ(target.snapshot().size(), 3u);
}

TEST(Reconciler, ChangedDesiredEntryIsRetriedAtOnce) {
  base::ManualClock clock;
  FakeTarget target;
  target.fail = [](const Change<Item>& c) { return c.entry.value == 1; };
  Reconciler<Item> r(target, clock, quick_options());
  r.set_desired(items(1, 1));
  EXPECT_EQ(r.sync_once().failed, 1u);
  r.set_desired(items(1, 2));
  auto report = r.sync_once();
  EXPECT_EQ(report.applied, 1u);
  EXPECT_EQ(target.snapshot().at("k0"), 2);
}

TEST(Reconciler, ListFailureIsRetriedWithBackoffAndChangesNothing) {
  base::ManualClock clock;
  FakeTarget target;
  target.fail_list = true;
  Reconciler<Item> r(target, clock, quick_options());
  r.set_desired(items(3));
  auto report = r.sync_once();
  EXPECT_FALSE(report.listed);
  EXPECT_EQ(target.applies, 0);
  EXPECT_EQ(r.counters().list_failures, 1u);
  EXPECT_FALSE(r.counters().last_success.has_value());
  EXPECT_LE(r.next_due(), clock.now() + milliseconds(100));
  target.fail_list = false;
  clock.advance(milliseconds(100));
  ASSERT_TRUE(r.sync_if_due().has_value());
  EXPECT_EQ(target.snapshot().size(), 3u);
}

TEST(Reconciler, TokenBucketLimitsBatchesPerSecond) {
  base::ManualClock clock;
  FakeTarget target;
  auto o = quick_options();
  o.batch_size = 10;
  o.rate_per_second = 2;
  o.burst = 2;
  Reconciler<Item> r(target, clock, o);
  r.set_desired(items(50));
  auto report = r.sync_once();
  EXPECT_EQ(report.applied, 20u);
  EXPECT_EQ(report.rate_limited, 30u);
  EXPECT_EQ(target.applies, 2);
  EXPECT_EQ(r.next_due(), clock.now() + milliseconds(500));
  clock.advance(milliseconds(500));
  report = *r.sync_if_due();
  EXPECT_EQ(report.applied, 10u);
  EXPECT_EQ(r.counters().rate_limited, 2u);
  clock.advance(seconds(1));
  report = *r.sync_if_due();
  EXPECT_EQ(report.applied, 20u);
  EXPECT_TRUE(report.converged());
}

TEST(Reconciler, WrongResultCountFailsTheWholeBatch) {
  class Broken : public FakeTarget {
  public:
    std::vector<base::Status> apply(const std::vector<Change<Item>>&) override { return {}; }
  };
  base::ManualClock clock;
  Broken target;
  Reconciler<Item> r(target, clock, quick_options());
  r.set_desired(items(3));
  EXPECT_EQ(r.sync_once().failed, 3u);
}

TEST(Reconciler, RunLoopReactsToTriggerAndStops) {
  FakeTarget target;
  auto o = quick_options();
  o.resync_period = seconds(3600); // only triggers can make it converge within the deadline
  Reconciler<Item> r(target, base::system_clock(), o);
  std::jthread loop([&r](std::stop_token st) { r.run(st); });
  r.set_desired(items(5));
  const auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (target.snapshot().size() != 5 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_EQ(target.snapshot().size(), 5u);
  r.set_desired(items(2));
  while (target.snapshot().size() != 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_EQ(target.snapshot().size(), 2u);
  loop.request_stop();
  loop.join();
  EXPECT_EQ(r.counters().deleted, 3u);
}

TEST(Reconciler, CachedActualListsOnlyAtResyncAndAfterFailures) {
  FakeTarget target;
  base::ManualClock clock;
  ReconcilerOptions o = quick_options();
  o.cache_actual = true;
  o.resync_period = seconds(30);
  Reconciler<Item> r(target, clock, o);

  r.set_desired(items(3));
  EXPECT_TRUE(r.sync_once().converged());
  EXPECT_EQ(target.lists, 1);

  // An event: only the change reaches the target, and nothing is listed.
  auto more = items(4);
  r.set_desired(more);
  auto report = r.sync_if_due();
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->changes, 1u);
  EXPECT_EQ(target.lists, 1);
  EXPECT_EQ(target.snapshot().size(), 4u);

  // Drift made by someone else is invisible to events...
  {
    std::lock_guard lock(target.mu_);
    target.items.erase("k0");
  }
  r.trigger();
  EXPECT_EQ(r.sync_if_due()->changes, 0u);
  EXPECT_EQ(target.snapshot().count("k0"), 0u);
  // ...and repaired by the resync, which lists.
  clock.advance(seconds(31));
  ASSERT_TRUE(r.sync_if_due().has_value());
  EXPECT_EQ(target.lists, 2);
  EXPECT_EQ(target.snapshot().count("k0"), 1u);

  // A failed change drops the cache: the next pass lists again.
  target.fail = [](const Change<Item>& c) { return c.entry.name == "k9"; };
  auto with_bad = items(4);
  with_bad.push_back(Item{"k9", 1});
  r.set_desired(with_bad);
  EXPECT_EQ(r.sync_if_due()->failed, 1u);
  target.fail = nullptr;
  clock.advance(seconds(1));
  r.trigger();
  ASSERT_TRUE(r.sync_if_due().has_value());
  EXPECT_EQ(target.lists, 3);
}

TEST(Reconciler, PatchedKeysAloneAreDiffedBetweenResyncs) {
  FakeTarget target;
  base::ManualClock clock;
  ReconcilerOptions o = quick_options();
  o.cache_actual = true;
  Reconciler<Item> r(target, clock, o);
  r.set_desired(items(100));
  EXPECT_TRUE(r.sync_once().converged());
  EXPECT_EQ(target.lists, 1);
  // Drift on a key nobody patches stays until the resync (proof that it is not diffed).
  {
    std::lock_guard lock(target.mu_);
    target.items.erase("k50");
  }

  r.patch_desired({Item{"k5", 2}, Item{"new", 1}, Item{"k6", 1}}, {"k7", "absent"});
  auto report = r.sync_if_due();
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE(report->converged());
  EXPECT_EQ(report->changes, 3u); // k5 updated, new created, k7 deleted; k6 unchanged
  EXPECT_EQ(target.lists, 1);
  auto snap = target.snapshot();
  EXPECT_EQ(snap.at("k5"), 2);
  EXPECT_EQ(snap.count("new"), 1u);
  EXPECT_EQ(snap.count("k7"), 0u);
  EXPECT_EQ(snap.count("k50"), 0u);
  const auto c = r.counters();
  EXPECT_EQ(c.created, 101u);
  EXPECT_EQ(c.updated, 1u);
  EXPECT_EQ(c.deleted, 1u);

  // The resync lists and diffs everything, the patches included.
  clock.advance(seconds(31));
  ASSERT_TRUE(r.sync_if_due().has_value());
  EXPECT_EQ(target.lists, 2);
  snap = target.snapshot();
  EXPECT_EQ(snap.count("k50"), 1u);
  EXPECT_EQ(snap.size(), 100u); // k0..k99 without k7, plus new
}

TEST(Reconciler, APatchThatFailsIsRetriedByAFullPass) {
  FakeTarget target;
  base::ManualClock clock;
  ReconcilerOptions o = quick_options();
  o.cache_actual = true;
  Reconciler<Item> r(target, clock, o);
  r.set_desired(items(10));
  EXPECT_TRUE(r.sync_once().converged());

  target.fail = [](const Change<Item>& c) { return c.entry.name == "bad"; };
  r.patch_desired({Item{"bad", 1}, Item{"good", 1}}, {});
  auto report = r.sync_if_due();
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->failed, 1u);
  EXPECT_EQ(report->applied, 1u);

  target.fail = nullptr;
  clock.advance(seconds(11)); // past the backoff
  report = r.sync_if_due();
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE(report->converged());
  EXPECT_EQ(target.lists, 2); // the failure dropped the cache
  EXPECT_EQ(target.snapshot().size(), 12u);
}

TEST(Reconciler, SetDesiredAfterPatchesReplacesThemAll) {
  FakeTarget target;
  base::ManualClock clock;
  ReconcilerOptions o = quick_options();
  o.cache_actual = true;
  Reconciler<Item> r(target, clock, o);
  r.set_desired(items(5));
  r.sync_once();
  r.patch_desired({Item{"x", 1}}, {"k0"});
  r.set_desired(items(2)); // a full set replaces the patched one, with k0 back
  EXPECT_TRUE(r.sync_once().converged());
  EXPECT_EQ(target.snapshot(), (std::map<std::string, int>{{"k0", 1}, {"k1", 1}}));
}

// Random patches and full sets, random drift by someone else: after every pass the target holds
// exactly the desired set, except for drift, which the next resync repairs.
RC_GTEST_PROP(ReconcilerProperty, PatchesConvergeLikeFullSets, ()) {
  FakeTarget target;
  base::ManualClock clock;
  ReconcilerOptions o = quick_options();
  o.cache_actual = true;
  Reconciler<Item> r(target, clock, o);
  std::map<std::string, int> model;
  const auto key =
      rc::gen::map(rc::gen::inRange(0, 30), [](int i) { return "k" + std::to_string(i); });
  bool drifted = false;
  const int steps = *rc::gen::inRange(1, 25);
  for (int step = 0; step < steps; ++step) {
    std::vector<Item> upserts;
    std::vector<std::string> removals;
    const int n = *rc::gen::inRange(0, 6);
    for (int i = 0; i < n; ++i) {
      if (*rc::gen::inRange(0, 3) == 0) {
        removals.push_back(*key);
      } else {
        upserts.push_back(Item{*key, *rc::gen::inRange(0, 3)});
      }
    }
    // patch_desired's order: removals, then upserts (the last one for a key wins).
    for (const auto& k : removals) {
      model.erase(k);
    }
    for (const auto& u : upserts) {
      model[u.name] = u.value;
    }
    if (step == 0 || *rc::gen::inRange(0, 5) == 0) {
      std::vector<Item> all;
      for (const auto& [k, v] : model) {
        all.push_back(Item{k, v});
      }
      r.set_desired(all);
    } else {
      r.patch_desired(upserts, removals);
    }
    if (*rc::gen::inRange(0, 4) == 0) {
      std::lock_guard lock(target.mu_);
      target.items[*key] = 7; // never a desired value
      drifted = true;
    }
    if (*rc::gen::inRange(0, 4) == 0) {
      clock.advance(seconds(31)); // this pass is a resync: it lists
      drifted = false;
    }
    RC_ASSERT(r.sync_once().converged());
    if (!drifted) {
      RC_ASSERT(target.snapshot() == model);
    }
  }
  clock.advance(seconds(31));
  r.sync_once();
  RC_ASSERT(target.snapshot() == model);
}

} // namespace
} // namespace weft::reconcile
