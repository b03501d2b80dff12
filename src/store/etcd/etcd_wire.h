#pragma once
// The protobuf wire encoding of the etcd v3 messages weft sends and reads (package etcdserverpb
// and mvccpb of etcd 3.4: same field numbers and types), written by hand so that weftd needs
// neither protobuf nor gRPC. Decoders take untrusted bytes: malformed input gives nullopt, never a
// crash, and fields weft does not know are skipped as protobuf requires.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/etcd/etcd_client.h"

namespace weft::store::etcd::wire {

// Appends protobuf fields to a buffer. Scalars equal to their default (0, empty) are left out, as
// proto3 does, except where a field belongs to a oneof (the `_always` forms).
class Writer {
public:
  void varint(std::uint32_t field, std::uint64_t value);
  void varint_always(std::uint32_t field, std::uint64_t value);
  void int64(std::uint32_t field, std::int64_t value) {
    varint(field, static_cast<std::uint64_t>(value));
  }
  void boolean(std::uint32_t field, bool value) { varint(field, value ? 1 : 0); }
  void bytes(std::uint32_t field, std::string_view value);
  void bytes_always(std::uint32_t field, std::string_view value);
  // A nested message (always written, even when empty: it sets a oneof or a repeated element).
  void message(std::uint32_t field, std::string_view encoded) { bytes_always(field, encoded); }

  const std::string& data() const { return out_; }
  std::string take() { return std::move(out_); }

private:
  void tag(std::uint32_t field, std::uint32_t wire_type);
  void raw_varint(std::uint64_t value);
  std::string out_;
};

// Walks the fields of one encoded message. next() returns false at the end or on malformed input;
// ok() tells which.
class Reader {
public:
  explicit Reader(std::string_view data) : p_(data.data()), end_(data.data() + data.size()) {}
  bool next();
  bool ok() const { return ok_; }
  std::uint32_t field() const { return field_; }
  std::uint32_t wire_type() const { return wire_type_; }
  // The current field's value; false (and the reader fails) when the wire type does not match.
  bool read_varint(std::uint64_t& out);
  bool read_int64(std::int64_t& out);
  bool read_bool(bool& out);
  bool read_bytes(std::string_view& out);
  bool read_string(std::string& out);
  // Skips the current field's value whatever its wire type.
  bool skip();

private:
  bool raw_varint(std::uint64_t& out);
  const char* p_;
  const char* end_;
  std::uint32_t field_ = 0;
  std::uint32_t wire_type_ = 0;
  bool ok_ = true;
  bool consumed_ = true;
};

// --- requests ---

// One comparison of a Txn; weft compares for equality only.
struct Compare {
  enum class Target { kVersion = 0, kCreate = 1, kMod = 2, kValue = 3, kLease = 4 };
  Target target = Target::kVersion;
  std::string key;
  std::int64_t number = 0; // version, create or mod revision, lease
  std::string value;       // for kValue
};

// One operation of a Txn branch.
struct Op {
  enum class Kind { kRange = 1, kPut = 2, kDeleteRange = 3 };
  Kind kind = Kind::kRange;
  std::string key;
  std::string value; // kPut
  std::int64_t lease = 0;
};

std::string range_request(std::string_view key, std::string_view range_end, bool serializable);
std::string put_request(std::string_view key, std::string_view value, std::int64_t lease);
std::string delete_range_request(std::string_view key, std::string_view range_end);
std::string txn_request(std::span<const Compare> compare, std::span<const Op> success,
                        std::span<const Op> failure);
std::string compaction_request(std::int64_t revision, bool physical);
std::string lease_grant_request(std::int64_t ttl_seconds);
// LeaseRevoke, LeaseKeepAlive and LeaseTimeToLive requests: the lease ID is field 1 of each.
std::string lease_id_request(std::int64_t id);
std::string authenticate_request(std::string_view name, std::string_view password);
std::string watch_create_request(std::string_view key, std::string_view range_end,
                                 std::int64_t start_revision, bool progress_notify);

// --- responses ---

std::optional<KeyValue> decode_key_value(std::string_view data);
// A RangeResponse read in place: the views point into `data`, which must outlive them. A lease
// listing is parsed straight from the received message, without a string per key and value.
struct RangeViews {
  std::int64_t revision = 0;
  std::vector<KeyValueView> kvs;
};
std::optional<RangeViews> decode_range_views(std::string_view data);
std::optional<RangeResult> decode_range_response(std::string_view data);
// The header revision of any response (PutResponse, CompactionResponse, ...).
std::optional<std::int64_t> decode_header_revision(std::string_view data);
struct DeleteRangeResponse {
  std::int64_t revision = 0;
  std::int64_t deleted = 0;
};
std::optional<DeleteRangeResponse> decode_delete_range_response(std::string_view data);
std::optional<TxnResult> decode_txn_response(std::string_view data);
struct LeaseGrantResponse {
  LeaseGrant grant;
  std::string error;
};
std::optional<LeaseGrantResponse> decode_lease_grant_response(std::string_view data);
// LeaseKeepAliveResponse and LeaseTimeToLiveResponse: the TTL is field 3 of both.
std::optional<std::int64_t> decode_lease_ttl(std::string_view data);
std::optional<std::string> decode_authenticate_token(std::string_view data);
std::optional<WatchResponse> decode_watch_response(std::string_view data);

} // namespace weft::store::etcd::wire
