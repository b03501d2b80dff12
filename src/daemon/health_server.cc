#include "daemon/health_server.h"

#include <httplib.h>

#include <thread>

#include "base/log.h"

namespace weft::daemon {

struct HealthServer::Impl {
  ReadyFn ready;
  MetricsFn metrics;
  httplib::Server server;
  std::jthread thread;
  int port = 0;
};

HealthServer::HealthServer(ReadyFn ready, MetricsFn metrics) : impl_(std::make_unique<Impl>()) {
  impl_->ready = std::move(ready);
  impl_->metrics = std::move(metrics);
  impl_->server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("weftd is running\n", "text/plain");
  });
  impl_->server.Get("/readyz",
                    [impl = impl_.get()](const httplib::Request&, httplib::Response& res) {
                      Readiness r = impl->ready();
                      if (r.ready) {
                        res.set_content("weftd is ready\n", "text/plain");
                      } else {
                        res.status = 503;
                        res.set_content("weftd is not ready yet: " + r.reason + "\n", "text/plain");
                      }
                    });
  impl_->server.Get("/metrics",
                    [impl = impl_.get()](const httplib::Request&, httplib::Response& res) {
                      res.set_content(impl->metrics(), "text/plain; version=0.0.4");
                    });
}

HealthServer::~HealthServer() {
  stop();
}

base::Status HealthServer::start(const std::string& ip, int port) {
  int bound = port == 0 ? impl_->server.bind_to_any_port(ip.c_str())
                        : (impl_->server.bind_to_port(ip.c_str(), port) ? port : -1);
  if (bound < 0) {
    return base::unavailable("cannot listen on " + ip + ":" + std::to_string(port) +
                             " for --healthz-port");
  }
  impl_->port = bound;
  impl_->thread = std::jthread([impl = impl_.get()] { impl->server.listen_after_bind(); });
  WEFT_INFO("health server listening on {}:{} (/healthz /readyz /metrics)", ip, bound);
  return {};
}

void HealthServer::stop() {
  if (impl_ && impl_->thread.joinable()) {
    impl_->server.stop();
    impl_->thread.join();
  }
}

int HealthServer::port() const {
  return impl_->port;
}

} // namespace weft::daemon
