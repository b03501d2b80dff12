#include "kernel/process.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "base/fd.h"

extern char** environ;

namespace weft::kernel {

using base::Fd;

base::Result<ProcessResult> run_process(const std::vector<std::string>& argv,
                                        std::string_view stdin_data) {
  if (argv.empty()) {
    return base::invalid_argument("run_process: empty argv");
  }
  std::array<Fd, 2> in, out, err;
  int p[2];
  for (auto* pair : {&in, &out, &err}) {
    if (::pipe2(p, O_CLOEXEC) != 0) {
      return base::internal_error(std::string("pipe2: ") + std::strerror(errno));
    }
    (*pair)[0] = Fd(p[0]);
    (*pair)[1] = Fd(p[1]);
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0].get(), 0);
  posix_spawn_file_actions_adddup2(&actions, out[1].get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err[1].get(), 2);
  std::vector<char*> args;
  for (const auto& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return base::not_found("starting " + argv[0] + ": " + std::strerror(rc));
  }
  in[0].reset();
  out[1].reset();
  err[1].reset();
  // Non-blocking, so a large stdin is written as the child reads it while we drain its output;
  // a blocking write of more than a pipe buffer would deadlock against a child blocked on stdout.
  ::fcntl(in[1].get(), F_SETFL, ::fcntl(in[1].get(), F_GETFL) | O_NONBLOCK);

  // A child that exits before reading all of stdin must not kill us with SIGPIPE: block it on
  // this thread and swallow a pending one before restoring the mask.
  sigset_t pipe_set, old_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
  bool got_epipe = false;

  ProcessResult result;
  std::size_t written = 0;
  if (stdin_data.empty()) {
    in[1].reset();
  }
  char buf[8192];
  while (out[0].get() >= 0 || err[0].get() >= 0) {
    std::array<pollfd, 3> fds{};
    nfds_t n = 0;
    if (in[1].get() >= 0) {
      fds[n++] = {in[1].get(), POLLOUT, 0};
    }
    if (out[0].get() >= 0) {
      fds[n++] = {out[0].get(), POLLIN, 0};
    }
    if (err[0].get() >= 0) {
      fds[n++] = {err[0].get(), POLLIN, 0};
    }
    if (::poll(fds.data(), n, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      break;
    }
    for (nfds_t i = 0; i < n; ++i) {
      if (fds[i].revents == 0) {
        continue;
      }
      if (fds[i].fd == in[1].get()) {
        const ssize_t w =
            ::write(in[1].get(), stdin_data.data() + written, stdin_data.size() - written);
        if (w < 0 && errno == EPIPE) {
          got_epipe = true;
          in[1].reset();
        } else if (w > 0) {
          written += static_cast<std::size_t>(w);
          if (written == stdin_data.size()) {
            in[1].reset();
          }
        } else if (w < 0 && errno != EINTR && errno != EAGAIN) {
          in[1].reset();
        }
        continue;
      }
      Fd& src = fds[i].fd == out[0].get() ? out[0] : err[0];
      std::string& dst = fds[i].fd == out[0].get() ? result.out : result.err;
      const ssize_t r = ::read(src.get(), buf, sizeof buf);
      if (r > 0) {
        dst.append(buf, static_cast<std::size_t>(r));
      } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
        src.reset();
      }
    }
  }
  in[1].reset();
  if (got_epipe) {
    const timespec zero{0, 0};
    sigtimedwait(&pipe_set, nullptr, &zero);
  }
  pthread_sigmask(SIG_SETMASK, &old_set, nullptr);

  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return base::internal_error("waitpid " + argv[0] + ": " + std::strerror(errno));
    }
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.exit_code = 128 + WTERMSIG(status);
  }
  return result;
}

} // namespace weft::kernel
