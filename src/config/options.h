#pragma once
// Options: weftd's command line, flanneld's flags (same names, defaults and FLANNELD_* environment
// overlay, Go flag syntax) plus a few of weft's own. Parsing is pure: no process state is touched.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/secret.h"

namespace weft::config {

struct Options {
  // etcd subnet store.
  std::vector<std::string> etcd_endpoints{"http://127.0.0.1:4001", "http://127.0.0.1:2379"};
  std::string etcd_prefix = "/coreos.com/network";
  std::string etcd_keyfile;
  std::string etcd_certfile;
  std::string etcd_cafile;
  std::string etcd_username;
  base::Secret etcd_password;

  // External interface selection, tried in this order.
  std::vector<std::string> iface;
  std::vector<std::string> iface_regex;
  std::string iface_can_reach;
  std::string public_ip;
  std::string public_ipv6;

  std::string subnet_file = "/run/flannel/subnet.env";
  int subnet_lease_renew_margin = 60; // minutes, 1..1439

  bool ip_masq = false;
  bool ip_masq_fully_random_disable = false;

  // Kubernetes subnet store.
  bool kube_subnet_mgr = false;
  std::string kube_api_url;
  std::string kube_annotation_prefix = "flannel.alpha.coreos.com";
  std::string kubeconfig_file;
  std::string net_config_path = "/etc/kube-flannel/net-conf.json";
  bool set_node_network_unavailable = true;

  std::string healthz_ip = "0.0.0.0";
  int healthz_port = 0;    // 0 disables the server
  int iptables_resync = 5; // seconds
  bool iptables_forward_rules = true;
  bool ip_blackhole_route = false;

  // klog flags flanneld copies into its flag set.
  int v = 0;
  std::string vmodule;
  std::string log_backtrace_at;

  // weft's own.
  std::string check_config;          // validate this net-conf.json and exit
  std::string cluster_name = "weft"; // tags the cloud routes weftd owns
  int resync_interval = 30;          // seconds between full reconciles
};

// What parse_options decided: run with `options`, or exit now with `exit_code`, writing `out` to
// stdout and `err` to stderr (help, version, or a one-line error with exit code 2).
struct ParseOutcome {
  std::optional<Options> options;
  int exit_code = 0;
  std::string out;
  std::string err;

  bool should_exit() const { return !options.has_value(); }
};

using GetEnv = std::function<std::optional<std::string>(const std::string&)>;

// argv[0] is the program name and is skipped. getenv is consulted for FLANNELD_<NAME> of every
// flag not given on the command line (an empty value counts as unset, as in flanneld).
ParseOutcome parse_options(int argc, const char* const* argv, const GetEnv& getenv);

// "weftd 0.1.0".
std::string version_string();

// The full --help text.
std::string help_text();

// One line describing the options for the startup log; secrets show as <redacted>.
std::string summarise(const Options& options);

} // namespace weft::config
