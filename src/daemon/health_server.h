#pragma once
// HealthServer: weftd's HTTP endpoint for /healthz (process alive), /readyz (lease held, subnet.env
// written, first sync done) and /metrics (Prometheus text). It only reads snapshots that the daemon
// publishes; it never calls into the store or the kernel.
//
// A small HTTP/1.1 server on POSIX sockets, written here so that weftd does not link an HTTP
// library (and its TLS and compression dependencies) for three fixed plain-text answers. Four
// threads each serve one connection at a time (so a client holding a connection open does not
// hold up a probe), answer GET and HEAD, close every connection after one response, and drop a
// client that does not send its request head (at most 8 KiB) within 2 s.

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

  // Binds ip:port (port 0 picks a free one) and serves on a background thread. `ip` is an IPv4 or
  // IPv6 literal ("0.0.0.0", "::", "127.0.0.1", "::1"); "::" also accepts IPv4 clients.
  base::Status start(const std::string& ip, int port);
  // Stops serving and joins the thread, dropping a connection in progress. Idempotent.
  void stop();
  // The bound port, once started.
  int port() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace weft::daemon
