// Leader election on etcd: the leader holds <prefix>/leader/<name> (value: its id) under an etcd
// lease of `ttl`, kept alive every ttl/3. A leader that cannot confirm a keep-alive within ttl/2
// of the last confirmed one steps down (on_lost) while the key is still guaranteed to exist.

#include <fmt/format.h>

#include <atomic>
#include <condition_variable>
#include <thread>

#include "base/log.h"
#include "store/etcd/etcd_store.h"

namespace weft::store::etcd {
namespace {

class EtcdElection final : public Election {
public:
  EtcdElection(EtcdClient& client, std::string key, std::string id, std::chrono::seconds ttl)
      : client_(client), key_(std::move(key)), id_(std::move(id)), ttl_(ttl) {}
  ~EtcdElection() override { (void)resign(); }

  base::Status campaign(std::stop_token stop, std::function<void()> on_lost) override {
    while (!stop.stop_requested()) {
      auto g = client_.lease_grant(ttl_);
      if (!g.ok()) {
        sleep_for(stop, std::chrono::milliseconds(500));
        continue;
      }
      const auto sent = std::chrono::steady_clock::now();
      auto t = client_.create(key_, id_, g->id);
      if (t.ok() && t->succeeded) {
        lease_id_ = g->id;
        leader_.store(true);
        WEFT_INFO("election {}: {} is the leader", key_, id_);
        keeper_ = std::jthread([this, sent, on_lost = std::move(on_lost)](std::stop_token ks) {
          keep(ks, sent, on_lost);
        });
        return {};
      }
      (void)client_.lease_revoke(g->id);
      if (!t.ok()) {
        sleep_for(stop, std::chrono::milliseconds(500));
        continue;
      }
      // Someone leads: wait for the key to go away.
      wait_deleted(stop, t->revision + 1);
    }
    return base::cancelled(fmt::format("election {}: campaign stopped", key_));
  }

  bool is_leader() const override { return leader_.load(); }

  base::Status resign() override {
    if (keeper_.joinable()) {
      keeper_.request_stop();
      keeper_.join();
    }
    if (!leader_.exchange(false)) {
      return {};
    }
    auto t = client_.delete_if_value(key_, id_);
    (void)client_.lease_revoke(lease_id_);
    return t.ok() ? base::Status{} : t.status();
  }

  base::Result<std::string> leader() override {
    auto r = client_.range(key_);
    if (!r.ok()) {
      return r.status();
    }
    if (r->kvs.empty()) {
      return base::not_found(fmt::format("election {}: no leader", key_));
    }
    return r->kvs[0].value;
  }

private:
  void keep(std::stop_token stop, std::chrono::steady_clock::time_point confirmed,
            const std::function<void()>& on_lost) {
    const auto period = std::chrono::duration_cast<std::chrono::milliseconds>(ttl_) / 3;
    const auto give_up = std::chrono::duration_cast<std::chrono::milliseconds>(ttl_) / 2;
    while (!stop.stop_requested()) {
      if (!sleep_for(stop, period)) {
        return;
      }
      const auto sent = std::chrono::steady_clock::now();
      auto ka = client_.lease_keep_alive_once(lease_id_);
      bool ours = ka.ok();
      if (ours) {
        auto r = client_.range(key_);
        ours = !r.ok() || (!r->kvs.empty() && r->kvs[0].value == id_);
        if (r.ok() && !ours) {
          break; // deleted or taken: lost for sure
        }
        confirmed = sent;
        continue;
      }
      if (ka.status().code() == base::Code::kNotFound) {
        break;
      }
      if (std::chrono::steady_clock::now() - confirmed >= give_up) {
        break;
      }
    }
    if (stop.stop_requested()) {
      return;
    }
    leader_.store(false);
    WEFT_WARN("election {}: {} lost leadership", key_, id_);
    if (on_lost) {
      on_lost();
    }
  }

  void wait_deleted(std::stop_token stop, std::int64_t from) {
    auto opened = client_.watch(key_, "", from);
    if (!opened.ok()) {
      sleep_for(stop, std::chrono::milliseconds(500));
      return;
    }
    auto& stream = *opened;
    std::stop_callback cb(stop, [&] { stream->cancel(); });
    while (true) {
      auto resp = stream->next();
      if (!resp.ok() || resp->canceled || resp->compact_revision != 0) {
        return;
      }
      for (const auto& ev : resp->events) {
        if (ev.type == WatchEvent::Type::kDelete) {
          return;
        }
      }
    }
  }

  EtcdClient& client_;
  std::string key_;
  std::string id_;
  std::chrono::seconds ttl_;
  std::int64_t lease_id_ = 0;
  std::atomic<bool> leader_{false};
  std::jthread keeper_;
};

} // namespace

base::Result<std::unique_ptr<Election>>
EtcdStore::make_election(const std::string& name, const std::string& id, std::chrono::seconds ttl) {
  if (name.empty() || name.find('/') != std::string::npos || id.empty()) {
    return base::invalid_argument(fmt::format(
        "election name {:?} and id {:?} must be non-empty, name without '/'", name, id));
  }
  if (ttl.count() < 3) {
    return base::invalid_argument("election TTL must be at least 3 s");
  }
  std::string prefix = config_.prefix;
  while (!prefix.empty() && prefix.back() == '/') {
    prefix.pop_back();
  }
  return std::unique_ptr<Election>(new EtcdElection(*client_, prefix + "/leader/" + name, id, ttl));
}

} // namespace weft::store::etcd
