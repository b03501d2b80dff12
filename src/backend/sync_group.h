#pragma once
// SyncGroup: one thread driving the reconcilers of a backend (routes, neighbours, FDB) so a single
// netlink socket is used in order. set_desired() on any member wakes the loop at once; otherwise it
// sleeps until the earliest member is due (resync period or a retry backoff). A backend's check
// (set_check: is the device its entries live on still there?) runs on the same thread.

#include <malloc.h>

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "reconcile/reconciler.h"

namespace weft::backend {

class SyncGroup {
public:
  explicit SyncGroup(const base::Clock& clock) : clock_(clock) {}

  template <typename Entry>
  reconcile::Reconciler<Entry>& add(reconcile::Target<Entry>& target,
                                    reconcile::ReconcilerOptions options) {
    auto m = std::make_unique<Member<Entry>>(target, clock_, options);
    auto& r = m->reconciler;
    members_.push_back(std::move(m));
    converged_.push_back(false);
    return r;
  }

  // `check` runs before the members' passes every `period`, and after any pass in which a change
  // failed. It repairs what the members' entries depend on and returns true when it changed
  // something; every member then lists its target again and retries its failed keys at once.
  void set_check(std::function<bool()> check, base::Clock::Duration period) {
    std::lock_guard lock(mu_);
    check_ = std::move(check);
    check_period_ = period;
    next_check_ = clock_.now() + period;
  }

  // Call after set_desired() on members: wakes the loop and resets the "synced" latch's view.
  void poke() {
    {
      std::lock_guard lock(mu_);
      dirty_ = true;
      std::fill(converged_.begin(), converged_.end(), false);
    }
    cv_.notify_all();
  }

  void run(std::stop_token stop) {
    while (!stop.stop_requested()) {
      {
        std::lock_guard lock(mu_);
        dirty_ = false;
      }
      run_check();
      auto next = clock_.now() + std::chrono::seconds(60);
      bool heavy = false;
      for (std::size_t i = 0; i < members_.size(); ++i) {
        auto report = members_[i]->sync_if_due();
        heavy = heavy || (report && (report->listed || report->applied >= kHeavyPass));
        check_soon_ = check_soon_ || (report && report->failed > 0);
        if (report && report->converged()) {
          std::lock_guard lock(mu_);
          converged_[i] = true;
          if (std::all_of(converged_.begin(), converged_.end(), [](bool b) { return b; })) {
            synced_once_ = true;
          }
        }
        next = std::min(next, members_[i]->next_due());
      }
      if (check_) {
        next = std::min(next, check_soon_ ? clock_.now() : next_check_);
      }
      if (heavy) {
        // A listing or a large batch (the start, a resync) leaves megabytes of freed buffers in
        // this thread's malloc arena, and the lease listing's in the store's: give them back
        // rather than keep them resident for the life of the daemon (about 1 ms).
        ::malloc_trim(0);
      }
      std::unique_lock lock(mu_);
      auto wait = std::max(next - clock_.now(), base::Clock::Duration::zero());
      wait = std::min<base::Clock::Duration>(wait, std::chrono::seconds(1));
      cv_.wait_for(lock, stop, wait, [this] { return dirty_; });
    }
  }

  bool synced_once() const {
    std::lock_guard lock(mu_);
    return synced_once_;
  }

  std::vector<TargetStats> stats() const {
    std::vector<TargetStats> out;
    for (const auto& m : members_) {
      out.push_back(m->stats());
    }
    return out;
  }

private:
  static constexpr std::size_t kHeavyPass = 256;

  void run_check() {
    std::function<bool()> check;
    {
      std::lock_guard lock(mu_);
      if (!check_ || (!check_soon_ && clock_.now() < next_check_)) {
        return;
      }
      check = check_;
      check_soon_ = false;
      next_check_ = clock_.now() + check_period_;
    }
    if (check()) {
      for (auto& m : members_) {
        m->relist();
      }
    }
  }

  struct MemberBase {
    virtual ~MemberBase() = default;
    virtual std::optional<reconcile::SyncReport> sync_if_due() = 0;
    virtual base::Clock::TimePoint next_due() const = 0;
    virtual TargetStats stats() const = 0;
    virtual void relist() = 0;
  };
  template <typename Entry> struct Member final : MemberBase {
    Member(reconcile::Target<Entry>& t, const base::Clock& clock,
           reconcile::ReconcilerOptions options)
        : target(t), reconciler(t, clock, options) {}
    std::optional<reconcile::SyncReport> sync_if_due() override { return reconciler.sync_if_due(); }
    void relist() override { reconciler.relist(); }
    base::Clock::TimePoint next_due() const override { return reconciler.next_due(); }
    TargetStats stats() const override {
      auto c = reconciler.counters();
      return TargetStats{target.name(), c.created, c.updated, c.deleted,
                         c.failed,      c.syncs,   c.pending, c.last_success_wall};
    }
    reconcile::Target<Entry>& target;
    reconcile::Reconciler<Entry> reconciler;
  };

  const base::Clock& clock_;
  std::vector<std::unique_ptr<MemberBase>> members_;
  mutable std::mutex mu_;
  std::condition_variable_any cv_;
  bool dirty_ = true;
  std::vector<bool> converged_;
  bool synced_once_ = false;
  std::function<bool()> check_;
  base::Clock::Duration check_period_{};
  base::Clock::TimePoint next_check_{};
  bool check_soon_ = false; // a change failed: check before the next passes
};

} // namespace weft::backend
