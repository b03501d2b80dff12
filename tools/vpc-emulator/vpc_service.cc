#include "vpc_service.h"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

#include "addr.h"

namespace weft::emulator {

using nlohmann::json;

namespace {

// Validation failures unwind to call() as this exception; it never leaves this file.
struct Fail {
  std::string code;
  std::string message;
};

[[noreturn]] void fail(std::string code, std::string message) {
  throw Fail{std::move(code), std::move(message)};
}

const std::set<std::string, std::less<>> kGatewayTypes = {
    "CVM",        "VPN", "DIRECTCONNECT", "PEERCONNECTION", "HAVIP",    "NAT",
    "NORMAL_CVM", "EIP", "LOCAL_GATEWAY", "INTRANAT",       "USER_CCN", "GWLB_ENDPOINT"};

constexpr int kMaxEcmp = 8;
// No route has this id: nothing is skipped when comparing against it.
constexpr std::uint64_t kNoRoute = std::numeric_limits<std::uint64_t>::max();

std::shared_ptr<const std::string> piece(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

const json* member(const json& j, const char* key) {
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}

std::optional<std::string> opt_string(const json& j, const char* key) {
  const json* v = member(j, key);
  if (v == nullptr) {
    return std::nullopt;
  }
  if (!v->is_string()) {
    fail("InvalidParameter", fmt::format("The parameter {} must be a string.", key));
  }
  return v->get<std::string>();
}

std::string required_string(const json& j, const char* key) {
  auto v = opt_string(j, key);
  if (!v || v->empty()) {
    fail("MissingParameter", fmt::format("The request is missing a required parameter `{}`.", key));
  }
  return *v;
}

std::vector<std::string> string_list(const json& j, const char* key) {
  std::vector<std::string> out;
  const json* v = member(j, key);
  if (v == nullptr) {
    return out;
  }
  if (!v->is_array()) {
    fail("InvalidParameter", fmt::format("The parameter {} must be an array.", key));
  }
  for (const auto& e : *v) {
    if (!e.is_string()) {
      fail("InvalidParameter", fmt::format("Every element of {} must be a string.", key));
    }
    out.push_back(e.get<std::string>());
  }
  return out;
}

// VPC pages are JSON strings ("0", "20"); numbers are tolerated.
std::int64_t page_value(const json& j, const char* key, std::int64_t fallback, bool strings) {
  const json* v = member(j, key);
  if (v == nullptr) {
    return fallback;
  }
  std::int64_t n = 0;
  if (v->is_number_integer()) {
    n = v->get<std::int64_t>();
  } else if (v->is_string() && strings) {
    const std::string& s = v->get_ref<const std::string&>();
    if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos) {
      fail("InvalidParameterValue.Malformed",
           fmt::format("The parameter {} \"{}\" is not a non-negative integer.", key, s));
    }
    n = std::stoll(s);
  } else {
    fail("InvalidParameter", fmt::format("The parameter {} has the wrong type.", key));
  }
  if (n < 0) {
    fail("InvalidParameterValue.Range", fmt::format("The parameter {} must not be negative.", key));
  }
  return n;
}

struct Paging {
  std::int64_t offset;
  std::int64_t limit;
};

Paging paging(const json& req, bool strings) {
  Paging p{page_value(req, "Offset", 0, strings), page_value(req, "Limit", 20, strings)};
  if (p.limit > 100) {
    fail("InvalidParameterValue.LimitExceeded",
         fmt::format("The parameter Limit {} exceeds the maximum 100.", p.limit));
  }
  return p;
}

struct Filter {
  std::string name;
  std::vector<std::string> values;

  bool matches(const std::string& v) const {
    return std::find(values.begin(), values.end(), v) != values.end();
  }
  bool matches_bool(bool b) const {
    for (const auto& v : values) {
      std::string l = v;
      std::transform(l.begin(), l.end(), l.begin(), ::tolower);
      if ((l == "true") == b && (l == "true" || l == "false")) {
        return true;
      }
    }
    return false;
  }
};

std::vector<Filter> filters(const json& req, const std::set<std::string, std::less<>>& known,
                            const char* invalid_key_code) {
  std::vector<Filter> out;
  const json* v = member(req, "Filters");
  if (v == nullptr) {
    return out;
  }
  if (!v->is_array()) {
    fail("InvalidParameter.FilterNotDict", "The parameter Filters must be a list of dicts.");
  }
  for (const auto& f : *v) {
    if (!f.is_object()) {
      fail("InvalidParameter.FilterNotDict", "Every element of Filters must be a dict.");
    }
    Filter filter;
    const json* name = member(f, "Name");
    const json* values = member(f, "Values");
    if (name == nullptr || !name->is_string() || values == nullptr || !values->is_array() ||
        values->empty()) {
      fail("InvalidParameter.FilterMissParameter", "Every filter needs a Name and Values.");
    }
    filter.name = name->get<std::string>();
    if (known.count(filter.name) == 0 && filter.name.rfind("tag:", 0) != 0) {
      fail(invalid_key_code, fmt::format("The filter key \"{}\" is not supported.", filter.name));
    }
    for (const auto& value : *values) {
      if (!value.is_string()) {
        fail("InvalidParameter", fmt::format("Values of filter {} must be strings.", filter.name));
      }
      filter.values.push_back(value.get<std::string>());
    }
    out.push_back(std::move(filter));
  }
  return out;
}

json route_json(const Route& r, const std::string& table_id) {
  return json{{"RouteTableId", table_id},
              {"RouteId", r.route_id},
              {"RouteItemId", r.route_item_id},
              {"DestinationCidrBlock", r.destination},
              {"DestinationIpv6CidrBlock", ""},
              {"GatewayType", r.gateway_type},
              {"GatewayId", r.gateway_id},
              {"RouteDescription", r.description},
              {"CreatedTime", r.created_time},
              {"RouteType", r.route_type},
              {"Enabled", r.enabled},
              {"PublishedToVbc", false},
              {"CdcId", ""}};
}

json route_list(const std::vector<Route>& routes, const std::string& table_id) {
  json out = json::array();
  for (const auto& r : routes) {
    out.push_back(route_json(r, table_id));
  }
  return out;
}

} // namespace

std::string ActionReply::members() const {
  std::string out;
  for (const auto& p : pieces) {
    out += *p;
  }
  return out;
}

VpcService::VpcService(State state, const base::Clock& clock)
    : clock_(clock), state_(std::move(state)), rng_(std::random_device{}()) {}

std::string_view VpcService::service_of(std::string_view action) {
  static const std::set<std::string, std::less<>> kVpc = {
      "DescribeRouteTables", "CreateRoutes", "DeleteRoutes",
      "ReplaceRoutes",       "DescribeVpcs", "DescribeVpcLimits"};
  if (kVpc.count(action) != 0) {
    return "vpc";
  }
  if (action == "DescribeInstances") {
    return "cvm";
  }
  return {};
}

ActionReply VpcService::call(std::string_view action, const std::string& body) {
  json request;
  try {
    request = body.empty() ? json::object() : json::parse(body);
  } catch (const json::exception& e) {
    return {ApiError{"InvalidParameter", fmt::format("The request body is not JSON: {}", e.what())},
            {}};
  }
  if (!request.is_object()) {
    return {ApiError{"InvalidParameter", "The request body must be a JSON object."}, {}};
  }
  try {
    if (action == "DescribeRouteTables") {
      return describe_route_tables(request);
    }
    if (action == "CreateRoutes") {
      return create_routes(request);
    }
    if (action == "DeleteRoutes") {
      return delete_routes(request);
    }
    if (action == "ReplaceRoutes") {
      return replace_routes(request);
    }
    if (action == "DescribeVpcs") {
      return describe_vpcs(request);
    }
    if (action == "DescribeVpcLimits") {
      return describe_vpc_limits(request);
    }
    if (action == "DescribeInstances") {
      return describe_instances(request);
    }
  } catch (const Fail& f) {
    return {ApiError{f.code, f.message}, {}};
  } catch (const json::exception& e) {
    return {ApiError{"InvalidParameter", e.what()}, {}};
  }
  return {ApiError{"InvalidAction", fmt::format("The action {} is not found.", action)}, {}};
}

std::string VpcService::now_text() const {
  std::time_t t = std::chrono::system_clock::to_time_t(clock_.wall_now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string VpcService::new_item_id(const RouteTable& table) {
  static constexpr char kAlphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  while (true) {
    std::string id = "rti-";
    for (int i = 0; i < 8; ++i) {
      id.push_back(kAlphabet[rng_() % 36]);
    }
    if (table.find_by_item_id(id) == nullptr) {
      return id;
    }
  }
}

std::shared_ptr<const std::string> VpcService::route_set_json(const RouteTable& table) const {
  auto cached = table.cached_route_set();
  if (!cached) {
    cached = piece(route_list(table.routes(), table.id).dump());
    table.set_cached_route_set(cached);
  }
  return cached;
}

void VpcService::set_route_listener(std::function<void(const KernelRoutes&)> listener) {
  std::lock_guard lock(mu_);
  route_listener_ = std::move(listener);
  if (route_listener_) {
    route_listener_(kernel_routes_locked());
  }
}

KernelRoutes VpcService::kernel_routes() const {
  std::lock_guard lock(mu_);
  return kernel_routes_locked();
}

KernelRoutes VpcService::kernel_routes_locked() const {
  // With ECMP the lowest RouteId wins: the kernel table carries one next hop per destination.
  std::map<std::string, std::pair<std::uint64_t, std::string>> best;
  for (const auto& table : state_.route_tables) {
    for (const auto& r : table.routes()) {
      if (!r.enabled || r.gateway_type != "NORMAL_CVM") {
        continue;
      }
      auto it = best.find(r.destination);
      if (it == best.end() || r.route_id < it->second.first) {
        best[r.destination] = {r.route_id, r.gateway_id};
      }
    }
  }
  KernelRoutes out;
  for (const auto& [dst, v] : best) {
    out[dst] = v.second;
  }
  return out;
}

void VpcService::routes_changed() {
  if (route_listener_) {
    route_listener_(kernel_routes_locked());
  }
}

State VpcService::snapshot() const {
  std::lock_guard lock(mu_);
  return state_;
}

std::optional<Instance> VpcService::instance_by_ip(const std::string& ip) const {
  std::lock_guard lock(mu_);
  const Instance* i = state_.find_instance_by_ip(ip);
  return i == nullptr ? std::nullopt : std::optional<Instance>(*i);
}

std::optional<Credential> VpcService::credential(const std::string& secret_id) const {
  std::lock_guard lock(mu_);
  for (const auto& c : state_.credentials) {
    if (c.secret_id == secret_id) {
      return c;
    }
  }
  return std::nullopt;
}

std::string VpcService::region() const {
  std::lock_guard lock(mu_);
  return state_.region;
}

std::optional<Subnet> VpcService::subnet(const std::string& id) const {
  std::lock_guard lock(mu_);
  const Subnet* s = state_.find_subnet(id);
  return s == nullptr ? std::nullopt : std::optional<Subnet>(*s);
}

// ----- DescribeRouteTables ------------------------------------------------------------------

ActionReply VpcService::describe_route_tables(const json& req) {
  static const std::set<std::string, std::less<>> kKnown = {
      "route-table-id", "route-table-name", "vpc-id", "association.main", "tag-key", "visible"};
  std::vector<std::string> ids = string_list(req, "RouteTableIds");
  std::vector<Filter> fs = filters(req, kKnown, "InvalidParameter.FilterInvalidKey");
  if (!ids.empty() && member(req, "Filters") != nullptr) {
    fail("InvalidParameter.Coexist", "The parameters RouteTableIds and Filters cannot coexist.");
  }
  Paging page = paging(req, true);
  bool need_routes = true;
  if (const json* v = member(req, "NeedRouterInfo"); v != nullptr) {
    if (!v->is_boolean()) {
      fail("InvalidParameter", "The parameter NeedRouterInfo must be a boolean.");
    }
    need_routes = v->get<bool>();
  }
  for (const auto& id : ids) {
    if (!valid_resource_id(id, "rtb")) {
      fail("InvalidParameterValue.Malformed",
           fmt::format("The RouteTableId \"{}\" is malformed.", id));
    }
  }

  std::lock_guard lock(mu_);
  for (const auto& id : ids) {
    if (state_.find_table(id) == nullptr) {
      fail("ResourceNotFound", fmt::format("The route table {} does not exist.", id));
    }
  }
  std::vector<const RouteTable*> matched;
  for (const auto& t : state_.route_tables) {
    if (!ids.empty() && std::find(ids.begin(), ids.end(), t.id) == ids.end()) {
      continue;
    }
    bool ok = true;
    for (const auto& f : fs) {
      if (f.name == "route-table-id") {
        ok = f.matches(t.id);
      } else if (f.name == "route-table-name") {
        ok = f.matches(t.name);
      } else if (f.name == "vpc-id") {
        ok = f.matches(t.vpc_id);
      } else if (f.name == "association.main") {
        ok = f.matches_bool(t.main);
      } else if (f.name == "visible") {
        ok = f.matches_bool(true);
      } else {
        ok = false; // tag-key, tag:<k>: the emulator's tables carry no tags
      }
      if (!ok) {
        break;
      }
    }
    if (ok) {
      matched.push_back(&t);
    }
  }

  ActionReply reply;
  reply.pieces.push_back(piece("\"RouteTableSet\":["));
  std::int64_t end =
      std::min<std::int64_t>(static_cast<std::int64_t>(matched.size()), page.offset + page.limit);
  for (std::int64_t i = page.offset; i < end; ++i) {
    const RouteTable& t = *matched[static_cast<std::size_t>(i)];
    auto head = t.cached_head();
    if (!head) {
      json assoc = json::array();
      for (const auto& s : state_.subnets) {
        if (s.route_table_id == t.id) {
          assoc.push_back({{"SubnetId", s.id}, {"RouteTableId", t.id}});
        }
      }
      json meta = {{"VpcId", t.vpc_id},        {"RouteTableId", t.id},
                   {"RouteTableName", t.name}, {"AssociationSet", std::move(assoc)},
                   {"Main", t.main},           {"CreatedTime", t.created_time},
                   {"TagSet", json::array()},  {"LocalCidrForCcn", json::array()}};
      std::string text = meta.dump();
      text.pop_back(); // reopen the object to splice the shared RouteSet in
      head = piece(text + ",\"RouteSet\":");
      t.set_cached_head(head);
    }
    if (i != page.offset) {
      reply.pieces.push_back(piece(","));
    }
    reply.pieces.push_back(head);
    reply.pieces.push_back(need_routes ? route_set_json(t) : piece("[]"));
    reply.pieces.push_back(piece("}"));
  }
  reply.pieces.push_back(piece(fmt::format("],\"TotalCount\":{}", matched.size())));
  return reply;
}

// ----- Route validation shared by CreateRoutes and ReplaceRoutes ---------------------------

namespace {

struct RouteInput {
  std::string destination;
  std::string gateway_type;
  std::string gateway_id;
  std::optional<std::string> description;
  std::optional<bool> enabled;
};

RouteInput parse_route_input(const json& r) {
  if (!r.is_object()) {
    fail("InvalidParameter", "Every element of Routes must be an object.");
  }
  RouteInput in;
  if (member(r, "DestinationIpv6CidrBlock") != nullptr &&
      opt_string(r, "DestinationIpv6CidrBlock").value_or("") != "" &&
      member(r, "DestinationCidrBlock") == nullptr) {
    fail("UnsupportedOperation", "IPv6 routes are not supported by this emulator.");
  }
  in.destination = required_string(r, "DestinationCidrBlock");
  in.gateway_type = required_string(r, "GatewayType");
  in.gateway_id = required_string(r, "GatewayId");
  in.description = opt_string(r, "RouteDescription");
  if (const json* e = member(r, "Enabled"); e != nullptr) {
    if (!e->is_boolean()) {
      fail("InvalidParameter", "The parameter Enabled must be a boolean.");
    }
    in.enabled = e->get<bool>();
  }
  if (!parse_cidr(in.destination)) {
    fail("InvalidParameterValue.Malformed",
         fmt::format("The DestinationCidrBlock \"{}\" is malformed.", in.destination));
  }
  if (kGatewayTypes.count(in.gateway_type) == 0) {
    fail("InvalidParameterValue",
         fmt::format("The GatewayType \"{}\" is not supported.", in.gateway_type));
  }
  return in;
}

void check_route_against_vpc(const RouteInput& in, const State& state, const RouteTable& table) {
  auto dst = parse_cidr(in.destination);
  const Vpc* vpc = state.find_vpc(table.vpc_id);
  if (vpc != nullptr) {
    auto vpc_cidr = parse_cidr(vpc->cidr);
    if (vpc_cidr && vpc_cidr->contains(*dst)) {
      fail("InvalidParameterValue.VpcCidrConflict",
           fmt::format("The destination {} is inside the VPC CIDR {}.", in.destination, vpc->cidr));
    }
  }
  if (in.gateway_type == "NORMAL_CVM") {
    if (!parse_ipv4(in.gateway_id)) {
      fail("InvalidParameterValue.Malformed",
           fmt::format("The GatewayId \"{}\" of a NORMAL_CVM route must be an IPv4 address.",
                       in.gateway_id));
    }
    const Instance* ins = state.find_instance_by_ip(in.gateway_id);
    if (ins == nullptr || ins->vpc_id != table.vpc_id) {
      fail("InvalidParameterValue.RouteNextHopInvalid",
           fmt::format("The next hop {} is not the private IP of an instance in {}.", in.gateway_id,
                       table.vpc_id));
    }
  }
}

// Rejects a route equal to one already present (ignoring `self`), and ECMP groups beyond 8.
void check_duplicates(const RouteInput& in, const std::vector<Route>& existing,
                      std::uint64_t self) {
  int same_destination = 0;
  for (const auto& r : existing) {
    if (r.route_id == self || r.destination != in.destination) {
      continue;
    }
    if (r.gateway_type == in.gateway_type && r.gateway_id == in.gateway_id) {
      fail("InvalidParameterValue.Duplicate",
           fmt::format("The route {} -> {} {} already exists ({}).", in.destination,
                       in.gateway_type, in.gateway_id, r.route_item_id));
    }
    if (r.gateway_type != in.gateway_type) {
      fail("UnsupportedOperation.EcmpWithUserRoute",
           fmt::format("The destination {} already has a {} route.", in.destination,
                       r.gateway_type));
    }
    ++same_destination;
  }
  if (same_destination >= kMaxEcmp) {
    fail("UnsupportedOperation.Ecmp",
         fmt::format("The destination {} already has {} next hops.", in.destination, kMaxEcmp));
  }
}

RouteTable& table_for(State& state, const json& req) {
  std::string id = required_string(req, "RouteTableId");
  if (!valid_resource_id(id, "rtb")) {
    fail("InvalidParameterValue.Malformed",
         fmt::format("The RouteTableId \"{}\" is malformed.", id));
  }
  RouteTable* table = state.find_table(id);
  if (table == nullptr) {
    fail("ResourceNotFound", fmt::format("The route table {} does not exist.", id));
  }
  return *table;
}

const json& routes_param(const json& req) {
  const json* routes = member(req, "Routes");
  if (routes == nullptr) {
    fail("MissingParameter", "The request is missing a required parameter `Routes`.");
  }
  if (!routes->is_array() || routes->empty()) {
    fail("InvalidParameter", "The parameter Routes must be a non-empty array.");
  }
  return *routes;
}

// A route named by RouteItemId (which wins when both are given) or RouteId.
const Route* identify(const RouteTable& table, const json& r, const char* not_found_code) {
  if (!r.is_object()) {
    fail("InvalidParameter", "Every element of Routes must be an object.");
  }
  auto item = opt_string(r, "RouteItemId");
  if (item && !item->empty()) {
    if (!valid_resource_id(*item, "rti")) {
      fail("InvalidParameterValue.Malformed",
           fmt::format("The RouteItemId \"{}\" is malformed.", *item));
    }
    const Route* found = table.find_by_item_id(*item);
    if (found == nullptr) {
      fail(not_found_code, fmt::format("The route {} is not in {}.", *item, table.id));
    }
    return found;
  }
  const json* id = member(r, "RouteId");
  if (id == nullptr) {
    fail("MissingParameter", "Every route needs a RouteId or a RouteItemId.");
  }
  if (!id->is_number_unsigned() || id->get<std::uint64_t>() == 0) {
    fail("InvalidParameterValue.Malformed",
         fmt::format("The RouteId {} is malformed.", id->dump()));
  }
  const Route* found = table.find_by_id(id->get<std::uint64_t>());
  if (found == nullptr) {
    fail(not_found_code,
         fmt::format("The route {} is not in {}.", id->get<std::uint64_t>(), table.id));
  }
  return found;
}

} // namespace

// ----- CreateRoutes ---------------------------------------------------------------------------

ActionReply VpcService::create_routes(const json& req) {
  std::lock_guard lock(mu_);
  RouteTable& table = table_for(state_, req);
  const json& routes = routes_param(req);
  std::vector<Route> pending;
  for (const auto& r : routes) {
    RouteInput in = parse_route_input(r);
    check_route_against_vpc(in, state_, table);
    check_duplicates(in, table.routes(), kNoRoute);
    check_duplicates(in, pending, kNoRoute);
    Route route;
    route.destination = in.destination;
    route.gateway_type = in.gateway_type;
    route.gateway_id = in.gateway_id;
    route.description = in.description.value_or("");
    route.enabled = in.enabled.value_or(true);
    pending.push_back(std::move(route));
  }
  std::int64_t limit = state_.quota(kQuotaRoutesPerTable);
  if (static_cast<std::int64_t>(table.routes().size() + pending.size()) > limit) {
    fail("LimitExceeded", fmt::format("The route table {} would have {} routes; its quota is {}.",
                                      table.id, table.routes().size() + pending.size(), limit));
  }
  std::string now = now_text();
  for (auto& route : pending) {
    route.route_id = state_.next_route_id++;
    route.route_item_id = new_item_id(table);
    route.created_time = now;
    table.add(route);
  }
  routes_changed();
  std::string text = fmt::format("\"TotalCount\":{},\"RouteTableSet\":[", pending.size());
  ActionReply reply;
  json meta = {{"VpcId", table.vpc_id},
               {"RouteTableId", table.id},
               {"RouteTableName", table.name},
               {"Main", table.main},
               {"CreatedTime", table.created_time},
               {"TagSet", json::array()},
               {"LocalCidrForCcn", json::array()},
               {"AssociationSet", json::array()}};
  for (const auto& s : state_.subnets) {
    if (s.route_table_id == table.id) {
      meta["AssociationSet"].push_back({{"SubnetId", s.id}, {"RouteTableId", table.id}});
    }
  }
  std::string meta_text = meta.dump();
  meta_text.pop_back();
  reply.pieces.push_back(piece(text + meta_text + ",\"RouteSet\":"));
  reply.pieces.push_back(route_set_json(table));
  reply.pieces.push_back(piece("}]"));
  return reply;
}

// ----- DeleteRoutes ---------------------------------------------------------------------------

ActionReply VpcService::delete_routes(const json& req) {
  std::lock_guard lock(mu_);
  RouteTable& table = table_for(state_, req);
  const json& routes = routes_param(req);
  std::vector<Route> doomed;
  for (const auto& r : routes) {
    const Route* found = identify(table, r, "ResourceNotFound");
    if (found->is_system()) {
      fail("UnsupportedOperation.SystemRoute",
           fmt::format("The route {} is a {} system route.", found->route_item_id,
                       found->route_type));
    }
    bool seen = false;
    for (const auto& d : doomed) {
      seen = seen || d.route_id == found->route_id;
    }
    if (seen) {
      fail("InvalidParameterValue.Duplicate",
           fmt::format("The route {} is named twice.", found->route_item_id));
    }
    doomed.push_back(*found);
  }
  for (const auto& d : doomed) {
    table.erase(d.route_id);
  }
  routes_changed();
  return {std::nullopt, {piece("\"RouteSet\":" + route_list(doomed, table.id).dump())}};
}

// ----- ReplaceRoutes --------------------------------------------------------------------------

ActionReply VpcService::replace_routes(const json& req) {
  std::lock_guard lock(mu_);
  RouteTable& table = table_for(state_, req);
  const json& routes = routes_param(req);
  std::vector<Route> old_routes;
  std::vector<Route> new_routes;
  for (const auto& r : routes) {
    const Route* found = identify(table, r, "UnsupportedOperation.RecordNotExists");
    if (found->is_system()) {
      fail("UnsupportedOperation.SystemRoute",
           fmt::format("The route {} is a {} system route.", found->route_item_id,
                       found->route_type));
    }
    for (const auto& o : old_routes) {
      if (o.route_id == found->route_id) {
        fail("InvalidParameterValue.Duplicate",
             fmt::format("The route {} is named twice.", found->route_item_id));
      }
    }
    RouteInput in = parse_route_input(r);
    check_route_against_vpc(in, state_, table);
    // Compare against the table as it will be: other routes, and the replacements so far.
    std::vector<Route> others;
    for (const auto& e : table.routes()) {
      bool replaced = false;
      for (const auto& o : old_routes) {
        replaced = replaced || o.route_id == e.route_id;
      }
      if (!replaced) {
        others.push_back(e);
      }
    }
    check_duplicates(in, others, found->route_id);
    check_duplicates(in, new_routes, found->route_id);
    Route updated = *found;
    updated.destination = in.destination;
    updated.gateway_type = in.gateway_type;
    updated.gateway_id = in.gateway_id;
    if (in.description) {
      updated.description = *in.description;
    }
    if (in.enabled) {
      updated.enabled = *in.enabled;
    }
    old_routes.push_back(*found);
    new_routes.push_back(std::move(updated));
  }
  for (const auto& n : new_routes) {
    table.replace(n);
  }
  routes_changed();
  return {std::nullopt,
          {piece("\"OldRouteSet\":" + route_list(old_routes, table.id).dump() +
                 ",\"NewRouteSet\":" + route_list(new_routes, table.id).dump())}};
}

// ----- DescribeVpcs, DescribeVpcLimits --------------------------------------------------------

ActionReply VpcService::describe_vpcs(const json& req) {
  static const std::set<std::string, std::less<>> kKnown = {"vpc-name", "is-default", "vpc-id",
                                                            "cidr-block", "tag-key"};
  std::vector<std::string> ids = string_list(req, "VpcIds");
  std::vector<Filter> fs = filters(req, kKnown, "InvalidParameter.FilterInvalidKey");
  if (!ids.empty() && member(req, "Filters") != nullptr) {
    fail("InvalidParameter.Coexist", "The parameters VpcIds and Filters cannot coexist.");
  }
  Paging page = paging(req, true);
  for (const auto& id : ids) {
    if (!valid_resource_id(id, "vpc")) {
      fail("InvalidParameterValue.Malformed", fmt::format("The VpcId \"{}\" is malformed.", id));
    }
  }
  std::lock_guard lock(mu_);
  for (const auto& id : ids) {
    if (state_.find_vpc(id) == nullptr) {
      fail("ResourceNotFound", fmt::format("The VPC {} does not exist.", id));
    }
  }
  json set = json::array();
  std::int64_t total = 0;
  for (const auto& v : state_.vpcs) {
    if (!ids.empty() && std::find(ids.begin(), ids.end(), v.id) == ids.end()) {
      continue;
    }
    bool ok = true;
    for (const auto& f : fs) {
      if (f.name == "vpc-id") {
        ok = f.matches(v.id);
      } else if (f.name == "vpc-name") {
        ok = f.matches(v.name);
      } else if (f.name == "cidr-block") {
        // The doc's example filters by network address ("10.0.0.0"); accept either form.
        ok = f.matches(v.cidr) || f.matches(v.cidr.substr(0, v.cidr.find('/')));
      } else if (f.name == "is-default") {
        ok = f.matches_bool(v.is_default);
      } else {
        ok = false;
      }
      if (!ok) {
        break;
      }
    }
    if (!ok) {
      continue;
    }
    if (total >= page.offset && total < page.offset + page.limit) {
      set.push_back({{"VpcId", v.id},
                     {"VpcName", v.name},
                     {"CidrBlock", v.cidr},
                     {"IsDefault", v.is_default},
                     {"EnableMulticast", false},
                     {"CreatedTime", v.created_time},
                     {"EnableDhcp", true},
                     {"DhcpOptionsId", ""},
                     {"DnsServerSet", json::array({"183.60.83.19", "183.60.82.98"})},
                     {"DomainName", ""},
                     {"TagSet", json::array()},
                     {"AssistantCidrSet", json::array()},
                     {"Ipv6CidrBlock", ""},
                     {"Ipv6CidrBlockSet", json::array()}});
    }
    ++total;
  }
  return {std::nullopt, {piece(fmt::format("\"TotalCount\":{},\"VpcSet\":{}", total, set.dump()))}};
}

ActionReply VpcService::describe_vpc_limits(const json& req) {
  std::vector<std::string> types = string_list(req, "LimitTypes");
  if (types.empty()) {
    fail("MissingParameter", "The request is missing a required parameter `LimitTypes`.");
  }
  std::lock_guard lock(mu_);
  json set = json::array();
  for (const auto& t : types) {
    std::int64_t value = state_.quota(t);
    if (value == 0 && state_.quotas.count(t) == 0) {
      fail("InvalidParameterValue", fmt::format("The LimitType \"{}\" is not known.", t));
    }
    set.push_back({{"LimitType", t}, {"LimitValue", value}});
  }
  return {std::nullopt, {piece("\"VpcLimitSet\":" + set.dump())}};
}

// ----- CVM DescribeInstances ------------------------------------------------------------------

ActionReply VpcService::describe_instances(const json& req) {
  static const std::set<std::string, std::less<>> kKnown = {
      "zone",          "vpc-id",         "subnet-id",          "instance-id",      "uuid",
      "instance-name", "instance-state", "private-ip-address", "public-ip-address"};
  std::vector<std::string> ids = string_list(req, "InstanceIds");
  std::vector<Filter> fs = filters(req, kKnown, "InvalidFilter");
  if (!ids.empty() && member(req, "Filters") != nullptr) {
    fail("InvalidParameter", "The parameters InstanceIds and Filters cannot be used together.");
  }
  Paging page = paging(req, false);
  for (const auto& id : ids) {
    if (!valid_resource_id(id, "ins")) {
      fail("InvalidInstanceId.Malformed", fmt::format("The InstanceId \"{}\" is malformed.", id));
    }
  }
  std::lock_guard lock(mu_);
  json set = json::array();
  std::int64_t total = 0;
  for (const auto& i : state_.instances) {
    if (!ids.empty() && std::find(ids.begin(), ids.end(), i.id) == ids.end()) {
      continue;
    }
    bool ok = true;
    for (const auto& f : fs) {
      if (f.name == "zone") {
        ok = f.matches(i.zone);
      } else if (f.name == "vpc-id") {
        ok = f.matches(i.vpc_id);
      } else if (f.name == "subnet-id") {
        ok = f.matches(i.subnet_id);
      } else if (f.name == "instance-id") {
        ok = f.matches(i.id);
      } else if (f.name == "uuid") {
        ok = f.matches(i.uuid);
      } else if (f.name == "instance-name") {
        ok = f.matches(i.name);
      } else if (f.name == "instance-state") {
        ok = f.matches(i.state);
      } else if (f.name == "private-ip-address") {
        ok = f.matches(i.private_ip);
      } else if (f.name == "public-ip-address") {
        ok = !i.public_ip.empty() && f.matches(i.public_ip);
      } else {
        ok = false;
      }
      if (!ok) {
        break;
      }
    }
    if (!ok) {
      continue;
    }
    if (total >= page.offset && total < page.offset + page.limit) {
      json public_ips = i.public_ip.empty() ? json(nullptr) : json::array({i.public_ip});
      set.push_back({{"InstanceId", i.id},
                     {"InstanceName", i.name},
                     {"InstanceState", i.state},
                     {"Uuid", i.uuid},
                     {"PrivateIpAddresses", json::array({i.private_ip})},
                     {"PublicIpAddresses", public_ips},
                     {"Placement", {{"Zone", i.zone}, {"ProjectId", 0}, {"HostId", nullptr}}},
                     {"VirtualPrivateCloud",
                      {{"VpcId", i.vpc_id},
                       {"SubnetId", i.subnet_id},
                       {"AsVpcGateway", false},
                       {"PrivateIpAddresses", nullptr},
                       {"Ipv6AddressCount", nullptr}}},
                     {"CamRoleName", i.cam_role},
                     {"CreatedTime", i.created_time},
                     {"Tags", json::array()}});
    }
    ++total;
  }
  return {std::nullopt,
          {piece(fmt::format("\"TotalCount\":{},\"InstanceSet\":{}", total, set.dump()))}};
}

} // namespace weft::emulator
