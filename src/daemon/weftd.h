#pragma once
// weftd's entry point: parse the options, then run the requested mode. main() only calls this;
// the overload with injected environment and streams is what tests drive.

#include <ostream>

#include "config/options.h"

namespace weft::daemon {

// Uses the process environment, std::cout and std::cerr.
int run_weftd(int argc, char** argv);

int run_weftd(int argc, const char* const* argv, const config::GetEnv& getenv, std::ostream& out,
              std::ostream& err);

} // namespace weft::daemon
