#pragma once
// The keys the emulator accepts: the account's permanent SecretId/SecretKey pairs from the state
// and the temporary (SecretId, SecretKey, Token) triples it hands out through the metadata role.

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "state.h"

namespace weft::emulator {

struct KeyInfo {
  std::string secret_key;
  std::optional<std::string> token; // set for temporary credentials only
  std::int64_t expired_time = 0;    // UNIX seconds; 0 for permanent keys
};

struct TemporaryCredential {
  std::string secret_id;
  std::string secret_key;
  std::string token;
  std::int64_t expired_time = 0;
};

class KeyRing {
public:
  explicit KeyRing(std::vector<Credential> permanent, std::int64_t ttl_seconds = 7200);

  std::optional<KeyInfo> find(const std::string& secret_id) const;

  // The current credential of `role` for `instance_id`, issued anew when less than half of its
  // lifetime is left. Issued credentials stay valid until they expire.
  TemporaryCredential role_credential(const std::string& instance_id, const std::string& role,
                                      std::int64_t now);

private:
  std::string random_text(std::size_t length);

  mutable std::mutex mu_;
  std::map<std::string, std::string> permanent_;
  std::map<std::string, TemporaryCredential> temporary_; // by secret id
  std::map<std::string, std::string> current_;           // instance/role -> secret id
  std::int64_t ttl_seconds_;
  std::mt19937_64 rng_;
};

} // namespace weft::emulator
