#pragma once
// Daemon: weftd's running mode, flanneld's startup sequence (reference/flannel.md §1.1) in etcd
// mode: network config, external interface, backend, lease, subnet.env, traffic rules, then the
// watch, renew and reconcile loops until stopped. Every dependency is built from Options here and
// owned by this object; main() only hands it the options and a stop token.

#include <stop_token>

#include "config/options.h"

namespace weft::daemon {

// Runs until stop is requested (exit code 0) or startup fails (1, after one clear log line).
int run_daemon(const config::Options& options, std::stop_token stop);

} // namespace weft::daemon
