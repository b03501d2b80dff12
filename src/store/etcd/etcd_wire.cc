#include "store/etcd/etcd_wire.h"

#include <cstring>

#include "base/prefault.h"

namespace weft::store::etcd::wire {
namespace {

constexpr std::uint32_t kVarint = 0;
constexpr std::uint32_t kFixed64 = 1;
constexpr std::uint32_t kLengthDelimited = 2;
constexpr std::uint32_t kFixed32 = 5;

// Field numbers, from etcd 3.4's rpc.proto and kv.proto.
namespace f {
// ResponseHeader
constexpr std::uint32_t kHeaderRevision = 3;
// every response
constexpr std::uint32_t kHeader = 1;
// mvccpb.KeyValue
constexpr std::uint32_t kKvKey = 1, kKvCreateRevision = 2, kKvModRevision = 3, kKvVersion = 4,
                        kKvValue = 5, kKvLease = 6;
// RangeRequest / RangeResponse
constexpr std::uint32_t kRangeKey = 1, kRangeEnd = 2, kRangeSerializable = 7;
constexpr std::uint32_t kRangeRespKvs = 2;
// PutRequest
constexpr std::uint32_t kPutKey = 1, kPutValue = 2, kPutLease = 3;
// DeleteRangeRequest / Response
constexpr std::uint32_t kDelKey = 1, kDelRangeEnd = 2;
constexpr std::uint32_t kDelRespDeleted = 2;
// Compare
constexpr std::uint32_t kCmpResult = 1, kCmpTarget = 2, kCmpKey = 3, kCmpVersion = 4,
                        kCmpCreateRevision = 5, kCmpModRevision = 6, kCmpValue = 7, kCmpLease = 8;
// TxnRequest / TxnResponse; RequestOp and ResponseOp share their oneof numbers
constexpr std::uint32_t kTxnCompare = 1, kTxnSuccess = 2, kTxnFailure = 3;
constexpr std::uint32_t kTxnRespSucceeded = 2, kTxnRespResponses = 3;
constexpr std::uint32_t kOpRange = 1;
// CompactionRequest
constexpr std::uint32_t kCompactRevision = 1, kCompactPhysical = 2;
// Lease*
constexpr std::uint32_t kLeaseGrantTtl = 1;
constexpr std::uint32_t kLeaseId = 1;
constexpr std::uint32_t kLeaseRespId = 2, kLeaseRespTtl = 3, kLeaseRespError = 4;
// Authenticate
constexpr std::uint32_t kAuthName = 1, kAuthPassword = 2, kAuthRespToken = 2;
// WatchRequest / WatchCreateRequest / WatchResponse / Event
constexpr std::uint32_t kWatchCreate = 1;
constexpr std::uint32_t kWcKey = 1, kWcRangeEnd = 2, kWcStartRevision = 3, kWcProgressNotify = 4;
constexpr std::uint32_t kWrCreated = 3, kWrCanceled = 4, kWrCompactRevision = 5,
                        kWrCancelReason = 6, kWrEvents = 11;
constexpr std::uint32_t kEvType = 1, kEvKv = 2;
} // namespace f

} // namespace

// ---------------------------------------------------------------------------------------------
// Writer

void Writer::raw_varint(std::uint64_t value) {
  while (value >= 0x80) {
    out_.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out_.push_back(static_cast<char>(value));
}

void Writer::tag(std::uint32_t field, std::uint32_t wire_type) {
  raw_varint((static_cast<std::uint64_t>(field) << 3) | wire_type);
}

void Writer::varint(std::uint32_t field, std::uint64_t value) {
  if (value != 0) {
    varint_always(field, value);
  }
}

void Writer::varint_always(std::uint32_t field, std::uint64_t value) {
  tag(field, kVarint);
  raw_varint(value);
}

void Writer::bytes(std::uint32_t field, std::string_view value) {
  if (!value.empty()) {
    bytes_always(field, value);
  }
}

void Writer::bytes_always(std::uint32_t field, std::string_view value) {
  tag(field, kLengthDelimited);
  raw_varint(value.size());
  out_.append(value);
}

// ---------------------------------------------------------------------------------------------
// Reader

bool Reader::raw_varint(std::uint64_t& out) {
  out = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (p_ == end_) {
      return ok_ = false;
    }
    const auto byte = static_cast<unsigned char>(*p_++);
    if (shift < 64) {
      out |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    }
    if ((byte & 0x80) == 0) {
      return true;
    }
  }
  return ok_ = false; // more than 10 bytes
}

bool Reader::next() {
  if (!ok_) {
    return false;
  }
  if (!consumed_ && !skip()) {
    return false;
  }
  if (p_ == end_) {
    return false;
  }
  std::uint64_t key = 0;
  if (!raw_varint(key)) {
    return false;
  }
  const std::uint64_t field = key >> 3;
  wire_type_ = static_cast<std::uint32_t>(key & 7);
  if (field == 0 || field > 0x1fffffff ||
      (wire_type_ != kVarint && wire_type_ != kFixed64 && wire_type_ != kLengthDelimited &&
       wire_type_ != kFixed32)) {
    return ok_ = false;
  }
  field_ = static_cast<std::uint32_t>(field);
  consumed_ = false;
  return true;
}

bool Reader::read_varint(std::uint64_t& out) {
  if (consumed_ || wire_type_ != kVarint) {
    return ok_ = false;
  }
  consumed_ = true;
  return raw_varint(out);
}

bool Reader::read_int64(std::int64_t& out) {
  std::uint64_t v = 0;
  if (!read_varint(v)) {
    return false;
  }
  out = static_cast<std::int64_t>(v);
  return true;
}

bool Reader::read_bool(bool& out) {
  std::uint64_t v = 0;
  if (!read_varint(v)) {
    return false;
  }
  out = v != 0;
  return true;
}

bool Reader::read_bytes(std::string_view& out) {
  if (consumed_ || wire_type_ != kLengthDelimited) {
    return ok_ = false;
  }
  consumed_ = true;
  std::uint64_t len = 0;
  if (!raw_varint(len)) {
    return false;
  }
  if (len > static_cast<std::uint64_t>(end_ - p_)) {
    return ok_ = false;
  }
  out = std::string_view(p_, static_cast<std::size_t>(len));
  p_ += len;
  return true;
}

bool Reader::read_string(std::string& out) {
  std::string_view v;
  if (!read_bytes(v)) {
    return false;
  }
  out.assign(v);
  return true;
}

bool Reader::skip() {
  if (consumed_) {
    return ok_;
  }
  switch (wire_type_) {
  case kVarint: {
    std::uint64_t ignored = 0;
    return read_varint(ignored);
  }
  case kLengthDelimited: {
    std::string_view ignored;
    return read_bytes(ignored);
  }
  case kFixed64:
  case kFixed32: {
    const std::size_t n = wire_type_ == kFixed64 ? 8 : 4;
    consumed_ = true;
    if (static_cast<std::size_t>(end_ - p_) < n) {
      return ok_ = false;
    }
    p_ += n;
    return true;
  }
  default:
    return ok_ = false;
  }
}

// ---------------------------------------------------------------------------------------------
// Requests

std::string range_request(std::string_view key, std::string_view range_end, bool serializable) {
  Writer w;
  w.bytes(f::kRangeKey, key);
  w.bytes(f::kRangeEnd, range_end);
  w.boolean(f::kRangeSerializable, serializable);
  return w.take();
}

std::string put_request(std::string_view key, std::string_view value, std::int64_t lease) {
  Writer w;
  w.bytes(f::kPutKey, key);
  w.bytes(f::kPutValue, value);
  w.int64(f::kPutLease, lease);
  return w.take();
}

std::string delete_range_request(std::string_view key, std::string_view range_end) {
  Writer w;
  w.bytes(f::kDelKey, key);
  w.bytes(f::kDelRangeEnd, range_end);
  return w.take();
}

namespace {

std::string compare_message(const Compare& c) {
  Writer w;
  // result EQUAL is 0: proto3 leaves it out.
  w.varint(f::kCmpResult, 0);
  w.varint(f::kCmpTarget, static_cast<std::uint64_t>(c.target));
  w.bytes(f::kCmpKey, c.key);
  // The target union is a oneof: its member is written even when zero ("Version == 0").
  const auto n = static_cast<std::uint64_t>(c.number);
  switch (c.target) {
  case Compare::Target::kVersion:
    w.varint_always(f::kCmpVersion, n);
    break;
  case Compare::Target::kCreate:
    w.varint_always(f::kCmpCreateRevision, n);
    break;
  case Compare::Target::kMod:
    w.varint_always(f::kCmpModRevision, n);
    break;
  case Compare::Target::kValue:
    w.bytes_always(f::kCmpValue, c.value);
    break;
  case Compare::Target::kLease:
    w.varint_always(f::kCmpLease, n);
    break;
  }
  return w.take();
}

std::string op_message(const Op& op) {
  std::string inner;
  switch (op.kind) {
  case Op::Kind::kRange:
    inner = range_request(op.key, {}, false);
    break;
  case Op::Kind::kPut:
    inner = put_request(op.key, op.value, op.lease);
    break;
  case Op::Kind::kDeleteRange:
    inner = delete_range_request(op.key, {});
    break;
  }
  Writer w;
  w.message(static_cast<std::uint32_t>(op.kind), inner);
  return w.take();
}

} // namespace

std::string txn_request(std::span<const Compare> compare, std::span<const Op> success,
                        std::span<const Op> failure) {
  Writer w;
  for (const auto& c : compare) {
    w.message(f::kTxnCompare, compare_message(c));
  }
  for (const auto& op : success) {
    w.message(f::kTxnSuccess, op_message(op));
  }
  for (const auto& op : failure) {
    w.message(f::kTxnFailure, op_message(op));
  }
  return w.take();
}

std::string compaction_request(std::int64_t revision, bool physical) {
  Writer w;
  w.int64(f::kCompactRevision, revision);
  w.boolean(f::kCompactPhysical, physical);
  return w.take();
}

std::string lease_grant_request(std::int64_t ttl_seconds) {
  Writer w;
  w.int64(f::kLeaseGrantTtl, ttl_seconds);
  return w.take();
}

std::string lease_id_request(std::int64_t id) {
  Writer w;
  w.int64(f::kLeaseId, id);
  return w.take();
}

std::string authenticate_request(std::string_view name, std::string_view password) {
  Writer w;
  w.bytes(f::kAuthName, name);
  w.bytes(f::kAuthPassword, password);
  return w.take();
}

std::string watch_create_request(std::string_view key, std::string_view range_end,
                                 std::int64_t start_revision, bool progress_notify) {
  Writer create;
  create.bytes(f::kWcKey, key);
  create.bytes(f::kWcRangeEnd, range_end);
  create.int64(f::kWcStartRevision, start_revision);
  create.boolean(f::kWcProgressNotify, progress_notify);
  Writer w;
  w.message(f::kWatchCreate, create.data());
  return w.take();
}

// ---------------------------------------------------------------------------------------------
// Responses

namespace {

// Walks the fields of one message into `out`: `on_field(r, out)` reads the field r is on (or
// skips it) and says whether it was well formed. nullopt for malformed input.
template <typename T, typename OnField>
std::optional<T> decode(std::string_view data, T out, const OnField& on_field) {
  Reader r(data);
  bool good = true;
  while (good && r.next()) {
    good = on_field(r, out);
  }
  if (!good || !r.ok()) {
    return std::nullopt;
  }
  return out;
}

// Reads the field r is on, a nested message, into `out` with `on_field`.
template <typename T, typename OnField>
bool read_nested(Reader& r, T& out, const OnField& on_field) {
  std::string_view data;
  if (!r.read_bytes(data)) {
    return false;
  }
  auto decoded = decode(data, std::move(out), on_field);
  if (!decoded) {
    return false;
  }
  out = std::move(*decoded);
  return true;
}

bool read_text(Reader& r, std::string& out) {
  return r.read_string(out);
}
bool read_text(Reader& r, std::string_view& out) {
  return r.read_bytes(out);
}

// mvccpb.KeyValue into a KeyValue (copies) or a KeyValueView (views into the message).
template <typename KV> bool key_value_field(Reader& r, KV& kv) {
  switch (r.field()) {
  case f::kKvKey:
    return read_text(r, kv.key);
  case f::kKvCreateRevision:
    return r.read_int64(kv.create_revision);
  case f::kKvModRevision:
    return r.read_int64(kv.mod_revision);
  case f::kKvVersion:
    return r.read_int64(kv.version);
  case f::kKvValue:
    return read_text(r, kv.value);
  case f::kKvLease:
    return r.read_int64(kv.lease);
  default:
    return r.skip();
  }
}

// The field r is on, the ResponseHeader of a response, for its revision.
bool read_header(Reader& r, std::int64_t& revision) {
  return read_nested(r, revision, [](Reader& h, std::int64_t& rev) {
    return h.field() == f::kHeaderRevision ? h.read_int64(rev) : h.skip();
  });
}

// A RangeResponse into `Range` (RangeResult or RangeViews), whose kvs hold `KV`s.
template <typename Range> bool range_response_field(Reader& r, Range& out) {
  switch (r.field()) {
  case f::kHeader:
    return read_header(r, out.revision);
  case f::kRangeRespKvs:
    return read_nested(r, out.kvs.emplace_back(),
                       key_value_field<typename decltype(out.kvs)::value_type>);
  default:
    return r.skip();
  }
}

} // namespace

std::optional<KeyValue> decode_key_value(std::string_view data) {
  return decode(data, KeyValue{}, key_value_field<KeyValue>);
}

std::optional<RangeViews> decode_range_views(std::string_view data) {
  RangeViews out;
  // Lease values are 100 to 300 bytes: room for all without growing through copies.
  out.kvs.reserve(data.size() / 96 + 1);
  base::prefault_reserved(out.kvs);
  return decode(data, std::move(out), range_response_field<RangeViews>);
}

std::optional<std::int64_t> decode_header_revision(std::string_view data) {
  return decode(data, std::int64_t{0}, [](Reader& r, std::int64_t& revision) {
    return r.field() == f::kHeader ? read_header(r, revision) : r.skip();
  });
}

std::optional<RangeResult> decode_range_response(std::string_view data) {
  return decode(data, RangeResult{}, range_response_field<RangeResult>);
}

std::optional<DeleteRangeResponse> decode_delete_range_response(std::string_view data) {
  return decode(data, DeleteRangeResponse{}, [](Reader& r, DeleteRangeResponse& out) {
    switch (r.field()) {
    case f::kHeader:
      return read_header(r, out.revision);
    case f::kDelRespDeleted:
      return r.read_int64(out.deleted);
    default:
      return r.skip();
    }
  });
}

std::optional<TxnResult> decode_txn_response(std::string_view data) {
  return decode(data, TxnResult{}, [](Reader& r, TxnResult& out) {
    switch (r.field()) {
    case f::kHeader:
      return read_header(r, out.revision);
    case f::kTxnRespSucceeded:
      return r.read_bool(out.succeeded);
    case f::kTxnRespResponses: // a ResponseOp: only a range's pairs are kept
      return read_nested(r, out, [](Reader& o, TxnResult& txn) {
        if (o.field() != f::kOpRange) {
          return o.skip();
        }
        RangeResult range;
        if (!read_nested(o, range, range_response_field<RangeResult>)) {
          return false;
        }
        for (auto& kv : range.kvs) {
          txn.kvs.push_back(std::move(kv));
        }
        return true;
      });
    default:
      return r.skip();
    }
  });
}

std::optional<LeaseGrantResponse> decode_lease_grant_response(std::string_view data) {
  return decode(data, LeaseGrantResponse{}, [](Reader& r, LeaseGrantResponse& out) {
    std::int64_t revision = 0;
    switch (r.field()) {
    case f::kHeader:
      return read_header(r, revision);
    case f::kLeaseRespId:
      return r.read_int64(out.grant.id);
    case f::kLeaseRespTtl:
      return r.read_int64(out.grant.ttl_seconds);
    case f::kLeaseRespError:
      return r.read_string(out.error);
    default:
      return r.skip();
    }
  });
}

std::optional<std::int64_t> decode_lease_ttl(std::string_view data) {
  return decode(data, std::int64_t{0}, [](Reader& r, std::int64_t& ttl) {
    return r.field() == f::kLeaseRespTtl ? r.read_int64(ttl) : r.skip();
  });
}

std::optional<std::string> decode_authenticate_token(std::string_view data) {
  return decode(data, std::string(), [](Reader& r, std::string& token) {
    return r.field() == f::kAuthRespToken ? r.read_string(token) : r.skip();
  });
}

std::optional<WatchResponse> decode_watch_response(std::string_view data) {
  return decode(data, WatchResponse{}, [](Reader& r, WatchResponse& out) {
    switch (r.field()) {
    case f::kHeader:
      return read_header(r, out.revision);
    case f::kWrCreated:
      return r.read_bool(out.created);
    case f::kWrCanceled:
      return r.read_bool(out.canceled);
    case f::kWrCompactRevision:
      return r.read_int64(out.compact_revision);
    case f::kWrCancelReason:
      return r.read_string(out.cancel_reason);
    case f::kWrEvents:
      return read_nested(r, out.events.emplace_back(), [](Reader& e, WatchEvent& ev) {
        switch (e.field()) {
        case f::kEvType: {
          std::uint64_t type = 0;
          const bool ok = e.read_varint(type);
          ev.type = type == 1 ? WatchEvent::Type::kDelete : WatchEvent::Type::kPut;
          return ok;
        }
        case f::kEvKv:
          return read_nested(e, ev.kv, key_value_field<KeyValue>);
        default:
          return e.skip();
        }
      });
    default:
      return r.skip();
    }
  });
}

} // namespace weft::store::etcd::wire
