#pragma once
// The emulated account: keys, VPCs, subnets, route tables and instances, loaded from and saved to
// the JSON state file. Route tables keep routes in insertion order with id indexes, so a page of
// a big table is read without copying it.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/status.h"

namespace weft::emulator {

struct Credential {
  std::string secret_id;
  std::string secret_key;
};

struct Route {
  std::uint64_t route_id = 0;
  std::string route_item_id;
  std::string destination; // IPv4 CIDR
  std::string gateway_type;
  std::string gateway_id;
  std::string description;
  bool enabled = true;
  std::string route_type = "USER"; // USER, or a system type (NETD, CCN, LOCAL)
  std::string created_time;

  bool is_system() const { return route_type != "USER"; }
};

class RouteTable {
public:
  std::string id;
  std::string name;
  std::string vpc_id;
  bool main = false;
  std::string created_time;

  const std::vector<Route>& routes() const { return routes_; }
  const Route* find_by_id(std::uint64_t route_id) const;
  const Route* find_by_item_id(const std::string& item_id) const;
  void add(Route route);
  // Replaces the route with the same route_id.
  void replace(const Route& route);
  void erase(std::uint64_t route_id);

  // The serialised RouteSet, built once per change and shared by every reply that carries it.
  std::shared_ptr<const std::string> cached_route_set() const { return route_set_json_; }
  void set_cached_route_set(std::shared_ptr<const std::string> json) const {
    route_set_json_ = std::move(json);
  }

  // The serialised table without its RouteSet (ends just before it); tables' own fields and
  // associations do not change while the emulator runs.
  std::shared_ptr<const std::string> cached_head() const { return head_json_; }
  void set_cached_head(std::shared_ptr<const std::string> json) const {
    head_json_ = std::move(json);
  }

private:
  void reindex();

  std::vector<Route> routes_;
  std::unordered_map<std::uint64_t, std::size_t> by_id_;
  std::unordered_map<std::string, std::size_t> by_item_id_;
  mutable std::shared_ptr<const std::string> route_set_json_;
  mutable std::shared_ptr<const std::string> head_json_;
};

struct Vpc {
  std::string id;
  std::string name;
  std::string cidr;
  bool is_default = false;
  std::string created_time;
};

struct Subnet {
  std::string id;
  std::string name;
  std::string vpc_id;
  std::string cidr;
  std::string zone;
  std::string route_table_id;
};

struct Instance {
  std::string id;
  std::string name;
  std::string uuid;
  std::string private_ip;
  std::string public_ip;
  std::string mac; // upper case, as the metadata service prints it
  std::string vpc_id;
  std::string subnet_id;
  std::string zone;
  std::string cam_role; // empty: no role bound
  std::string state = "RUNNING";
  std::string created_time;
};

struct State {
  std::string region = "ap-guangzhou";
  std::string app_id = "1250000000";
  std::vector<Credential> credentials;
  std::map<std::string, std::int64_t> quotas; // DescribeVpcLimits LimitType -> LimitValue
  std::vector<Vpc> vpcs;
  std::vector<Subnet> subnets;
  std::vector<RouteTable> route_tables;
  std::vector<Instance> instances;
  std::uint64_t next_route_id = 1;

  const Vpc* find_vpc(const std::string& id) const;
  RouteTable* find_table(const std::string& id);
  const Instance* find_instance_by_ip(const std::string& ip) const;
  const Subnet* find_subnet(const std::string& id) const;
  std::int64_t quota(const std::string& type) const;
};

inline constexpr char kQuotaRoutesPerTable[] = "route-table-max-policies";
inline constexpr char kQuotaTablesPerVpc[] = "vpc-max-route-tables";

// Parses and checks a state file's text (ids well formed, references resolve).
base::Result<State> parse_state(const std::string& json_text);
std::string serialize_state(const State& state);

} // namespace weft::emulator
