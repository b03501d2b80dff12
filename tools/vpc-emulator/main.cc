// vpc-emulator: a local Tencent Cloud VPC/CVM API and instance metadata service (see README.md).

#include <csignal>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/file.h"
#include "base/log.h"
#include "emulator.h"
#include "http_frontend.h"
#include "metadata.h"
#include "router_sync.h"

namespace {

constexpr char kUsage[] = R"(usage: vpc-emulator --state FILE [options]
  --listen HOST:PORT              API listener (default 127.0.0.1:0, the port is printed)
  --metadata-listen HOST:PORT     metadata service listener (off unless given)
  --tls-cert FILE --tls-key FILE  serve the API over HTTPS
  --save-state-on-exit            write the state back to --state on SIGINT/SIGTERM
  --rate-limit N                  requests per second per action (default 100, 0 = off)
  --action-rate-limit ACTION=N    override for one action (repeatable)
  --router-netns NAME             keep NAME's main table equal to the NORMAL_CVM routes
  --router-proto N                protocol number of the routes it owns (default 199)
  --fault-internal-error P        probability of InternalError
  --fault-throttle P              probability of RequestLimitExceeded
  --fault-drop P                  probability of a dropped connection
  --fault-delay P                 probability of a delay of --fault-delay-ms (default 200)
  --fault-script FILE             fault configuration JSON, as PUT /_emulator/faults takes
  --metadata-trust-header         accept X-Emulator-Instance-Ip on the metadata service
  --metadata-default-instance IP  answer for this instance when the peer matches none
  --credential-ttl SECONDS        lifetime of role credentials (default 7200)
  --threads N                     API worker threads (default 8)
  --admin-from-anywhere           serve /_emulator/ to non-loopback peers too
)";

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "vpc-emulator: %s\n", message.c_str());
  std::exit(2);
}

double to_double(const std::string& flag, const std::string& v) {
  try {
    size_t used = 0;
    double d = std::stod(v, &used);
    if (used != v.size()) {
      throw std::invalid_argument(v);
    }
    return d;
  } catch (const std::exception&) {
    die(fmt::format("{} needs a number, got \"{}\"", flag, v));
  }
}

} // namespace

int main(int argc, char** argv) {
  using namespace weft::emulator;
  std::map<std::string, std::string> flags;
  std::vector<std::string> action_limits;
  static const std::vector<std::string> kBoolFlags = {
      "--save-state-on-exit", "--metadata-trust-header", "--admin-from-anywhere", "--help"};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    if (size_t eq = arg.find('='); eq != std::string::npos && arg.rfind("--", 0) == 0) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (std::find(kBoolFlags.begin(), kBoolFlags.end(), arg) != kBoolFlags.end()) {
      value = "true";
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      die(fmt::format("{} needs a value\n{}", arg, kUsage));
    }
    if (arg == "--action-rate-limit") {
      action_limits.push_back(value);
    } else {
      flags[arg] = value;
    }
  }
  static const std::vector<std::string> kKnown = {"--listen",
                                                  "--metadata-listen",
                                                  "--tls-cert",
                                                  "--tls-key",
                                                  "--state",
                                                  "--save-state-on-exit",
                                                  "--rate-limit",
                                                  "--router-netns",
                                                  "--router-proto",
                                                  "--fault-internal-error",
                                                  "--fault-throttle",
                                                  "--fault-drop",
                                                  "--fault-delay",
                                                  "--fault-delay-ms",
                                                  "--fault-script",
                                                  "--metadata-trust-header",
                                                  "--metadata-default-instance",
                                                  "--credential-ttl",
                                                  "--threads",
                                                  "--admin-from-anywhere",
                                                  "--help"};
  for (const auto& [flag, value] : flags) {
    if (std::find(kKnown.begin(), kKnown.end(), flag) == kKnown.end()) {
      die(fmt::format("unknown flag {}\n{}", flag, kUsage));
    }
  }
  if (flags.count("--help") != 0) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  auto flag = [&](const std::string& name, std::string fallback = "") {
    auto it = flags.find(name);
    return it == flags.end() ? fallback : it->second;
  };
  std::string state_path = flag("--state");
  if (state_path.empty()) {
    die(fmt::format("--state is required\n{}", kUsage));
  }
  auto text = weft::base::read_file(state_path);
  if (!text.ok()) {
    die(text.status().to_string());
  }
  auto state = parse_state(*text);
  if (!state.ok()) {
    die(fmt::format("{}: {}", state_path, state.status().message()));
  }

  EmulatorOptions options;
  options.rate_limit_per_second = to_double("--rate-limit", flag("--rate-limit", "100"));
  options.credential_ttl_seconds =
      static_cast<std::int64_t>(to_double("--credential-ttl", flag("--credential-ttl", "7200")));
  for (const auto& spec : action_limits) {
    size_t eq = spec.find('=');
    if (eq == std::string::npos) {
      die(fmt::format("--action-rate-limit needs ACTION=N, got \"{}\"", spec));
    }
    options.action_rate_limits[spec.substr(0, eq)] =
        to_double("--action-rate-limit", spec.substr(eq + 1));
  }

  // Signals are taken by sigwait below; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Emulator emulator(std::move(*state), weft::base::system_clock(), options);
  FaultProbabilities p;
  p.internal_error = to_double("--fault-internal-error", flag("--fault-internal-error", "0"));
  p.request_limit_exceeded = to_double("--fault-throttle", flag("--fault-throttle", "0"));
  p.drop = to_double("--fault-drop", flag("--fault-drop", "0"));
  p.delay = to_double("--fault-delay", flag("--fault-delay", "0"));
  p.delay_length = std::chrono::milliseconds(
      static_cast<int>(to_double("--fault-delay-ms", flag("--fault-delay-ms", "200"))));
  emulator.faults().set_probabilities(p);
  if (std::string script = flag("--fault-script"); !script.empty()) {
    auto config = weft::base::read_file(script);
    if (!config.ok()) {
      die(config.status().to_string());
    }
    if (auto s = emulator.faults().configure_json(*config); !s.ok()) {
      die(fmt::format("{}: {}", script, s.message()));
    }
  }

  std::unique_ptr<IpRouteSync> router;
  if (std::string netns = flag("--router-netns"); !netns.empty()) {
    router = std::make_unique<IpRouteSync>(
        netns, static_cast<int>(to_double("--router-proto", flag("--router-proto", "199"))));
    if (auto s = router->flush(); !s.ok()) {
      die(fmt::format("router netns {}: {}", netns, s.message()));
    }
    emulator.vpc().set_route_listener([&router](const KernelRoutes& r) { router->apply(r); });
  }

  MetadataOptions meta_options;
  meta_options.trust_instance_header = flag("--metadata-trust-header") == "true";
  meta_options.default_instance_ip = flag("--metadata-default-instance");
  MetadataService metadata(
      emulator.vpc(), emulator.keys(), [&] { return emulator.unix_now(); }, meta_options);

  FrontendOptions frontend_options;
  auto api_addr = parse_listen_address(flag("--listen", "127.0.0.1:0"));
  if (!api_addr.ok()) {
    die(api_addr.status().message());
  }
  frontend_options.api = *api_addr;
  if (std::string m = flag("--metadata-listen"); !m.empty()) {
    auto addr = parse_listen_address(m);
    if (!addr.ok()) {
      die(addr.status().message());
    }
    frontend_options.metadata = *addr;
  }
  frontend_options.tls_cert = flag("--tls-cert");
  frontend_options.tls_key = flag("--tls-key");
  frontend_options.threads = static_cast<int>(to_double("--threads", flag("--threads", "8")));
  frontend_options.admin_from_anywhere = flag("--admin-from-anywhere") == "true";
  HttpFrontend frontend(emulator, &metadata, frontend_options);
  if (auto s = frontend.start(); !s.ok()) {
    die(s.to_string());
  }
  std::printf("vpc-emulator: api listening on %s://%s:%d\n",
              frontend_options.tls_cert.empty() ? "http" : "https",
              frontend_options.api.host.c_str(), frontend.api_port());
  if (frontend_options.metadata) {
    std::printf("vpc-emulator: metadata listening on http://%s:%d\n",
                frontend_options.metadata->host.c_str(), frontend.metadata_port());
  }
  std::fflush(stdout);

  int sig = 0;
  sigwait(&signals, &sig);
  WEFT_INFO("vpc-emulator: signal {}, stopping", sig);
  frontend.stop();
  if (flag("--save-state-on-exit") == "true") {
    auto s = weft::base::write_file_atomic(state_path, serialize_state(emulator.vpc().snapshot()));
    if (!s.ok()) {
      WEFT_ERROR("saving state: {}", s.to_string());
      return 1;
    }
  }
  return 0;
}
