#pragma once
// Router mode: keeps the main routing table of a named network namespace (the "VPC router") equal
// to the enabled NORMAL_CVM routes of the route tables, as "<dst> via <instance ip> proto N". It
// owns only routes with its protocol number and leaves every other route alone.

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "base/status.h"
#include "vpc_service.h"

namespace weft::emulator {

// Runs a program with arguments (argv[0] looked up in PATH) and waits; error on a non-zero exit.
base::Status run_command(const std::vector<std::string>& argv);

class RouterSync {
public:
  virtual ~RouterSync() = default;
  virtual void apply(const KernelRoutes& desired) = 0;
};

// Programs the namespace with `ip -n <netns> route ...`.
class IpRouteSync final : public RouterSync {
public:
  static constexpr int kDefaultProtocol = 199;

  IpRouteSync(std::string netns, int protocol = kDefaultProtocol);
  // Removes the routes of our protocol left by an earlier run.
  base::Status flush();
  void apply(const KernelRoutes& desired) override;
  KernelRoutes installed() const;

private:
  std::string netns_;
  std::string protocol_;
  mutable std::mutex mu_;
  KernelRoutes installed_;
};

} // namespace weft::emulator
