#include "kernel/nftables_manager.h"

#include <dlfcn.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <nftables/libnftables.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

#include "base/log.h"

namespace weft::kernel {
namespace {

constexpr const char* kIpv4Table = "flannel-ipv4";
constexpr const char* kIpv6Table = "flannel-ipv6";

void family_script(std::string& out, const char* family, const char* table, const char* ip,
                   const std::string& cluster, const std::optional<std::string>& pod,
                   const TrafficConfig& config) {
  const std::string t = fmt::format("{} {}", family, table);
  out += fmt::format("add table {} {{ comment \"rules for {}\" ; }}\n", t, table);
  if (config.masquerade && pod) {
    const std::string masq = config.random_fully ? "masquerade fully-random" : "masquerade";
    const char* multicast = std::string_view(ip) == "ip6" ? "ff00::/8" : "224.0.0.0/4";
    out += fmt::format("add chain {} postrtg {{ type nat hook postrouting priority srcnat ; "
                       "comment \"chain to manage traffic masquerading by flannel\" ; }}\n",
                       t);
    out += fmt::format("flush chain {} postrtg\n", t);
    out += fmt::format("add rule {} postrtg meta mark 0x4000 return\n", t);
    out += fmt::format("add rule {} postrtg {} saddr {} {} daddr {} return\n", t, ip, *pod, ip,
                       cluster);
    out += fmt::format("add rule {} postrtg {} saddr {} {} daddr {} return\n", t, ip, cluster, ip,
                       *pod);
    out += fmt::format("add rule {} postrtg {} saddr != {} {} daddr {} return\n", t, ip, *pod, ip,
                       cluster);
    out += fmt::format("add rule {} postrtg {} saddr {} {} daddr != {} {}\n", t, ip, cluster, ip,
                       multicast, masq);
    out += fmt::format("add rule {} postrtg {} saddr != {} {} daddr {} {}\n", t, ip, cluster, ip,
                       cluster, masq);
  }
  if (config.forward) {
    out += fmt::format("add chain {} forward {{ type filter hook forward priority filter ; "
                       "comment \"chain to accept flannel traffic\" ; }}\n",
                       t);
    out += fmt::format("flush chain {} forward\n", t);
    out += fmt::format("add rule {} forward {} saddr {} accept\n", t, ip, cluster);
    out += fmt::format("add rule {} forward {} daddr {} accept\n", t, ip, cluster);
  }
}

} // namespace

std::string nft_script(const TrafficConfig& config) {
  std::string out;
  if (config.network) {
    std::optional<std::string> pod;
    if (config.subnet) {
      pod = network_string(*config.subnet);
    }
    family_script(out, "ip", kIpv4Table, "ip", network_string(*config.network), pod, config);
  }
  if (config.network6) {
    std::optional<std::string> pod;
    if (config.subnet6) {
      pod = network_string(*config.subnet6);
    }
    family_script(out, "ip6", kIpv6Table, "ip6", network_string(*config.network6), pod, config);
  }
  return out;
}

std::string nft_cleanup_script() {
  return fmt::format("add table ip {0}\ndelete table ip {0}\nadd table ip6 {1}\n"
                     "delete table ip6 {1}\n",
                     kIpv4Table, kIpv6Table);
}

// libnftables, loaded when a manager is created and unloaded when it is destroyed: weftd in
// iptables mode (the default) only touches it to remove leftover nftables rules, and keeping it
// (with libnftnl, libmnl, libxtables, libgmp and libjansson) mapped would cost every start
// milliseconds and the idle daemon about 1.2 MB of resident pages.
struct NftApi {
  decltype(&::nft_ctx_new) ctx_new = nullptr;
  decltype(&::nft_ctx_free) ctx_free = nullptr;
  decltype(&::nft_ctx_buffer_output) buffer_output = nullptr;
  decltype(&::nft_ctx_buffer_error) buffer_error = nullptr;
  decltype(&::nft_run_cmd_from_buffer) run_cmd_from_buffer = nullptr;
  decltype(&::nft_ctx_get_output_buffer) get_output_buffer = nullptr;
  decltype(&::nft_ctx_get_error_buffer) get_error_buffer = nullptr;
};

namespace {

constexpr const char* kLibNftables = "libnftables.so.1";

// Resolves every entry point from an open handle. An error names the missing symbol.
base::Result<NftApi> resolve(void* lib) {
  NftApi a;
  const char* missing = nullptr;
  auto load = [&](auto& fn, const char* name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(lib, name));
    if (fn == nullptr && missing == nullptr) {
      missing = name;
    }
  };
  load(a.ctx_new, "nft_ctx_new");
  load(a.ctx_free, "nft_ctx_free");
  load(a.buffer_output, "nft_ctx_buffer_output");
  load(a.buffer_error, "nft_ctx_buffer_error");
  load(a.run_cmd_from_buffer, "nft_run_cmd_from_buffer");
  load(a.get_output_buffer, "nft_ctx_get_output_buffer");
  load(a.get_error_buffer, "nft_ctx_get_error_buffer");
  if (missing != nullptr) {
    return base::not_found(fmt::format("{} has no symbol {}", kLibNftables, missing));
  }
  return a;
}

} // namespace

struct NftablesManager::Ctx {
  void* lib = nullptr;
  NftApi api;
  nft_ctx* ctx = nullptr;
  Ctx() = default;
  Ctx(const Ctx&) = delete;
  Ctx& operator=(const Ctx&) = delete;
  ~Ctx() {
    if (ctx != nullptr) {
      api.ctx_free(ctx);
    }
    if (lib != nullptr) {
      ::dlclose(lib);
    }
  }
};

NftablesManager::NftablesManager(std::unique_ptr<Ctx> ctx) : ctx_(std::move(ctx)) {}
NftablesManager::~NftablesManager() = default;

base::Result<std::unique_ptr<NftablesManager>> NftablesManager::create() {
  auto ctx = std::make_unique<Ctx>();
  ctx->lib = ::dlopen(kLibNftables, RTLD_NOW | RTLD_LOCAL);
  if (ctx->lib == nullptr) {
    const char* why = ::dlerror();
    return base::not_found(
        fmt::format("loading {}: {}", kLibNftables, why != nullptr ? why : "unknown error"));
  }
  auto api = resolve(ctx->lib);
  if (!api.ok()) {
    return api.status();
  }
  ctx->api = *api;
  ctx->ctx = ctx->api.ctx_new(NFT_CTX_DEFAULT);
  if (ctx->ctx == nullptr) {
    return base::internal_error("nft_ctx_new failed");
  }
  ctx->api.buffer_output(ctx->ctx);
  ctx->api.buffer_error(ctx->ctx);
  return std::unique_ptr<NftablesManager>(new NftablesManager(std::move(ctx)));
}

base::Result<std::string> NftablesManager::run(const std::string& script) {
  const NftApi& api = ctx_->api;
  const int rc = api.run_cmd_from_buffer(ctx_->ctx, script.c_str());
  const char* out = api.get_output_buffer(ctx_->ctx);
  const char* err = api.get_error_buffer(ctx_->ctx);
  if (rc != 0) {
    return base::unavailable(
        fmt::format("nft: {} (script:\n{})", err != nullptr ? err : "", script));
  }
  return std::string(out != nullptr ? out : "");
}

base::Result<std::string> NftablesManager::list_ours() {
  std::string listing;
  if (config_ && config_->network) {
    auto v4 = run(fmt::format("list table ip {}", kIpv4Table));
    if (!v4.ok()) {
      return v4.status();
    }
    listing += *v4;
  }
  if (config_ && config_->network6) {
    auto v6 = run(fmt::format("list table ip6 {}", kIpv6Table));
    if (!v6.ok()) {
      return v6.status();
    }
    listing += *v6;
  }
  return listing;
}

base::Status NftablesManager::apply(const TrafficConfig& config) {
  config_ = config;
  auto r = run(nft_script(config));
  if (!r.ok()) {
    return r.status();
  }
  auto listing = list_ours();
  if (!listing.ok()) {
    return listing.status();
  }
  applied_listing_ = *listing;
  return {};
}

base::Result<bool> NftablesManager::ensure() {
  if (!config_) {
    return false;
  }
  auto listing = list_ours();
  if (listing.ok() && *listing == applied_listing_) {
    return false;
  }
  WEFT_INFO("nftables: flannel tables changed or missing; re-applying them");
  WEFT_RETURN_IF_ERROR(apply(*config_));
  return true;
}

base::Result<bool> flannel_nft_tables_present() {
  const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) {
    if (errno == EPROTONOSUPPORT || errno == EAFNOSUPPORT) {
      return false; // no nfnetlink in this kernel: no nftables tables either
    }
    return base::unavailable(fmt::format("nfnetlink socket: {}", std::strerror(errno)));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct {
    nlmsghdr hdr;
    nfgenmsg gen;
  } req{};
  req.hdr.nlmsg_len = sizeof(req);
  req.hdr.nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE;
  req.hdr.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.hdr.nlmsg_seq = 1;
  req.gen.nfgen_family = AF_UNSPEC;
  req.gen.version = NFNETLINK_V0;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd, &req, sizeof(req), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel)) <
      0) {
    return base::unavailable(fmt::format("nfnetlink send: {}", std::strerror(errno)));
  }
  bool found = false;
  std::vector<char> buf(64 << 10);
  while (true) {
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return base::unavailable(fmt::format("nfnetlink recv: {}", std::strerror(errno)));
    }
    auto left = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, left);
         h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_type == NLMSG_DONE) {
        return found;
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        const auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
        if (err->error == 0) {
          continue;
        }
        if (err->error == -ENOENT || err->error == -EAFNOSUPPORT ||
            err->error == -EPROTONOSUPPORT) {
          return false; // nf_tables not loaded: no tables
        }
        return base::unavailable(
            fmt::format("nfnetlink table dump: {}", std::strerror(-err->error)));
      }
      if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nfgenmsg))) {
        continue;
      }
      const auto* gen = static_cast<const nfgenmsg*>(NLMSG_DATA(h));
      const char* attrs = static_cast<const char*>(NLMSG_DATA(h)) + NLMSG_ALIGN(sizeof(nfgenmsg));
      int alen = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(sizeof(nfgenmsg))));
      for (auto* a = reinterpret_cast<const nlattr*>(attrs);
           alen >= static_cast<int>(sizeof(nlattr)) && a->nla_len >= sizeof(nlattr) &&
           a->nla_len <= alen;
           alen -= NLA_ALIGN(a->nla_len),
                 a = reinterpret_cast<const nlattr*>(reinterpret_cast<const char*>(a) +
                                                     NLA_ALIGN(a->nla_len))) {
        if ((a->nla_type & NLA_TYPE_MASK) != NFTA_TABLE_NAME) {
          continue;
        }
        const char* name = reinterpret_cast<const char*>(a) + NLA_HDRLEN;
        const std::string_view table(name, strnlen(name, a->nla_len - NLA_HDRLEN));
        if ((gen->nfgen_family == NFPROTO_IPV4 && table == kIpv4Table) ||
            (gen->nfgen_family == NFPROTO_IPV6 && table == kIpv6Table)) {
          found = true;
        }
      }
    }
  }
}

base::Status NftablesManager::cleanup() {
  auto r = run(nft_cleanup_script());
  return r.ok() ? base::Status{} : r.status();
}

} // namespace weft::kernel
