#include "kernel/netlink_impl.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/vxlan.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>

#include "base/fd.h"
#include "base/log.h"

namespace weft::kernel {
namespace {

template <typename T, void (*F)(T*)> struct Deleter {
  void operator()(T* p) const {
    if (p != nullptr) {
      F(p);
    }
  }
};
using SockPtr = std::unique_ptr<nl_sock, Deleter<nl_sock, nl_socket_free>>;
using NlAddrPtr = std::unique_ptr<nl_addr, Deleter<nl_addr, nl_addr_put>>;
using CachePtr = std::unique_ptr<nl_cache, Deleter<nl_cache, nl_cache_free>>;
using RoutePtr = std::unique_ptr<rtnl_route, Deleter<rtnl_route, rtnl_route_put>>;
using NeighPtr = std::unique_ptr<rtnl_neigh, Deleter<rtnl_neigh, rtnl_neigh_put>>;
using LinkPtr = std::unique_ptr<rtnl_link, Deleter<rtnl_link, rtnl_link_put>>;
using RtAddrPtr = std::unique_ptr<rtnl_addr, Deleter<rtnl_addr, rtnl_addr_put>>;
using MsgPtr = std::unique_ptr<nl_msg, Deleter<nl_msg, nlmsg_free>>;

// Requests in flight before we stop and read their acks; keeps the socket buffer from overflowing.
constexpr std::size_t kWindow = 256;

base::Status from_errno(int err, const std::string& what) {
  std::string msg = what + ": " + std::strerror(err);
  switch (err) {
  case EEXIST:
    return base::conflict(msg);
  case ENOENT:
  case ESRCH:
  case ENODEV:
    return base::not_found(msg);
  case EPERM:
  case EACCES:
    return base::permission_denied(msg);
  case EINVAL:
  case ENETUNREACH:
  case ERANGE:
  case EAFNOSUPPORT:
  case EOPNOTSUPP:
    return base::invalid_argument(msg);
  case EAGAIN:
  case EBUSY:
  case ENOBUFS:
  case ENOMEM:
  case EINTR:
    return base::unavailable(msg);
  default:
    return base::internal_error(msg);
  }
}

base::Status from_nl(int err, const std::string& what) {
  if (err < 0) {
    err = -err;
  }
  std::string msg = what + ": " + nl_geterror(err);
  switch (err) {
  case NLE_EXIST:
    return base::conflict(msg);
  case NLE_OBJ_NOTFOUND:
  case NLE_NODEV:
    return base::not_found(msg);
  case NLE_PERM:
  case NLE_NOACCESS:
    return base::permission_denied(msg);
  case NLE_INVAL:
  case NLE_AF_MISMATCH:
  case NLE_AF_NOSUPPORT:
  case NLE_OPNOTSUPP:
    return base::invalid_argument(msg);
  case NLE_AGAIN:
  case NLE_BUSY:
  case NLE_NOMEM:
  case NLE_INTR:
    return base::unavailable(msg);
  default:
    return base::internal_error(msg);
  }
}

NlAddrPtr to_nl(const IpAddr& a, int prefix_len = -1) {
  nl_addr* out = nullptr;
  if (a.index() == 0) {
    const std::uint32_t v = std::get<0>(a).value();
    const std::array<std::uint8_t, 4> b{
        static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
        static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
    out = nl_addr_build(AF_INET, b.data(), b.size());
  } else {
    const auto& b = std::get<1>(a).bytes();
    out = nl_addr_build(AF_INET6, b.data(), b.size());
  }
  if (out != nullptr && prefix_len >= 0) {
    nl_addr_set_prefixlen(out, prefix_len);
  }
  return NlAddrPtr(out);
}

NlAddrPtr to_nl(const IpNet& n) {
  return to_nl(ip_of(n), prefix_len_of(n));
}

NlAddrPtr to_nl(const net::MacAddr& m) {
  return NlAddrPtr(nl_addr_build(AF_LLC, m.bytes().data(), m.bytes().size()));
}

// An address from libnl; an empty binary (a default route's dst) is the family's zero address.
std::optional<IpAddr> ip_from_nl(nl_addr* a, int family) {
  if (a == nullptr) {
    return std::nullopt;
  }
  const auto* data = static_cast<const std::uint8_t*>(nl_addr_get_binary_addr(a));
  const unsigned len = nl_addr_get_len(a);
  const int fam = nl_addr_get_family(a) != AF_UNSPEC ? nl_addr_get_family(a) : family;
  if (fam == AF_INET) {
    std::uint32_t v = 0;
    if (len == 4) {
      v = (std::uint32_t{data[0]} << 24) | (std::uint32_t{data[1]} << 16) |
          (std::uint32_t{data[2]} << 8) | std::uint32_t{data[3]};
    } else if (len != 0) {
      return std::nullopt;
    }
    return IpAddr{net::Ip4Addr(v)};
  }
  if (fam == AF_INET6) {
    std::array<std::uint8_t, 16> b{};
    if (len == 16) {
      std::memcpy(b.data(), data, 16);
    } else if (len != 0) {
      return std::nullopt;
    }
    return IpAddr{net::Ip6Addr(b)};
  }
  return std::nullopt;
}

std::optional<IpNet> net_from_nl(nl_addr* a, int family) {
  auto ip = ip_from_nl(a, family);
  if (!ip) {
    return std::nullopt;
  }
  const int len = static_cast<int>(nl_addr_get_prefixlen(a));
  if (ip->index() == 0) {
    return IpNet{net::Ip4Net(std::get<0>(*ip), len)};
  }
  return IpNet{net::Ip6Net(std::get<1>(*ip), len)};
}

std::optional<net::MacAddr> mac_from_nl(nl_addr* a) {
  if (a == nullptr || nl_addr_get_len(a) != 6) {
    return std::nullopt;
  }
  std::array<std::uint8_t, 6> b{};
  std::memcpy(b.data(), nl_addr_get_binary_addr(a), 6);
  return net::MacAddr(b);
}

RoutePtr build_route(const Route& r, bool for_delete) {
  RoutePtr out(rtnl_route_alloc());
  auto dst = to_nl(r.dst);
  rtnl_route_set_family(out.get(), static_cast<std::uint8_t>(family_of(r.dst)));
  rtnl_route_set_dst(out.get(), dst.get());
  rtnl_route_set_table(out.get(), static_cast<std::uint32_t>(r.table));
  rtnl_route_set_protocol(out.get(), static_cast<std::uint8_t>(r.protocol));
  rtnl_route_set_priority(out.get(), static_cast<std::uint32_t>(r.metric));
  rtnl_route_set_type(out.get(), RTN_UNICAST);
  if (for_delete) {
    rtnl_route_set_scope(out.get(), RT_SCOPE_NOWHERE);
  } else {
    rtnl_route_set_scope(out.get(), r.gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
  }
  rtnl_nexthop* nh = rtnl_route_nh_alloc();
  rtnl_route_nh_set_ifindex(nh, r.ifindex);
  if (r.gateway) {
    auto gw = to_nl(*r.gateway);
    rtnl_route_nh_set_gateway(nh, gw.get());
  }
  if (r.onlink) {
    rtnl_route_nh_set_flags(nh, RTNH_F_ONLINK);
  }
  rtnl_route_add_nexthop(out.get(), nh); // the route owns nh now
  return out;
}

NeighPtr build_neigh(const Neighbour& n) {
  NeighPtr out(rtnl_neigh_alloc());
  auto dst = to_nl(n.ip);
  auto ll = to_nl(n.mac);
  rtnl_neigh_set_ifindex(out.get(), n.ifindex);
  rtnl_neigh_set_dst(out.get(), dst.get());
  rtnl_neigh_set_family(out.get(), family_of(n.ip));
  rtnl_neigh_set_lladdr(out.get(), ll.get());
  rtnl_neigh_set_state(out.get(), NUD_PERMANENT);
  return out;
}

NeighPtr build_fdb(const FdbEntry& f) {
  NeighPtr out(rtnl_neigh_alloc());
  auto dst = to_nl(f.dst);
  auto ll = to_nl(f.mac);
  rtnl_neigh_set_ifindex(out.get(), f.ifindex);
  rtnl_neigh_set_lladdr(out.get(), ll.get());
  // The dst must be set before the family: libnl checks it against the family (NLE_AF_MISMATCH).
  rtnl_neigh_set_dst(out.get(), dst.get());
  rtnl_neigh_set_family(out.get(), AF_BRIDGE);
  rtnl_neigh_set_flags(out.get(), NTF_SELF);
  rtnl_neigh_set_state(out.get(), NUD_PERMANENT);
  return out;
}

LinkInfo link_info(rtnl_link* l) {
  LinkInfo out;
  out.index = rtnl_link_get_ifindex(l);
  const char* name = rtnl_link_get_name(l);
  out.name = name != nullptr ? name : "";
  const char* kind = rtnl_link_get_type(l);
  out.kind = kind != nullptr ? kind : "";
  out.mtu = static_cast<int>(rtnl_link_get_mtu(l));
  if (auto mac = mac_from_nl(rtnl_link_get_addr(l))) {
    out.mac = *mac;
  }
  const unsigned flags = rtnl_link_get_flags(l);
  out.up = (flags & IFF_UP) != 0;
  out.loopback = (flags & IFF_LOOPBACK) != 0;
  return out;
}

template <typename Fn> void for_each_object(nl_cache* cache, Fn&& fn) {
  for (nl_object* o = nl_cache_get_first(cache); o != nullptr; o = nl_cache_get_next(o)) {
    fn(o);
  }
}

// The names of the devices error messages mention, each read from the kernel once.
class LinkNames {
public:
  explicit LinkNames(nl_sock* sock) : sock_(sock) {}
  // The device's name; "#<index>" when the kernel has none for it (a device deleted meanwhile).
  std::string operator()(int ifindex) {
    auto it = names_.find(ifindex);
    if (it == names_.end()) {
      std::string name = "#" + std::to_string(ifindex);
      rtnl_link* raw = nullptr;
      if (rtnl_link_get_kernel(sock_, ifindex, nullptr, &raw) == 0) {
        const LinkPtr link(raw);
        if (const char* n = rtnl_link_get_name(raw); n != nullptr) {
          name = n;
        }
      }
      it = names_.emplace(ifindex, std::move(name)).first;
    }
    return it->second;
  }

private:
  nl_sock* sock_;
  std::map<int, std::string> names_;
};

// Writes `value` to /proc/sys/<path> in the network namespace of the socket `fd`. The tree under
// /proc/sys/net is that of the namespace of the task that opens it, and the calling thread may be
// in another one (the tests keep theirs in the root namespace): then a short-lived thread enters
// the socket's namespace to write it. Nothing is written when the socket's namespace cannot be
// told (kernels before 4.9).
base::Status write_net_sysctl(int fd, const std::string& path, const std::string& value) {
  const std::string file = "/proc/sys/" + path;
  auto write = [&]() -> base::Status {
    const base::Fd out(::open(file.c_str(), O_WRONLY | O_CLOEXEC));
    if (!out.valid()) {
      return from_errno(errno, "opening " + file);
    }
    if (::write(out.get(), value.data(), value.size()) < 0) {
      return from_errno(errno, "writing " + value + " to " + file);
    }
    return {};
  };
  const base::Fd ns(::ioctl(fd, SIOCGSKNS));
  if (!ns.valid()) {
    return from_errno(errno, "finding the netlink socket's network namespace for " + file);
  }
  struct stat mine {};
  struct stat theirs {};
  if (::stat("/proc/thread-self/ns/net", &mine) == 0 && ::fstat(ns.get(), &theirs) == 0 &&
      mine.st_dev == theirs.st_dev && mine.st_ino == theirs.st_ino) {
    return write();
  }
  base::Status st;
  std::thread([&] {
    if (::setns(ns.get(), CLONE_NEWNET) != 0) {
      st = from_errno(errno, "entering the netlink socket's network namespace for " + file);
      return;
    }
    st = write();
  }).join();
  return st;
}

// Why a route via a next hop failed with ENETUNREACH: the next hop is on none of the device's
// networks. Only host-gw makes such routes for other nodes (vxlan's DirectRouting makes them only
// for nodes the kernel already reaches without a gateway).
std::string unreachable_hint(const Route& r, const std::string& dev) {
  return fmt::format("{} is not on a network of {}: host-gw needs every node on one L2 segment; "
                     "the vxlan backend does not",
                     to_string(*r.gateway), dev);
}

} // namespace

struct NetlinkImpl::State {
  SockPtr sock;

  // Sends `count` messages (pipelined, kWindow at a time) and matches the kernel's acks by
  // sequence number. ESRCH/ENOENT count as success when `missing_ok` (deleting what is already
  // gone). Message i is built (null: it could not be) when its window is packed and freed at
  // once: libnl gives every message a page, which for thousands of entries was megabytes.
  // The failures are described once every ack is read, so that describe(i) may ask the kernel
  // on this socket (for a device's name); explain(i, errno), when given, adds why after the
  // kernel's error.
  std::vector<base::Status>
  transact(std::size_t count, bool missing_ok, const std::function<MsgPtr(std::size_t)>& build,
           const std::function<std::string(std::size_t)>& describe,
           const std::function<std::string(std::size_t, int)>& explain = nullptr) {
    std::vector<Failure> failures;
    std::vector<base::Status> out = transact_acks(count, missing_ok, build, failures);
    for (const Failure& f : failures) {
      if (f.err == 0) {
        out[f.i] = base::internal_error(describe(f.i) + ": could not build the netlink message");
        continue;
      }
      out[f.i] = from_errno(f.err, describe(f.i) + f.stage);
      if (explain) {
        if (std::string why = explain(f.i, f.err); !why.empty()) {
          out[f.i] = base::Status(out[f.i].code(), out[f.i].message() + " (" + why + ")");
        }
      }
    }
    return out;
  }

  struct Failure {
    std::size_t i;
    int err;           // 0: the message could not be built
    const char* stage; // appended to the description
  };

  // on_reply, when given, sees every other message the kernel answers request i with (the
  // object a GET request asks for), before that request's ack.
  std::vector<base::Status>
  transact_acks(std::size_t count, bool missing_ok, const std::function<MsgPtr(std::size_t)>& build,
                std::vector<Failure>& failures,
                const std::function<void(std::size_t, const nlmsghdr*)>& on_reply = nullptr) {
    std::vector<base::Status> out(count);
    const int fd = nl_socket_get_fd(sock.get());
    std::vector<char> buf(1 << 16);
    std::string packet;
    for (std::size_t begin = 0; begin < count; begin += kWindow) {
      const std::size_t end = std::min(count, begin + kWindow);
      // The whole window goes to the kernel in one datagram; it handles the messages in order
      // and acks each one.
      std::unordered_map<std::uint32_t, std::size_t> waiting;
      packet.clear();
      for (std::size_t i = begin; i < end; ++i) {
        const MsgPtr msg = build(i);
        if (!msg) {
          failures.push_back({i, 0, ""});
          continue;
        }
        nl_complete_msg(sock.get(), msg.get()); // seq, port id, NLM_F_REQUEST|NLM_F_ACK
        const nlmsghdr* h = nlmsg_hdr(msg.get());
        packet.append(reinterpret_cast<const char*>(h), h->nlmsg_len);
        packet.resize(NLMSG_ALIGN(packet.size()), '\0');
        waiting.emplace(h->nlmsg_seq, i);
      }
      if (!packet.empty()) {
        sockaddr_nl kernel{};
        kernel.nl_family = AF_NETLINK;
        ssize_t sent = -1;
        do {
          sent = ::sendto(fd, packet.data(), packet.size(), 0,
                          reinterpret_cast<const sockaddr*>(&kernel), sizeof kernel);
        } while (sent < 0 && errno == EINTR);
        if (sent < 0) {
          const int err = errno;
          for (const auto& [seq, i] : waiting) {
            failures.push_back({i, err, " (sending)"});
          }
          waiting.clear();
        }
      }
      while (!waiting.empty()) {
        const ssize_t n = recv(fd, buf.data(), buf.size(), 0);
        if (n < 0) {
          if (errno == EINTR) {
            continue;
          }
          const int err = errno;
          for (const auto& [seq, i] : waiting) {
            failures.push_back({i, err, " (reading the ack)"});
          }
          waiting.clear();
          break;
        }
        const auto size = static_cast<std::size_t>(n);
        for (std::size_t off = 0; off + sizeof(nlmsghdr) <= size;) {
          const auto* h = reinterpret_cast<const nlmsghdr*>(buf.data() + off);
          if (h->nlmsg_len < sizeof(nlmsghdr) || off + h->nlmsg_len > size) {
            break; // truncated: never happens with a 64 KiB buffer and small acks
          }
          off += NLMSG_ALIGN(h->nlmsg_len);
          auto it = waiting.find(h->nlmsg_seq);
          if (it == waiting.end()) {
            continue;
          }
          if (h->nlmsg_type != NLMSG_ERROR) {
            if (on_reply) {
              on_reply(it->second, h);
            }
            continue;
          }
          if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) {
            continue;
          }
          const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
          const int err = -e->error;
          if (err != 0 && !(missing_ok && (err == ESRCH || err == ENOENT))) {
            failures.push_back({it->second, err, ""});
          }
          waiting.erase(it);
        }
      }
    }
    return out;
  }
};

NetlinkImpl::NetlinkImpl(std::unique_ptr<State> state, std::unique_ptr<State> lookups)
    : state_(std::move(state)), lookups_(std::move(lookups)) {}
NetlinkImpl::~NetlinkImpl() = default;

namespace {

base::Result<std::unique_ptr<NetlinkImpl::State>> open_state() {
  auto state = std::make_unique<NetlinkImpl::State>();
  state->sock.reset(nl_socket_alloc());
  if (!state->sock) {
    return base::internal_error("nl_socket_alloc failed");
  }
  if (int rc = nl_connect(state->sock.get(), NETLINK_ROUTE); rc < 0) {
    return from_nl(rc, "connecting a NETLINK_ROUTE socket");
  }
  // transact() reads acks itself, so libnl's sequence bookkeeping would fall behind: we match
  // sequence numbers ourselves and only ever have one libnl request (a dump) in flight.
  nl_socket_disable_seq_check(state->sock.get());
  // Room for a window of acks (error acks echo the request).
  nl_socket_set_buffer_size(state->sock.get(), 4 << 20, 4 << 20);
  return state;
}

} // namespace

base::Result<std::unique_ptr<NetlinkImpl>> NetlinkImpl::open() {
  // Both sockets now, in the calling thread's network namespace.
  auto state = open_state();
  if (!state.ok()) {
    return state.status();
  }
  auto lookups = open_state();
  if (!lookups.ok()) {
    return lookups.status();
  }
  return std::unique_ptr<NetlinkImpl>(
      new NetlinkImpl(std::move(state).value(), std::move(lookups).value()));
}

base::Result<std::unique_ptr<Netlink>> make_netlink() {
  auto impl = NetlinkImpl::open();
  if (!impl.ok()) {
    return impl.status();
  }
  return std::unique_ptr<Netlink>(std::move(impl).value());
}

base::Result<std::vector<Route>> NetlinkImpl::list_routes(int family, int table,
                                                          std::optional<int> protocol) {
  std::lock_guard lock(mu_);
  nl_cache* raw = nullptr;
  if (int rc = rtnl_route_alloc_cache(state_->sock.get(), family, 0, &raw); rc < 0) {
    return from_nl(rc, "dumping routes");
  }
  CachePtr cache(raw);
  std::vector<Route> out;
  out.reserve(static_cast<std::size_t>(nl_cache_nitems(raw)));
  for_each_object(raw, [&](nl_object* o) {
    auto* r = reinterpret_cast<rtnl_route*>(o);
    if (static_cast<int>(rtnl_route_get_table(r)) != table ||
        rtnl_route_get_type(r) != RTN_UNICAST) {
      return;
    }
    if (protocol && rtnl_route_get_protocol(r) != *protocol) {
      return;
    }
    const int fam = rtnl_route_get_family(r);
    auto dst = net_from_nl(rtnl_route_get_dst(r), fam);
    if (!dst) {
      return;
    }
    Route route;
    route.dst = *dst;
    route.table = table;
    route.metric = static_cast<int>(rtnl_route_get_priority(r));
    route.protocol = rtnl_route_get_protocol(r);
    if (rtnl_route_get_nnexthops(r) > 0) {
      rtnl_nexthop* nh = rtnl_route_nexthop_n(r, 0);
      route.ifindex = rtnl_route_nh_get_ifindex(nh);
      route.gateway = ip_from_nl(rtnl_route_nh_get_gateway(nh), fam);
      route.onlink = (rtnl_route_nh_get_flags(nh) & RTNH_F_ONLINK) != 0;
    }
    out.push_back(std::move(route));
  });
  return out;
}

std::vector<base::Status> NetlinkImpl::replace_routes(const std::vector<Route>& routes) {
  std::lock_guard lock(mu_);
  auto build = [&](std::size_t i) {
    auto r = build_route(routes[i], false);
    nl_msg* m = nullptr;
    return MsgPtr(
        rtnl_route_build_add_request(r.get(), NLM_F_CREATE | NLM_F_REPLACE, &m) == 0 ? m : nullptr);
  };
  LinkNames names(state_->sock.get());
  return state_->transact(
      routes.size(), false, build,
      [&](std::size_t i) {
        return "replacing route " + routes[i].to_string(names(routes[i].ifindex));
      },
      [&](std::size_t i, int err) {
        const Route& r = routes[i];
        return err == ENETUNREACH && r.gateway && !r.onlink ? unreachable_hint(r, names(r.ifindex))
                                                            : std::string();
      });
}

std::vector<base::Status> NetlinkImpl::delete_routes(const std::vector<Route>& routes) {
  std::lock_guard lock(mu_);
  auto build = [&](std::size_t i) {
    auto r = build_route(routes[i], true);
    nl_msg* m = nullptr;
    return MsgPtr(rtnl_route_build_del_request(r.get(), 0, &m) == 0 ? m : nullptr);
  };
  LinkNames names(state_->sock.get());
  return state_->transact(routes.size(), true, build, [&](std::size_t i) {
    return "deleting route " + routes[i].to_string(names(routes[i].ifindex));
  });
}

base::Status NetlinkImpl::add_blackhole(const IpNet& dst) {
  std::lock_guard lock(mu_);
  RoutePtr r(rtnl_route_alloc());
  auto d = to_nl(dst);
  rtnl_route_set_family(r.get(), static_cast<std::uint8_t>(family_of(dst)));
  rtnl_route_set_table(r.get(), kMainTable);
  rtnl_route_set_dst(r.get(), d.get());
  rtnl_route_set_type(r.get(), RTN_BLACKHOLE);
  rtnl_route_set_protocol(r.get(), static_cast<std::uint8_t>(kFlannelRouteProtocol));
  rtnl_route_set_scope(r.get(), RT_SCOPE_UNIVERSE);
  if (int rc = rtnl_route_add(state_->sock.get(), r.get(), NLM_F_CREATE | NLM_F_EXCL); rc < 0) {
    return from_nl(rc, "adding blackhole route " + to_string(dst));
  }
  return {};
}

base::Result<std::vector<Neighbour>> NetlinkImpl::list_neighbours(int ifindex) {
  std::lock_guard lock(mu_);
  nl_cache* raw = nullptr;
  if (int rc = rtnl_neigh_alloc_cache(state_->sock.get(), &raw); rc < 0) {
    return from_nl(rc, "dumping neighbours");
  }
  CachePtr cache(raw);
  std::vector<Neighbour> out;
  for_each_object(raw, [&](nl_object* o) {
    auto* n = reinterpret_cast<rtnl_neigh*>(o);
    const int fam = rtnl_neigh_get_family(n);
    if ((fam != AF_INET && fam != AF_INET6) || rtnl_neigh_get_ifindex(n) != ifindex ||
        (rtnl_neigh_get_state(n) & NUD_PERMANENT) == 0) {
      return;
    }
    auto ip = ip_from_nl(rtnl_neigh_get_dst(n), fam);
    auto mac = mac_from_nl(rtnl_neigh_get_lladdr(n));
    if (ip && mac) {
      out.push_back(Neighbour{ifindex, *ip, *mac});
    }
  });
  return out;
}

std::vector<base::Status> NetlinkImpl::replace_neighbours(const std::vector<Neighbour>& ns) {
  std::lock_guard lock(mu_);
  auto build = [&](std::size_t i) {
    auto n = build_neigh(ns[i]);
    nl_msg* m = nullptr;
    return MsgPtr(
        rtnl_neigh_build_add_request(n.get(), NLM_F_CREATE | NLM_F_REPLACE, &m) == 0 ? m : nullptr);
  };
  LinkNames names(state_->sock.get());
  return state_->transact(ns.size(), false, build, [&](std::size_t i) {
    return "replacing neighbour " + ns[i].to_string(names(ns[i].ifindex));
  });
}

std::vector<base::Status> NetlinkImpl::delete_neighbours(const std::vector<Neighbour>& ns) {
  std::lock_guard lock(mu_);
  auto build = [&](std::size_t i) {
    auto n = build_neigh(ns[i]);
    nl_msg* m = nullptr;
    return MsgPtr(rtnl_neigh_build_delete_request(n.get(), 0, &m) == 0 ? m : nullptr);
  };
  LinkNames names(state_->sock.get());
  return state_->transact(ns.size(), true, build, [&](std::size_t i) {
    return "deleting neighbour " + ns[i].to_string(names(ns[i].ifindex));
  });
}

base::Result<std::vector<FdbEntry>> NetlinkImpl::list_fdb(int ifindex) {
  std::lock_guard lock(mu_);
  nl_cache* raw = nullptr;
  if (int rc = rtnl_neigh_alloc_cache_flags(state_->sock.get(), &raw, NL_CACHE_AF_ITER); rc < 0) {
    return from_nl(rc, "dumping the bridge fdb");
  }
  CachePtr cache(raw);
  std::vector<FdbEntry> out;
  for_each_object(raw, [&](nl_object* o) {
    auto* n = reinterpret_cast<rtnl_neigh*>(o);
    if (rtnl_neigh_get_family(n) != AF_BRIDGE || rtnl_neigh_get_ifindex(n) != ifindex ||
        (rtnl_neigh_get_state(n) & NUD_PERMANENT) == 0 ||
        (rtnl_neigh_get_flags(n) & NTF_SELF) == 0) {
      return;
    }
    auto ip = ip_from_nl(rtnl_neigh_get_dst(n), AF_UNSPEC);
    auto mac = mac_from_nl(rtnl_neigh_get_lladdr(n));
    if (ip && mac) {
      out.push_back(FdbEntry{ifindex, *mac, *ip});
    }
  });
  return out;
}

std::vector<base::Status> NetlinkImpl::replace_fdb(const std::vector<FdbEntry>& fs) {
  std::lock_guard lock(mu_);
  auto build = [&](std::size_t i) {
    auto n = build_fdb(fs[i]);
    nl_msg* m = nullptr;
    return MsgPtr(
        rtnl_neigh_build_add_request(n.get(), NLM_F_CREATE | NLM_F_REPLACE, &m) == 0 ? m : nullptr);
  };
  LinkNames names(state_->sock.get());
  return state_->transact(fs.size(), false, build, [&](std::size_t i) {
    return "replacing fdb entry " + fs[i].to_string(names(fs[i].ifindex));
  });
}

std::vector<base::Status> NetlinkImpl::delete_fdb(const std::vector<FdbEntry>& fs) {
  std::lock_guard lock(mu_);
  auto build = [&](std::size_t i) {
    auto n = build_fdb(fs[i]);
    nl_msg* m = nullptr;
    return MsgPtr(rtnl_neigh_build_delete_request(n.get(), 0, &m) == 0 ? m : nullptr);
  };
  LinkNames names(state_->sock.get());
  return state_->transact(fs.size(), true, build, [&](std::size_t i) {
    return "deleting fdb entry " + fs[i].to_string(names(fs[i].ifindex));
  });
}

base::Result<std::vector<LinkInfo>> NetlinkImpl::list_links() {
  std::lock_guard lock(mu_);
  nl_cache* raw = nullptr;
  if (int rc = rtnl_link_alloc_cache(state_->sock.get(), AF_UNSPEC, &raw); rc < 0) {
    return from_nl(rc, "dumping links");
  }
  CachePtr cache(raw);
  std::vector<LinkInfo> out;
  for_each_object(raw,
                  [&](nl_object* o) { out.push_back(link_info(reinterpret_cast<rtnl_link*>(o))); });
  return out;
}

base::Result<LinkInfo> NetlinkImpl::link_locked(int ifindex, const char* name) {
  rtnl_link* raw = nullptr;
  if (int rc = rtnl_link_get_kernel(state_->sock.get(), ifindex, name, &raw); rc < 0) {
    return from_nl(rc, name != nullptr ? fmt::format("looking up link {}", name)
                                       : fmt::format("looking up link #{}", ifindex));
  }
  LinkPtr link(raw);
  return link_info(raw);
}

base::Result<LinkInfo> NetlinkImpl::link_by_name(const std::string& name) {
  std::lock_guard lock(mu_);
  return link_locked(0, name.c_str());
}

base::Result<LinkInfo> NetlinkImpl::link_by_index(int ifindex) {
  std::lock_guard lock(mu_);
  return link_locked(ifindex, nullptr);
}

base::Result<LinkInfo> NetlinkImpl::ensure_vxlan(const VxlanSpec& spec) {
  std::lock_guard lock(mu_);
  nl_sock* sk = state_->sock.get();
  rtnl_link* raw = nullptr;
  if (rtnl_link_get_kernel(sk, 0, spec.name.c_str(), &raw) == 0) {
    LinkPtr existing(raw);
    // What differs from the spec (flanneld's checks), empty when the device can stay.
    std::string differs;
    std::uint32_t u = 0;
    if (rtnl_link_is_vxlan(raw) == 0) {
      differs = fmt::format("it is a {} device, not vxlan",
                            rtnl_link_get_type(raw) != nullptr ? rtnl_link_get_type(raw) : "?");
    } else if (rtnl_link_vxlan_get_id(raw, &u) < 0 || u != spec.vni) {
      differs = fmt::format("vni {}, want {}", u, spec.vni);
    } else if (spec.port != 0 && (rtnl_link_vxlan_get_port(raw, &u) < 0 ||
                                  u != static_cast<std::uint32_t>(spec.port))) {
      differs = fmt::format("port {}, want {}", u, spec.port);
    } else if (spec.underlay_ifindex != 0 &&
               (rtnl_link_vxlan_get_link(raw, &u) < 0 ||
                u != static_cast<std::uint32_t>(spec.underlay_ifindex))) {
      differs = fmt::format("underlay device #{}, want #{}", u, spec.underlay_ifindex);
    } else if (rtnl_link_vxlan_get_flags(raw, &u) < 0 ||
               ((u & RTNL_LINK_VXLAN_F_GBP) != 0) != spec.gbp) {
      // The kernel cannot change GBP on a device: it is recreated, as flanneld does.
      differs = fmt::format("GBP {}, want {}", spec.gbp ? "off" : "on", spec.gbp ? "on" : "off");
    } else if (rtnl_link_vxlan_get_l2miss(raw) > 0) {
      // An old flanneld had the kernel report L2 misses to it; flanneld now recreates such a
      // device (vxlanLinksIncompat), and so do we. An L3 miss setting it does not compare.
      differs = "l2miss on, want off";
    } else if (spec.local) {
      nl_addr* local = nullptr;
      if (rtnl_link_vxlan_get_local(raw, &local) < 0) {
        differs = "no local address, want " + to_string(*spec.local);
      } else {
        NlAddrPtr owned(local);
        if (auto have = ip_from_nl(local, AF_UNSPEC); have != spec.local) {
          differs = fmt::format("local address {}, want {}", have ? to_string(*have) : "?",
                                to_string(*spec.local));
        }
      }
    }
    if (!differs.empty()) {
      WEFT_WARN("{} exists but does not match ({}); recreating it", spec.name, differs);
      if (int rc = rtnl_link_delete(sk, raw); rc < 0) {
        return from_nl(rc, "deleting incompatible link " + spec.name);
      }
      raw = nullptr;
    }
  } else {
    raw = nullptr;
  }
  if (raw == nullptr) {
    LinkPtr link(rtnl_link_vxlan_alloc());
    rtnl_link_set_name(link.get(), spec.name.c_str());
    rtnl_link_vxlan_set_id(link.get(), spec.vni);
    if (spec.local) {
      auto local = to_nl(*spec.local);
      rtnl_link_vxlan_set_local(link.get(), local.get());
    }
    if (spec.underlay_ifindex != 0) {
      rtnl_link_vxlan_set_link(link.get(), static_cast<std::uint32_t>(spec.underlay_ifindex));
    }
    if (spec.port != 0) {
      rtnl_link_vxlan_set_port(link.get(), static_cast<std::uint32_t>(spec.port));
    }
    rtnl_link_vxlan_set_learning(link.get(), spec.learning ? 1 : 0);
    if (spec.gbp) {
      rtnl_link_vxlan_set_flags(link.get(), RTNL_LINK_VXLAN_F_GBP, 1);
    }
    if (spec.mtu > 0) {
      rtnl_link_set_mtu(link.get(), static_cast<unsigned>(spec.mtu));
    }
    if (spec.mac) {
      auto mac = to_nl(*spec.mac);
      rtnl_link_set_addr(link.get(), mac.get());
    }
    if (spec.ifindex > 0) {
      // With NLM_F_EXCL the kernel refuses (EEXIST) an index some other link holds.
      rtnl_link_set_ifindex(link.get(), spec.ifindex);
    }
    if (int rc = rtnl_link_add(sk, link.get(), NLM_F_CREATE | NLM_F_EXCL); rc < 0) {
      return from_nl(rc, "creating vxlan link " + spec.name);
    }
  }
  rtnl_link* cur_raw = nullptr;
  if (int rc = rtnl_link_get_kernel(sk, 0, spec.name.c_str(), &cur_raw); rc < 0) {
    return from_nl(rc, "looking up link " + spec.name);
  }
  LinkPtr cur(cur_raw);
  LinkPtr change(rtnl_link_alloc());
  if (spec.mtu > 0 && static_cast<int>(rtnl_link_get_mtu(cur_raw)) != spec.mtu) {
    rtnl_link_set_mtu(change.get(), static_cast<unsigned>(spec.mtu));
  }
  rtnl_link_set_flags(change.get(), IFF_UP);
  if (int rc = rtnl_link_change(sk, cur_raw, change.get(), 0); rc < 0) {
    return from_nl(rc, "bringing up " + spec.name);
  }
  // As flanneld on every start: the vxlan device takes no IPv6 router advertisements. Where IPv6
  // is off there is nothing to set.
  if (auto st =
          write_net_sysctl(nl_socket_get_fd(sk), "net/ipv6/conf/" + spec.name + "/accept_ra", "0");
      !st.ok() && st.code() != base::Code::kNotFound) {
    WEFT_WARN("{} (flanneld sets it too; continuing)", st.message());
  }
  return link_locked(0, spec.name.c_str());
}

base::Status NetlinkImpl::delete_link(int ifindex) {
  std::lock_guard lock(mu_);
  LinkPtr link(rtnl_link_alloc());
  rtnl_link_set_ifindex(link.get(), ifindex);
  if (int rc = rtnl_link_delete(state_->sock.get(), link.get()); rc < 0) {
    return from_nl(rc, fmt::format("deleting link #{}", ifindex));
  }
  return {};
}

base::Status NetlinkImpl::set_mtu(int ifindex, int mtu) {
  std::lock_guard lock(mu_);
  rtnl_link* raw = nullptr;
  if (int rc = rtnl_link_get_kernel(state_->sock.get(), ifindex, nullptr, &raw); rc < 0) {
    return from_nl(rc, fmt::format("looking up link #{}", ifindex));
  }
  LinkPtr cur(raw);
  LinkPtr change(rtnl_link_alloc());
  rtnl_link_set_mtu(change.get(), static_cast<unsigned>(mtu));
  if (int rc = rtnl_link_change(state_->sock.get(), raw, change.get(), 0); rc < 0) {
    return from_nl(rc, fmt::format("setting mtu {} on link #{}", mtu, ifindex));
  }
  return {};
}

base::Status NetlinkImpl::set_up(int ifindex) {
  std::lock_guard lock(mu_);
  rtnl_link* raw = nullptr;
  if (int rc = rtnl_link_get_kernel(state_->sock.get(), ifindex, nullptr, &raw); rc < 0) {
    return from_nl(rc, fmt::format("looking up link #{}", ifindex));
  }
  LinkPtr cur(raw);
  LinkPtr change(rtnl_link_alloc());
  rtnl_link_set_flags(change.get(), IFF_UP);
  if (int rc = rtnl_link_change(state_->sock.get(), raw, change.get(), 0); rc < 0) {
    return from_nl(rc, fmt::format("bringing up link #{}", ifindex));
  }
  return {};
}

std::vector<std::optional<RouteAnswer>> NetlinkImpl::route_get(const std::vector<IpAddr>& addrs) {
  std::lock_guard lock(lookup_mu_);
  std::vector<std::optional<RouteAnswer>> out(addrs.size());
  auto build = [&](std::size_t i) {
    MsgPtr msg(nlmsg_alloc_simple(RTM_GETROUTE, 0));
    const NlAddrPtr dst = to_nl(addrs[i]);
    if (!msg || !dst) {
      return MsgPtr();
    }
    rtmsg rtm{};
    rtm.rtm_family = static_cast<unsigned char>(nl_addr_get_family(dst.get()));
    rtm.rtm_dst_len = static_cast<unsigned char>(nl_addr_get_len(dst.get()) * 8);
    if (nlmsg_append(msg.get(), &rtm, sizeof rtm, NLMSG_ALIGNTO) < 0 ||
        nla_put_addr(msg.get(), RTA_DST, dst.get()) < 0) {
      return MsgPtr();
    }
    return msg;
  };
  auto on_reply = [&](std::size_t i, const nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWROUTE || h->nlmsg_len < NLMSG_LENGTH(sizeof(rtmsg))) {
      return;
    }
    const auto* rtm = static_cast<const rtmsg*>(NLMSG_DATA(h));
    if (rtm->rtm_type != RTN_UNICAST) {
      return;
    }
    const auto addr_of = [&](const rtattr* a) -> std::optional<IpAddr> {
      if (rtm->rtm_family == AF_INET && RTA_PAYLOAD(a) == 4) {
        const auto* b = static_cast<const std::uint8_t*>(RTA_DATA(a));
        return IpAddr{net::Ip4Addr((std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) |
                                   (std::uint32_t{b[2]} << 8) | std::uint32_t{b[3]})};
      }
      if (rtm->rtm_family == AF_INET6 && RTA_PAYLOAD(a) == 16) {
        std::array<std::uint8_t, 16> b{};
        std::memcpy(b.data(), RTA_DATA(a), b.size());
        return IpAddr{net::Ip6Addr(b)};
      }
      return std::nullopt;
    };
    RouteAnswer answer;
    int len = static_cast<int>(RTM_PAYLOAD(h));
    for (const rtattr* a = RTM_RTA(rtm); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
      switch (a->rta_type) {
      case RTA_OIF:
        if (RTA_PAYLOAD(a) >= sizeof(std::uint32_t)) {
          std::uint32_t v = 0;
          std::memcpy(&v, RTA_DATA(a), sizeof v);
          answer.ifindex = static_cast<int>(v);
        }
        break;
      case RTA_GATEWAY:
      case RTA_VIA:
      case RTA_MULTIPATH:
        answer.via = true;
        break;
      case RTA_PREFSRC:
        answer.src = addr_of(a);
        break;
      default:
        break;
      }
    }
    if (answer.ifindex > 0) {
      out[i] = answer;
    }
  };
  // An address the kernel has no route for (ENETUNREACH and the like) has no answer.
  std::vector<State::Failure> failures;
  (void)lookups_->transact_acks(addrs.size(), false, build, failures, on_reply);
  for (const auto& f : failures) {
    out[f.i].reset();
  }
  return out;
}

base::Result<std::vector<AddrInfo>> NetlinkImpl::list_addresses(int family) {
  std::lock_guard lock(mu_);
  nl_cache* raw = nullptr;
  if (int rc = rtnl_addr_alloc_cache(state_->sock.get(), &raw); rc < 0) {
    return from_nl(rc, "dumping addresses");
  }
  CachePtr cache(raw);
  std::vector<AddrInfo> out;
  for_each_object(raw, [&](nl_object* o) {
    auto* a = reinterpret_cast<rtnl_addr*>(o);
    const int fam = rtnl_addr_get_family(a);
    if (family != AF_UNSPEC && fam != family) {
      return;
    }
    auto ip = ip_from_nl(rtnl_addr_get_local(a), fam);
    if (!ip) {
      return;
    }
    const int len = rtnl_addr_get_prefixlen(a);
    AddrInfo info;
    info.ifindex = rtnl_addr_get_ifindex(a);
    info.local = ip->index() == 0 ? IpNet{net::Ip4Net(std::get<0>(*ip), len)}
                                  : IpNet{net::Ip6Net(std::get<1>(*ip), len)};
    info.scope = rtnl_addr_get_scope(a);
    info.flags = rtnl_addr_get_flags(a);
    out.push_back(info);
  });
  return out;
}

base::Status NetlinkImpl::add_address(const AddrInfo& addr) {
  std::lock_guard lock(mu_);
  RtAddrPtr a(rtnl_addr_alloc());
  auto local = to_nl(addr.local);
  rtnl_addr_set_ifindex(a.get(), addr.ifindex);
  rtnl_addr_set_local(a.get(), local.get());
  rtnl_addr_set_prefixlen(a.get(), prefix_len_of(addr.local));
  if (int rc = rtnl_addr_add(state_->sock.get(), a.get(), NLM_F_REPLACE); rc < 0) {
    return from_nl(
        rc, fmt::format("adding address {} to link #{}", to_string(addr.local), addr.ifindex));
  }
  return {};
}

base::Status NetlinkImpl::delete_address(const AddrInfo& addr) {
  std::lock_guard lock(mu_);
  RtAddrPtr a(rtnl_addr_alloc());
  auto local = to_nl(addr.local);
  rtnl_addr_set_ifindex(a.get(), addr.ifindex);
  rtnl_addr_set_local(a.get(), local.get());
  rtnl_addr_set_prefixlen(a.get(), prefix_len_of(addr.local));
  if (int rc = rtnl_addr_delete(state_->sock.get(), a.get(), 0); rc < 0) {
    return from_nl(
        rc, fmt::format("deleting address {} from link #{}", to_string(addr.local), addr.ifindex));
  }
  return {};
}

} // namespace weft::kernel
