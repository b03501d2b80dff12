#pragma once
// The emulated Tencent Cloud API endpoint without HTTP: takes one request (headers, body), applies
// faults, the TC3 signature check, version, rate limits, then the action, and returns the
// {"Response":{...,"RequestId"}} reply. Counts calls by action and code.

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/clock.h"
#include "faults.h"
#include "key_ring.h"
#include "rate_limiter.h"
#include "tc3_verifier.h"
#include "vpc_service.h"

namespace weft::emulator {

inline constexpr char kApiVersion[] = "2017-03-12";

struct EmulatorOptions {
  double rate_limit_per_second = 100; // <= 0: off
  std::map<std::string, double> action_rate_limits;
  std::int64_t credential_ttl_seconds = 7200;
};

struct ApiRequest {
  std::string method = "POST";
  std::string path = "/";
  std::string query;
  HeaderMap headers; // lowercase names
  std::string body;
};

struct ApiResponse {
  std::vector<std::shared_ptr<const std::string>> pieces; // the body, in order
  std::chrono::milliseconds delay{0};                     // wait before answering
  bool drop = false;                                      // close the connection, no reply
  std::string action;
  std::string code; // "Success" or the error code

  std::size_t size() const;
  std::string body() const;
};

class Emulator {
public:
  Emulator(State state, const base::Clock& clock, EmulatorOptions options);

  ApiResponse handle(const ApiRequest& request);

  VpcService& vpc() { return vpc_; }
  KeyRing& keys() { return keys_; }
  FaultInjector& faults() { return faults_; }
  RateLimiter& rate_limiter() { return limiter_; }

  // UNIX seconds as the emulator sees them: the clock plus an admin-set offset, so tests can make
  // a client's timestamps stale without touching the client.
  std::int64_t unix_now() const;
  void set_clock_offset(std::chrono::seconds offset) { clock_offset_ = offset.count(); }

  // {"Calls":{"<Action>":{"<Code>":N}}}
  std::string counters_json() const;
  std::map<std::string, std::map<std::string, std::uint64_t>> counters() const;

private:
  ApiResponse reply(const std::string& action, const ActionReply& result);
  void count(const std::string& action, const std::string& code);

  const base::Clock& clock_;
  std::atomic<std::int64_t> clock_offset_{0};
  VpcService vpc_;
  KeyRing keys_;
  RateLimiter limiter_;
  FaultInjector faults_;
  mutable std::mutex counters_mu_;
  std::map<std::string, std::map<std::string, std::uint64_t>> counters_;
};

} // namespace weft::emulator
