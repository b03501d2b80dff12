#pragma once
// HealthServer: weftd's HTTP endpoint for /healthz (process alive), /readyz (lease held, subnet.env
// written, first sync done) and /metrics (Prometheus text). It only reads snapshots that the daemon
// publishes; it never calls into the store or the kernel.

#include <functional>
#include <memory>
#include <string>

#include "base/status.h"

namespace weft::daemon {

struct Readiness {
  bool ready = false;
  std::string reason; // why not ready, for the 503 body
};

class HealthServer {
public:
  using ReadyFn = std::function<Readiness()>;
  using MetricsFn = std::function<std::string()>;

  HealthServer(ReadyFn ready, MetricsFn metrics);
  ~HealthServer();
  HealthServer(const HealthServer&) = delete;
  HealthServer& operator=(const HealthServer&) = delete;

  // Binds ip:port (port 0 picks a free one) and serves on a background thread.
  base::Status start(const std::string& ip, int port);
  void stop();
  int port() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace weft::daemon
