#pragma once
// The VPC and CVM actions of the emulator over its in-memory State: request validation as the
// real service does it, and replies as Response members. No HTTP, no signature: see emulator.h.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "base/clock.h"
#include "state.h"

namespace weft::emulator {

struct ApiError {
  std::string code;
  std::string message;
};

// The members of a successful Response object (without braces and RequestId), in pieces so that
// large cached fragments (a big table's RouteSet) are shared between replies instead of copied.
struct ActionReply {
  std::optional<ApiError> error;
  std::vector<std::shared_ptr<const std::string>> pieces;

  std::string members() const; // the pieces joined, for tests
};

// Kernel routes the VPC router should carry: destination CIDR -> next-hop instance IP.
using KernelRoutes = std::map<std::string, std::string>;

class VpcService {
public:
  VpcService(State state, const base::Clock& clock);

  // "vpc" or "cvm" for an action this emulator implements; empty otherwise.
  static std::string_view service_of(std::string_view action);

  ActionReply call(std::string_view action, const std::string& body);

  // Called (with the service lock held, so calls are ordered) after every change of routes.
  void set_route_listener(std::function<void(const KernelRoutes&)> listener);
  KernelRoutes kernel_routes() const;

  State snapshot() const;
  std::optional<Instance> instance_by_ip(const std::string& ip) const;
  std::optional<Credential> credential(const std::string& secret_id) const;
  std::string region() const;
  std::optional<Subnet> subnet(const std::string& id) const;

private:
  ActionReply describe_route_tables(const nlohmann::json& request);
  ActionReply create_routes(const nlohmann::json& request);
  ActionReply delete_routes(const nlohmann::json& request);
  ActionReply replace_routes(const nlohmann::json& request);
  ActionReply describe_vpcs(const nlohmann::json& request);
  ActionReply describe_vpc_limits(const nlohmann::json& request);
  ActionReply describe_instances(const nlohmann::json& request);

  std::string now_text() const;
  std::string new_item_id(const RouteTable& table);
  std::shared_ptr<const std::string> route_set_json(const RouteTable& table) const;
  KernelRoutes kernel_routes_locked() const;
  void routes_changed();

  const base::Clock& clock_;
  mutable std::mutex mu_;
  State state_;
  std::mt19937_64 rng_;
  std::function<void(const KernelRoutes&)> route_listener_;
};

} // namespace weft::emulator
