// EtcdStore::keep_lease: the renew loop plus a watch on the node's own lease key, so that a lease
// deleted by an operator (or expired) is acquired again instead of ending the daemon.

#include <fmt/format.h>

#include <condition_variable>
#include <thread>

#include "base/backoff.h"
#include "base/log.h"
#include "store/etcd/etcd_store.h"

namespace weft::store::etcd {
namespace {

// Watches one key from `from` until it is deleted (calls on_deleted) or stop.
void watch_until_deleted(EtcdClient& client, std::stop_token stop, const std::string& key,
                         std::int64_t from, const EtcdStoreConfig& config,
                         const std::function<void()>& on_deleted) {
  base::Backoff backoff(config.retry_initial, config.retry_max);
  std::mutex mu;
  WatchStream* live = nullptr;
  std::stop_callback on_stop(stop, [&] {
    std::lock_guard lock(mu);
    if (live != nullptr) {
      live->cancel();
    }
  });
  std::int64_t next = from;
  while (!stop.stop_requested()) {
    auto opened = client.watch(key, "", next);
    if (!opened.ok()) {
      sleep_for(stop, backoff.next());
      continue;
    }
    auto stream = std::move(*opened);
    {
      std::lock_guard lock(mu);
      live = stream.get();
    }
    if (stop.stop_requested()) {
      stream->cancel();
    }
    while (true) {
      auto resp = stream->next();
      if (!resp.ok()) {
        sleep_for(stop, backoff.next());
        break;
      }
      if (resp->compact_revision != 0) {
        // History is gone: look at the key itself.
        auto r = client.range(key);
        if (r.ok() && r->kvs.empty()) {
          on_deleted();
          return;
        }
        if (r.ok()) {
          next = r->revision + 1;
        }
        break;
      }
      if (resp->canceled) {
        sleep_for(stop, backoff.next());
        break;
      }
      backoff.reset();
      for (const auto& ev : resp->events) {
        next = std::max(next, ev.kv.mod_revision + 1);
        if (ev.type == WatchEvent::Type::kDelete) {
          {
            std::lock_guard lock(mu);
            live = nullptr;
          }
          on_deleted();
          return;
        }
      }
    }
    std::lock_guard lock(mu);
    live = nullptr;
  }
}

} // namespace

base::Status EtcdStore::keep_lease(std::stop_token stop, lease::Lease l,
                                   const std::function<void(const lease::Lease&)>& on_change) {
  while (!stop.stop_requested()) {
    const std::string key = lease_key(l);
    std::mutex mu;
    std::condition_variable_any cv;
    bool lost = false;
    std::jthread watcher([&, key, from = l.asof + 1](std::stop_token wstop) {
      watch_until_deleted(*client_, wstop, key, from, config_, [&] {
        std::lock_guard lock(mu);
        lost = true;
        cv.notify_all();
      });
    });

    auto renew_at = l.expiration - config_.renew_margin;
    while (!stop.stop_requested()) {
      {
        std::unique_lock lock(mu);
        if (l.expiration == std::chrono::system_clock::time_point{}) {
          cv.wait(lock, stop, [&] { return lost; }); // a reservation: nothing to renew
        } else {
          const auto wait = renew_at - clock_.wall_now();
          cv.wait_for(lock, stop, std::chrono::duration_cast<std::chrono::milliseconds>(wait),
                      [&] { return lost; });
        }
        if (lost || stop.stop_requested()) {
          break;
        }
        if (clock_.wall_now() < renew_at) {
          continue;
        }
      }
      auto r = renew_lease(l);
      if (r.ok()) {
        l = *r;
        renew_at = l.expiration - config_.renew_margin;
        WEFT_INFO("Lease renewed, new expiration: {} s from now",
                  std::chrono::duration_cast<std::chrono::seconds>(l.expiration - clock_.wall_now())
                      .count());
        on_change(l);
        continue;
      }
      if (r.status().code() == base::Code::kNotFound ||
          r.status().code() == base::Code::kConflict) {
        std::lock_guard lock(mu);
        lost = true;
        break;
      }
      WEFT_ERROR("Error renewing lease (trying again in {} s): {}",
                 std::chrono::duration_cast<std::chrono::seconds>(config_.renew_retry).count(),
                 r.status().to_string());
      renew_at = clock_.wall_now() + config_.renew_retry;
    }
    watcher.request_stop();
    watcher.join();
    if (stop.stop_requested()) {
      break;
    }

    const std::string old = key;
    WEFT_WARN("our lease {:?} disappeared from the store; acquiring a subnet again", old);
    AcquireOptions options;
    {
      std::lock_guard lock(mu_);
      if (own_) {
        options = own_->options;
      }
    }
    options.previous_subnet = l.subnet;
    options.previous_ipv6_subnet = l.ipv6_subnet;
    const auto attrs = l.attrs;
    auto r = retry_unavailable<lease::Lease>(
        stop, "re-acquiring the lease", [&] { return acquire_lease(attrs, options); },
        config_.retry_initial, config_.retry_max);
    if (!r.ok()) {
      if (r.status().code() == base::Code::kCancelled) {
        break;
      }
      WEFT_ERROR("re-acquiring the lease failed: {}; trying again", r.status().to_string());
      sleep_for(stop, config_.renew_retry);
      continue;
    }
    l = *r;
    WEFT_WARN("re-acquired lease {:?} after losing {:?}", lease_key(l), old);
    on_change(l);
  }
  return base::cancelled("keep_lease stopped");
}

} // namespace weft::store::etcd
