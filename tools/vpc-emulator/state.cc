#include "state.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "addr.h"

namespace weft::emulator {

using nlohmann::json;

const Route* RouteTable::find_by_id(std::uint64_t route_id) const {
  auto it = by_id_.find(route_id);
  return it == by_id_.end() ? nullptr : &routes_[it->second];
}

const Route* RouteTable::find_by_item_id(const std::string& item_id) const {
  auto it = by_item_id_.find(item_id);
  return it == by_item_id_.end() ? nullptr : &routes_[it->second];
}

void RouteTable::add(Route route) {
  by_id_[route.route_id] = routes_.size();
  by_item_id_[route.route_item_id] = routes_.size();
  routes_.push_back(std::move(route));
  route_set_json_.reset();
}

void RouteTable::replace(const Route& route) {
  auto it = by_id_.find(route.route_id);
  if (it == by_id_.end()) {
    return;
  }
  by_item_id_.erase(routes_[it->second].route_item_id);
  routes_[it->second] = route;
  by_item_id_[route.route_item_id] = it->second;
  route_set_json_.reset();
}

void RouteTable::erase(std::uint64_t route_id) {
  auto it = by_id_.find(route_id);
  if (it == by_id_.end()) {
    return;
  }
  routes_.erase(routes_.begin() + static_cast<std::ptrdiff_t>(it->second));
  reindex();
  route_set_json_.reset();
}

void RouteTable::reindex() {
  by_id_.clear();
  by_item_id_.clear();
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    by_id_[routes_[i].route_id] = i;
    by_item_id_[routes_[i].route_item_id] = i;
  }
}

const Vpc* State::find_vpc(const std::string& id) const {
  for (const auto& v : vpcs) {
    if (v.id == id) {
      return &v;
    }
  }
  return nullptr;
}

RouteTable* State::find_table(const std::string& id) {
  for (auto& t : route_tables) {
    if (t.id == id) {
      return &t;
    }
  }
  return nullptr;
}

const Instance* State::find_instance_by_ip(const std::string& ip) const {
  for (const auto& i : instances) {
    if (i.private_ip == ip) {
      return &i;
    }
  }
  return nullptr;
}

const Subnet* State::find_subnet(const std::string& id) const {
  for (const auto& s : subnets) {
    if (s.id == id) {
      return &s;
    }
  }
  return nullptr;
}

std::int64_t State::quota(const std::string& type) const {
  auto it = quotas.find(type);
  if (it != quotas.end()) {
    return it->second;
  }
  if (type == kQuotaRoutesPerTable) {
    return 200;
  }
  if (type == kQuotaTablesPerVpc) {
    return 10;
  }
  return 0;
}

namespace {

std::string str(const json& j, const char* key, std::string fallback = "") {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    return fallback;
  }
  if (!it->is_string()) {
    throw std::runtime_error(fmt::format("\"{}\" must be a string", key));
  }
  return it->get<std::string>();
}

bool boolean(const json& j, const char* key, bool fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    return fallback;
  }
  if (!it->is_boolean()) {
    throw std::runtime_error(fmt::format("\"{}\" must be a boolean", key));
  }
  return it->get<bool>();
}

void require(bool ok, const std::string& message) {
  if (!ok) {
    throw std::runtime_error(message);
  }
}

constexpr char kEpochTime[] = "2024-01-01 00:00:00";

} // namespace

base::Result<State> parse_state(const std::string& json_text) {
  State s;
  try {
    json j = json::parse(json_text);
    require(j.is_object(), "state must be a JSON object");
    s.region = str(j, "Region", s.region);
    s.app_id = str(j, "AppId", s.app_id);
    for (const auto& c : j.value("Credentials", json::array())) {
      Credential cred{str(c, "SecretId"), str(c, "SecretKey")};
      require(!cred.secret_id.empty() && !cred.secret_key.empty(),
              "every credential needs SecretId and SecretKey");
      s.credentials.push_back(cred);
    }
    json quotas = j.value("Quotas", json::object());
    for (const auto& [type, value] : quotas.items()) {
      require(value.is_number_integer(), fmt::format("quota {} must be an integer", type));
      s.quotas[type] = value.get<std::int64_t>();
    }
    for (const auto& v : j.value("Vpcs", json::array())) {
      Vpc vpc{str(v, "VpcId"), str(v, "VpcName"), str(v, "CidrBlock"),
              boolean(v, "IsDefault", false), str(v, "CreatedTime", kEpochTime)};
      require(valid_resource_id(vpc.id, "vpc"), fmt::format("bad VpcId \"{}\"", vpc.id));
      require(parse_cidr(vpc.cidr).has_value(), fmt::format("bad CidrBlock of {}", vpc.id));
      s.vpcs.push_back(vpc);
    }
    for (const auto& t : j.value("RouteTables", json::array())) {
      RouteTable table;
      table.id = str(t, "RouteTableId");
      table.name = str(t, "RouteTableName");
      table.vpc_id = str(t, "VpcId");
      table.main = boolean(t, "Main", false);
      table.created_time = str(t, "CreatedTime", kEpochTime);
      require(valid_resource_id(table.id, "rtb"), fmt::format("bad RouteTableId \"{}\"", table.id));
      require(s.find_vpc(table.vpc_id) != nullptr,
              fmt::format("route table {} names unknown VPC \"{}\"", table.id, table.vpc_id));
      for (const auto& r : t.value("Routes", json::array())) {
        Route route;
        route.route_id = r.value("RouteId", std::uint64_t{0});
        route.route_item_id = str(r, "RouteItemId");
        route.destination = str(r, "DestinationCidrBlock");
        route.gateway_type = str(r, "GatewayType");
        route.gateway_id = str(r, "GatewayId");
        route.description = str(r, "RouteDescription");
        route.enabled = boolean(r, "Enabled", true);
        route.route_type = str(r, "RouteType", "USER");
        route.created_time = str(r, "CreatedTime", kEpochTime);
        require(route.route_id != 0, fmt::format("a route of {} has no RouteId", table.id));
        require(valid_resource_id(route.route_item_id, "rti"),
                fmt::format("bad RouteItemId \"{}\"", route.route_item_id));
        require(parse_cidr(route.destination).has_value(),
                fmt::format("bad DestinationCidrBlock \"{}\"", route.destination));
        s.next_route_id = std::max(s.next_route_id, route.route_id + 1);
        table.add(std::move(route));
      }
      s.route_tables.push_back(std::move(table));
    }
    for (const auto& n : j.value("Subnets", json::array())) {
      Subnet sub{str(n, "SubnetId"),  str(n, "SubnetName"), str(n, "VpcId"),
                 str(n, "CidrBlock"), str(n, "Zone"),       str(n, "RouteTableId")};
      require(valid_resource_id(sub.id, "subnet"), fmt::format("bad SubnetId \"{}\"", sub.id));
      require(s.find_vpc(sub.vpc_id) != nullptr, fmt::format("subnet {} has unknown VPC", sub.id));
      require(parse_cidr(sub.cidr).has_value(), fmt::format("bad CidrBlock of {}", sub.id));
      require(sub.route_table_id.empty() || s.find_table(sub.route_table_id) != nullptr,
              fmt::format("subnet {} has unknown route table", sub.id));
      s.subnets.push_back(sub);
    }
    for (const auto& i : j.value("Instances", json::array())) {
      Instance ins;
      ins.id = str(i, "InstanceId");
      ins.name = str(i, "InstanceName");
      ins.uuid = str(i, "Uuid");
      ins.private_ip = str(i, "PrivateIpAddress");
      ins.public_ip = str(i, "PublicIpAddress");
      ins.mac = str(i, "Mac");
      ins.vpc_id = str(i, "VpcId");
      ins.subnet_id = str(i, "SubnetId");
      ins.zone = str(i, "Zone");
      ins.cam_role = str(i, "CamRoleName");
      ins.state = str(i, "InstanceState", "RUNNING");
      ins.created_time = str(i, "CreatedTime", "2024-01-01T00:00:00Z");
      std::transform(ins.mac.begin(), ins.mac.end(), ins.mac.begin(),
                     [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
      require(valid_resource_id(ins.id, "ins"), fmt::format("bad InstanceId \"{}\"", ins.id));
      require(parse_ipv4(ins.private_ip).has_value(),
              fmt::format("bad PrivateIpAddress of {}", ins.id));
      require(s.find_vpc(ins.vpc_id) != nullptr,
              fmt::format("instance {} has unknown VPC", ins.id));
      require(s.find_subnet(ins.subnet_id) != nullptr,
              fmt::format("instance {} has unknown subnet", ins.id));
      s.instances.push_back(ins);
    }
  } catch (const std::exception& e) {
    return base::invalid_argument(fmt::format("state: {}", e.what()));
  }
  return s;
}

std::string serialize_state(const State& s) {
  json j;
  j["Region"] = s.region;
  j["AppId"] = s.app_id;
  j["Credentials"] = json::array();
  for (const auto& c : s.credentials) {
    j["Credentials"].push_back({{"SecretId", c.secret_id}, {"SecretKey", c.secret_key}});
  }
  j["Quotas"] = s.quotas;
  j["Vpcs"] = json::array();
  for (const auto& v : s.vpcs) {
    j["Vpcs"].push_back({{"VpcId", v.id},
                         {"VpcName", v.name},
                         {"CidrBlock", v.cidr},
                         {"IsDefault", v.is_default},
                         {"CreatedTime", v.created_time}});
  }
  j["Subnets"] = json::array();
  for (const auto& n : s.subnets) {
    j["Subnets"].push_back({{"SubnetId", n.id},
                            {"SubnetName", n.name},
                            {"VpcId", n.vpc_id},
                            {"CidrBlock", n.cidr},
                            {"Zone", n.zone},
                            {"RouteTableId", n.route_table_id}});
  }
  j["RouteTables"] = json::array();
  for (const auto& t : s.route_tables) {
    json routes = json::array();
    for (const auto& r : t.routes()) {
      routes.push_back({{"RouteId", r.route_id},
                        {"RouteItemId", r.route_item_id},
                        {"DestinationCidrBlock", r.destination},
                        {"GatewayType", r.gateway_type},
                        {"GatewayId", r.gateway_id},
                        {"RouteDescription", r.description},
                        {"Enabled", r.enabled},
                        {"RouteType", r.route_type},
                        {"CreatedTime", r.created_time}});
    }
    j["RouteTables"].push_back({{"RouteTableId", t.id},
                                {"RouteTableName", t.name},
                                {"VpcId", t.vpc_id},
                                {"Main", t.main},
                                {"CreatedTime", t.created_time},
                                {"Routes", std::move(routes)}});
  }
  j["Instances"] = json::array();
  for (const auto& i : s.instances) {
    j["Instances"].push_back({{"InstanceId", i.id},
                              {"InstanceName", i.name},
                              {"Uuid", i.uuid},
                              {"PrivateIpAddress", i.private_ip},
                              {"PublicIpAddress", i.public_ip},
                              {"Mac", i.mac},
                              {"VpcId", i.vpc_id},
                              {"SubnetId", i.subnet_id},
                              {"Zone", i.zone},
                              {"CamRoleName", i.cam_role},
                              {"InstanceState", i.state},
                              {"CreatedTime", i.created_time}});
  }
  return j.dump(2) + "\n";
}

} // namespace weft::emulator
