// End-to-end: runs the built weftd binary with a clean environment and checks exit codes and
// output streams, as an operator or a DaemonSet would see them.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

struct ProcessResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

ProcessResult run_weftd(const std::vector<std::string>& args,
                        const std::vector<std::string>& env = {}) {
  int out_pipe[2];
  int err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe failed";
    return {};
  }
  std::vector<std::string> argv_s{WEFTD_PATH};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  std::vector<std::string> env_s = env;
  std::vector<char*> envp;
  for (auto& e : env_s) {
    envp.push_back(e.data());
  }
  envp.push_back(nullptr);

  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  ProcessResult run;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  while (open_fds > 0) {
    if (poll(fds, 2, 10000) <= 0) {
      ADD_FAILURE() << "weftd produced no output for 10 s";
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) {
        continue;
      }
      char buf[4096];
      const ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        (i == 0 ? run.out : run.err).append(buf, static_cast<std::size_t>(n));
      }
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

class WeftdE2e : public ::testing::Test {
protected:
  void SetUp() override {
    char tmpl[] = "/tmp/weftd-e2e-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    for (const auto& f : files_) {
      std::remove(f.c_str());
    }
    rmdir(dir_.c_str());
  }
  std::string write(const std::string& name, const std::string& content) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << content;
    files_.push_back(path);
    return path;
  }

  std::string dir_;
  std::vector<std::string> files_;
};

TEST_F(WeftdE2e, HelpListsEveryFlagAndExitsZero) {
  const ProcessResult r = run_weftd({"--help"});
  EXPECT_EQ(r.exit_code, 0);
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
    EXPECT_THAT(r.out, HasSubstr(std::string("--") + name + " ")) << name;
  }
}

TEST_F(WeftdE2e, VersionExitsZero) {
  const ProcessResult r = run_weftd({"-version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, StartsWith("weftd "));
}

TEST_F(WeftdE2e, CheckConfigGood) {
  const std::string path = write("good.json", R"({"Network":"10.244.0.0/16","EnableNFTables":false,
    "Backend":{"Type":"tencent-vpc","SecretKey":"DO-NOT-PRINT"}})");
  const ProcessResult r = run_weftd({"--check-config", path});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(R"("Network": "10.244.0.0/16")"));
  EXPECT_THAT(r.out, HasSubstr(R"("SubnetLen": 24)"));
  EXPECT_THAT(r.out, HasSubstr(R"("SubnetMax": "10.244.255.0")"));
  EXPECT_THAT(r.out, Not(HasSubstr("DO-NOT-PRINT")));
  EXPECT_THAT(r.err, IsEmpty());
}

TEST_F(WeftdE2e, CheckConfigBad) {
  const std::string path = write("bad.json", R"({"Network":"10.244.0.0/30"})");
  const ProcessResult r = run_weftd({"-check-config=" + path});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, IsEmpty());
  EXPECT_EQ(r.err, "weftd: " + path +
                       ": network is too small. Minimum useful network prefix is /28 "
                       "(Network=10.244.0.0/30)\n");
}

TEST_F(WeftdE2e, CheckConfigMissingFile) {
  const ProcessResult r = run_weftd({"--check-config", dir_ + "/absent.json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("absent.json"));
}

TEST_F(WeftdE2e, UnknownFlagExitsTwoWithOneLine) {
  const ProcessResult r = run_weftd({"--no-such-flag"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, IsEmpty());
  EXPECT_EQ(r.err, "weftd: flag provided but not defined: \"--no-such-flag\" (see weftd --help)\n");
}

TEST_F(WeftdE2e, BadEnvValueExitsTwo) {
  const ProcessResult r = run_weftd({}, {"FLANNELD_SUBNET_LEASE_RENEW_MARGIN=2000"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("FLANNELD_SUBNET_LEASE_RENEW_MARGIN"));
}

TEST_F(WeftdE2e, StartupErrorIsOneClearLineAndNeverLogsThePassword) {
  const ProcessResult r = run_weftd({"--etcd-password=hunter2", "--etcd-endpoints=ftp://x:1"},
                                    {"FLANNELD_IP_MASQ=true"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("ip-masq=true"));
  EXPECT_THAT(r.err, HasSubstr("ftp://x:1"));
  EXPECT_THAT(r.err, Not(HasSubstr("hunter2")));
}

TEST_F(WeftdE2e, KubeSubnetManagerIsRefusedClearly) {
  const ProcessResult r = run_weftd({"--kube-subnet-mgr"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--kube-subnet-mgr"));
}

} // namespace
