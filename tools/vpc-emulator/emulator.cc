#include "emulator.h"

#include <fmt/format.h>

#include <random>

#include <nlohmann/json.hpp>

namespace weft::emulator {

namespace {

std::string new_request_id() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::uint64_t a = rng();
  std::uint64_t b = rng();
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL; // version 4
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL; // variant 10
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xffff,
                     b >> 48, b & 0xffffffffffffULL);
}

std::string header(const HeaderMap& headers, const std::string& name) {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

} // namespace

std::size_t ApiResponse::size() const {
  std::size_t n = 0;
  for (const auto& p : pieces) {
    n += p->size();
  }
  return n;
}

std::string ApiResponse::body() const {
  std::string out;
  out.reserve(size());
  for (const auto& p : pieces) {
    out += *p;
  }
  return out;
}

Emulator::Emulator(State state, const base::Clock& clock, EmulatorOptions options)
    : clock_(clock), vpc_(state, clock), keys_(state.credentials, options.credential_ttl_seconds),
      limiter_(clock, options.rate_limit_per_second) {
  for (const auto& [action, limit] : options.action_rate_limits) {
    limiter_.set_action_limit(action, limit);
  }
}

std::int64_t Emulator::unix_now() const {
  return std::chrono::duration_cast<std::chrono::seconds>(clock_.wall_now().time_since_epoch())
             .count() +
         clock_offset_.load();
}

void Emulator::count(const std::string& action, const std::string& code) {
  std::lock_guard lock(counters_mu_);
  ++counters_[action.empty() ? "(none)" : action][code];
}

std::map<std::string, std::map<std::string, std::uint64_t>> Emulator::counters() const {
  std::lock_guard lock(counters_mu_);
  return counters_;
}

std::string Emulator::counters_json() const {
  nlohmann::json j = {{"Calls", counters()}};
  return j.dump();
}

ApiResponse Emulator::reply(const std::string& action, const ActionReply& result) {
  ApiResponse out;
  out.action = action;
  std::string request_id = new_request_id();
  if (result.error) {
    out.code = result.error->code;
    nlohmann::json j = {
        {"Response",
         {{"Error", {{"Code", result.error->code}, {"Message", result.error->message}}},
          {"RequestId", request_id}}}};
    out.pieces.push_back(std::make_shared<const std::string>(j.dump()));
  } else {
    out.code = "Success";
    out.pieces.push_back(std::make_shared<const std::string>("{\"Response\":{"));
    bool empty = true;
    for (const auto& p : result.pieces) {
      empty = empty && p->empty();
      out.pieces.push_back(p);
    }
    out.pieces.push_back(std::make_shared<const std::string>(
        fmt::format("{}\"RequestId\":\"{}\"}}}}", empty ? "" : ",", request_id)));
  }
  count(action, out.code);
  return out;
}

ApiResponse Emulator::handle(const ApiRequest& request) {
  std::string action = header(request.headers, "x-tc-action");
  auto error = [&](std::string code, std::string message) {
    return reply(action, ActionReply{ApiError{std::move(code), std::move(message)}, {}});
  };
  if (request.method != "POST" || request.path != "/") {
    return error("UnsupportedProtocol",
                 "The emulator takes API 3.0 calls as POST / with a JSON body.");
  }
  std::string content_type = header(request.headers, "content-type");
  if (content_type.rfind("application/json", 0) != 0) {
    return error("InvalidParameter",
                 fmt::format("Content-Type \"{}\" is not application/json.", content_type));
  }
  if (action.empty()) {
    return error("MissingParameter", "The request is missing a required parameter `Action`.");
  }

  Fault fault = faults_.next(action);
  std::chrono::milliseconds delay{0};
  switch (fault.kind) {
  case FaultKind::kDrop: {
    count(action, "Fault.Drop");
    ApiResponse dropped;
    dropped.action = action;
    dropped.code = "Fault.Drop";
    dropped.drop = true;
    return dropped;
  }
  case FaultKind::kInternalError:
    return error("InternalError", "An internal error has occurred. Retry your request.");
  case FaultKind::kRequestLimitExceeded:
    return error("RequestLimitExceeded", "Your current request times exceeds the limit.");
  case FaultKind::kDelay:
    delay = fault.delay;
    break;
  case FaultKind::kNone:
    break;
  }

  auto finish = [&](ApiResponse r) {
    r.delay = delay;
    return r;
  };
  VerifyResult verified =
      verify_tc3(request.method, request.query, request.headers, request.body, unix_now(), keys_);
  if (verified.error) {
    return finish(error(verified.error->code, verified.error->message));
  }
  std::string_view service = VpcService::service_of(action);
  if (service.empty()) {
    return finish(error("InvalidAction", fmt::format("The action {} is not found.", action)));
  }
  if ((verified.caller.service == "vpc" || verified.caller.service == "cvm") &&
      verified.caller.service != service) {
    return finish(error("InvalidAction", fmt::format("The action {} is not an action of {}.",
                                                     action, verified.caller.service)));
  }
  std::string version = header(request.headers, "x-tc-version");
  if (version.empty()) {
    return finish(
        error("MissingParameter", "The request is missing a required parameter `Version`."));
  }
  if (version != kApiVersion) {
    return finish(error("NoSuchVersion",
                        fmt::format("The version {} of {} does not exist.", version, service)));
  }
  if (!limiter_.admit(action)) {
    return finish(error("RequestLimitExceeded",
                        fmt::format("The request rate of {} exceeds the limit.", action)));
  }
  return finish(reply(action, vpc_.call(action, request.body)));
}

} // namespace weft::emulator
