#include "config/options.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdint>
#include <exception>
#include <limits>
#include <set>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "base/quote.h"
#include "net/ip.h"

#ifndef WEFT_VERSION
#define WEFT_VERSION "0.0.0"
#endif

namespace weft::config {
namespace {

constexpr std::string_view kProgram = "weftd";
constexpr std::string_view kEnvPrefix = "FLANNELD_";

// Flags as plain values, exactly as CLI11 binds them; converted to Options after parsing.
struct RawOptions {
  std::string etcd_endpoints = "http://127.0.0.1:4001,http://127.0.0.1:2379";
  std::string etcd_password;
  bool version = false;
  Options o;
};

enum class Kind { kString, kBool, kInt, kList };

using Field = std::variant<std::string RawOptions::*, std::string Options::*, bool RawOptions::*,
                           bool Options::*, int Options::*, std::vector<std::string> Options::*>;

struct FlagSpec {
  std::string_view name;
  Kind kind;
  Field field;
  std::string_view help;
  bool env = true; // filled from FLANNELD_<NAME> when not on the command line
  std::int64_t min = std::numeric_limits<int>::min();
  std::int64_t max = std::numeric_limits<int>::max();
};

const std::vector<FlagSpec>& flag_specs() {
  using R = RawOptions;
  using O = Options;
  static const std::vector<FlagSpec> specs = {
      {"etcd-endpoints", Kind::kString, &R::etcd_endpoints,
       "a comma-delimited list of etcd endpoints"},
      {"etcd-prefix", Kind::kString, &O::etcd_prefix, "etcd prefix"},
      {"etcd-keyfile", Kind::kString, &O::etcd_keyfile,
       "SSL key file used to secure etcd communication"},
      {"etcd-certfile", Kind::kString, &O::etcd_certfile,
       "SSL certification file used to secure etcd communication"},
      {"etcd-cafile", Kind::kString, &O::etcd_cafile,
       "SSL Certificate Authority file used to secure etcd communication"},
      {"etcd-username", Kind::kString, &O::etcd_username, "username for BasicAuth to etcd"},
      {"etcd-password", Kind::kString, &R::etcd_password, "password for BasicAuth to etcd"},
      {"iface", Kind::kList, &O::iface,
       "interface to use (IP or name) for inter-host communication; repeatable, tried in order"},
      {"iface-regex", Kind::kList, &O::iface_regex,
       "regex matching the interface (IP or name) to use; repeatable, tried after --iface"},
      {"iface-can-reach", Kind::kString, &O::iface_can_reach,
       "use the interface of the route to this IP (as 'ip route get <ip>')"},
      {"subnet-file", Kind::kString, &O::subnet_file,
       "filename where env variables (subnet, MTU, ... ) will be written to"},
      {"public-ip", Kind::kString, &O::public_ip,
       "IP accessible by other nodes for inter-host communication"},
      {"public-ipv6", Kind::kString, &O::public_ipv6,
       "IPv6 accessible by other nodes for inter-host communication"},
      {"subnet-lease-renew-margin", Kind::kInt, &O::subnet_lease_renew_margin,
       "subnet lease renewal margin, in minutes, ranging from 1 to 1439", true, 1, 1439},
      {"ip-masq", Kind::kBool, &O::ip_masq,
       "setup IP masquerade rule for traffic destined outside of overlay network"},
      {"ip-masq-fully-random-disable", Kind::kBool, &O::ip_masq_fully_random_disable,
       "disable fully-random mode for MASQUERADE"},
      {"kube-subnet-mgr", Kind::kBool, &O::kube_subnet_mgr,
       "contact the Kubernetes API for subnet assignment instead of etcd"},
      {"kube-api-url", Kind::kString, &O::kube_api_url,
       "Kubernetes API server URL; not needed when running in a pod"},
      {"kube-annotation-prefix", Kind::kString, &O::kube_annotation_prefix,
       "Kubernetes annotation prefix; may contain one '/', otherwise one is appended"},
      {"kubeconfig-file", Kind::kString, &O::kubeconfig_file,
       "kubeconfig file location; not needed when running in a pod"},
      {"version", Kind::kBool, &R::version, "print version and exit", false},
      {"healthz-ip", Kind::kString, &O::healthz_ip, "the IP address for healthz server to listen"},
      {"healthz-port", Kind::kInt, &O::healthz_port,
       "the port for healthz server to listen (0 to disable)", true, 0, 65535},
      {"iptables-resync", Kind::kInt, &O::iptables_resync,
       "resync period for iptables rules, in seconds", true, 1, std::numeric_limits<int>::max()},
      {"iptables-forward-rules", Kind::kBool, &O::iptables_forward_rules,
       "add default accept rules to FORWARD chain in iptables"},
      {"ip-blackhole-route", Kind::kBool, &O::ip_blackhole_route,
       "add a blackhole route on the node for the local pod subnet"},
      {"net-config-path", Kind::kString, &O::net_config_path,
       "path to the network configuration file"},
      {"set-node-network-unavailable", Kind::kBool, &O::set_node_network_unavailable,
       "set NodeNetworkUnavailable after ready"},
      {"v", Kind::kInt, &O::v, "number for the log level verbosity", true,
       std::numeric_limits<std::int32_t>::min(), std::numeric_limits<std::int32_t>::max()},
      {"vmodule", Kind::kString, &O::vmodule,
       "comma-separated list of pattern=N settings for file-filtered logging (accepted, unused)"},
      {"log_backtrace_at", Kind::kString, &O::log_backtrace_at,
       "when logging hits line file:N, emit a stack trace (accepted, unused)"},
      {"check-config", Kind::kString, &O::check_config,
       "weft: validate this net-conf.json, print it normalised and exit (0 valid, 1 not)", false},
      {"cluster-name", Kind::kString, &O::cluster_name,
       "weft: cluster name, tags the cloud routes this cluster owns"},
      {"resync-interval", Kind::kInt, &O::resync_interval,
       "weft: seconds between full reconciles of routes", true, 1, std::numeric_limits<int>::max()},
  };
  return specs;
}

const FlagSpec* find_spec(std::string_view name) {
  for (const FlagSpec& spec : flag_specs()) {
    if (spec.name == name) {
      return &spec;
    }
  }
  return nullptr;
}

std::string env_name(std::string_view flag) {
  std::string out(kEnvPrefix);
  for (char c : flag) {
    if (c == '-' || c == '.') {
      out += '_';
    } else if (c >= 'a' && c <= 'z') {
      out += static_cast<char>(c - 'a' + 'A');
    } else {
      out += c;
    }
  }
  return out;
}

// Go's strconv.ParseBool.
std::optional<bool> parse_go_bool(std::string_view s) {
  for (const char* t : {"1", "t", "T", "TRUE", "true", "True"}) {
    if (s == t) {
      return true;
    }
  }
  for (const char* f : {"0", "f", "F", "FALSE", "false", "False"}) {
    if (s == f) {
      return false;
    }
  }
  return std::nullopt;
}

int digit_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'Z') {
    return c - 'A' + 10;
  }
  return 99;
}

// Go's strconv.ParseInt(s, 0, 64), as the flag package uses it: optional sign, 0x/0o/0b or a
// leading 0 for octal, and '_' between digits. nullopt on a syntax error or overflow.
std::optional<std::int64_t> parse_go_int(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) {
    return std::nullopt;
  }
  int base = 10;
  bool prefixed = false; // a base prefix counts as a digit for the '_' rule
  if (s.size() >= 2 && s[0] == '0') {
    const char b = static_cast<char>(s[1] | 0x20);
    if (b == 'x' || b == 'o' || b == 'b') {
      base = b == 'x' ? 16 : (b == 'o' ? 8 : 2);
      s.remove_prefix(2);
      prefixed = true;
    } else {
      base = 8;
      s.remove_prefix(1);
      prefixed = true;
    }
  }
  const std::uint64_t limit = negative ? std::uint64_t{1} << 63 : (std::uint64_t{1} << 63) - 1;
  std::uint64_t value = 0;
  bool any_digit = false;
  bool last_was_digit = prefixed;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '_') {
      if (!last_was_digit || i + 1 >= s.size() || s[i + 1] == '_') {
        return std::nullopt;
      }
      last_was_digit = false;
      continue;
    }
    const int d = digit_value(c);
    if (d >= base) {
      return std::nullopt;
    }
    if (value > (limit - static_cast<std::uint64_t>(d)) / static_cast<std::uint64_t>(base)) {
      return std::nullopt;
    }
    value = value * static_cast<std::uint64_t>(base) + static_cast<std::uint64_t>(d);
    any_digit = true;
    last_was_digit = true;
  }
  if (!any_digit && !prefixed) {
    return std::nullopt;
  }
  if (!any_digit && base != 8) {
    return std::nullopt; // "0x" alone; a lone "0" was taken as octal with no digits, i.e. 0
  }
  if (negative) {
    return value == (std::uint64_t{1} << 63) ? std::numeric_limits<std::int64_t>::min()
                                             : -static_cast<std::int64_t>(value);
  }
  return static_cast<std::int64_t>(value);
}

struct Setting {
  const FlagSpec* spec;
  std::string value; // canonical: "true"/"false", decimal, or the text as given
};

struct Failure {
  std::string message;
};

// Turns a raw value into its canonical text, or explains (without the "weftd: " prefix) why not.
std::variant<std::string, Failure> canonical_value(const FlagSpec& spec, const std::string& raw,
                                                   const std::string& source) {
  const std::string where =
      fmt::format("invalid value {}{} for flag --{}", base::quote(raw), source, spec.name);
  switch (spec.kind) {
  case Kind::kBool: {
    const auto b = parse_go_bool(raw);
    if (!b.has_value()) {
      return Failure{where + ": not a boolean (use true or false)"};
    }
    return std::string(*b ? "true" : "false");
  }
  case Kind::kInt: {
    const auto n = parse_go_int(raw);
    if (!n.has_value()) {
      return Failure{where + ": not an integer"};
    }
    if (*n < spec.min || *n > spec.max) {
      return Failure{fmt::format("{}: must be between {} and {}", where, spec.min, spec.max)};
    }
    return std::to_string(*n);
  }
  case Kind::kString:
  case Kind::kList:
    return raw;
  }
  return raw;
}

ParseOutcome fail(const std::string& message) {
  ParseOutcome outcome;
  outcome.exit_code = 2;
  outcome.err = fmt::format("{}: {}\n", kProgram, message);
  return outcome;
}

std::string default_text(const FlagSpec& spec) {
  const RawOptions defaults;
  return std::visit(
      [&](auto member) -> std::string {
        using M = decltype(member);
        if constexpr (std::is_same_v<M, std::string RawOptions::*> ||
                      std::is_same_v<M, bool RawOptions::*>) {
          const auto& v = defaults.*member;
          if constexpr (std::is_same_v<std::decay_t<decltype(v)>, bool>) {
            return v ? "true" : "false";
          } else {
            return v.empty() ? "" : base::quote(v);
          }
        } else {
          const auto& v = defaults.o.*member;
          using V = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<V, bool>) {
            return v ? "true" : "false";
          } else if constexpr (std::is_same_v<V, int>) {
            return std::to_string(v);
          } else if constexpr (std::is_same_v<V, std::string>) {
            return v.empty() ? "" : base::quote(v);
          } else {
            return "";
          }
        }
      },
      spec.field);
}

const char* type_name(Kind kind) {
  switch (kind) {
  case Kind::kBool:
    return "BOOL";
  case Kind::kInt:
    return "INT";
  case Kind::kList:
    return "TEXT";
  case Kind::kString:
    return "TEXT";
  }
  return "TEXT";
}

// Binds every flag of the table to `raw`. Values reach CLI11 already canonical (see
// canonical_value), so CLI11 only stores them; its own looser conversions never see user text.
void build_app(CLI::App& app, RawOptions& raw) {
  app.set_help_flag(); // help is handled Go-style before CLI11 runs
  app.name(std::string(kProgram));
  app.description(
      "weftd: pod networking for Kubernetes, a drop-in replacement for flanneld.\n"
      "Flags are written as Go's flag package accepts them: -name, --name, -name=value,\n"
      "--name=value, or -name value / --name value for non-boolean flags.\n"
      "Any flag not given is read from FLANNELD_<NAME> (upper case, '-' as '_') when set.");
  app.get_formatter()->column_width(38);
  for (const FlagSpec& spec : flag_specs()) {
    std::string desc(spec.help);
    if (spec.env) {
      desc += fmt::format(" [env {}]", env_name(spec.name));
    }
    const std::string dflt = default_text(spec);
    CLI::Option* opt = std::visit(
        [&](auto member) -> CLI::Option* {
          using M = decltype(member);
          const std::string flag = "--" + std::string(spec.name);
          if constexpr (std::is_same_v<M, std::string RawOptions::*> ||
                        std::is_same_v<M, bool RawOptions::*>) {
            return app.add_option(flag, raw.*member, desc);
          } else {
            return app.add_option(flag, raw.o.*member, desc);
          }
        },
        spec.field);
    opt->type_name(type_name(spec.kind));
    if (!dflt.empty()) {
      opt->default_str(dflt);
    }
    if (spec.kind != Kind::kList) {
      opt->multi_option_policy(CLI::MultiOptionPolicy::TakeLast); // Go: the last one wins
    }
  }
}

// Go's flag.FlagSet.Parse over argv, then the FLANNELD_* overlay, giving canonical settings.
std::variant<std::vector<Setting>, ParseOutcome> collect(int argc, const char* const* argv,
                                                         const GetEnv& getenv) {
  std::vector<Setting> settings;
  std::set<std::string_view> given;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i] == nullptr ? "" : argv[i];
    if (arg.size() < 2 || arg[0] != '-') {
      return fail(
          fmt::format("unexpected argument {}: {} takes only flags", base::quote(arg), kProgram));
    }
    std::size_t dashes = arg[1] == '-' ? 2 : 1;
    if (dashes == 2 && arg.size() == 2) {
      if (i + 1 < argc) {
        return fail(fmt::format("unexpected argument {} after --: {} takes only flags",
                                base::quote(argv[i + 1] == nullptr ? "" : argv[i + 1]), kProgram));
      }
      break;
    }
    std::string name = arg.substr(dashes);
    if (name.empty() || name[0] == '-' || name[0] == '=') {
      return fail("bad flag syntax: " + base::quote(arg));
    }
    std::optional<std::string> value;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.erase(eq);
    }
    const FlagSpec* spec = find_spec(name);
    if (spec == nullptr) {
      if (name == "help" || name == "h") {
        ParseOutcome help;
        help.out = help_text();
        return help;
      }
      return fail(fmt::format("flag provided but not defined: {} (see {} --help)",
                              base::quote(arg.substr(0, dashes + name.size())), kProgram));
    }
    if (!value.has_value()) {
      if (spec->kind == Kind::kBool) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i] == nullptr ? "" : argv[i];
      } else {
        return fail(fmt::format("flag needs an argument: --{}", spec->name));
      }
    }
    auto canonical = canonical_value(*spec, *value, "");
    if (auto* failure = std::get_if<Failure>(&canonical)) {
      return fail(failure->message);
    }
    settings.push_back({spec, std::get<std::string>(std::move(canonical))});
    given.insert(spec->name);
  }
  for (const FlagSpec& spec : flag_specs()) {
    if (!spec.env || given.count(spec.name) != 0) {
      continue;
    }
    const std::string var = env_name(spec.name);
    std::optional<std::string> value = getenv ? getenv(var) : std::nullopt;
    if (!value.has_value() || value->empty()) {
      continue;
    }
    auto canonical = canonical_value(spec, *value, " in " + var);
    if (auto* failure = std::get_if<Failure>(&canonical)) {
      return fail(failure->message);
    }
    // A list flag gets the whole variable as one element, as flanneld's flagSlice.Set does.
    settings.push_back({&spec, std::get<std::string>(std::move(canonical))});
  }
  return settings;
}

std::vector<std::string> split_endpoints(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    std::string item = text.substr(start, comma - start);
    if (!item.empty()) {
      out.push_back(std::move(item));
    }
    start = comma + 1;
  }
  return out;
}

bool is_ip(const std::string& s) {
  return net::Ip4Addr::parse(s).ok() || net::Ip6Addr::parse(s).ok();
}

// Checks that need more than one flag's syntax; each names the flag and the value.
std::optional<std::string> validate(const Options& o) {
  if (!o.public_ip.empty() && !net::Ip4Addr::parse(o.public_ip).ok()) {
    return fmt::format("invalid value {} for flag --public-ip: not an IPv4 address",
                       base::quote(o.public_ip));
  }
  if (!o.public_ipv6.empty() && !net::Ip6Addr::parse(o.public_ipv6).ok()) {
    return fmt::format("invalid value {} for flag --public-ipv6: not an IPv6 address",
                       base::quote(o.public_ipv6));
  }
  if (!is_ip(o.healthz_ip)) {
    return fmt::format("invalid value {} for flag --healthz-ip: not an IP address",
                       base::quote(o.healthz_ip));
  }
  // The name goes into cloud route descriptions and etcd keys: keep it plain.
  bool name_ok = !o.cluster_name.empty() && o.cluster_name.size() <= 63;
  for (char c : o.cluster_name) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '_' || c == '.';
    name_ok = name_ok && plain;
  }
  if (!name_ok) {
    return fmt::format("invalid value {} for flag --cluster-name: use 1 to 63 of A-Z a-z 0-9 . _ -",
                       base::quote(o.cluster_name));
  }
  return std::nullopt;
}

} // namespace

std::string version_string() {
  return fmt::format("{} {}", kProgram, WEFT_VERSION);
}

std::string help_text() {
  RawOptions raw;
  CLI::App app;
  build_app(app, raw);
  return app.help();
}

ParseOutcome parse_options(int argc, const char* const* argv, const GetEnv& getenv) {
  auto collected = collect(argc, argv, getenv);
  if (auto* outcome = std::get_if<ParseOutcome>(&collected)) {
    return std::move(*outcome);
  }
  const auto& settings = std::get<std::vector<Setting>>(collected);

  RawOptions raw;
  CLI::App app;
  std::vector<std::string> args;
  args.reserve(settings.size());
  for (const Setting& s : settings) {
    if (s.value.empty()) {
      // CLI11 rejects "--name=" but takes an empty separate argument.
      args.push_back(fmt::format("--{}", s.spec->name));
      args.emplace_back();
    } else {
      args.push_back(fmt::format("--{}={}", s.spec->name, s.value));
    }
  }
  try {
    build_app(app, raw);
    std::vector<std::string> reversed(args.rbegin(), args.rend()); // CLI11 pops from the back
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return fail(fmt::format("{}", e.what()));
  } catch (const std::exception& e) {
    return fail(fmt::format("internal error while parsing flags: {}", e.what()));
  }

  if (raw.version) {
    ParseOutcome outcome;
    outcome.out = version_string() + "\n";
    return outcome;
  }
  Options o = std::move(raw.o);
  o.etcd_endpoints = split_endpoints(raw.etcd_endpoints);
  o.etcd_password = base::Secret(std::move(raw.etcd_password));
  if (auto problem = validate(o)) {
    return fail(*problem);
  }
  ParseOutcome outcome;
  outcome.options = std::move(o);
  return outcome;
}

std::string summarise(const Options& o) {
  const auto list = [](const std::vector<std::string>& v) {
    return fmt::format("[{}]", fmt::join(v, ","));
  };
  return fmt::format(
      "etcd-endpoints={} etcd-prefix={} etcd-keyfile={} etcd-certfile={} etcd-cafile={} "
      "etcd-username={} etcd-password={} iface={} iface-regex={} iface-can-reach={} "
      "subnet-file={} public-ip={} public-ipv6={} subnet-lease-renew-margin={} ip-masq={} "
      "ip-masq-fully-random-disable={} kube-subnet-mgr={} kube-api-url={} "
      "kube-annotation-prefix={} kubeconfig-file={} net-config-path={} "
      "set-node-network-unavailable={} healthz-ip={} healthz-port={} iptables-resync={} "
      "iptables-forward-rules={} ip-blackhole-route={} v={} cluster-name={} resync-interval={}",
      list(o.etcd_endpoints), o.etcd_prefix, o.etcd_keyfile, o.etcd_certfile, o.etcd_cafile,
      o.etcd_username, o.etcd_password, list(o.iface), list(o.iface_regex), o.iface_can_reach,
      o.subnet_file, o.public_ip, o.public_ipv6, o.subnet_lease_renew_margin, o.ip_masq,
      o.ip_masq_fully_random_disable, o.kube_subnet_mgr, o.kube_api_url, o.kube_annotation_prefix,
      o.kubeconfig_file, o.net_config_path, o.set_node_network_unavailable, o.healthz_ip,
      o.healthz_port, o.iptables_resync, o.iptables_forward_rules, o.ip_blackhole_route, o.v,
      o.cluster_name, o.resync_interval);
}

} // namespace weft::config
