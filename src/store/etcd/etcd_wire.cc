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

std::optional<std::int64_t> header_revision(std::string_view header) {
  Reader r(header);
  std::int64_t revision = 0;
  while (r.next()) {
    if (r.field() == f::kHeaderRevision) {
      if (!r.read_int64(revision)) {
        return std::nullopt;
      }
    }
  }
  if (!r.ok()) {
    return std::nullopt;
  }
  return revision;
}

// Reads the current field as the response header; false on malformed input.
bool read_header(Reader& r, std::int64_t& revision) {
  std::string_view header;
  if (!r.read_bytes(header)) {
    return false;
  }
  auto rev = header_revision(header);
  if (!rev) {
    return false;
  }
  revision = *rev;
  return true;
}

bool read_key_value(Reader& r, KeyValue& out) {
  std::string_view data;
  if (!r.read_bytes(data)) {
    return false;
  }
  auto kv = decode_key_value(data);
  if (!kv) {
    return false;
  }
  out = std::move(*kv);
  return true;
}

} // namespace

std::optional<KeyValue> decode_key_value(std::string_view data) {
  Reader r(data);
  KeyValue kv;
  bool good = true;
  while (good && r.next()) {
    switch (r.field()) {
    case f::kKvKey:
      good = r.read_string(kv.key);
      break;
    case f::kKvCreateRevision:
      good = r.read_int64(kv.create_revision);
      break;
    case f::kKvModRevision:
      good = r.read_int64(kv.mod_revision);
      break;
    case f::kKvVersion:
      good = r.read_int64(kv.version);
      break;
    case f::kKvValue:
      good = r.read_string(kv.value);
      break;
    case f::kKvLease:
      good = r.read_int64(kv.lease);
      break;
    default:
      good = r.skip();
    }
  }
  if (!good || !r.ok()) {
    return std::nullopt;
  }
  return kv;
}

std::optional<RangeViews> decode_range_views(std::string_view data) {
  Reader r(data);
  RangeViews out;
  // Lease values are 100 to 300 bytes: room for all without growing through copies.
  out.kvs.reserve(data.size() / 96 + 1);
  base::prefault_reserved(out.kvs);
  bool good = true;
  while (good && r.next()) {
    if (r.field() == f::kHeader) {
      good = read_header(r, out.revision);
      continue;
    }
    if (r.field() != f::kRangeRespKvs) {
      good = r.skip();
      continue;
    }
    std::string_view kv_bytes;
    good = r.read_bytes(kv_bytes);
    Reader k(kv_bytes);
    KeyValueView& kv = out.kvs.emplace_back();
    while (good && k.next()) {
      switch (k.field()) {
      case f::kKvKey:
        good = k.read_bytes(kv.key);
        break;
      case f::kKvCreateRevision:
        good = k.read_int64(kv.create_revision);
        break;
      case f::kKvModRevision:
        good = k.read_int64(kv.mod_revision);
        break;
      case f::kKvVersion:
        good = k.read_int64(kv.version);
        break;
      case f::kKvValue:
        good = k.read_bytes(kv.value);
        break;
      case f::kKvLease:
        good = k.read_int64(kv.lease);
        break;
      default:
        good = k.skip();
      }
    }
    good = good && k.ok();
  }
  if (!good || !r.ok()) {
    return std::nullopt;
  }
  return out;
}

std::optional<std::int64_t> decode_header_revision(std::string_view data) {
  Reader r(data);
  std::int64_t revision = 0;
  bool good = true;
  while (good && r.next()) {
    good = r.field() == f::kHeader ? read_header(r, revision) : r.skip();
  }
  if (!good || !r.ok()) {
    return std::nullopt;
  }
  return revision;
}

std::optional<RangeResult> decode_range_response(std::string_view data) {
  Reader r(data);
  RangeResult out;
  bool good = true;
  while (good && r.next()) {
    switch (r.field()) {
    case f::kHeader:
      good = read_header(r, out.revision);
      break;
    case f::kRangeRespKvs:
      good = read_key_value(r, out.kvs.emplace_back());
      break;
    default:
      good = r.skip();
    }
  }
  if (!good || !r.ok()) {
    return std::nullopt;
  }
  return out;
}

std::optional<DeleteRangeResponse> decode_delete_range_response(std::string_view data) {
  Reader r(data);
  DeleteRangeResponse out;
  bool good = true;
  while (good && r.next()) {
    switch (r.field()) {
    case f::kHeader:
      good = read_header(r, out.revision);
      break;
    case f::kDelRespDeleted:
      good = r.read_int64(out.deleted);
      break;
    default:
      good = r.skip();
    }
  }
  if (!good || !r.ok()) {
    return std::nullopt;
  }
  return out;
}

std::optional<TxnResult> decode_txn_response(std::string_view data) {
  Reader r(data);
  TxnResult out;
  bool good = true;
  while (good && r.next()) {
    switch (r.field()) {
    case f::kHeader:
      good = read_header(r, out.revision);
      break;
    case f::kTxnRespSucceeded:
      good = r.read_bool(out.succeeded);
      break;
    case f::kTxnRespResponses: {
      std::string_view op;
      good = r.read_bytes(op);
      Reader o(op);
      while (good && o.next()) {
        if (o.field() != f::kOpRange) {
          good = o.skip();
          continue;
        }
        std::string_view range;
        good = o.read_bytes(range);
        if (good) {
          auto rr = decode_range_response(range);
          good = rr.has_value();
          if (good) {
            for (auto& kv : rr->kvs) {
              out.kvs.push_back(std::move(kv));
            }
          }
        }
      }
      good = good && o.ok();
      break;
    }
    default:
      good = r.skip();
    }
  }
  if (!good || !r.ok()) {
    return std::nullopt;
  }
  return out;
}

std::optional<LeaseGrantResponse> decode_lease_grant_response(std::string_view data) {
  Reader r(data);
  LeaseGrantResponse out;
  std::int64_t revision = 0;
  bool good = true;
  while (good && r.next()) {
    switch (r.field()) {
    case f::kHeader:
      good = read_header(r, revision);
      break;
    case f::kLeaseRespId:
      good = r.read_int64(out.grant.id);
      break;
    case f::kLeaseRespTtl:
      good = r.read_int64(out.grant.ttl_seconds);
      break;
    case f::kLeaseRespError:
      good = r.read_string(out.error);
      break;
    default:
      good = r.skip();
    }
  }
  if (!good || !r.ok()) {
    return std::nullopt;
  }
  return out;
}

std::optional<std::int64_t> decode_lease_ttl(std::string_view data) {
  Reader r(data);
  std::int64_t ttl = 0;
  bool good = true;
  while (good && r.next()) {
    good = r.field() == f::kLeaseRespTtl ? r.read_int64(ttl) : r.skip();
  }
  if (!good || !r.ok()) {
    return std::nullopt;
  }
  return ttl;
}

std::optional<std::string> decode_authenticate_token(std::string_view data) {
  Reader r(data);
  std::string token;
  bool good = true;
  while (good && r.next()) {
    good = r.field() == f::kAuthRespToken ? r.read_string(token) : r.skip();
  }
  if (!good || !r.ok()) {
    return std::nullopt;
  }
  return token;
}

std::optional<WatchResponse> decode_watch_response(std::string_view data) {
  Reader r(data);
  WatchResponse out;
  bool good = true;
  while (good && r.next()) {
    switch (r.field()) {
    case f::kHeader:
      good = read_header(r, out.revision);
      break;
    case f::kWrCreated:
      good = r.read_bool(out.created);
      break;
    case f::kWrCanceled:
      good = r.read_bool(out.canceled);
      break;
    case f::kWrCompactRevision:
      good = r.read_int64(out.compact_revision);
      break;
    case f::kWrCancelReason:
      good = r.read_string(out.cancel_reason);
      break;
    case f::kWrEvents: {
      std::string_view event;
      good = r.read_bytes(event);
      if (!good) {
        break;
      }
      WatchEvent ev;
      Reader e(event);
      while (good && e.next()) {
        switch (e.field()) {
        case f::kEvType: {
          std::uint64_t type = 0;
          good = e.read_varint(type);
          ev.type = type == 1 ? WatchEvent::Type::kDelete : WatchEvent::Type::kPut;
          break;
        }
        case f::kEvKv:
          good = read_key_value(e, ev.kv);
          break;
        default:
          good = e.skip();
        }
      }
      good = good && e.ok();
      out.events.push_back(std::move(ev));
      break;
    }
    default:
      good = r.skip();
    }
  }
  if (!good || !r.ok()) {
    return std::nullopt;
  }
  return out;
}

} // namespace weft::store::etcd::wire
