#include "kernel/nftables_manager.h"

#include <dlfcn.h>
#include <nftables/libnftables.h>

#include <type_traits>

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

base::Status NftablesManager::cleanup() {
  auto r = run(nft_cleanup_script());
  return r.ok() ? base::Status{} : r.status();
}

} // namespace weft::kernel
