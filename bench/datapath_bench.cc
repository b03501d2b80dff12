// Data plane benchmark (issue 4): a weftd joining a cluster of N existing leases, against a real
// etcd and the real kernel of the network namespace datapath_bench.sh made. Prints start to
// subnet.env, start to every kernel entry, lease change to kernel entry latency, peak memory and
// CPU, with the targets and the delta to a baseline beside them. Never fails on time.

#include <fcntl.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <arpa/inet.h>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/log.h"
#include "kernel/netlink.h"
#include "lease/lease.h"
#include "lease/subnet_key.h"
#include "net/ip_net.h"
#include "store/etcd/etcd_client.h"
#include "test/support/etcd_cluster.h"

extern char** environ;

namespace {

using namespace weft;
using Clock = std::chrono::steady_clock;

constexpr const char* kPrefix = "/coreos.com/network";
constexpr const char* kUplink = "up0";
constexpr std::uint32_t kUplinkIp = (10u << 24) | (250u << 16) | 1u; // 10.250.0.1
constexpr int kWeftProtocol = 247;
constexpr std::size_t kTxnOps = 128; // etcd's default --max-txn-ops
constexpr auto kStartDeadline = std::chrono::seconds(60);
// Every start begins on a settled machine, as a node joins a quiet cluster: no kernel
// notification for this long (the previous start's entries and their removal all read, etcd's
// batch of the deleted lease committed; its backend commits every 100 ms).
constexpr auto kSettle = std::chrono::milliseconds(150);
constexpr auto kChangeDeadline = std::chrono::seconds(10);

// A failed step: thrown up to main() so the destructors stop weftd and etcd on the way.
struct BenchError {
  std::string what;
};

[[noreturn]] void die(const std::string& what) {
  throw BenchError{what};
}

void check(const base::Status& st, const std::string& what) {
  if (!st.ok()) {
    die(what + ": " + st.to_string());
  }
}

double ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double pct(std::vector<double> v, double p) {
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[i];
}

// Lease i of the cluster: subnet 10.(i/256).(i%256).0/24 (second octet never 250), public IP
// 10.250.((i+2)/256).((i+2)%256) (never .0.0 or .0.1), VTEP MAC 0e:00:00 + i+1.
struct BenchLease {
  std::uint32_t subnet = 0; // network address, host order
  std::uint32_t public_ip = 0;
  std::uint64_t mac = 0; // 48 bits
};

BenchLease bench_lease(std::uint32_t i) {
  BenchLease l;
  std::uint32_t hi = i >> 8;
  if (hi >= 250) {
    ++hi;
  }
  l.subnet = (10u << 24) | (hi << 16) | ((i & 0xff) << 8);
  const std::uint32_t k = i + 2;
  l.public_ip = (10u << 24) | (250u << 16) | (k & 0xffff);
  l.mac = (0x0eULL << 40) | (i + 1);
  return l;
}

std::string mac_text(std::uint64_t mac) {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", (mac >> 40) & 0xff,
                     (mac >> 32) & 0xff, (mac >> 24) & 0xff, (mac >> 16) & 0xff, (mac >> 8) & 0xff,
                     mac & 0xff);
}

std::string lease_key(const BenchLease& l) {
  return std::string(kPrefix) + "/subnets/" +
         lease::make_subnet_key(net::Ip4Net(net::Ip4Addr(l.subnet), 24), std::nullopt);
}

std::string lease_value(const BenchLease& l, bool vxlan) {
  lease::LeaseAttrs a;
  a.public_ip = net::Ip4Addr(l.public_ip);
  if (vxlan) {
    a.backend_type = "vxlan";
    a.backend_data = fmt::format(R"({{"VNI":1,"VtepMAC":"{}"}})", mac_text(l.mac));
  } else {
    a.backend_type = "host-gw";
    a.backend_data = "null";
  }
  return lease::to_json(a);
}

// Watches the kernel (route and neighbour multicast groups of a raw NETLINK_ROUTE socket) and the
// subnet file's directory (inotify), recording when each entry of interest first appeared.
class KernelWatch {
public:
  struct Kind {
    std::unordered_set<std::uint64_t> want;
    std::unordered_map<std::uint64_t, Clock::time_point> seen;
    std::size_t matched = 0;
    std::optional<Clock::time_point> complete_at;
  };

  KernelWatch(const std::string& dir, const std::string& file) : file_(file) {
    nl_ = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (nl_ < 0) {
      die(std::string("netlink socket: ") + std::strerror(errno));
    }
    // A node joining 5000 leases gets 15000 notifications in a burst; keep them all.
    int size = 256 << 20;
    if (::setsockopt(nl_, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0) {
      (void)::setsockopt(nl_, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
    sockaddr_nl sa{};
    sa.nl_family = AF_NETLINK;
    sa.nl_groups = RTMGRP_IPV4_ROUTE | RTMGRP_NEIGH;
    if (::bind(nl_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      die(std::string("netlink bind: ") + std::strerror(errno));
    }
    ino_ = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (ino_ < 0 || ::inotify_add_watch(ino_, dir.c_str(), IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
      die(std::string("inotify: ") + std::strerror(errno));
    }
    stop_ = ::eventfd(0, EFD_CLOEXEC);
    thread_ = std::thread([this] { loop(); });
  }

  ~KernelWatch() {
    const std::uint64_t one = 1;
    (void)!::write(stop_, &one, sizeof one);
    thread_.join();
    ::close(nl_);
    ::close(ino_);
    ::close(stop_);
  }

  KernelWatch(const KernelWatch&) = delete;
  KernelWatch& operator=(const KernelWatch&) = delete;

  // Entries to count towards "all present" (route and neighbour keys: subnet address; FDB: MAC).
  void expect(std::vector<std::uint64_t> routes, std::vector<std::uint64_t> neighs,
              std::vector<std::uint64_t> fdb) {
    std::lock_guard lock(mu_);
    routes_.want.insert(routes.begin(), routes.end());
    neighs_.want.insert(neighs.begin(), neighs.end());
    fdb_.want.insert(fdb.begin(), fdb.end());
  }

  // Waits until no route or neighbour notification has arrived for `quiet` (at most 10 s): the
  // previous start's entries and their removal are all seen, and the machine has settled.
  void wait_quiet(std::chrono::milliseconds quiet) {
    const auto give_up = Clock::now() + std::chrono::seconds(10);
    std::unique_lock lock(mu_);
    while (Clock::now() < give_up) {
      const auto until = last_event_ + quiet;
      if (Clock::now() >= until) {
        return;
      }
      cv_.wait_until(lock, until);
    }
  }

  // Waits until pred (called under the lock) holds or the deadline passes.
  bool wait(Clock::time_point deadline, const std::function<bool()>& pred) {
    std::unique_lock lock(mu_);
    return cv_.wait_until(lock, deadline, pred);
  }

  // Accessors for use inside wait() predicates and after it returned (they take no lock).
  const Kind& routes() const { return routes_; }
  const Kind& neighs() const { return neighs_; }
  const Kind& fdb() const { return fdb_; }
  std::optional<Clock::time_point> file_at() const { return file_at_; }
  // Forgets that the subnet file was seen, so that its next write is timed.
  void reset_file() {
    std::lock_guard lock(mu_);
    file_at_.reset();
  }
  // Forgets every entry seen (after they were deleted), so that the next join is timed from none.
  void reset_entries() {
    std::lock_guard lock(mu_);
    for (Kind* k : {&routes_, &neighs_, &fdb_}) {
      k->seen.clear();
      k->matched = 0;
      k->complete_at.reset();
    }
  }

  std::mutex& mu() { return mu_; }
  bool overflowed() const { return overflow_; }

private:
  static void record(Kind& k, std::uint64_t key, Clock::time_point now) {
    if (k.seen.emplace(key, now).second && k.want.count(key) != 0) {
      ++k.matched;
      if (k.matched == k.want.size()) {
        k.complete_at = now;
      }
    }
  }

  static void forget(Kind& k, std::uint64_t key) {
    if (k.seen.erase(key) != 0 && k.want.count(key) != 0) {
      --k.matched;
    }
  }

  void on_route(const nlmsghdr* h, Clock::time_point now) {
    const auto* r = static_cast<const rtmsg*>(NLMSG_DATA(h));
    if (r->rtm_family != AF_INET || r->rtm_protocol != kWeftProtocol ||
        r->rtm_table != RT_TABLE_MAIN) {
      return;
    }
    int len = static_cast<int>(RTM_PAYLOAD(h));
    for (const rtattr* a = RTM_RTA(r); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
      if (a->rta_type == RTA_DST && RTA_PAYLOAD(a) == 4) {
        std::uint32_t dst = 0;
        std::memcpy(&dst, RTA_DATA(a), 4);
        if (h->nlmsg_type == RTM_NEWROUTE) {
          record(routes_, ntohl(dst), now);
        } else {
          forget(routes_, ntohl(dst));
        }
      }
    }
  }

  void on_neigh(const nlmsghdr* h, Clock::time_point now) {
    const auto* n = static_cast<const ndmsg*>(NLMSG_DATA(h));
    if ((n->ndm_state & NUD_PERMANENT) == 0) {
      return;
    }
    std::optional<std::uint32_t> dst;
    std::optional<std::uint64_t> mac;
    int len = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof(ndmsg)));
    for (const rtattr* a = reinterpret_cast<const rtattr*>(reinterpret_cast<const char*>(n) +
                                                           NLMSG_ALIGN(sizeof(ndmsg)));
         RTA_OK(a, len); a = RTA_NEXT(a, len)) {
      if (a->rta_type == NDA_DST && RTA_PAYLOAD(a) == 4) {
        std::uint32_t d = 0;
        std::memcpy(&d, RTA_DATA(a), 4);
        dst = ntohl(d);
      } else if (a->rta_type == NDA_LLADDR && RTA_PAYLOAD(a) == 6) {
        const auto* b = static_cast<const unsigned char*>(RTA_DATA(a));
        std::uint64_t m = 0;
        for (int i = 0; i < 6; ++i) {
          m = (m << 8) | b[i];
        }
        mac = m;
      }
    }
    const bool add = h->nlmsg_type == RTM_NEWNEIGH;
    if (n->ndm_family == AF_INET && dst) {
      if (add) {
        record(neighs_, *dst, now);
      } else {
        forget(neighs_, *dst);
      }
    } else if (n->ndm_family == AF_BRIDGE && mac && dst) {
      if (add) {
        record(fdb_, *mac, now);
      } else {
        forget(fdb_, *mac);
      }
    }
  }

  void read_netlink() {
    std::vector<char> buf(1 << 20);
    while (true) {
      const ssize_t n = ::recv(nl_, buf.data(), buf.size(), MSG_DONTWAIT);
      if (n < 0) {
        if (errno == ENOBUFS) {
          overflow_ = true;
          continue;
        }
        return; // EAGAIN
      }
      const auto now = Clock::now();
      std::lock_guard lock(mu_);
      last_event_ = now;
      const auto size = static_cast<std::size_t>(n);
      for (std::size_t off = 0; off + sizeof(nlmsghdr) <= size;) {
        const auto* h = reinterpret_cast<const nlmsghdr*>(buf.data() + off);
        if (h->nlmsg_len < sizeof(nlmsghdr) || off + h->nlmsg_len > size) {
          break;
        }
        if (h->nlmsg_type == RTM_NEWROUTE || h->nlmsg_type == RTM_DELROUTE) {
          on_route(h, now);
        } else if (h->nlmsg_type == RTM_NEWNEIGH || h->nlmsg_type == RTM_DELNEIGH) {
          on_neigh(h, now);
        }
        off += NLMSG_ALIGN(h->nlmsg_len);
      }
      cv_.notify_all();
    }
  }

  void read_inotify() {
    alignas(inotify_event) char buf[4096];
    ssize_t n;
    while ((n = ::read(ino_, buf, sizeof buf)) > 0) {
      const auto now = Clock::now();
      for (ssize_t off = 0; off < n;) {
        const auto* e = reinterpret_cast<const inotify_event*>(buf + off);
        if (e->len > 0 && file_ == e->name) {
          std::lock_guard lock(mu_);
          if (!file_at_) {
            file_at_ = now;
          }
          cv_.notify_all();
        }
        off += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
      }
    }
  }

  void loop() {
    // The observer must not lag what it times: under round-robin scheduling, a watcher that has
    // just read 15000 notifications waits behind weftd's threads for milliseconds before it
    // reads an event. Real-time priority 1 reads each at once (a root bench; best effort).
    const sched_param rt{1};
    (void)::pthread_setschedparam(::pthread_self(), SCHED_FIFO, &rt);
    pollfd fds[3] = {{nl_, POLLIN, 0}, {ino_, POLLIN, 0}, {stop_, POLLIN, 0}};
    while (true) {
      if (::poll(fds, 3, -1) < 0) {
        if (errno == EINTR) {
          continue;
        }
        std::fprintf(stderr, "kernel watch: poll: %s\n", std::strerror(errno));
        return;
      }
      if (fds[2].revents != 0) {
        return;
      }
      if (fds[0].revents != 0) {
        read_netlink();
      }
      if (fds[1].revents != 0) {
        read_inotify();
      }
    }
  }

  std::string file_;
  int nl_ = -1;
  int ino_ = -1;
  int stop_ = -1;
  std::mutex mu_;
  std::condition_variable cv_;
  Kind routes_;
  Kind neighs_;
  Kind fdb_;
  std::optional<Clock::time_point> file_at_;
  Clock::time_point last_event_ = Clock::now();
  bool overflow_ = false;
  std::thread thread_;
};

// CPU and memory of a process from /proc.
struct ProcSample {
  double cpu_ms = 0;       // utime + stime of all threads (clock-tick resolution)
  double run_ms = 0;       // sum of the live threads' schedstat run time (ns resolution)
  double vm_rss_mb = 0;    // VmRSS
  double vm_hwm_mb = 0;    // VmHWM
  double rss_anon_mb = 0;  // RssAnon (heap and stacks; the rest of VmRSS is mapped files)
  double child_cpu_ms = 0; // cutime + cstime of reaped children (iptables-save and the like)
  std::size_t threads = 0;
};

ProcSample sample(pid_t pid) {
  ProcSample s;
  const std::string base = "/proc/" + std::to_string(pid);
  {
    std::ifstream in(base + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto close = text.rfind(')');
    if (close != std::string::npos) {
      std::istringstream rest(text.substr(close + 2));
      std::vector<std::string> f;
      std::string tok;
      while (rest >> tok) {
        f.push_back(tok);
      }
      if (f.size() > 14) {
        const double tick_ms = 1000.0 / static_cast<double>(::sysconf(_SC_CLK_TCK));
        s.cpu_ms = static_cast<double>(std::stoull(f[11]) + std::stoull(f[12])) * tick_ms;
        s.child_cpu_ms = static_cast<double>(std::stoull(f[13]) + std::stoull(f[14])) * tick_ms;
      }
    }
  }
  {
    std::ifstream in(base + "/status");
    std::string line;
    while (std::getline(in, line)) {
      long kb = 0;
      if (std::sscanf(line.c_str(), "VmRSS: %ld kB", &kb) == 1) {
        s.vm_rss_mb = static_cast<double>(kb) / 1024.0;
      } else if (std::sscanf(line.c_str(), "VmHWM: %ld kB", &kb) == 1) {
        s.vm_hwm_mb = static_cast<double>(kb) / 1024.0;
      } else if (std::sscanf(line.c_str(), "RssAnon: %ld kB", &kb) == 1) {
        s.rss_anon_mb = static_cast<double>(kb) / 1024.0;
      }
    }
  }
  std::error_code ec;
  for (const auto& t : std::filesystem::directory_iterator(base + "/task", ec)) {
    std::ifstream in(t.path() / "schedstat");
    unsigned long long run_ns = 0;
    if (in >> run_ns) {
      s.run_ms += static_cast<double>(run_ns) / 1e6;
      ++s.threads;
    }
  }
  return s;
}

class Weftd {
public:
  Weftd(const std::string& binary, const std::vector<std::string>& args, const std::string& log) {
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(binary.c_str()));
    for (const auto& a : args) {
      argv.push_back(const_cast<char*>(a.c_str()));
    }
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    started_ = Clock::now();
    const int rc = ::posix_spawn(&pid_, binary.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
      die("spawning " + binary + ": " + std::strerror(rc));
    }
  }

  ~Weftd() { stop(); }
  Weftd(const Weftd&) = delete;
  Weftd& operator=(const Weftd&) = delete;

  pid_t pid() const { return pid_; }
  Clock::time_point started() const { return started_; }
  bool alive() {
    if (pid_ <= 0) {
      return false;
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }

  // SIGTERM, then SIGKILL after 5 s; always reaps.
  void stop() {
    if (pid_ <= 0) {
      return;
    }
    ::kill(pid_, SIGTERM);
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (Clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = -1;
  }

private:
  pid_t pid_ = -1;
  Clock::time_point started_;
};

// A temporary directory for subnet.env and the weftd log, removed with everything in it. On a
// tmpfs, as /run/flannel is on a node: weftd fsyncs subnet.env, which costs milliseconds on a
// disk and nothing on a tmpfs.
class TempDir {
public:
  TempDir() {
    char name[] = "/dev/shm/weft-datapath-bench.XXXXXX";
    if (::mkdtemp(name) == nullptr) {
      die(std::string("mkdtemp: ") + std::strerror(errno));
    }
    path_ = name;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

private:
  std::string path_;
};

// Writes leases [from, to) with Txn batches of kTxnOps puts.
void bulk_load(store::etcd::EtcdClient& etcd, std::uint32_t from, std::uint32_t to, bool vxlan) {
  for (std::uint32_t i = from; i < to;) {
    std::vector<std::pair<std::string, std::string>> kvs;
    for (std::size_t n = 0; n < kTxnOps && i < to; ++n, ++i) {
      const BenchLease l = bench_lease(i);
      kvs.emplace_back(lease_key(l), lease_value(l, vxlan));
    }
    check(etcd.put_all(kvs).status(), "bulk load Txn");
  }
}

// The kernel state weftd leaves behind (routes, flannel.1) goes before the next case.
void clean_kernel() {
  (void)test::run_command({"ip", "route", "flush", "proto", std::to_string(kWeftProtocol)});
  if (test::run_command({"ip", "link", "show", "flannel.1"}).ok()) {
    (void)test::run_command({"ip", "link", "del", "flannel.1"});
  }
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// From weftd's log line "wrote <file> (...) A ms after the start, B ms of it waiting for etcd": B,
// the time its start spent waiting for etcd's answers (nullopt when the line is missing).
std::optional<double> etcd_wait_ms(const std::string& log) {
  const std::string tail = " ms of it waiting for etcd";
  const auto end = log.find(tail);
  if (end == std::string::npos) {
    return std::nullopt;
  }
  const auto begin = log.rfind(' ', end - 1);
  if (begin == std::string::npos) {
    return std::nullopt;
  }
  try {
    return std::stod(log.substr(begin + 1, end - begin - 1));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// FLANNEL_SUBNET=10.x.y.1/24 -> 10.x.y.0 (host order); 0 when absent.
std::uint32_t own_subnet(const std::string& env) {
  const auto p = env.find("FLANNEL_SUBNET=");
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (p == std::string::npos ||
      std::sscanf(env.c_str() + p, "FLANNEL_SUBNET=%u.%u.%u.%u", &a, &b, &c, &d) != 4) {
    return 0;
  }
  return (a << 24) | (b << 16) | (c << 8);
}

struct Figures {
  std::map<std::string, double> values; // key "<backend>.<n>.<figure>"
  std::vector<std::string> order;
  std::vector<std::string> notes;
  void set(const std::string& key, double v) {
    if (values.emplace(key, v).second) {
      order.push_back(key);
    } else {
      values[key] = v;
    }
  }
  std::optional<double> get(const std::string& key) const {
    const auto it = values.find(key);
    return it == values.end() ? std::nullopt : std::optional<double>(it->second);
  }
};

struct Case {
  std::string backend; // host-gw | vxlan
  std::uint32_t leases = 0;
};

struct Options {
  std::string weftd;
  std::string netns;
  std::string baseline;
  bool write_baseline = false;
  bool show_log = false;
  std::vector<Case> cases;
  int changes = 200;
  int idle_seconds = 5;
  int joins = 5; // fresh joins timed per case; the start figures are their median
};

// One join's start figures (ms from the spawn).
struct JoinTimes {
  double subnet_env = 0;
  std::optional<double> etcd; // the start's wait for etcd, from weftd's log
  double routes = 0;
  double neighbours = 0;
  double fdb = 0;
  double all_entries = 0;
};

// The join's figures once subnet.env is written and every expected entry is in the kernel
// (called under the watch's lock).
JoinTimes join_times(KernelWatch& watch, Clock::time_point t0, bool vxlan) {
  JoinTimes j;
  j.subnet_env = ms(*watch.file_at() - t0);
  if (watch.routes().complete_at) {
    j.routes = ms(*watch.routes().complete_at - t0);
    j.all_entries = j.routes;
  }
  if (vxlan && watch.neighs().complete_at && watch.fdb().complete_at) {
    j.neighbours = ms(*watch.neighs().complete_at - t0);
    j.fdb = ms(*watch.fdb().complete_at - t0);
    j.all_entries = std::max({j.routes, j.neighbours, j.fdb});
  }
  return j;
}

// The start figures of a case: the median of its joins, and the fastest and slowest subnet.env.
// Not final: the first join's, which only place the figures in the report's order.
void set_join_figures(Figures& fig, const std::string& tag, const std::vector<JoinTimes>& joins,
                      bool vxlan, bool with_entries, bool final) {
  auto median = [&](auto field) {
    std::vector<double> v;
    for (const auto& j : joins) {
      v.push_back(field(j));
    }
    return pct(v, 0.5);
  };
  std::vector<double> env;
  std::vector<double> etcd;
  std::vector<double> own;
  for (const auto& j : joins) {
    env.push_back(j.subnet_env);
    if (j.etcd) {
      etcd.push_back(*j.etcd);
      own.push_back(j.subnet_env - *j.etcd);
    }
  }
  fig.set(tag + "subnet_env_ms", pct(env, 0.5));
  fig.set(tag + "subnet_env_min_ms", *std::min_element(env.begin(), env.end()));
  fig.set(tag + "subnet_env_max_ms", *std::max_element(env.begin(), env.end()));
  if (etcd.size() == joins.size() || !final) {
    fig.set(tag + "subnet_env_etcd_ms", pct(etcd, 0.5));
    fig.set(tag + "subnet_env_own_ms", pct(own, 0.5));
  } else {
    fig.notes.push_back(tag + "subnet_env_ms: no \"waiting for etcd\" figure in a weftd log");
  }
  if (with_entries) {
    fig.set(tag + "routes_ms", median([](const JoinTimes& j) { return j.routes; }));
    if (vxlan) {
      fig.set(tag + "neighbours_ms", median([](const JoinTimes& j) { return j.neighbours; }));
      fig.set(tag + "fdb_ms", median([](const JoinTimes& j) { return j.fdb; }));
    }
    fig.set(tag + "all_entries_ms", median([](const JoinTimes& j) { return j.all_entries; }));
    std::vector<double> all;
    for (const auto& j : joins) {
      all.push_back(j.all_entries);
    }
    fig.set(tag + "all_entries_max_ms", *std::max_element(all.begin(), all.end()));
  }
}

void run_case(const Options& o, const Case& c, Figures& fig) {
  const bool vxlan = c.backend == "vxlan";
  const std::string tag =
      (vxlan ? std::string("vxlan.") : std::string("host-gw.")) + std::to_string(c.leases) + ".";
  std::fprintf(stderr, "== %s, %u leases\n", c.backend.c_str(), c.leases);
  clean_kernel();

  auto cluster = test::EtcdCluster::start();
  check(cluster.status(), "starting etcd");
  store::etcd::ClientConfig cc;
  cc.endpoints = (*cluster)->endpoints();
  auto client = store::etcd::EtcdClient::create(cc);
  check(client.status(), "etcd client");
  auto& etcd = **client;
  const std::string config = fmt::format(R"({{"Network":"10.0.0.0/8","SubnetLen":24,)"
                                         R"("Backend":{{"Type":"{}"}}}})",
                                         c.backend);
  check(etcd.put(std::string(kPrefix) + "/config", config).status(), "writing the config");

  const auto load0 = Clock::now();
  bulk_load(etcd, 0, c.leases, vxlan);
  std::fprintf(stderr, "   bulk load of %u leases: %.0f ms\n", c.leases, ms(Clock::now() - load0));

  const TempDir tmp;
  const std::string& dir = tmp.path();
  const std::string subnet_file = dir + "/subnet.env";
  const std::string log = dir + "/weftd.log";

  KernelWatch watch(dir, "subnet.env");
  {
    std::vector<std::uint64_t> routes;
    std::vector<std::uint64_t> macs;
    for (std::uint32_t i = 0; i < c.leases; ++i) {
      const BenchLease l = bench_lease(i);
      routes.push_back(l.subnet);
      macs.push_back(l.mac);
    }
    watch.expect(routes, vxlan ? routes : std::vector<std::uint64_t>{},
                 vxlan ? macs : std::vector<std::uint64_t>{});
  }

  // Every start of the case (the join, the restarts, the further joins) runs weftd so.
  const std::vector<std::string> weftd_args = {
      "--etcd-endpoints=" + (*cluster)->endpoint(0), std::string("--iface=") + kUplink,
      "--subnet-file=" + subnet_file, "--resync-interval=30"};
  // Every expected entry is in the kernel (called under the watch's lock).
  auto entries_complete = [&] {
    return watch.routes().complete_at &&
           (!vxlan || (watch.neighs().complete_at && watch.fdb().complete_at));
  };
  watch.wait_quiet(kSettle);
  Weftd weftd(o.weftd, weftd_args, log);
  const auto t0 = weftd.started();
  const auto start_deadline = t0 + kStartDeadline;
  auto fail = [&](const std::string& what) {
    std::fprintf(stderr, "---- weftd log (tail) ----\n%s\n", read_text(log).c_str());
    die(what);
  };

  // (a) start -> subnet.env; (b) start -> every entry in the kernel.
  if (!watch.wait(start_deadline, [&] { return watch.file_at().has_value(); })) {
    fail("no subnet.env within 60 s");
  }
  const bool all = c.leases == 0 || watch.wait(start_deadline, entries_complete);
  const ProcSample after_start = sample(weftd.pid());
  if (!weftd.alive()) {
    fail("weftd exited");
  }
  std::uint32_t own = 0;
  std::vector<JoinTimes> joins; // the first join, then (f)'s
  {
    std::lock_guard lock(watch.mu());
    if (c.leases > 0 && !all) {
      fail(fmt::format("only {} routes, {} neighbours, {} FDB entries of {} after 60 s",
                       watch.routes().matched, watch.neighs().matched, watch.fdb().matched,
                       c.leases));
    }
    joins.push_back(join_times(watch, t0, vxlan));
    own = own_subnet(read_text(subnet_file));
  }
  set_join_figures(fig, tag, joins, vxlan, c.leases > 0, /*final=*/false); // (f) sets them
  fig.set(tag + "startup_cpu_ms", after_start.cpu_ms);
  fig.set(tag + "startup_child_cpu_ms", after_start.child_cpu_ms);

  // The multicast view checked against a dump of the kernel.
  auto nl = kernel::make_netlink();
  check(nl.status(), "netlink");
  {
    auto routes = (*nl)->list_routes(AF_INET, 254, kWeftProtocol);
    check(routes.status(), "listing routes");
    std::size_t n = routes->size();
    std::size_t least = n;
    std::string extra;
    if (vxlan) {
      auto link = (*nl)->link_by_name("flannel.1");
      check(link.status(), "flannel.1");
      auto neighs = (*nl)->list_neighbours(link->index);
      auto fdb = (*nl)->list_fdb(link->index);
      check(neighs.status(), "listing neighbours");
      check(fdb.status(), "listing fdb");
      extra = fmt::format(", {} permanent neighbours and {} FDB entries on flannel.1",
                          neighs->size(), fdb->size());
      least = std::min({n, neighs->size(), fdb->size()});
    }
    if (least < c.leases) {
      fig.notes.push_back(tag + ": the kernel dump holds fewer entries than leases");
    }
    std::fprintf(stderr, "   kernel dump: %zu routes with protocol %d%s%s\n", n, kWeftProtocol,
                 extra.c_str(), watch.overflowed() ? " (multicast overflowed!)" : "");
    if (watch.overflowed()) {
      fig.notes.push_back(tag + ": netlink multicast overflowed; its timings may be late");
    }
  }

  // (c) One lease change at a time: time from just before the etcd put to its kernel entries.
  std::vector<double> latency;
  std::vector<double> put_rtt;
  std::uint32_t next = c.leases;
  for (int k = 0; k < o.changes; ++k, ++next) {
    BenchLease l = bench_lease(next);
    if (l.subnet == own) {
      l = bench_lease(++next);
    }
    const auto before = Clock::now();
    check(etcd.put(lease_key(l), lease_value(l, vxlan)).status(), "lease put");
    put_rtt.push_back(ms(Clock::now() - before));
    const bool ok = watch.wait(Clock::now() + kChangeDeadline, [&] {
      return watch.routes().seen.count(l.subnet) != 0 &&
             (!vxlan ||
              (watch.neighs().seen.count(l.subnet) != 0 && watch.fdb().seen.count(l.mac) != 0));
    });
    if (!ok) {
      fail(fmt::format("lease change {} not in the kernel after 10 s", k));
    }
    std::lock_guard lock(watch.mu());
    auto at = watch.routes().seen.at(l.subnet);
    if (vxlan) {
      at = std::max({at, watch.neighs().seen.at(l.subnet), watch.fdb().seen.at(l.mac)});
    }
    latency.push_back(ms(at - before));
  }
  fig.set(tag + "change_p50_ms", pct(latency, 0.5));
  fig.set(tag + "change_p99_ms", pct(latency, 0.99));
  fig.set(tag + "change_max_ms", *std::max_element(latency.begin(), latency.end()));
  fig.set(tag + "etcd_put_p50_ms", pct(put_rtt, 0.5));

  // (d) Memory after load; CPU while idle.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const ProcSample idle0 = sample(weftd.pid());
  std::this_thread::sleep_for(std::chrono::seconds(o.idle_seconds));
  const ProcSample idle1 = sample(weftd.pid());
  if (!weftd.alive()) {
    fail("weftd exited");
  }
  fig.set(tag + "idle_cpu_ms", idle1.run_ms - idle0.run_ms);
  fig.set(tag + "idle_child_cpu_ms", idle1.child_cpu_ms - idle0.child_cpu_ms);
  fig.set(tag + "vm_hwm_mb", idle1.vm_hwm_mb);
  fig.set(tag + "vm_rss_mb", idle1.vm_rss_mb);
  fig.set(tag + "rss_anon_mb", idle1.rss_anon_mb);
  fig.set(tag + "threads", static_cast<double>(idle1.threads));

  weftd.stop();
  joins[0].etcd = etcd_wait_ms(read_text(log));
  if (o.show_log) {
    std::fprintf(stderr, "---- weftd log ----\n%s", read_text(log).c_str());
  }

  // (e) Restarts (as a DaemonSet rollout does): subnet.env and the lease are still there. As
  // many as joins, for the median.
  std::vector<JoinTimes> restarts;
  for (int k = 0; k < o.joins; ++k) {
    watch.reset_file();
    const std::string restart_log = dir + "/weftd-restart.log";
    watch.wait_quiet(kSettle);
    Weftd again(o.weftd, weftd_args, restart_log);
    const auto t1 = again.started();
    if (!watch.wait(t1 + kStartDeadline, [&] { return watch.file_at().has_value(); })) {
      std::fprintf(stderr, "---- weftd log (restart) ----\n%s\n", read_text(restart_log).c_str());
      die("no subnet.env within 60 s of a restart");
    }
    JoinTimes r;
    {
      std::lock_guard lock(watch.mu());
      r.subnet_env = ms(*watch.file_at() - t1);
    }
    if (own_subnet(read_text(subnet_file)) != own) {
      fig.notes.push_back(tag + ": a restart changed the node's subnet");
    }
    again.stop();
    r.etcd = etcd_wait_ms(read_text(restart_log));
    restarts.push_back(r);
    if (o.show_log) {
      std::fprintf(stderr, "---- weftd log (restart %d) ----\n%s", k + 1,
                   read_text(restart_log).c_str());
    }
  }
  set_join_figures(fig, tag + "restart_", restarts, vxlan, /*with_entries=*/false, /*final=*/true);

  // (f) More joins of a fresh node (its lease, subnet.env and kernel entries gone), for the
  // median: one start on a shared 2-CPU machine varies by tens of percent.
  for (int k = 1; k < o.joins; ++k) {
    BenchLease mine;
    mine.subnet = own;
    check(etcd.delete_range(lease_key(mine)).status(), "deleting the node's lease");
    std::filesystem::remove(subnet_file);
    clean_kernel();
    watch.reset_entries();
    watch.reset_file();
    const std::string join_log = dir + "/weftd-join.log";
    watch.wait_quiet(kSettle);
    Weftd again(o.weftd, weftd_args, join_log);
    const auto tj = again.started();
    auto fail_join = [&](const std::string& what) {
      std::fprintf(stderr, "---- weftd log (join %d) ----\n%s\n", k + 1,
                   read_text(join_log).c_str());
      die(what);
    };
    if (!watch.wait(tj + kStartDeadline, [&] { return watch.file_at().has_value(); })) {
      fail_join("no subnet.env within 60 s of a join");
    }
    const bool done = c.leases == 0 || watch.wait(tj + kStartDeadline, entries_complete);
    JoinTimes j;
    {
      std::lock_guard lock(watch.mu());
      if (c.leases > 0 && !done) {
        fail_join(fmt::format("join {}: only {} routes, {} neighbours, {} FDB entries of {}", k + 1,
                              watch.routes().matched, watch.neighs().matched, watch.fdb().matched,
                              c.leases));
      }
      j = join_times(watch, tj, vxlan);
    }
    own = own_subnet(read_text(subnet_file));
    again.stop();
    j.etcd = etcd_wait_ms(read_text(join_log));
    joins.push_back(j);
    if (o.show_log) {
      std::fprintf(stderr, "---- weftd log (join %d) ----\n%s", k + 1, read_text(join_log).c_str());
    }
  }
  set_join_figures(fig, tag, joins, vxlan, c.leases > 0, /*final=*/true);

  // (g) etcd's own share of a join: a fresh connection's serializable listing of every lease,
  // first byte to last (what a joining weftd waits for before it can allocate), p50 of 5.
  if (c.leases > 0) {
    std::vector<double> lists;
    for (int k = 0; k < 5; ++k) {
      auto fresh = store::etcd::EtcdClient::create(cc);
      check(fresh.status(), "etcd client");
      const std::string prefix = std::string(kPrefix) + "/subnets/";
      const auto before = Clock::now();
      auto r = (*fresh)->range_buffer(prefix, store::etcd::prefix_range_end(prefix),
                                      /*serializable=*/true);
      lists.push_back(ms(Clock::now() - before));
      check(r.status(), "listing the leases");
    }
    fig.set(tag + "etcd_list_ms", pct(lists, 0.5));
  }
  clean_kernel();
}

// Target of a figure, as text ("" when none).
std::string target_of(const std::string& key) {
  const auto dot1 = key.find('.');
  const auto dot2 = key.find('.', dot1 + 1);
  const std::string backend = key.substr(0, dot1);
  const long n = std::stol(key.substr(dot1 + 1, dot2 - dot1 - 1));
  const std::string f = key.substr(dot2 + 1);
  if (f == "subnet_env_ms" || f == "restart_subnet_env_ms") {
    return "<= 30";
  }
  if (f == "all_entries_ms") {
    if (n <= 1000) {
      return "<= 100";
    }
    return backend == "vxlan" ? "<= 600" : "<= 300";
  }
  if (f == "change_p99_ms") {
    return "<= 10";
  }
  if (f == "vm_hwm_mb" || f == "vm_rss_mb") {
    return n == 0 ? "<= 8" : "<= 16";
  }
  if (f == "idle_cpu_ms" || f == "idle_child_cpu_ms") {
    return "~ 0";
  }
  return "";
}

std::map<std::string, double> read_baseline(const std::string& path) {
  std::map<std::string, double> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    std::istringstream ls(line);
    std::string key;
    double v = 0;
    if (ls >> key >> v) {
      out[key] = v;
    }
  }
  return out;
}

void report(const Options& o, const Figures& fig) {
  const auto base = read_baseline(o.baseline);
  std::string load = read_text("/proc/loadavg");
  load = load.substr(0, load.find(' ', load.find(' ', load.find(' ') + 1) + 1));
  std::printf("\nweft data plane benchmark (weftd joining N leases; etcd on the namespace's "
              "loopback; start figures: median of %d joins; %d lease changes; %d s idle; %u "
              "CPUs, load average %s)\n",
              o.joins, o.changes, o.idle_seconds, std::thread::hardware_concurrency(),
              load.c_str());
  std::printf("%-34s %10s %8s %10s %18s\n", "figure", "value", "target", "baseline", "delta");
  for (const auto& key : fig.order) {
    const double v = fig.values.at(key);
    std::string b = "-";
    std::string d;
    if (auto it = base.find(key); it != base.end()) {
      b = fmt::format("{:.2f}", it->second);
      const double delta = v - it->second;
      d = it->second != 0 ? fmt::format("{:+.2f} ({:+.0f}%)", delta, 100.0 * delta / it->second)
                          : fmt::format("{:+.2f}", delta);
    }
    std::printf("%-34s %10.2f %8s %10s %18s\n", key.c_str(), v, target_of(key).c_str(), b.c_str(),
                d.c_str());
  }
  for (const auto& n : fig.notes) {
    std::printf("note: %s\n", n.c_str());
  }
  if (o.write_baseline && !o.baseline.empty()) {
    std::ofstream out(o.baseline);
    out << "# weft data plane benchmark baseline (bench/datapath_bench.sh --write-baseline).\n"
           "# <backend>.<existing leases>.<figure> <value>; ms, MB, CPU ms per idle window.\n"
        << "# measured on " << std::thread::hardware_concurrency() << " CPUs at load average "
        << load << "; compare with care on other machines.\n";
    for (const auto& key : fig.order) {
      out << key << " " << fmt::format("{:.2f}", fig.values.at(key)) << "\n";
    }
    std::printf("baseline written to %s\n", o.baseline.c_str());
  }
}

// Refuses to run outside the namespace datapath_bench.sh made (named by --netns): weftd programs
// the namespace it runs in, and the bench flushes protocol-247 routes and flannel.1 there.
void check_namespace(const std::string& netns) {
  struct stat self {};
  struct stat named {};
  if (netns.empty()) {
    die("--netns=NAME is required; run through bench/datapath_bench.sh");
  }
  if (::stat("/proc/self/ns/net", &self) != 0 ||
      ::stat(("/run/netns/" + netns).c_str(), &named) != 0 || self.st_dev != named.st_dev ||
      self.st_ino != named.st_ino) {
    die("not running inside network namespace " + netns + "; use bench/datapath_bench.sh");
  }
  auto nl = kernel::make_netlink();
  check(nl.status(), "netlink");
  auto link = (*nl)->link_by_name(kUplink);
  check(link.status(), std::string("uplink ") + kUplink);
  auto addrs = (*nl)->list_addresses(AF_INET);
  check(addrs.status(), "addresses");
  for (const auto& a : *addrs) {
    if (a.ifindex == link->index && a.local.index() == 0 &&
        std::get<net::Ip4Net>(a.local).ip() == net::Ip4Addr(kUplinkIp)) {
      return;
    }
  }
  die(std::string(kUplink) + " has no address 10.250.0.1/16");
}

Options parse_options(int argc, char** argv) {
  Options o;
  std::string cases = "host-gw:0,host-gw:1000,host-gw:5000,vxlan:1000,vxlan:5000";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char* name) -> std::optional<std::string> {
      const std::string p = std::string(name) + "=";
      if (a.rfind(p, 0) == 0) {
        return a.substr(p.size());
      }
      return std::nullopt;
    };
    if (auto v = value("--weftd")) {
      o.weftd = *v;
    } else if (auto v = value("--netns")) {
      o.netns = *v;
    } else if (auto v = value("--baseline")) {
      o.baseline = *v;
    } else if (a == "--log") {
      o.show_log = true;
    } else if (a == "--write-baseline") {
      o.write_baseline = true;
    } else if (auto v = value("--cases")) {
      cases = *v;
    } else if (auto v = value("--changes")) {
      o.changes = std::max(1, std::atoi(v->c_str()));
    } else if (auto v = value("--idle")) {
      o.idle_seconds = std::max(1, std::atoi(v->c_str()));
    } else if (auto v = value("--joins")) {
      o.joins = std::max(1, std::atoi(v->c_str()));
    } else {
      die("unknown argument " + a +
          " (--weftd=PATH [--baseline=PATH] [--write-baseline] "
          "[--cases=host-gw:1000,vxlan:5000,...] [--changes=N] [--idle=SECONDS] [--joins=N] "
          "[--log])");
    }
  }
  if (o.weftd.empty()) {
    die("--weftd=PATH is required");
  }
  std::istringstream cs(cases);
  std::string item;
  while (std::getline(cs, item, ',')) {
    const auto colon = item.find(':');
    Case c{item.substr(0, colon),
           colon == std::string::npos
               ? 0u
               : static_cast<std::uint32_t>(std::stoul(item.substr(colon + 1)))};
    if (c.backend != "host-gw" && c.backend != "vxlan") {
      die("unknown backend in --cases: " + c.backend);
    }
    o.cases.push_back(c);
  }
  return o;
}

} // namespace

int main(int argc, char** argv) {
  base::set_log_verbosity(0);
  try {
    const Options o = parse_options(argc, argv);
    check_namespace(o.netns);
    Figures fig;
    for (const auto& c : o.cases) {
      run_case(o, c, fig);
    }
    report(o, fig);
  } catch (const BenchError& e) {
    std::fprintf(stderr, "datapath bench failed: %s\n", e.what.c_str());
    return 1;
  }
  return 0;
}
