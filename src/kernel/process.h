#pragma once
// run_process: runs a program (no shell) with optional stdin data and collects its exit code,
// stdout and stderr. How weft drives iptables-restore / iptables-save.

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace weft::kernel {

struct ProcessResult {
  int exit_code = -1; // 128+signal when killed by a signal
  std::string out;
  std::string err;
};

// argv[0] is looked up in PATH. Fails only when the program cannot be started.
base::Result<ProcessResult> run_process(const std::vector<std::string>& argv,
                                        std::string_view stdin_data = {});

} // namespace weft::kernel
