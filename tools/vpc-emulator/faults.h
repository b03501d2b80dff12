#pragma once
// Fault injection for API requests: a script of faults consumed in order (optionally per action),
// then independent probabilities of InternalError, RequestLimitExceeded, a delay or a dropped
// connection.

#include <chrono>
#include <deque>
#include <mutex>
#include <random>
#include <string>

#include "base/status.h"

namespace weft::emulator {

enum class FaultKind { kNone, kInternalError, kRequestLimitExceeded, kDelay, kDrop };

struct Fault {
  FaultKind kind = FaultKind::kNone;
  std::chrono::milliseconds delay{0};
  std::string action; // empty: any action
};

struct FaultProbabilities {
  double internal_error = 0;
  double request_limit_exceeded = 0;
  double drop = 0;
  double delay = 0;
  std::chrono::milliseconds delay_length{200};
};

class FaultInjector {
public:
  FaultInjector();

  void set_probabilities(const FaultProbabilities& p);
  void append_script(const Fault& fault);
  void clear();

  // The fault to apply to this request (kNone for none).
  Fault next(const std::string& action);

  // {"Probability":{...},"DelayMs":N,"Script":[{"Fault":"InternalError","Action":"..."}]}:
  // replaces the configuration. InvalidArgument names the bad field.
  base::Status configure_json(const std::string& text);
  std::string to_json() const;

private:
  mutable std::mutex mu_;
  FaultProbabilities probabilities_;
  std::deque<Fault> script_;
  std::mt19937_64 rng_;
};

const char* fault_name(FaultKind kind);
base::Result<FaultKind> parse_fault_kind(const std::string& name);

} // namespace weft::emulator
