#include "test/support/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include "kernel/process.h"

namespace weft::test {
namespace {

std::atomic<int> counter{0};

CommandResult run_command(const std::vector<std::string>& argv, const std::string& stdin_data) {
  auto r = kernel::run_process(argv, stdin_data);
  if (!r.ok()) {
    return CommandResult{-1, "", r.status().to_string()};
  }
  return CommandResult{r->exit_code, std::move(r->out), std::move(r->err)};
}

} // namespace

base::Result<std::unique_ptr<Netns>> Netns::create() {
  std::string name =
      "weft-t-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
  auto r = run_command({"ip", "netns", "add", name}, {});
  if (r.exit_code != 0) {
    return base::internal_error("ip netns add " + name + ": " + r.err);
  }
  std::unique_ptr<Netns> ns(new Netns(name));
  auto up = ns->exec({"ip", "link", "set", "lo", "up"});
  if (up.exit_code != 0) {
    return base::internal_error("bringing lo up in " + name + ": " + up.err);
  }
  return ns;
}

Netns::~Netns() {
  // Deleting the namespace removes every link, route and rule made inside it.
  run_command({"ip", "netns", "del", name_}, {});
}

CommandResult Netns::exec(const std::vector<std::string>& argv,
                          const std::string& stdin_data) const {
  std::vector<std::string> full = exec_prefix();
  full.insert(full.end(), argv.begin(), argv.end());
  return run_command(full, stdin_data);
}

CommandResult Netns::sh(const std::string& command) const {
  return exec({"sh", "-c", command});
}

base::Status Netns::run(const std::function<void()>& fn) const {
  base::Status status;
  std::thread t([&] {
    const std::string path = "/run/netns/" + name_;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      status = base::internal_error("open " + path + ": " + std::strerror(errno));
      return;
    }
    const int rc = ::setns(fd, CLONE_NEWNET);
    const int err = errno;
    ::close(fd);
    if (rc != 0) {
      status = base::internal_error("setns " + path + ": " + std::strerror(err));
      return;
    }
    fn();
  });
  t.join();
  return status;
}

base::Status make_veth_pair(const Netns& a, const std::string& a_name, const Netns& b,
                            const std::string& b_name) {
  auto r = a.exec(
      {"ip", "link", "add", a_name, "type", "veth", "peer", "name", b_name, "netns", b.name()});
  if (r.exit_code != 0) {
    return base::internal_error("creating veth " + a_name + ": " + r.err);
  }
  return {};
}

} // namespace weft::test
