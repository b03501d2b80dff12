#include "router_sync.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "base/log.h"

extern char** environ;

namespace weft::emulator {

base::Status run_command(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  std::string line = fmt::format("{}", fmt::join(argv, " "));
  if (rc != 0) {
    return base::unavailable(fmt::format("spawning \"{}\": {}", line, std::strerror(rc)));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return base::internal_error(
          fmt::format("waiting for \"{}\": {}", line, std::strerror(errno)));
    }
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return base::unavailable(fmt::format("\"{}\" failed with status {}", line, status));
  }
  return base::Status::ok_status();
}

IpRouteSync::IpRouteSync(std::string netns, int protocol)
    : netns_(std::move(netns)), protocol_(std::to_string(protocol)) {}

base::Status IpRouteSync::flush() {
  std::lock_guard lock(mu_);
  installed_.clear();
  return run_command({"ip", "-n", netns_, "route", "flush", "proto", protocol_});
}

void IpRouteSync::apply(const KernelRoutes& desired) {
  std::lock_guard lock(mu_);
  for (auto it = installed_.begin(); it != installed_.end();) {
    if (desired.count(it->first) == 0) {
      base::Status s =
          run_command({"ip", "-n", netns_, "route", "del", it->first, "proto", protocol_});
      if (!s.ok()) {
        WEFT_WARN("router {}: deleting {}: {}", netns_, it->first, s.to_string());
      }
      it = installed_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [dst, gateway] : desired) {
    auto it = installed_.find(dst);
    if (it != installed_.end() && it->second == gateway) {
      continue;
    }
    base::Status s = run_command(
        {"ip", "-n", netns_, "route", "replace", dst, "via", gateway, "proto", protocol_});
    if (s.ok()) {
      installed_[dst] = gateway;
    } else {
      // Left out of installed_, so the next change tries again.
      WEFT_WARN("router {}: {} via {}: {}", netns_, dst, gateway, s.to_string());
      installed_.erase(dst);
    }
  }
}

KernelRoutes IpRouteSync::installed() const {
  std::lock_guard lock(mu_);
  return installed_;
}

} // namespace weft::emulator
