#pragma once
// The emulator's HTTP(S) listeners: the API (POST / plus admin paths under /_emulator/) and the
// instance metadata service on its own address. A thin adapter over cpp-httplib.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "base/status.h"
#include "emulator.h"
#include "metadata.h"

namespace httplib {
class Server;
}

namespace weft::emulator {

struct ListenAddress {
  std::string host;
  int port = 0; // 0: any free port
};

// "127.0.0.1:8080" (port 0 picks a free port).
base::Result<ListenAddress> parse_listen_address(std::string_view text);

struct FrontendOptions {
  ListenAddress api{"127.0.0.1", 0};
  std::optional<ListenAddress> metadata;
  std::string tls_cert; // both set: the API listener speaks HTTPS
  std::string tls_key;
  int threads = 8;
  bool admin_from_anywhere = false; // otherwise the admin paths answer loopback peers only
};

class HttpFrontend {
public:
  HttpFrontend(Emulator& emulator, MetadataService* metadata, FrontendOptions options);
  ~HttpFrontend();
  HttpFrontend(const HttpFrontend&) = delete;
  HttpFrontend& operator=(const HttpFrontend&) = delete;

  // Binds both listeners and serves them on their own threads.
  base::Status start();
  void stop();
  int api_port() const { return api_port_; }
  int metadata_port() const { return metadata_port_; }

private:
  void install_api_routes();
  void install_metadata_routes();

  Emulator& emulator_;
  MetadataService* metadata_;
  FrontendOptions options_;
  std::unique_ptr<httplib::Server> api_;
  std::unique_ptr<httplib::Server> meta_;
  std::jthread api_thread_;
  std::jthread meta_thread_;
  int api_port_ = 0;
  int metadata_port_ = 0;
};

} // namespace weft::emulator
