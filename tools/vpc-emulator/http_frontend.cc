#include "http_frontend.h"

#include <fmt/format.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "base/log.h"

namespace weft::emulator {

using nlohmann::json;

base::Result<ListenAddress> parse_listen_address(std::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return base::invalid_argument(fmt::format("listen address \"{}\" is not HOST:PORT", text));
  }
  std::string host(text.substr(0, colon));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::string port_text(text.substr(colon + 1));
  if (port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port_text) > 65535) {
    return base::invalid_argument(fmt::format("listen address \"{}\" has a bad port", text));
  }
  return ListenAddress{host, std::stoi(port_text)};
}

namespace {

bool is_loopback(const std::string& addr) {
  return addr.rfind("127.", 0) == 0 || addr == "::1" || addr.rfind("::ffff:127.", 0) == 0;
}

void json_reply(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(body, "application/json");
}

// httplib does not hand the socket to handlers; find it by its peer address and shut it down, so
// the client sees the connection close before any byte of a reply (a "dropped connection").
void drop_connection(const std::string& peer_addr, int peer_port) {
  for (int fd = 3; fd < 65536; ++fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
      if (errno == EBADF && fd > 4096) {
        break;
      }
      continue;
    }
    char host[INET6_ADDRSTRLEN] = {};
    int port = 0;
    if (ss.ss_family == AF_INET) {
      auto* in = reinterpret_cast<sockaddr_in*>(&ss);
      inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
      port = ntohs(in->sin_port);
    } else if (ss.ss_family == AF_INET6) {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
      inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
      port = ntohs(in6->sin6_port);
    }
    if (port == peer_port && peer_addr == host) {
      shutdown(fd, SHUT_RDWR);
      return;
    }
  }
}

// Writes the pieces from `offset` on. Small pieces are gathered into one buffer so a reply of many
// small parts is a few sends, while big shared pieces go out as they are, uncopied.
bool write_pieces(const std::vector<std::shared_ptr<const std::string>>& pieces, size_t offset,
                  httplib::DataSink& sink) {
  constexpr size_t kDirect = 64 * 1024;
  std::string buffer;
  auto flush = [&] {
    bool ok = buffer.empty() || sink.write(buffer.data(), buffer.size());
    buffer.clear();
    return ok;
  };
  size_t at = 0;
  for (const auto& p : pieces) {
    if (offset < at + p->size()) {
      size_t skip = offset - at;
      if (p->size() - skip >= kDirect) {
        if (!flush() || !sink.write(p->data() + skip, p->size() - skip)) {
          return false;
        }
      } else {
        buffer.append(*p, skip, std::string::npos);
        if (buffer.size() >= kDirect && !flush()) {
          return false;
        }
      }
      offset = at + p->size();
    }
    at += p->size();
  }
  return flush();
}

std::string error_json(const std::string& message) {
  json j = json::object();
  j["Error"] = message;
  return j.dump();
}

// Accepted sockets inherit the listener's options. A send buffer that holds a whole 1.6 MB
// RouteSet lets a big reply leave in one send without the worker waking up per 16-64 KiB that the
// peer drains.
void socket_options(int sock) {
  httplib::default_socket_options(sock);
  int send_buffer = 4 * 1024 * 1024;
  setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &send_buffer, sizeof(send_buffer));
}

void tune(httplib::Server& server, int threads) {
  server.new_task_queue = [threads] {
    return new httplib::ThreadPool(static_cast<size_t>(threads));
  };
  server.set_keep_alive_max_count(100000);
  server.set_keep_alive_timeout(2);
  server.set_tcp_nodelay(true);
  server.set_socket_options(socket_options);
}

std::unique_ptr<httplib::Server> make_server(int threads) {
  auto server = std::make_unique<httplib::Server>();
  tune(*server, threads);
  return server;
}

} // namespace

HttpFrontend::HttpFrontend(Emulator& emulator, MetadataService* metadata, FrontendOptions options)
    : emulator_(emulator), metadata_(metadata), options_(std::move(options)) {}

HttpFrontend::~HttpFrontend() {
  stop();
}

void HttpFrontend::install_api_routes() {
  api_->Post("/", [this](const httplib::Request& req, httplib::Response& res) {
    ApiRequest request;
    request.method = req.method;
    request.path = req.path;
    request.body = req.body;
    for (const auto& [name, value] : req.headers) {
      std::string lower = name;
      std::transform(lower.begin(), lower.end(), lower.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      request.headers[lower] = value;
    }
    ApiResponse response = emulator_.handle(request);
    if (response.delay.count() > 0) {
      std::this_thread::sleep_for(response.delay); // the injected delay is the point
    }
    res.status = 200;
    if (response.drop) {
      drop_connection(req.remote_addr, req.remote_port);
      res.set_content_provider(1, "application/json",
                               [](size_t, size_t, httplib::DataSink&) { return false; });
      return;
    }
    auto pieces = std::make_shared<std::vector<std::shared_ptr<const std::string>>>(
        std::move(response.pieces));
    size_t total = 0;
    for (const auto& p : *pieces) {
      total += p->size();
    }
    // Stream the shared pieces (a big table's cached RouteSet among them) without joining them.
    res.set_content_provider(total, "application/json",
                             [pieces](size_t offset, size_t, httplib::DataSink& sink) {
                               return write_pieces(*pieces, offset, sink);
                             });
  });

  auto admin = [this](auto handler) {
    return [this, handler](const httplib::Request& req, httplib::Response& res) {
      if (!options_.admin_from_anywhere && !is_loopback(req.remote_addr)) {
        json_reply(res, 403, R"({"Error":"admin paths answer loopback peers only"})");
        return;
      }
      handler(req, res);
    };
  };
  api_->Get("/_emulator/state", admin([this](const httplib::Request&, httplib::Response& res) {
              json_reply(res, 200, serialize_state(emulator_.vpc().snapshot()));
            }));
  api_->Get("/_emulator/counters", admin([this](const httplib::Request&, httplib::Response& res) {
              json_reply(res, 200, emulator_.counters_json());
            }));
  api_->Get("/_emulator/faults", admin([this](const httplib::Request&, httplib::Response& res) {
              json_reply(res, 200, emulator_.faults().to_json());
            }));
  api_->Put("/_emulator/faults", admin([this](const httplib::Request& req, httplib::Response& res) {
              base::Status s = emulator_.faults().configure_json(req.body);
              json_reply(res, s.ok() ? 200 : 400,
                         s.ok() ? emulator_.faults().to_json() : error_json(s.message()));
            }));
  api_->Delete("/_emulator/faults", admin([this](const httplib::Request&, httplib::Response& res) {
                 emulator_.faults().clear();
                 json_reply(res, 200, emulator_.faults().to_json());
               }));
  api_->Put("/_emulator/clock", admin([this](const httplib::Request& req, httplib::Response& res) {
              try {
                auto offset = json::parse(req.body).at("OffsetSeconds").get<std::int64_t>();
                emulator_.set_clock_offset(std::chrono::seconds(offset));
                json_reply(res, 200, fmt::format("{{\"UnixTime\":{}}}", emulator_.unix_now()));
              } catch (const json::exception& e) {
                json_reply(res, 400, error_json(e.what()));
              }
            }));
  api_->Put("/_emulator/rate-limit",
            admin([this](const httplib::Request& req, httplib::Response& res) {
              try {
                json j = json::parse(req.body);
                if (j.contains("PerSecond")) {
                  emulator_.rate_limiter().set_default(j.at("PerSecond").get<double>());
                }
                json actions = j.value("Actions", json::object());
                for (const auto& [action, limit] : actions.items()) {
                  emulator_.rate_limiter().set_action_limit(action, limit.get<double>());
                }
                json_reply(res, 200, "{}");
              } catch (const json::exception& e) {
                json_reply(res, 400, error_json(e.what()));
              }
            }));
}

void HttpFrontend::install_metadata_routes() {
  meta_->Get(".*", [this](const httplib::Request& req, httplib::Response& res) {
    MetadataReply reply = metadata_->handle(req.path, req.remote_addr,
                                            req.get_header_value("X-Emulator-Instance-Ip"));
    res.status = reply.status;
    res.set_content(reply.body, reply.content_type.c_str());
  });
}

base::Status HttpFrontend::start() {
  if (!options_.tls_cert.empty() || !options_.tls_key.empty()) {
    auto tls =
        std::make_unique<httplib::SSLServer>(options_.tls_cert.c_str(), options_.tls_key.c_str());
    if (!tls->is_valid()) {
      return base::invalid_argument(fmt::format("cannot load TLS certificate {} and key {}",
                                                options_.tls_cert, options_.tls_key));
    }
    tune(*tls, options_.threads);
    api_ = std::move(tls);
  } else {
    api_ = make_server(options_.threads);
  }
  install_api_routes();
  auto bind = [](httplib::Server& server, const ListenAddress& addr) -> base::Result<int> {
    int port = addr.port == 0 ? server.bind_to_any_port(addr.host)
                              : (server.bind_to_port(addr.host, addr.port) ? addr.port : -1);
    if (port <= 0) {
      return base::unavailable(fmt::format("cannot listen on {}:{}", addr.host, addr.port));
    }
    return port;
  };
  auto api_port = bind(*api_, options_.api);
  if (!api_port.ok()) {
    return api_port.status();
  }
  api_port_ = *api_port;
  if (options_.metadata && metadata_ != nullptr) {
    meta_ = make_server(4);
    install_metadata_routes();
    auto meta_port = bind(*meta_, *options_.metadata);
    if (!meta_port.ok()) {
      return meta_port.status();
    }
    metadata_port_ = *meta_port;
    meta_thread_ = std::jthread([this] { meta_->listen_after_bind(); });
  }
  api_thread_ = std::jthread([this] { api_->listen_after_bind(); });
  // listen_after_bind() sets is_running() only once its loop starts; wait for it (0.11.4 has no
  // wait_until_ready).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!api_->is_running() || (meta_ && !meta_->is_running())) {
    if (std::chrono::steady_clock::now() > deadline) {
      return base::unavailable("listeners did not start within 10 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return base::Status::ok_status();
}

void HttpFrontend::stop() {
  if (api_) {
    api_->stop();
  }
  if (meta_) {
    meta_->stop();
  }
  if (api_thread_.joinable()) {
    api_thread_.join();
  }
  if (meta_thread_.joinable()) {
    meta_thread_.join();
  }
}

} // namespace weft::emulator
