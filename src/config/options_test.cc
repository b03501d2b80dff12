#include "config/options.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace weft::config {
namespace {

using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

using Env = std::map<std::string, std::string>;

ParseOutcome parse(std::vector<std::string> args, const Env& env = {}) {
  std::vector<const char*> argv{"weftd"};
  for (const std::string& a : args) {
    argv.push_back(a.c_str());
  }
  return parse_options(static_cast<int>(argv.size()), argv.data(),
                       [&](const std::string& name) -> std::optional<std::string> {
                         auto it = env.find(name);
                         if (it == env.end()) {
                           return std::nullopt;
                         }
                         return it->second;
                       });
}

Options parse_ok(std::vector<std::string> args, const Env& env = {}) {
  ParseOutcome r = parse(std::move(args), env);
  EXPECT_FALSE(r.should_exit()) << r.err << r.out;
  return r.options.value_or(Options{});
}

// An error: exit code 2, nothing on stdout, exactly one line on stderr.
std::string parse_error(std::vector<std::string> args, const Env& env = {}) {
  ParseOutcome r = parse(std::move(args), env);
  EXPECT_TRUE(r.should_exit());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, IsEmpty());
  EXPECT_THAT(r.err, StartsWith("weftd: "));
  EXPECT_THAT(r.err, EndsWith("\n"));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  return r.err;
}

TEST(Options, DefaultsMatchFlanneld) {
  const Options o = parse_ok({});
  EXPECT_THAT(o.etcd_endpoints, ElementsAre("http://127.0.0.1:4001", "http://127.0.0.1:2379"));
  EXPECT_EQ(o.etcd_prefix, "/coreos.com/network");
  EXPECT_EQ(o.etcd_keyfile, "");
  EXPECT_EQ(o.etcd_certfile, "");
  EXPECT_EQ(o.etcd_cafile, "");
  EXPECT_EQ(o.etcd_username, "");
  EXPECT_TRUE(o.etcd_password.empty());
  EXPECT_THAT(o.iface, IsEmpty());
  EXPECT_THAT(o.iface_regex, IsEmpty());
  EXPECT_EQ(o.iface_can_reach, "");
  EXPECT_EQ(o.subnet_file, "/run/flannel/subnet.env");
  EXPECT_EQ(o.public_ip, "");
  EXPECT_EQ(o.public_ipv6, "");
  EXPECT_EQ(o.subnet_lease_renew_margin, 60);
  EXPECT_FALSE(o.ip_masq);
  EXPECT_FALSE(o.ip_masq_fully_random_disable);
  EXPECT_FALSE(o.kube_subnet_mgr);
  EXPECT_EQ(o.kube_api_url, "");
  EXPECT_EQ(o.kube_annotation_prefix, "flannel.alpha.coreos.com");
  EXPECT_EQ(o.kubeconfig_file, "");
  EXPECT_EQ(o.healthz_ip, "0.0.0.0");
  EXPECT_EQ(o.healthz_port, 0);
  EXPECT_EQ(o.iptables_resync, 5);
  EXPECT_TRUE(o.iptables_forward_rules);
  EXPECT_FALSE(o.ip_blackhole_route);
  EXPECT_EQ(o.net_config_path, "/etc/kube-flannel/net-conf.json");
  EXPECT_TRUE(o.set_node_network_unavailable);
  EXPECT_EQ(o.v, 0);
  EXPECT_EQ(o.check_config, "");
  EXPECT_EQ(o.cluster_name, "weft");
  EXPECT_EQ(o.resync_interval, 30);
}

TEST(Options, EveryFlagSets) {
  const Options o = parse_ok({
      "--etcd-endpoints=https://a:2379,https://b:2379",
      "--etcd-prefix=/p",
      "--etcd-keyfile=/k",
      "--etcd-certfile=/c",
      "--etcd-cafile=/ca",
      "--etcd-username=u",
      "--etcd-password=pw",
      "--iface=eth0",
      "--iface=10.0.0.1",
      "--iface-regex=^en",
      "--iface-can-reach=8.8.8.8",
      "--subnet-file=/s.env",
      "--public-ip=192.0.2.1",
      "--public-ipv6=2001:db8::1",
      "--subnet-lease-renew-margin=30",
      "--ip-masq",
      "--ip-masq-fully-random-disable",
      "--kube-subnet-mgr",
      "--kube-api-url=https://api:6443",
      "--kube-annotation-prefix=example.com",
      "--kubeconfig-file=/kc",
      "--healthz-ip=127.0.0.1",
      "--healthz-port=8285",
      "--iptables-resync=7",
      "--iptables-forward-rules=false",
      "--ip-blackhole-route",
      "--net-config-path=/n.json",
      "--set-node-network-unavailable=false",
      "--v=4",
      "--vmodule=foo=2",
      "--log_backtrace_at=main.go:10",
      "--cluster-name=prod-1",
      "--resync-interval=60",
  });
  EXPECT_THAT(o.etcd_endpoints, ElementsAre("https://a:2379", "https://b:2379"));
  EXPECT_EQ(o.etcd_prefix, "/p");
  EXPECT_EQ(o.etcd_keyfile, "/k");
  EXPECT_EQ(o.etcd_certfile, "/c");
  EXPECT_EQ(o.etcd_cafile, "/ca");
  EXPECT_EQ(o.etcd_username, "u");
  EXPECT_EQ(o.etcd_password.reveal(), "pw");
  EXPECT_THAT(o.iface, ElementsAre("eth0", "10.0.0.1"));
  EXPECT_THAT(o.iface_regex, ElementsAre("^en"));
  EXPECT_EQ(o.iface_can_reach, "8.8.8.8");
  EXPECT_EQ(o.subnet_file, "/s.env");
  EXPECT_EQ(o.public_ip, "192.0.2.1");
  EXPECT_EQ(o.public_ipv6, "2001:db8::1");
  EXPECT_EQ(o.subnet_lease_renew_margin, 30);
  EXPECT_TRUE(o.ip_masq);
  EXPECT_TRUE(o.ip_masq_fully_random_disable);
  EXPECT_TRUE(o.kube_subnet_mgr);
  EXPECT_EQ(o.kube_api_url, "https://api:6443");
  EXPECT_EQ(o.kube_annotation_prefix, "example.com");
  EXPECT_EQ(o.kubeconfig_file, "/kc");
  EXPECT_EQ(o.healthz_ip, "127.0.0.1");
  EXPECT_EQ(o.healthz_port, 8285);
  EXPECT_EQ(o.iptables_resync, 7);
  EXPECT_FALSE(o.iptables_forward_rules);
  EXPECT_TRUE(o.ip_blackhole_route);
  EXPECT_EQ(o.net_config_path, "/n.json");
  EXPECT_FALSE(o.set_node_network_unavailable);
  EXPECT_EQ(o.v, 4);
  EXPECT_EQ(o.vmodule, "foo=2");
  EXPECT_EQ(o.log_backtrace_at, "main.go:10");
  EXPECT_EQ(o.cluster_name, "prod-1");
  EXPECT_EQ(o.resync_interval, 60);
}

TEST(Options, GoStyleSyntax) {
  const Options o = parse_ok({"-etcd-endpoints=http://a:2379", "-ip-masq", "-v=2", "-etcd-prefix",
                              "/single", "--subnet-file", "/double", "-v", "3", "-iface", "eth1",
                              "--kube-subnet-mgr=false"});
  EXPECT_THAT(o.etcd_endpoints, ElementsAre("http://a:2379"));
  EXPECT_TRUE(o.ip_masq);
  EXPECT_EQ(o.etcd_prefix, "/single");
  EXPECT_EQ(o.subnet_file, "/double");
  EXPECT_EQ(o.v, 3); // the last one wins, as in Go
  EXPECT_THAT(o.iface, ElementsAre("eth1"));
  EXPECT_FALSE(o.kube_subnet_mgr);
  // A separate value is taken as is, even when it starts with '-'.
  EXPECT_EQ(parse_ok({"--etcd-prefix", "-dash"}).etcd_prefix, "-dash");
  EXPECT_EQ(parse_ok({"--etcd-prefix="}).etcd_prefix, "");
  EXPECT_EQ(parse_ok({"--etcd-prefix=a=b"}).etcd_prefix, "a=b");
  EXPECT_THAT(parse_ok({"--iface=", "--iface", ""}).iface, ElementsAre("", ""));
  // A trailing "--" ends the flags.
  EXPECT_TRUE(parse_ok({"--ip-masq", "--"}).ip_masq);
}

TEST(Options, BoolValuesAsGoParseBool) {
  for (const char* t : {"1", "t", "T", "TRUE", "true", "True"}) {
    EXPECT_TRUE(parse_ok({std::string("--ip-masq=") + t}).ip_masq) << t;
  }
  for (const char* f : {"0", "f", "F", "FALSE", "false", "False"}) {
    EXPECT_FALSE(parse_ok({std::string("--iptables-forward-rules=") + f}).iptables_forward_rules)
        << f;
  }
  EXPECT_THAT(parse_error({"--ip-masq=yes"}),
              HasSubstr(R"(invalid value "yes" for flag --ip-masq: not a boolean)"));
  // Go's flag package never takes a bool's value from the next argument.
  EXPECT_THAT(parse_error({"--ip-masq", "false"}), HasSubstr(R"(unexpected argument "false")"));
}

TEST(Options, IntValuesAsGoParseInt) {
  EXPECT_EQ(parse_ok({"--healthz-port=0x10"}).healthz_port, 16);
  EXPECT_EQ(parse_ok({"--healthz-port=010"}).healthz_port, 8);
  EXPECT_EQ(parse_ok({"--healthz-port=0o10"}).healthz_port, 8);
  EXPECT_EQ(parse_ok({"--healthz-port=0b11"}).healthz_port, 3);
  EXPECT_EQ(parse_ok({"--healthz-port=1_000"}).healthz_port, 1000);
  EXPECT_EQ(parse_ok({"--healthz-port=+80"}).healthz_port, 80);
  EXPECT_EQ(parse_ok({"--healthz-port=0"}).healthz_port, 0);
  EXPECT_EQ(parse_ok({"--v=-1"}).v, -1);
  for (const char* bad :
       {"abc", "", " 5", "5x", "1__0", "_1", "1_", "0x", "08", "1.5", "99999999999999999999"}) {
    EXPECT_THAT(parse_error({std::string("--healthz-port=") + bad}),
                HasSubstr(fmt::format("invalid value \"{}\" for flag --healthz-port: not an "
                                      "integer",
                                      bad)))
        << bad;
  }
}

TEST(Options, RangesNameFlagAndValue) {
  EXPECT_EQ(parse_error({"--subnet-lease-renew-margin=abc"}),
            "weftd: invalid value \"abc\" for flag --subnet-lease-renew-margin: not an "
            "integer\n");
  EXPECT_EQ(parse_error({"--healthz-port=-5"}),
            "weftd: invalid value \"-5\" for flag --healthz-port: must be between 0 and 65535\n");
  EXPECT_THAT(parse_error({"--healthz-port=65536"}), HasSubstr("\"65536\""));
  EXPECT_THAT(parse_error({"--subnet-lease-renew-margin=0"}),
              HasSubstr("must be between 1 and 1439"));
  EXPECT_THAT(parse_error({"--subnet-lease-renew-margin=1440"}),
              HasSubstr("must be between 1 and 1439"));
  EXPECT_EQ(parse_ok({"--subnet-lease-renew-margin=1"}).subnet_lease_renew_margin, 1);
  EXPECT_EQ(parse_ok({"--subnet-lease-renew-margin=1439"}).subnet_lease_renew_margin, 1439);
  EXPECT_THAT(parse_error({"--iptables-resync=0"}), HasSubstr("--iptables-resync"));
  EXPECT_THAT(parse_error({"--resync-interval=0"}), HasSubstr("--resync-interval"));
  EXPECT_THAT(parse_error({"--v=2147483648"}), HasSubstr("--v"));
}

TEST(Options, AddressesAndNamesAreChecked) {
  EXPECT_THAT(parse_error({"--public-ip=10.0.0.300"}),
              HasSubstr(R"(invalid value "10.0.0.300" for flag --public-ip)"));
  EXPECT_THAT(parse_error({"--public-ip=2001:db8::1"}), HasSubstr("--public-ip"));
  EXPECT_THAT(parse_error({"--public-ipv6=10.0.0.1"}), HasSubstr("--public-ipv6"));
  EXPECT_THAT(parse_error({"--healthz-ip=localhost"}), HasSubstr("--healthz-ip"));
  EXPECT_EQ(parse_ok({"--healthz-ip=::"}).healthz_ip, "::");
  EXPECT_THAT(parse_error({"--cluster-name="}), HasSubstr("--cluster-name"));
  EXPECT_THAT(parse_error({"--cluster-name=a b"}), HasSubstr(R"("a b")"));
}

TEST(Options, UnknownFlagsAndSyntaxErrors) {
  EXPECT_EQ(parse_error({"--no-such-flag=1"}),
            "weftd: flag provided but not defined: \"--no-such-flag\" (see weftd --help)\n");
  EXPECT_THAT(parse_error({"-x"}), HasSubstr(R"(not defined: "-x")"));
  EXPECT_THAT(parse_error({"---ip-masq"}), HasSubstr("bad flag syntax"));
  EXPECT_THAT(parse_error({"-=x"}), HasSubstr("bad flag syntax"));
  EXPECT_THAT(parse_error({"--etcd-prefix"}), HasSubstr("flag needs an argument: --etcd-prefix"));
  EXPECT_THAT(parse_error({"positional"}), HasSubstr(R"(unexpected argument "positional")"));
  EXPECT_THAT(parse_error({"--", "x"}), HasSubstr(R"(unexpected argument "x")"));
  EXPECT_THAT(parse_error({"-"}), HasSubstr(R"(unexpected argument "-")"));
}

TEST(Options, EnvironmentFillsFlagsNotOnTheCommandLine) {
  const Env env = {
      {"FLANNELD_ETCD_ENDPOINTS", "http://e1:2379,http://e2:2379"},
      {"FLANNELD_IP_MASQ", "true"},
      {"FLANNELD_IFACE", "eth0,eth1"},
      {"FLANNELD_IFACE_REGEX", "^en.*"},
      {"FLANNELD_SUBNET_LEASE_RENEW_MARGIN", "120"},
      {"FLANNELD_KUBE_SUBNET_MGR", "1"},
      {"FLANNELD_ETCD_PASSWORD", "hunter2"},
      {"FLANNELD_V", "5"},
      {"FLANNELD_LOG_BACKTRACE_AT", "x.go:1"},
      {"FLANNELD_HEALTHZ_PORT", ""}, // empty counts as unset
      {"FLANNELD_CLUSTER_NAME", "envcluster"},
  };
  const Options o = parse_ok({}, env);
  EXPECT_THAT(o.etcd_endpoints, ElementsAre("http://e1:2379", "http://e2:2379"));
  EXPECT_TRUE(o.ip_masq);
  EXPECT_THAT(o.iface, ElementsAre("eth0,eth1")); // one element, no comma split
  EXPECT_THAT(o.iface_regex, ElementsAre("^en.*"));
  EXPECT_EQ(o.subnet_lease_renew_margin, 120);
  EXPECT_TRUE(o.kube_subnet_mgr);
  EXPECT_EQ(o.etcd_password.reveal(), "hunter2");
  EXPECT_EQ(o.v, 5);
  EXPECT_EQ(o.log_backtrace_at, "x.go:1");
  EXPECT_EQ(o.healthz_port, 0);
  EXPECT_EQ(o.cluster_name, "envcluster");
}

TEST(Options, CommandLineWinsOverEnvironment) {
  const Env env = {{"FLANNELD_IP_MASQ", "true"},
                   {"FLANNELD_IFACE", "from-env"},
                   {"FLANNELD_ETCD_PREFIX", "/env"},
                   {"FLANNELD_SUBNET_LEASE_RENEW_MARGIN", "not-a-number"}};
  const Options o = parse_ok({"--ip-masq=false", "--iface=cli0", "--iface=cli1",
                              "--etcd-prefix=/cli", "--subnet-lease-renew-margin=10"},
                             env);
  EXPECT_FALSE(o.ip_masq);
  EXPECT_THAT(o.iface, ElementsAre("cli0", "cli1"));
  EXPECT_EQ(o.etcd_prefix, "/cli");
  EXPECT_EQ(o.subnet_lease_renew_margin, 10);
}

TEST(Options, BadEnvironmentValueNamesTheVariable) {
  EXPECT_EQ(parse_error({}, {{"FLANNELD_HEALTHZ_PORT", "abc"}}),
            "weftd: invalid value \"abc\" in FLANNELD_HEALTHZ_PORT for flag --healthz-port: not "
            "an integer\n");
  EXPECT_THAT(parse_error({}, {{"FLANNELD_IP_MASQ", "yes"}}), HasSubstr("FLANNELD_IP_MASQ"));
}

TEST(Options, VersionAndCheckConfigIgnoreTheEnvironment) {
  EXPECT_FALSE(parse({}, {{"FLANNELD_VERSION", "true"}}).should_exit());
  EXPECT_EQ(parse_ok({}, {{"FLANNELD_CHECK_CONFIG", "/x"}}).check_config, "");
}

TEST(Options, VersionPrintsAndExitsZero) {
  for (const char* flag : {"--version", "-version", "--version=true"}) {
    ParseOutcome r = parse({flag});
    EXPECT_TRUE(r.should_exit());
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out, version_string() + "\n");
    EXPECT_THAT(version_string(), StartsWith("weftd "));
  }
  EXPECT_FALSE(parse({"--version=false"}).should_exit());
}

TEST(Options, HelpListsEveryFlagWithDefaultAndEnvAndExitsZero) {
  for (const char* flag : {"--help", "-help", "-h", "--h"}) {
    ParseOutcome r = parse({"--ip-masq", flag, "--no-such-flag"});
    EXPECT_TRUE(r.should_exit());
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out, help_text());
  }
  const std::string help = help_text();
  for (const char* name : {"etcd-endpoints",
                           "etcd-prefix",
                           "etcd-keyfile",
                           "etcd-certfile",
                           "etcd-cafile",
                           "etcd-username",
                           "etcd-password",
                           "iface",
                           "iface-regex",
                           "iface-can-reach",
                           "subnet-file",
                           "public-ip",
                           "public-ipv6",
                           "subnet-lease-renew-margin",
                           "ip-masq",
                           "ip-masq-fully-random-disable",
                           "kube-subnet-mgr",
                           "kube-api-url",
                           "kube-annotation-prefix",
                           "kubeconfig-file",
                           "version",
                           "healthz-ip",
                           "healthz-port",
                           "iptables-resync",
                           "iptables-forward-rules",
                           "ip-blackhole-route",
                           "net-config-path",
                           "set-node-network-unavailable",
                           "v",
                           "vmodule",
                           "log_backtrace_at",
                           "check-config",
                           "cluster-name",
                           "resync-interval"}) {
    EXPECT_THAT(help, HasSubstr(std::string("--") + name + " ")) << name;
  }
  for (const char* text :
       {"\"http://127.0.0.1:4001,http://127.0.0.1:2379\"", "\"/coreos.com/network\"",
        "\"/run/flannel/subnet.env\"", "=60", "\"flannel.alpha.coreos.com\"", "\"0.0.0.0\"",
        "\"/etc/kube-flannel/net-conf.json\"", "[env FLANNELD_ETCD_ENDPOINTS]",
        "[env FLANNELD_IP_MASQ_FULLY_RANDOM_DISABLE]", "[env FLANNELD_LOG_BACKTRACE_AT]",
        "[env FLANNELD_V]", "\"weft\""}) {
    EXPECT_THAT(help, HasSubstr(text)) << text;
  }
  EXPECT_THAT(help, Not(HasSubstr("FLANNELD_VERSION")));
}

TEST(Options, SummaryNeverShowsThePassword) {
  const Options o = parse_ok({"--etcd-password=hunter2", "--etcd-username=bob"});
  const std::string line = summarise(o);
  EXPECT_THAT(line, Not(HasSubstr("hunter2")));
  EXPECT_THAT(line, HasSubstr("etcd-password=<redacted>"));
  EXPECT_THAT(line, HasSubstr("etcd-username=bob"));
  EXPECT_THAT(line, Not(HasSubstr("\n")));
}

} // namespace
} // namespace weft::config
