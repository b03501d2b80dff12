#pragma once
// test::Netns: a throwaway network namespace for integration tests that need root. It is named
// weft-t-<pid>-<n>, runs commands inside it (`ip netns exec`), runs code on a thread that has
// entered it (setns), and is deleted in the destructor. Nothing here touches the root namespace.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

namespace weft::test {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class Netns {
public:
  // Creates a fresh namespace; the loopback link is brought up.
  static base::Result<std::unique_ptr<Netns>> create();
  ~Netns();
  Netns(const Netns&) = delete;
  Netns& operator=(const Netns&) = delete;

  const std::string& name() const { return name_; }

  // Runs argv inside the namespace (`ip netns exec <name> argv...`), with optional stdin.
  CommandResult exec(const std::vector<std::string>& argv,
                     const std::string& stdin_data = {}) const;
  // Runs a shell command line inside the namespace.
  CommandResult sh(const std::string& command) const;
  // The prefix that makes a command run inside the namespace.
  std::vector<std::string> exec_prefix() const { return {"ip", "netns", "exec", name_}; }

  // Runs fn on a new thread that has joined the namespace, and waits for it. fn is not called
  // (and an error is returned) if joining fails, so it never runs in the root namespace.
  // Sockets made inside fn (netlink) stay bound to this namespace after the thread ends.
  base::Status run(const std::function<void()>& fn) const;

private:
  explicit Netns(std::string name) : name_(std::move(name)) {}
  std::string name_;
};

// Moves one end of a new veth pair into each namespace: `a_name` in a, `b_name` in b. The pair
// is created inside namespace a, so the root namespace never holds it.
base::Status make_veth_pair(const Netns& a, const std::string& a_name, const Netns& b,
                            const std::string& b_name);

} // namespace weft::test
