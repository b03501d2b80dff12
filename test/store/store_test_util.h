#pragma once
// Helpers shared by the etcd store suites: configs, attrs, waiting for a condition with a
// deadline, and a lease-set model fed by watch batches.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "store/etcd/etcd_store.h"
#include "test/support/etcd_cluster.h"

namespace weft::test {

// A NetConfig as parse_net_config would give for this JSON (aborts the test on error).
config::NetConfig net_config(const std::string& json);

lease::LeaseAttrs attrs_for(int node); // PublicIP 192.168.<n/256>.<n%256>, vxlan data

store::etcd::EtcdStoreConfig store_config(const EtcdCluster& cluster);

// Polls `cond` every 10 ms until true or the deadline; returns its last value.
bool wait_until(const std::function<bool()>& cond,
                std::chrono::milliseconds timeout = std::chrono::seconds(20));

// Applies watch batches: subnet key -> lease.
class LeaseModel {
public:
  void apply(const store::LeaseBatch& batch);
  std::map<std::string, lease::Lease> leases() const;
  int resets() const;
  std::vector<std::string> added_keys() const; // every key ever added, in order
  bool has(const std::string& subnet_key) const;

private:
  mutable std::mutex mu_;
  std::map<std::string, lease::Lease> leases_;
  std::vector<std::string> added_;
  int resets_ = 0;
};

// Captures log lines while alive.
class LogCapture {
public:
  LogCapture();
  ~LogCapture();
  int count(const std::string& needle) const;
  std::string dump() const;
};

} // namespace weft::test
