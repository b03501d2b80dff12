#pragma once
// Reconciler<Entry>: converges a Target to a desired set. Level-triggered: set_desired(), trigger()
// and the resync period only say "look again"; each pass lists the target once, diffs by key and
// applies the changes in batches under a token bucket. A failed change is retried after a jittered
// exponential backoff for its key; counters record what happened.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <stop_token>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "base/backoff.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "reconcile/counters.h"
#include "reconcile/diff.h"
#include "reconcile/target.h"
#include "reconcile/token_bucket.h"

namespace weft::reconcile {

struct ReconcilerOptions {
  std::size_t batch_size = 500;
  base::Clock::Duration resync_period = std::chrono::seconds(30);
  std::chrono::milliseconds retry_initial = std::chrono::seconds(1);
  std::chrono::milliseconds retry_max = std::chrono::minutes(5);
  // One token per apply() call; rate <= 0 means unlimited.
  double rate_per_second = 0;
  double burst = 1;
  // Seed for backoff jitter; 0 picks a random one.
  std::uint64_t seed = 0;
  // Between resyncs, diff against what the last list plus our own successful changes left,
  // instead of listing the target on every pass: an event then costs target calls for the
  // changes only, no full dump. Drift made by someone else is found at the next resync (or after
  // any failed change, which drops the cache).
  bool cache_actual = false;
};

// What one pass did.
struct SyncReport {
  bool listed = false;
  std::size_t changes = 0;      // changes the diff produced
  std::size_t applied = 0;      // accepted by the target
  std::size_t failed = 0;       // rejected by the target
  std::size_t backing_off = 0;  // skipped: their key is waiting out a backoff
  std::size_t rate_limited = 0; // skipped: no token left for another batch
  bool converged() const { return listed && changes == applied; }
};

template <typename Entry> class Reconciler {
public:
  using Key = KeyOf<Entry>;

  Reconciler(Target<Entry>& target, const base::Clock& clock, ReconcilerOptions options = {})
      : target_(target), clock_(clock), options_(options),
        bucket_(clock, options.rate_per_second, options.burst),
        rng_(options.seed != 0 ? options.seed : std::random_device{}()),
        list_backoff_(options.retry_initial, options.retry_max, rng_()), next_due_(clock.now()) {
    options_.batch_size = std::max<std::size_t>(1, options_.batch_size);
  }

  // Replaces the desired set (from the lease mapping) and asks for a pass. For a key given twice,
  // the first entry wins; the keys given more than once are returned.
  std::vector<Key> set_desired(std::vector<Entry> desired) {
    std::unordered_map<Key, Entry> by_key;
    by_key.reserve(desired.size());
    std::vector<Key> repeated;
    for (Entry& e : desired) {
      auto key = e.key();
      if (by_key.count(key) != 0) {
        repeated.push_back(std::move(key));
        continue;
      }
      by_key.emplace(std::move(key), std::move(e));
    }
    {
      std::lock_guard lock(mu_);
      desired_.swap(by_key);
      full_diff_ = true;
      touched_.clear();
      dirty_ = true;
    }
    cv_.notify_all();
    return repeated;
  }

  // Changes part of the desired set: entries added or replaced (by key) and keys removed, then
  // asks for a pass. While the target's state is cached (cache_actual) and the last pass
  // converged, that pass diffs only these keys: a lease event costs O(changed), not O(all).
  void patch_desired(std::vector<Entry> upserts, const std::vector<Key>& removals) {
    {
      std::lock_guard lock(mu_);
      for (const Key& k : removals) {
        desired_.erase(k);
        touched_.push_back(k);
      }
      for (Entry& e : upserts) {
        auto key = e.key();
        touched_.push_back(key);
        desired_.insert_or_assign(std::move(key), std::move(e));
      }
      dirty_ = true;
    }
    cv_.notify_all();
  }

  // Whether the desired set holds this key.
  bool wants(const Key& key) const {
    std::lock_guard lock(mu_);
    return desired_.count(key) != 0;
  }

  // "Look again": the next pass runs as soon as the loop is free.
  void trigger() {
    {
      std::lock_guard lock(mu_);
      dirty_ = true;
    }
    cv_.notify_all();
  }

  // The target changed behind our back (a device it lives on was recreated): the next pass, run
  // at once, lists it again and retries every failed key without waiting out its backoff.
  void relist() {
    {
      std::lock_guard lock(mu_);
      relist_ = true;
      dirty_ = true;
    }
    cv_.notify_all();
  }

  // Runs a pass if one is due (triggered, resync period elapsed, or a retry is due).
  std::optional<SyncReport> sync_if_due() {
    {
      std::lock_guard lock(mu_);
      if (!dirty_ && clock_.now() < next_due_) {
        return std::nullopt;
      }
    }
    return sync_once();
  }

  // Runs one pass now. Only one thread may call this (the loop's owner).
  SyncReport sync_once() {
    SyncReport report;
    const auto start = clock_.now();
    // One jitter for every key failing in this pass, counted from the pass's start: keys that
    // fail together are due together and retried in one pass. With a jitter per key, 5000 routes
    // failing for good (a next hop off the link) kept a pass due every few milliseconds, each
    // diffing all 5000 to retry a handful: a CPU spent on nothing.
    pass_start_ = start;
    pass_jitter_ = std::uniform_real_distribution<double>(0.5, 1.0)(rng_);
    {
      std::lock_guard lock(mu_);
      if (relist_) {
        relist_ = false;
        cache_valid_ = false;
        retries_.clear();
        full_diff_ = true;
      }
    }
    const bool from_cache = options_.cache_actual && cache_valid_ && start < next_list_;
    // A full diff compares every desired key; a partial one only the keys patched since the last
    // pass, which is exact when that pass converged from a valid cache (nothing else differs).
    std::vector<Entry> desired;
    std::vector<std::pair<Key, std::optional<Entry>>> patched;
    bool partial = false;
    {
      std::lock_guard lock(mu_);
      dirty_ = false;
      partial = from_cache && !full_diff_ && retries_.empty();
      if (partial) {
        std::unordered_set<Key> seen;
        patched.reserve(touched_.size());
        for (Key& k : touched_) {
          if (!seen.insert(k).second) {
            continue;
          }
          auto it = desired_.find(k);
          patched.emplace_back(
              std::move(k), it == desired_.end() ? std::nullopt : std::optional<Entry>(it->second));
        }
      } else {
        desired.reserve(desired_.size());
        for (const auto& [k, e] : desired_) {
          desired.push_back(e);
        }
      }
      touched_.clear();
      full_diff_ = false;
    }
    std::vector<Entry> listed;
    if (!from_cache) {
      auto actual = target_.list();
      if (!actual.ok()) {
        const auto delay = list_backoff_.next();
        if (list_backoff_.attempts() == 1) {
          WEFT_WARN("reconcile {}: listing failed, retrying: {}", target_.name(),
                    actual.status().to_string());
        }
        std::lock_guard lock(mu_);
        ++counters_.syncs;
        ++counters_.list_failures;
        next_due_ = std::min(start + options_.resync_period, start + delay);
        return report;
      }
      list_backoff_.reset();
      listed = std::move(*actual);
      next_list_ = start + options_.resync_period;
      if (options_.cache_actual) {
        cache_.clear();
        for (const Entry& e : listed) {
          cache_.insert_or_assign(e.key(), e);
        }
        cache_valid_ = true;
      }
    }
    report.listed = true;
    std::vector<Change<Entry>> changes = partial      ? diff_keys(patched)
                                         : from_cache ? diff(desired, cache_)
                                                      : diff(desired, listed);
    report.changes = changes.size();
    forget_settled_keys(changes);

    // The changes ready to apply, kept in place (no second array of every change): those whose
    // key is waiting out a backoff are dropped.
    std::optional<base::Clock::TimePoint> earliest_retry;
    std::size_t kept = 0;
    for (std::size_t i = 0; i < changes.size(); ++i) {
      Change<Entry>& change = changes[i];
      auto it = retries_.find(change.entry.key());
      if (it != retries_.end()) {
        if (it->second.op != change.op || !(it->second.entry == change.entry)) {
          retries_.erase(it); // a different change than the one that failed: try it now
        } else if (start < it->second.not_before) {
          ++report.backing_off;
          earliest_retry = earliest_retry ? std::min(*earliest_retry, it->second.not_before)
                                          : it->second.not_before;
          continue;
        }
      }
      if (kept != i) {
        changes[kept] = std::move(change);
      }
      ++kept;
    }
    changes.erase(changes.begin() + static_cast<std::ptrdiff_t>(kept), changes.end());
    std::vector<Change<Entry>>& ready = changes;

    Counters delta;
    new_failures_ = 0;
    std::optional<base::Clock::TimePoint> token_due;
    for (std::size_t begin = 0; begin < ready.size(); begin += options_.batch_size) {
      if (!bucket_.try_take(1.0)) {
        report.rate_limited = ready.size() - begin;
        token_due = clock_.now() + bucket_.time_until(1.0);
        ++delta.rate_limited;
        break;
      }
      const std::size_t end = std::min(ready.size(), begin + options_.batch_size);
      std::vector<Change<Entry>> batch(std::make_move_iterator(ready.begin() + begin),
                                       std::make_move_iterator(ready.begin() + end));
      std::vector<base::Status> results = target_.apply(batch);
      if (results.size() != batch.size()) {
        results.assign(batch.size(),
                       base::internal_error(target_.name() + ": apply returned " +
                                            std::to_string(results.size()) + " results for " +
                                            std::to_string(batch.size()) + " changes"));
      }
      for (std::size_t i = 0; i < batch.size(); ++i) {
        if (results[i].ok()) {
          if (cache_valid_) {
            if (batch[i].op == Op::kDelete) {
              cache_.erase(batch[i].entry.key());
            } else {
              cache_.insert_or_assign(batch[i].entry.key(), batch[i].entry);
            }
          }
          record_success(batch[i], delta);
          ++report.applied;
        } else {
          cache_valid_ = false; // the target's state for this key is unknown now
          const auto due = record_failure(std::move(batch[i]), results[i]);
          earliest_retry = earliest_retry ? std::min(*earliest_retry, due) : due;
          ++delta.failed;
          ++report.failed;
        }
      }
    }

    if (new_failures_ > 0) {
      // Logged once per pass that sees keys start failing, not once per key.
      WEFT_WARN("reconcile {}: {} change(s) started failing, retrying with backoff; first: {}",
                target_.name(), new_failures_, first_new_failure_);
    }
    const auto done = clock_.now();
    std::lock_guard lock(mu_);
    counters_.created += delta.created;
    counters_.updated += delta.updated;
    counters_.deleted += delta.deleted;
    counters_.failed += delta.failed;
    counters_.rate_limited += delta.rate_limited;
    ++counters_.syncs;
    counters_.pending = report.changes - report.applied;
    if (!report.converged()) {
      full_diff_ = true; // what was left (backoff, rate limit) is found by a full diff
    }
    if (report.converged()) {
      ++counters_.converged_syncs;
      counters_.last_success = done;
      counters_.last_success_wall = clock_.wall_now();
    }
    next_due_ = options_.cache_actual && cache_valid_ ? next_list_ : start + options_.resync_period;
    if (earliest_retry) {
      next_due_ = std::min(next_due_, *earliest_retry);
    }
    if (token_due) {
      next_due_ = std::min(next_due_, *token_due);
    }
    return report;
  }

  // The loop: runs passes when due until stop is requested. Waits on a condition variable, so
  // a trigger() wakes it at once; with a ManualClock it re-checks at least every poll interval.
  void run(std::stop_token stop) {
    while (!stop.stop_requested()) {
      sync_if_due();
      std::unique_lock lock(mu_);
      auto wait = next_due_ - clock_.now();
      wait = std::clamp<base::Clock::Duration>(wait, base::Clock::Duration::zero(),
                                               options_.resync_period);
      cv_.wait_for(lock, stop, wait, [this] { return dirty_; });
    }
  }

  Counters counters() const {
    std::lock_guard lock(mu_);
    return counters_;
  }

  base::Clock::TimePoint next_due() const {
    std::lock_guard lock(mu_);
    return next_due_;
  }

  // Keys currently waiting out a backoff (for tests and debugging).
  std::size_t backing_off_keys() const { return retries_.size(); }

private:
  // A failing key's backoff: the base doubles per failure up to retry_max; the delay is the base
  // times the jitter of the pass it failed in. (No Backoff with its own generator: 2.5 KB of
  // state per key was 12 MB for 5000 failing routes.)
  struct Retry {
    std::chrono::milliseconds base;
    int attempts = 0;
    base::Clock::TimePoint not_before;
    Op op;
    Entry entry;
  };

  void record_success(const Change<Entry>& change, Counters& delta) {
    switch (change.op) {
    case Op::kCreate:
      ++delta.created;
      break;
    case Op::kUpdate:
      ++delta.updated;
      break;
    case Op::kDelete:
      ++delta.deleted;
      break;
    }
    auto it = retries_.find(change.entry.key());
    if (it != retries_.end()) {
      WEFT_VLOG(1, "reconcile {}: {} succeeded after {} failures", target_.name(),
                op_name(change.op), it->second.attempts);
      retries_.erase(it);
    }
  }

  base::Clock::TimePoint record_failure(Change<Entry> change, const base::Status& status) {
    auto key = change.entry.key();
    auto it = retries_.find(key);
    if (it == retries_.end()) {
      ++new_failures_;
      if (new_failures_ == 1) {
        first_new_failure_ = std::string(op_name(change.op)) + ": " + status.to_string();
      }
      it = retries_
               .emplace(std::move(key), Retry{options_.retry_initial, 0, pass_start_, change.op,
                                              std::move(change.entry)})
               .first;
    } else {
      WEFT_VLOG(2, "reconcile {}: {} failed again: {}", target_.name(), op_name(change.op),
                status.to_string());
    }
    Retry& retry = it->second;
    const auto delay =
        std::chrono::duration_cast<base::Clock::Duration>(std::chrono::duration<double, std::milli>(
            static_cast<double>(retry.base.count()) * pass_jitter_));
    retry.base = std::min(options_.retry_max, retry.base * 2);
    ++retry.attempts;
    retry.not_before = pass_start_ + delay;
    return it->second.not_before;
  }

  // The changes for patched keys against the cached target state.
  std::vector<Change<Entry>>
  diff_keys(const std::vector<std::pair<Key, std::optional<Entry>>>& patched) {
    std::vector<Change<Entry>> changes;
    for (const auto& [key, want] : patched) {
      auto have = cache_.find(key);
      if (!want) {
        if (have != cache_.end()) {
          changes.push_back(Change<Entry>{Op::kDelete, have->second, std::nullopt});
        }
      } else if (have == cache_.end()) {
        changes.push_back(Change<Entry>{Op::kCreate, *want, std::nullopt});
      } else if (!(have->second == *want)) {
        changes.push_back(Change<Entry>{Op::kUpdate, *want, have->second});
      }
    }
    return changes;
  }

  // Drops retry state for keys that need no change any more.
  void forget_settled_keys(const std::vector<Change<Entry>>& changes) {
    if (retries_.empty()) {
      return;
    }
    std::unordered_map<Key, bool> pending;
    pending.reserve(changes.size());
    for (const auto& c : changes) {
      pending.emplace(c.entry.key(), true);
    }
    for (auto it = retries_.begin(); it != retries_.end();) {
      if (pending.find(it->first) == pending.end()) {
        it = retries_.erase(it);
      } else {
        ++it;
      }
    }
  }

  Target<Entry>& target_;
  const base::Clock& clock_;
  ReconcilerOptions options_;
  TokenBucket bucket_;
  std::mt19937_64 rng_;
  base::Backoff list_backoff_;
  std::unordered_map<Key, Retry> retries_; // owned by the syncing thread
  std::unordered_map<Key, Entry> cache_;   // cache_actual: the target as we believe it is
  bool cache_valid_ = false;
  base::Clock::TimePoint next_list_{};
  std::size_t new_failures_ = 0;
  std::string first_new_failure_;
  base::Clock::TimePoint pass_start_{}; // of the pass running (owned by the syncing thread)
  double pass_jitter_ = 1.0;

  mutable std::mutex mu_;
  std::condition_variable_any cv_;
  std::unordered_map<Key, Entry> desired_;
  std::vector<Key> touched_; // keys patched since the last pass
  bool full_diff_ = true;    // the next pass diffs every key
  bool relist_ = false;      // relist() was called
  bool dirty_ = true;
  base::Clock::TimePoint next_due_;
  Counters counters_;
};

} // namespace weft::reconcile
