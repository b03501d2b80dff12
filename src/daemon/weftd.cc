#include "daemon/weftd.h"

#include <malloc.h>
#include <pthread.h>
#include <signal.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>

#include "base/log.h"
#include "daemon/check_config.h"
#include "daemon/daemon.h"

namespace weft::daemon {

int run_weftd(int argc, const char* const* argv, const config::GetEnv& getenv, std::ostream& out,
              std::ostream& err) {
  config::ParseOutcome parsed = config::parse_options(argc, argv, getenv);
  if (parsed.should_exit()) {
    out << parsed.out << std::flush;
    err << parsed.err << std::flush;
    return parsed.exit_code;
  }
  const config::Options& options = *parsed.options;
  base::set_log_verbosity(options.v);

  if (!options.check_config.empty()) {
    const CheckConfigReport report = check_config_file(options.check_config);
    out << report.out << std::flush;
    err << report.err << std::flush;
    return report.exit_code;
  }

  WEFT_INFO("{} starting with {}", config::version_string(), config::summarise(options));
  // SIGINT/SIGTERM are taken by one thread (sigwait) that asks the daemon to stop; they are
  // blocked here, before any other thread exists, so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  // One malloc arena for every thread: weftd's threads mostly wait, and per-thread arenas kept
  // megabytes of freed listing and netlink buffers resident (a fifth of RSS at 5000 leases).
  ::mallopt(M_ARENA_MAX, 1);
  std::stop_source stop;
  std::jthread signal_thread([&stop, signals] {
    int sig = 0;
    while (sigwait(&signals, &sig) == 0) {
      if (sig == SIGINT || sig == SIGTERM) {
        WEFT_INFO("received signal {}, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
        stop.request_stop();
        return;
      }
    }
  });
  int rc = run_daemon(options, stop.get_token());
  if (!stop.stop_requested()) {
    // The daemon returned on its own (a startup error): release the signal thread.
    pthread_kill(signal_thread.native_handle(), SIGTERM);
  }
  return rc;
}

int run_weftd(int argc, char** argv) {
  const config::GetEnv process_env = [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) {
      return std::nullopt;
    }
    return std::string(value);
  };
  return run_weftd(argc, argv, process_env, std::cout, std::cerr);
}

} // namespace weft::daemon
