// The hand-written etcd message encoding against bytes produced by protoc itself
// (`protoc --encode=etcdserverpb.<Message>` with etcd 3.4's field numbers), and the decoders
// against protoc's responses, unknown fields and every truncation.

#include "store/etcd/etcd_wire.h"

#include <gtest/gtest.h>

#include <string>

namespace weft::store::etcd::wire {
namespace {

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

std::string unhex(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i + 1 < text.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(text.substr(i, 2), nullptr, 16)));
  }
  return out;
}

TEST(EtcdWire, RequestsMatchProtoc) {
  // echo 'key: "/a" range_end: "/b" serializable: true' | protoc --encode=etcdserverpb.RangeRequest
  EXPECT_EQ(hex(range_request("/a", "/b", true)), "0a022f6112022f623801");
  EXPECT_EQ(hex(put_request("/k", "v", -1)), "0a022f6b12017618ffffffffffffffffff01");
  EXPECT_EQ(hex(lease_grant_request(86400)), "0880a305");
  EXPECT_EQ(hex(authenticate_request("u", "p")), "0a0175120170");
  EXPECT_EQ(hex(compaction_request(9, true)), "08091001");
  EXPECT_EQ(hex(watch_create_request("/p/", "/p0", 5, true)), "0a0e0a032f702f12032f703018052001");
  EXPECT_EQ(hex(lease_id_request(0)), "");
}

TEST(EtcdWire, TxnRequestsMatchProtoc) {
  // compare { key: "/k" target: VERSION result: EQUAL version: 0 }
  // success { request_put { key: "/k" value: "v" lease: 7 } }
  {
    const Compare cmp[] = {{Compare::Target::kVersion, "/k", 0, {}}};
    const Op ok[] = {{Op::Kind::kPut, "/k", "v", 7}};
    EXPECT_EQ(hex(txn_request(cmp, ok, {})), "0a061a022f6b2000120b12090a022f6b1201761807");
  }
  // compare { key: "/k" target: VALUE value: "old" } compare { key: "/k" target: LEASE lease: 0 }
  // success { request_put { ... } } failure { request_range { key: "/k" } }
  {
    const Compare cmp[] = {{Compare::Target::kValue, "/k", 0, "old"},
                           {Compare::Target::kLease, "/k", 0, {}}};
    const Op ok[] = {{Op::Kind::kPut, "/k", "v", 7}};
    const Op fail[] = {{Op::Kind::kRange, "/k", {}, 0}};
    EXPECT_EQ(hex(txn_request(cmp, ok, fail)),
              "0a0b10031a022f6b3a036f6c640a0810041a022f6b4000120b12090a022f6b12017618071a060a040a0"
              "22f6b");
  }
  // compare { key: "/k" target: CREATE create_revision: 12 }
  // success { request_delete_range { key: "/k" } }
  {
    const Compare cmp[] = {{Compare::Target::kCreate, "/k", 12, {}}};
    const Op ok[] = {{Op::Kind::kDeleteRange, "/k", {}, 0}};
    EXPECT_EQ(hex(txn_request(cmp, ok, {})), "0a0810011a022f6b280c12061a040a022f6b");
  }
}

TEST(EtcdWire, DecodesRangeResponse) {
  // header { cluster_id: 99 member_id: 5 revision: 42 raft_term: 3 }
  // kvs { key: "/a" value: "x" create_revision: 2 mod_revision: 40 version: 3 lease: 7587 }
  // kvs { key: "/b" value: "" create_revision: 41 mod_revision: 41 version: 1 } count: 2
  const auto r = decode_range_response(unhex(
      "0a0808631005182a200312100a022f611002182820032a017830a33b120a0a022f621029182920012002"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->revision, 42);
  ASSERT_EQ(r->kvs.size(), 2u);
  EXPECT_EQ(r->kvs[0].key, "/a");
  EXPECT_EQ(r->kvs[0].value, "x");
  EXPECT_EQ(r->kvs[0].create_revision, 2);
  EXPECT_EQ(r->kvs[0].mod_revision, 40);
  EXPECT_EQ(r->kvs[0].version, 3);
  EXPECT_EQ(r->kvs[0].lease, 7587);
  EXPECT_EQ(r->kvs[1].key, "/b");
  EXPECT_EQ(r->kvs[1].value, "");
  EXPECT_EQ(r->kvs[1].lease, 0);
}

TEST(EtcdWire, RangeViewsMatchTheCopyingDecoder) {
  const std::string data =
      unhex("0a0808631005182a200312100a022f611002182820032a017830a33b120a0a022f621029182920012002");
  const auto copied = decode_range_response(data);
  const auto views = decode_range_views(data);
  ASSERT_TRUE(copied.has_value());
  ASSERT_TRUE(views.has_value());
  EXPECT_EQ(views->revision, copied->revision);
  ASSERT_EQ(views->kvs.size(), copied->kvs.size());
  for (std::size_t i = 0; i < views->kvs.size(); ++i) {
    EXPECT_EQ(views->kvs[i].key, copied->kvs[i].key);
    EXPECT_EQ(views->kvs[i].value, copied->kvs[i].value);
    EXPECT_EQ(views->kvs[i].mod_revision, copied->kvs[i].mod_revision);
    EXPECT_EQ(views->kvs[i].create_revision, copied->kvs[i].create_revision);
    EXPECT_EQ(views->kvs[i].version, copied->kvs[i].version);
    EXPECT_EQ(views->kvs[i].lease, copied->kvs[i].lease);
  }
  for (std::size_t n = 0; n < data.size(); ++n) { // prefixes: both decoders agree
    EXPECT_EQ(decode_range_views(data.substr(0, n)).has_value(),
              decode_range_response(data.substr(0, n)).has_value())
        << n;
  }
}

TEST(EtcdWire, DecodesWatchResponses) {
  // header { revision: 50 } events { type: PUT kv { key: "/a" value: "1" mod_revision: 49 } }
  // events { type: DELETE kv { key: "/b" mod_revision: 50 } }
  const auto w =
      decode_watch_response(unhex("0a0218325a0b12090a022f6118312a01315a0a080112060a022f621832"));
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->revision, 50);
  EXPECT_FALSE(w->created);
  ASSERT_EQ(w->events.size(), 2u);
  EXPECT_EQ(w->events[0].type, WatchEvent::Type::kPut);
  EXPECT_EQ(w->events[0].kv.key, "/a");
  EXPECT_EQ(w->events[0].kv.value, "1");
  EXPECT_EQ(w->events[0].kv.mod_revision, 49);
  EXPECT_EQ(w->events[1].type, WatchEvent::Type::kDelete);
  EXPECT_EQ(w->events[1].kv.key, "/b");
  EXPECT_EQ(w->events[1].kv.mod_revision, 50);

  // header { revision: 60 } canceled: true compact_revision: 30 cancel_reason: "mvcc: ..."
  const auto c = decode_watch_response(
      unhex("0a02183c2001281e322a6d7663633a207265717569726564207265766973696f6e20686173206265656e20"
            "636f6d706163746564"));
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->canceled);
  EXPECT_EQ(c->compact_revision, 30);
  EXPECT_EQ(c->cancel_reason, "mvcc: required revision has been compacted");
}

TEST(EtcdWire, DecodesOtherResponses) {
  // TxnResponse: succeeded: false, a range in the failure branch.
  const auto t =
      decode_txn_response(unhex("0a02184d1a170a150a02184d120d0a022f6b18462a0363757230052001"));
  ASSERT_TRUE(t.has_value());
  EXPECT_FALSE(t->succeeded);
  EXPECT_EQ(t->revision, 77);
  ASSERT_EQ(t->kvs.size(), 1u);
  EXPECT_EQ(t->kvs[0].value, "cur");
  EXPECT_EQ(t->kvs[0].lease, 5);

  const auto g = decode_lease_grant_response(unhex("0a02180110c0e59095ebc3e1a6691880a305"));
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->grant.id, 7587868413593400000);
  EXPECT_EQ(g->grant.ttl_seconds, 86400);
  EXPECT_TRUE(g->error.empty());

  EXPECT_EQ(decode_lease_ttl(unhex("0a021801100c18ffffffffffffffffff01")), -1);
  const auto d = decode_delete_range_response(unhex("0a0218081003"));
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->deleted, 3);
  EXPECT_EQ(d->revision, 8);
  EXPECT_EQ(decode_authenticate_token(unhex("0a0218081207746f6b2e313233")), "tok.123");
  EXPECT_EQ(decode_header_revision(unhex("0a0218081003")), 8);
}

TEST(EtcdWire, SkipsUnknownFieldsOfEveryWireType) {
  Writer kv;
  kv.bytes(1, "/k");
  kv.varint(99, 5);         // unknown varint
  kv.bytes(100, "ignored"); // unknown bytes
  std::string body = kv.take();
  body += unhex("ad06") + "abcd";              // field 101, fixed32
  body += unhex("b106") + std::string(8, 'x'); // field 102, fixed64
  Writer v;
  v.bytes(5, "val");
  body += v.data();
  const auto decoded = decode_key_value(body);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->key, "/k");
  EXPECT_EQ(decoded->value, "val");
}

TEST(EtcdWire, RejectsMalformedInput) {
  // Every proper prefix of a valid response either fails or decodes to fewer fields; none crash.
  const std::string full =
      unhex("0a0808631005182a200312100a022f611002182820032a017830a33b120a0a022f621029182920012002");
  const std::size_t second_kv_end = full.size() - 2; // then "count: 2"
  for (std::size_t n = 0; n < full.size(); ++n) {
    const auto r = decode_range_response(full.substr(0, n));
    if (r && n < second_kv_end) {
      EXPECT_LT(r->kvs.size(), 2u) << "prefix " << n;
    }
    if (n == full.size() - 1) {
      EXPECT_FALSE(r.has_value()) << "a tag without its value";
    }
  }
  EXPECT_FALSE(decode_range_response(unhex("12ff")).has_value()); // length past the end
  EXPECT_FALSE(decode_range_response(unhex("0b")).has_value());   // wire type 3 (group)
  EXPECT_FALSE(decode_range_response(unhex("00")).has_value());   // field 0
  EXPECT_FALSE(
      decode_range_response(unhex("08ffffffffffffffffffff01")).has_value()); // 11-byte varint
  EXPECT_FALSE(decode_range_response(unhex("0801")).has_value());            // header as a varint
  EXPECT_FALSE(decode_watch_response(unhex("5a0208")).has_value()); // event with a cut varint
}

TEST(EtcdWire, NegativeAndLargeNumbersRoundTrip) {
  for (const std::int64_t v : {std::int64_t{0}, std::int64_t{1}, std::int64_t{-1},
                               std::int64_t{INT64_MAX}, std::int64_t{INT64_MIN}}) {
    Writer w;
    w.int64(6, v);
    const auto kv = decode_key_value(w.data());
    ASSERT_TRUE(kv.has_value());
    EXPECT_EQ(kv->lease, v);
  }
}

} // namespace
} // namespace weft::store::etcd::wire
