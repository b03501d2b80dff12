// libFuzzer target: every decoder of etcd's responses on arbitrary bytes (what a broken or hostile
// member could send). Each returns a value or nullopt, never crashes; a key-value pair that decodes
// encodes again to bytes that decode to the same pair.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "store/etcd/etcd_wire.h"

namespace wire = weft::store::etcd::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  // The in-place decoder of listings agrees with the copying one.
  const auto copied = wire::decode_range_response(in);
  const auto views = wire::decode_range_views(in);
  if (copied.has_value() != views.has_value()) {
    std::abort();
  }
  if (copied) {
    if (copied->revision != views->revision || copied->kvs.size() != views->kvs.size()) {
      std::abort();
    }
    for (std::size_t i = 0; i < copied->kvs.size(); ++i) {
      const auto& c = copied->kvs[i];
      const auto& v = views->kvs[i];
      if (c.key != v.key || c.value != v.value || c.lease != v.lease ||
          c.mod_revision != v.mod_revision || c.create_revision != v.create_revision ||
          c.version != v.version) {
        std::abort();
      }
    }
  }
  (void)wire::decode_header_revision(in);
  (void)wire::decode_delete_range_response(in);
  (void)wire::decode_txn_response(in);
  (void)wire::decode_lease_grant_response(in);
  (void)wire::decode_lease_ttl(in);
  (void)wire::decode_authenticate_token(in);
  (void)wire::decode_watch_response(in);
  if (auto kv = wire::decode_key_value(in)) {
    wire::Writer w;
    w.bytes(1, kv->key);
    w.int64(2, kv->create_revision);
    w.int64(3, kv->mod_revision);
    w.int64(4, kv->version);
    w.bytes(5, kv->value);
    w.int64(6, kv->lease);
    auto again = wire::decode_key_value(w.data());
    if (!again || again->key != kv->key || again->value != kv->value ||
        again->create_revision != kv->create_revision || again->mod_revision != kv->mod_revision ||
        again->version != kv->version || again->lease != kv->lease) {
      std::abort();
    }
  }
  return 0;
}
