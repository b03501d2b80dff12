#include "test/support/etcd_cluster.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "base/file.h"

extern char** environ;

namespace weft::test {
namespace {

namespace fs = std::filesystem;

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// posix_spawn, not fork: the test process runs gRPC threads.
base::Result<pid_t> spawn_process(const std::vector<std::string>& argv, const std::string& out_file,
                                  const std::string& err_file) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_file.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (err_file == out_file) {
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  } else {
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_file.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
  }
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return base::internal_error(fmt::format("spawning {}: {}", argv[0], std::strerror(rc)));
  }
  return pid;
}

void kill_and_reap(pid_t pid, int sig) {
  ::kill(pid, sig);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

} // namespace

base::Result<std::string> run_command(const std::vector<std::string>& argv) {
  char tmpl[] = "/tmp/weft-cmd-XXXXXX";
  const int fd = ::mkstemp(tmpl);
  if (fd < 0) {
    return base::internal_error("mkstemp failed");
  }
  ::close(fd);
  const std::string out_file = tmpl;
  const std::string err_file = out_file + ".err";
  auto pid = spawn_process(argv, out_file, err_file);
  if (!pid.ok()) {
    return pid.status();
  }
  int status = 0;
  while (::waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::string out = read_all(out_file);
  const std::string err = read_all(err_file);
  fs::remove(out_file);
  fs::remove(err_file);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return base::internal_error(
        fmt::format("{} failed (status {}): {}{}", argv[0], status, out, err));
  }
  return out;
}

int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    socklen_t len = sizeof(addr);
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port = ntohs(addr.sin_port);
    }
  }
  ::close(fd);
  return port;
}

base::Result<std::unique_ptr<EtcdCluster>> EtcdCluster::start(const EtcdClusterOptions& options) {
  std::unique_ptr<EtcdCluster> c(new EtcdCluster());
  c->options_ = options;
  char tmpl[] = "/tmp/weft-etcd-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    return base::internal_error("mkdtemp failed");
  }
  c->root_ = tmpl;
  if (options.tls) {
    WEFT_RETURN_IF_ERROR(c->make_certs());
  }
  for (int i = 0; i < options.members; ++i) {
    Member m;
    m.name = fmt::format("m{}", i);
    // Distinct ports: remember ones already picked (they are released until etcd binds them).
    do {
      m.client_port = free_loopback_port();
      m.peer_port = free_loopback_port();
    } while (m.client_port == m.peer_port || m.client_port == 2379 || m.peer_port == 2380);
    m.data_dir = fmt::format("{}/{}.data", c->root_, m.name);
    m.log_file = fmt::format("{}/{}.log", c->root_, m.name);
    if (!c->initial_cluster_.empty()) {
      c->initial_cluster_ += ",";
    }
    c->initial_cluster_ += fmt::format("{}=http://127.0.0.1:{}", m.name, m.peer_port);
    c->members_.push_back(m);
  }
  for (int i = 0; i < options.members; ++i) {
    WEFT_RETURN_IF_ERROR(c->spawn(i));
  }
  for (int i = 0; i < options.members; ++i) {
    WEFT_RETURN_IF_ERROR(c->wait_healthy(i));
  }
  return c;
}

EtcdCluster::~EtcdCluster() {
  for (auto& m : members_) {
    if (m.pid > 0) {
      kill_and_reap(m.pid, SIGKILL);
      m.pid = -1;
    }
  }
  std::error_code ec;
  if (!root_.empty()) {
    fs::remove_all(root_, ec);
  }
}

base::Status EtcdCluster::make_certs() {
  const std::string d = root_;
  ca_file_ = d + "/ca.crt";
  server_cert_file_ = d + "/server.crt";
  server_key_file_ = d + "/server.key";
  client_cert_file_ = d + "/client.crt";
  client_key_file_ = d + "/client.key";
  WEFT_RETURN_IF_ERROR(base::write_file_atomic(d + "/server.ext",
                                               "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                                               "extendedKeyUsage=serverAuth,clientAuth\n"));
  WEFT_RETURN_IF_ERROR(base::write_file_atomic(d + "/client.ext", "extendedKeyUsage=clientAuth\n"));
  const std::vector<std::vector<std::string>> steps = {
      {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
       "-nodes", "-keyout", d + "/ca.key", "-out", ca_file_, "-subj", "/CN=weft-test-ca", "-days",
       "2"},
      {"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
       "-keyout", server_key_file_, "-out", d + "/server.csr", "-subj", "/CN=127.0.0.1"},
      {"openssl", "x509", "-req", "-in", d + "/server.csr", "-CA", ca_file_, "-CAkey",
       d + "/ca.key", "-CAcreateserial", "-out", server_cert_file_, "-days", "2", "-extfile",
       d + "/server.ext"},
      {"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
       "-keyout", client_key_file_, "-out", d + "/client.csr", "-subj", "/CN=weft-client"},
      {"openssl", "x509", "-req", "-in", d + "/client.csr", "-CA", ca_file_, "-CAkey",
       d + "/ca.key", "-CAcreateserial", "-out", client_cert_file_, "-days", "2", "-extfile",
       d + "/client.ext"},
  };
  for (const auto& step : steps) {
    auto r = run_command(step);
    if (!r.ok()) {
      return r.status();
    }
  }
  return {};
}

std::string EtcdCluster::endpoint(int i) const {
  return fmt::format("{}://127.0.0.1:{}", options_.tls ? "https" : "http",
                     members_[static_cast<std::size_t>(i)].client_port);
}

std::vector<std::string> EtcdCluster::endpoints() const {
  std::vector<std::string> out;
  for (int i = 0; i < size(); ++i) {
    out.push_back(endpoint(i));
  }
  return out;
}

std::string EtcdCluster::host_port(int i) const {
  return fmt::format("127.0.0.1:{}", members_[static_cast<std::size_t>(i)].client_port);
}

int EtcdCluster::member_of(const std::string& host_port_text) const {
  for (int i = 0; i < size(); ++i) {
    if (host_port(i) == host_port_text) {
      return i;
    }
  }
  return -1;
}

bool EtcdCluster::running(int i) const {
  return members_[static_cast<std::size_t>(i)].pid > 0;
}

base::Status EtcdCluster::spawn(int i) {
  auto& m = members_[static_cast<std::size_t>(i)];
  std::vector<std::string> argv = {
      "/usr/bin/etcd",
      "--name",
      m.name,
      "--data-dir",
      m.data_dir,
      "--listen-client-urls",
      endpoint(i),
      "--advertise-client-urls",
      endpoint(i),
      "--listen-peer-urls",
      fmt::format("http://127.0.0.1:{}", m.peer_port),
      "--initial-advertise-peer-urls",
      fmt::format("http://127.0.0.1:{}", m.peer_port),
      "--initial-cluster",
      initial_cluster_,
      "--initial-cluster-token",
      fmt::format("weft-test-{}", ::getpid()),
      "--initial-cluster-state",
      "new",
      "--logger",
      "zap",
      "--log-level",
      "error",
      // Fast elections keep the failover test short.
      "--heartbeat-interval",
      "50",
      "--election-timeout",
      "500",
  };
  if (options_.tls) {
    for (const auto& a : {std::string("--cert-file"), server_cert_file_, std::string("--key-file"),
                          server_key_file_, std::string("--trusted-ca-file"), ca_file_,
                          std::string("--client-cert-auth")}) {
      argv.push_back(a);
    }
  }
  for (const auto& a : options_.extra_args) {
    argv.push_back(a);
  }
  auto pid = spawn_process(argv, m.log_file + ".out", m.log_file);
  if (!pid.ok()) {
    return pid.status();
  }
  m.pid = *pid;
  return {};
}

base::Result<std::string> EtcdCluster::etcdctl(const std::vector<std::string>& args) const {
  std::string eps;
  for (int i = 0; i < size(); ++i) {
    if (running(i)) {
      eps += (eps.empty() ? "" : ",") + endpoint(i);
    }
  }
  std::vector<std::string> argv = {"etcdctl", "--endpoints", eps, "--command-timeout", "5s"};
  if (options_.tls) {
    for (const auto& a : {std::string("--cacert"), ca_file_, std::string("--cert"),
                          client_cert_file_, std::string("--key"), client_key_file_}) {
      argv.push_back(a);
    }
  }
  for (const auto& a : args) {
    argv.push_back(a);
  }
  return run_command(argv);
}

std::string EtcdCluster::log_tail(int i) const {
  const std::string log = read_all(members_[static_cast<std::size_t>(i)].log_file);
  return log.size() > 2000 ? log.substr(log.size() - 2000) : log;
}

base::Status EtcdCluster::wait_healthy(int i) {
  auto& m = members_[static_cast<std::size_t>(i)];
  const auto deadline = std::chrono::steady_clock::now() + options_.ready_timeout;
  std::vector<std::string> argv = {"etcdctl", "--endpoints", endpoint(i), "--command-timeout",
                                   "1s",      "endpoint",    "health"};
  if (options_.tls) {
    argv.insert(argv.begin() + 1,
                {"--cacert", ca_file_, "--cert", client_cert_file_, "--key", client_key_file_});
  }
  std::string last;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(m.pid, &status, WNOHANG) == m.pid) {
      m.pid = -1;
      return base::internal_error(
          fmt::format("etcd member {} exited during start: {}", m.name, log_tail(i)));
    }
    auto r = run_command(argv);
    if (r.ok()) {
      return {};
    }
    last = r.status().message();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return base::unavailable(fmt::format("etcd member {} not healthy within {} ms: {}; log: {}",
                                       m.name, options_.ready_timeout.count(), last, log_tail(i)));
}

base::Status EtcdCluster::stop_member(int i, bool graceful) {
  auto& m = members_[static_cast<std::size_t>(i)];
  if (m.pid <= 0) {
    return base::conflict(fmt::format("etcd member {} is not running", m.name));
  }
  kill_and_reap(m.pid, graceful ? SIGTERM : SIGKILL);
  m.pid = -1;
  return {};
}

base::Status EtcdCluster::pause_member(int i, bool paused) {
  const auto& m = members_[static_cast<std::size_t>(i)];
  if (m.pid <= 0) {
    return base::conflict(fmt::format("etcd member {} is not running", m.name));
  }
  if (::kill(m.pid, paused ? SIGSTOP : SIGCONT) != 0) {
    return base::internal_error(fmt::format("kill {}: {}", m.pid, std::strerror(errno)));
  }
  return {};
}

base::Status EtcdCluster::restart_member(int i) {
  auto& m = members_[static_cast<std::size_t>(i)];
  if (m.pid > 0) {
    return base::conflict(fmt::format("etcd member {} is running", m.name));
  }
  // The port may have been grabbed by someone else meanwhile; etcd then exits and we report it.
  WEFT_RETURN_IF_ERROR(spawn(i));
  return wait_healthy(i);
}

} // namespace weft::test
