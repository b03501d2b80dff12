#include "key_ring.h"

namespace weft::emulator {

KeyRing::KeyRing(std::vector<Credential> permanent, std::int64_t ttl_seconds)
    : ttl_seconds_(ttl_seconds), rng_(std::random_device{}()) {
  for (auto& c : permanent) {
    permanent_[c.secret_id] = c.secret_key;
  }
}

std::optional<KeyInfo> KeyRing::find(const std::string& secret_id) const {
  std::lock_guard lock(mu_);
  if (auto it = permanent_.find(secret_id); it != permanent_.end()) {
    return KeyInfo{it->second, std::nullopt, 0};
  }
  if (auto it = temporary_.find(secret_id); it != temporary_.end()) {
    return KeyInfo{it->second.secret_key, it->second.token, it->second.expired_time};
  }
  return std::nullopt;
}

std::string KeyRing::random_text(std::size_t length) {
  static constexpr char kAlphabet[] =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  std::string out;
  for (std::size_t i = 0; i < length; ++i) {
    out.push_back(kAlphabet[rng_() % 62]);
  }
  return out;
}

TemporaryCredential KeyRing::role_credential(const std::string& instance_id,
                                             const std::string& role, std::int64_t now) {
  std::lock_guard lock(mu_);
  std::string key = instance_id + "/" + role;
  if (auto it = current_.find(key); it != current_.end()) {
    const TemporaryCredential& c = temporary_.at(it->second);
    if (c.expired_time - now > ttl_seconds_ / 2) {
      return c;
    }
  }
  // Forget credentials that have expired so the ring does not grow without bound.
  for (auto it = temporary_.begin(); it != temporary_.end();) {
    it = it->second.expired_time <= now ? temporary_.erase(it) : std::next(it);
  }
  TemporaryCredential c{"AKID" + random_text(32), random_text(32), random_text(96),
                        now + ttl_seconds_};
  temporary_[c.secret_id] = c;
  current_[key] = c.secret_id;
  return c;
}

} // namespace weft::emulator
