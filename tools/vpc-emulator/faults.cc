#include "faults.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace weft::emulator {

using nlohmann::json;

const char* fault_name(FaultKind kind) {
  switch (kind) {
  case FaultKind::kNone:
    return "None";
  case FaultKind::kInternalError:
    return "InternalError";
  case FaultKind::kRequestLimitExceeded:
    return "RequestLimitExceeded";
  case FaultKind::kDelay:
    return "Delay";
  case FaultKind::kDrop:
    return "Drop";
  }
  return "None";
}

base::Result<FaultKind> parse_fault_kind(const std::string& name) {
  for (FaultKind k : {FaultKind::kNone, FaultKind::kInternalError, FaultKind::kRequestLimitExceeded,
                      FaultKind::kDelay, FaultKind::kDrop}) {
    if (name == fault_name(k)) {
      return k;
    }
  }
  return base::invalid_argument(fmt::format(
      "unknown fault \"{}\" (None, InternalError, RequestLimitExceeded, Delay, Drop)", name));
}

FaultInjector::FaultInjector() : rng_(std::random_device{}()) {}

void FaultInjector::set_probabilities(const FaultProbabilities& p) {
  std::lock_guard lock(mu_);
  probabilities_ = p;
}

void FaultInjector::append_script(const Fault& fault) {
  std::lock_guard lock(mu_);
  script_.push_back(fault);
}

void FaultInjector::clear() {
  std::lock_guard lock(mu_);
  probabilities_ = FaultProbabilities{};
  script_.clear();
}

Fault FaultInjector::next(const std::string& action) {
  std::lock_guard lock(mu_);
  for (auto it = script_.begin(); it != script_.end(); ++it) {
    if (it->action.empty() || it->action == action) {
      Fault f = *it;
      script_.erase(it);
      return f;
    }
  }
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  const FaultProbabilities& p = probabilities_;
  if (p.drop > 0 && uniform(rng_) < p.drop) {
    return Fault{FaultKind::kDrop, {}, {}};
  }
  if (p.internal_error > 0 && uniform(rng_) < p.internal_error) {
    return Fault{FaultKind::kInternalError, {}, {}};
  }
  if (p.request_limit_exceeded > 0 && uniform(rng_) < p.request_limit_exceeded) {
    return Fault{FaultKind::kRequestLimitExceeded, {}, {}};
  }
  if (p.delay > 0 && uniform(rng_) < p.delay) {
    return Fault{FaultKind::kDelay, p.delay_length, {}};
  }
  return Fault{};
}

base::Status FaultInjector::configure_json(const std::string& text) {
  FaultProbabilities p;
  std::deque<Fault> script;
  try {
    json j = json::parse(text);
    json prob = j.value("Probability", json::object());
    p.internal_error = prob.value("InternalError", 0.0);
    p.request_limit_exceeded = prob.value("RequestLimitExceeded", 0.0);
    p.drop = prob.value("Drop", 0.0);
    p.delay = prob.value("Delay", 0.0);
    p.delay_length = std::chrono::milliseconds(j.value("DelayMs", 200));
    for (const auto& step : j.value("Script", json::array())) {
      auto kind = parse_fault_kind(step.value("Fault", std::string()));
      if (!kind.ok()) {
        return kind.status();
      }
      script.push_back(Fault{*kind, std::chrono::milliseconds(step.value("DelayMs", 200)),
                             step.value("Action", std::string())});
    }
  } catch (const json::exception& e) {
    return base::invalid_argument(fmt::format("fault configuration: {}", e.what()));
  }
  std::lock_guard lock(mu_);
  probabilities_ = p;
  script_ = std::move(script);
  return base::Status::ok_status();
}

std::string FaultInjector::to_json() const {
  std::lock_guard lock(mu_);
  json script = json::array();
  for (const auto& f : script_) {
    script.push_back(
        {{"Fault", fault_name(f.kind)}, {"Action", f.action}, {"DelayMs", f.delay.count()}});
  }
  json j = {{"Probability",
             {{"InternalError", probabilities_.internal_error},
              {"RequestLimitExceeded", probabilities_.request_limit_exceeded},
              {"Drop", probabilities_.drop},
              {"Delay", probabilities_.delay}}},
            {"DelayMs", probabilities_.delay_length.count()},
            {"Script", script}};
  return j.dump();
}

} // namespace weft::emulator
