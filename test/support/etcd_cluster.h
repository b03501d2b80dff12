#pragma once
// EtcdCluster: throwaway real etcd (Debian's /usr/bin/etcd) for integration tests: 1 or 3 members
// on free loopback ports with a temp data dir, optional TLS with client certs made by openssl.
// Members can be stopped and restarted; everything is killed by PID and removed on destruction.

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

namespace weft::test {

struct EtcdClusterOptions {
  int members = 1;
  bool tls = false; // https client URLs, --client-cert-auth, certs from a test CA
  std::vector<std::string> extra_args;
  std::chrono::milliseconds ready_timeout{30000};
};

// Runs a program (searched in PATH) to completion; returns its stdout, or an error with its
// output when it exits non-zero.
base::Result<std::string> run_command(const std::vector<std::string>& argv);

// A free TCP port on 127.0.0.1 (bound and released; callers retry on a lost race).
int free_loopback_port();

class EtcdCluster {
public:
  static base::Result<std::unique_ptr<EtcdCluster>> start(const EtcdClusterOptions& options = {});
  ~EtcdCluster();
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  int size() const { return static_cast<int>(members_.size()); }
  // Client URL of member i ("http://127.0.0.1:41234" or https://...).
  std::string endpoint(int i) const;
  std::vector<std::string> endpoints() const;
  // "host:port" of member i, as EtcdClient::current_endpoint() reports it.
  std::string host_port(int i) const;
  // Index of the member serving this "host:port", or -1.
  int member_of(const std::string& host_port) const;

  // Kills member i (SIGKILL, or SIGTERM when graceful) and waits for it to exit.
  base::Status stop_member(int i, bool graceful = false);
  // Starts a stopped member again on its data dir and ports; waits until it is healthy.
  base::Status restart_member(int i);
  bool running(int i) const;
  // Freezes (SIGSTOP) or thaws (SIGCONT) member i: its sockets stay open and silent.
  base::Status pause_member(int i, bool paused);

  // TLS material (empty without TLS).
  const std::string& ca_file() const { return ca_file_; }
  const std::string& client_cert_file() const { return client_cert_file_; }
  const std::string& client_key_file() const { return client_key_file_; }

  // Runs etcdctl against the running members; returns stdout.
  base::Result<std::string> etcdctl(const std::vector<std::string>& args) const;

private:
  struct Member {
    std::string name;
    int client_port = 0;
    int peer_port = 0;
    std::string data_dir;
    std::string log_file;
    pid_t pid = -1;
  };

  EtcdCluster() = default;
  base::Status make_certs();
  base::Status spawn(int i);
  base::Status wait_healthy(int i);
  std::string log_tail(int i) const;

  EtcdClusterOptions options_;
  std::string root_;
  std::string initial_cluster_;
  std::vector<Member> members_;
  std::string ca_file_;
  std::string client_cert_file_;
  std::string client_key_file_;
  std::string server_cert_file_;
  std::string server_key_file_;
};

} // namespace weft::test
