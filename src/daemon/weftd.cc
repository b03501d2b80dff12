#include "daemon/weftd.h"

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

#include "base/log.h"
#include "daemon/check_config.h"

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
  // The startup sequence (store, backend, lease, rules, reconcile) is wired here next.
  WEFT_ERROR("the daemon loop is not wired yet: only --help, --version and --check-config work");
  return 1;
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
