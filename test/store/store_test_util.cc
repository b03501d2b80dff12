#include "test/store/store_test_util.h"

#include <gtest/gtest.h>

#include <thread>

#include "base/log.h"
#include "lease/subnet_key.h"

namespace weft::test {
namespace {

std::mutex g_log_mu;
std::vector<std::string>* g_log_lines = nullptr;

void capture_sink(std::string_view line) {
  std::lock_guard lock(g_log_mu);
  if (g_log_lines != nullptr) {
    g_log_lines->emplace_back(line);
  }
}

} // namespace

config::NetConfig net_config(const std::string& json) {
  auto c = config::parse_net_config(json);
  EXPECT_TRUE(c.ok()) << c.status().to_string();
  if (!c.ok()) {
    std::abort();
  }
  auto st = config::check_net_config(*c);
  EXPECT_TRUE(st.ok()) << st.to_string();
  return *c;
}

lease::LeaseAttrs attrs_for(int node) {
  lease::LeaseAttrs a;
  a.public_ip = net::Ip4Addr((192u << 24) | (168u << 16) | static_cast<std::uint32_t>(node));
  a.backend_type = "vxlan";
  a.backend_data = fmt::format(R"({{"VNI":1,"VtepMAC":"02:00:00:00:{:02x}:{:02x}"}})",
                               (node >> 8) & 0xff, node & 0xff);
  return a;
}

store::etcd::EtcdStoreConfig store_config(const EtcdCluster& cluster) {
  store::etcd::EtcdStoreConfig c;
  c.endpoints = cluster.endpoints();
  c.call_timeout = std::chrono::milliseconds(3000);
  c.keepalive_time = std::chrono::milliseconds(2000);
  c.keepalive_timeout = std::chrono::milliseconds(2000);
  if (!cluster.ca_file().empty()) {
    c.cafile = cluster.ca_file();
    c.certfile = cluster.client_cert_file();
    c.keyfile = cluster.client_key_file();
  }
  return c;
}

bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (cond()) {
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void LeaseModel::apply(const store::LeaseBatch& batch) {
  std::lock_guard lock(mu_);
  if (batch.reset) {
    ++resets_;
    leases_.clear();
    for (const auto& l : batch.snapshot) {
      const auto key = lease::make_subnet_key(l.subnet, l.ipv6_subnet);
      leases_[key] = l;
      added_.push_back(key);
    }
  }
  for (const auto& ev : batch.events) {
    const auto key = lease::make_subnet_key(ev.lease.subnet, ev.lease.ipv6_subnet);
    if (ev.type == store::LeaseEvent::Type::kAdded) {
      leases_[key] = ev.lease;
      added_.push_back(key);
    } else {
      leases_.erase(key);
    }
  }
}

std::map<std::string, lease::Lease> LeaseModel::leases() const {
  std::lock_guard lock(mu_);
  return leases_;
}

int LeaseModel::resets() const {
  std::lock_guard lock(mu_);
  return resets_;
}

std::vector<std::string> LeaseModel::added_keys() const {
  std::lock_guard lock(mu_);
  return added_;
}

bool LeaseModel::has(const std::string& subnet_key) const {
  std::lock_guard lock(mu_);
  return leases_.count(subnet_key) > 0;
}

LogCapture::LogCapture() {
  std::lock_guard lock(g_log_mu);
  g_log_lines = new std::vector<std::string>();
  base::set_log_sink(&capture_sink);
}

LogCapture::~LogCapture() {
  base::set_log_sink(nullptr);
  std::lock_guard lock(g_log_mu);
  delete g_log_lines;
  g_log_lines = nullptr;
}

int LogCapture::count(const std::string& needle) const {
  std::lock_guard lock(g_log_mu);
  int n = 0;
  for (const auto& l : *g_log_lines) {
    if (l.find(needle) != std::string::npos) {
      ++n;
    }
  }
  return n;
}

} // namespace weft::test

namespace weft::test {
std::string LogCapture::dump() const {
  std::lock_guard lock(g_log_mu);
  std::string out;
  for (const auto& l : *g_log_lines) {
    out += l;
    out += "\n";
  }
  return out;
}
} // namespace weft::test
