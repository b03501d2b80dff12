#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "lease/lease.h"

namespace weft::lease {
namespace {

net::Ip4Addr v4(std::string_view s) {
  return net::Ip4Addr::parse(s).value();
}
net::Ip6Addr v6(std::string_view s) {
  return net::Ip6Addr::parse(s).value();
}

TEST(LeaseJson, VxlanGolden) {
  const std::string golden =
      R"({"PublicIP":"192.168.64.3","PublicIPv6":null,"BackendType":"vxlan",)"
      R"("BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:6c:0e"}})";
  auto attrs = parse_lease_attrs(golden);
  ASSERT_TRUE(attrs.ok()) << attrs.status().to_string();
  EXPECT_EQ(attrs->public_ip, v4("192.168.64.3"));
  EXPECT_FALSE(attrs->public_ipv6.has_value());
  EXPECT_EQ(attrs->backend_type, "vxlan");
  EXPECT_EQ(attrs->backend_data, R"({"VNI":1,"VtepMAC":"c6:d2:32:6f:6c:0e"})");
  EXPECT_TRUE(attrs->backend_v6_data.empty());
  EXPECT_EQ(to_json(*attrs), golden);
}

TEST(LeaseJson, TencentVpcGoldenOmitsEmptyFields) {
  LeaseAttrs attrs;
  attrs.public_ip = v4("10.0.0.5");
  EXPECT_EQ(to_json(attrs), R"({"PublicIP":"10.0.0.5","PublicIPv6":null})");
}

TEST(LeaseJson, DualStackWritesAllFields) {
  LeaseAttrs attrs;
  attrs.public_ip = v4("192.0.2.12");
  attrs.public_ipv6 = v6("2001:DB8::12");
  attrs.backend_type = "host-gw";
  attrs.backend_data = "null";
  attrs.backend_v6_data = "{ \"a\" : [1, 2] }";
  EXPECT_EQ(to_json(attrs), R"({"PublicIP":"192.0.2.12","PublicIPv6":"2001:db8::12",)"
                            R"("BackendType":"host-gw","BackendData":null,)"
                            R"("BackendV6Data":{"a":[1,2]}})");
}

TEST(LeaseJson, CompactsAndEscapesAsGo) {
  // Go's json.Marshal compacts a RawMessage and HTML-escapes inside its strings.
  EXPECT_EQ(go_compact_json(" {\"k\" :\t\"<a&b>\" ,\n \"x\": [ 1 , 2.50e3 ] } "),
            R"({"k":"\u003ca\u0026b\u003e","x":[1,2.50e3]})");
  EXPECT_EQ(go_compact_json("\"a\\\" <\""), R"("a\" \u003c")");
  EXPECT_EQ(go_compact_json("\"\xe2\x80\xa8\""), R"("\u2028")");
  LeaseAttrs attrs;
  attrs.backend_type = "a\"b\\c\n<\x01";
  EXPECT_EQ(to_json(attrs),
            R"({"PublicIP":"0.0.0.0","PublicIPv6":null,"BackendType":"a\"b\\c\n\u003c\u0001"})");
}

TEST(LeaseJson, ParsesLikeGo) {
  // Case-insensitive keys, unknown keys ignored, whitespace, last duplicate wins.
  auto attrs = parse_lease_attrs(R"( { "publicip" : "10.0.0.1", "PUBLICIPV6": "fc00::1",
      "Extra": {"x": [1, {"y": "}"}]}, "backendtype": "vxlan", "BackendType": "host-gw",
      "backenddata": { "VNI" : 1 }, "BackendV6Data": {"VNI": 2} } )");
  ASSERT_TRUE(attrs.ok()) << attrs.status().to_string();
  EXPECT_EQ(attrs->public_ip, v4("10.0.0.1"));
  EXPECT_EQ(attrs->public_ipv6, v6("fc00::1"));
  EXPECT_EQ(attrs->backend_type, "host-gw");
  EXPECT_EQ(attrs->backend_data, R"({"VNI":1})");
  EXPECT_EQ(attrs->backend_v6_data, R"({"VNI":2})");
}

TEST(LeaseJson, NullsAndMissingFields) {
  auto empty = parse_lease_attrs("{}");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, LeaseAttrs{});
  auto null_doc = parse_lease_attrs("null");
  ASSERT_TRUE(null_doc.ok());
  EXPECT_EQ(*null_doc, LeaseAttrs{});
  auto nulls = parse_lease_attrs(
      R"({"PublicIP":"1.2.3.4","PublicIPv6":"fc00::1","PublicIPv6":null,"BackendType":null,"BackendData":null})");
  ASSERT_TRUE(nulls.ok()) << nulls.status().to_string();
  EXPECT_FALSE(nulls->public_ipv6.has_value());
  EXPECT_EQ(nulls->backend_type, "");
  EXPECT_EQ(nulls->backend_data, "null"); // a RawMessage keeps a literal null
  EXPECT_EQ(to_json(*nulls), R"({"PublicIP":"1.2.3.4","PublicIPv6":null,"BackendData":null})");
}

TEST(LeaseJson, AcceptsGoIpForms) {
  auto attrs = parse_lease_attrs(R"({"PublicIP":"::ffff:10.1.2.3","PublicIPv6":"10.9.9.9"})");
  ASSERT_TRUE(attrs.ok()) << attrs.status().to_string();
  EXPECT_EQ(attrs->public_ip, v4("10.1.2.3"));
  EXPECT_EQ(attrs->public_ipv6, v6("::ffff:10.9.9.9"));
  // Go prints an IPv4-mapped IPv6 address as a dotted quad.
  EXPECT_EQ(to_json(*attrs), R"({"PublicIP":"10.1.2.3","PublicIPv6":"10.9.9.9"})");
}

TEST(LeaseJson, ErrorsNameTheField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"PublicIP":"10.0.0.256"})", "PublicIP"},
      {R"({"PublicIP":null})", "PublicIP"},
      {R"({"PublicIP":5})", "PublicIP"},
      {R"({"PublicIP":"fc00::1"})", "PublicIP"},
      {R"({"PublicIPv6":"fe80::1%eth0"})", "PublicIPv6"},
      {R"({"PublicIPv6":7})", "PublicIPv6"},
      {R"({"BackendType":1})", "BackendType"},
      {R"({"BackendType":{}})", "BackendType"},
  };
  for (const auto& [json, field] : cases) {
    auto r = parse_lease_attrs(json);
    ASSERT_FALSE(r.ok()) << json;
    EXPECT_EQ(r.status().code(), base::Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find(field), std::string::npos) << r.status().message();
  }
}

TEST(LeaseJson, RejectsNonObjects) {
  for (const char* bad :
       {"", "[]", "\"x\"", "5", "{", "{\"PublicIP\":}", "{} {}", "{\"a\":1,}", "{'a':1}", "nul"}) {
    auto r = parse_lease_attrs(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), base::Code::kInvalidArgument) << bad;
    }
  }
}

TEST(LeaseJson, KelvinSignFoldsLikeGo) {
  // Go's case-insensitive field match folds U+212A KELVIN SIGN to 'k'.
  auto attrs = parse_lease_attrs("{\"Bac\xe2\x84\xaa"
                                 "endType\":\"vxlan\"}");
  ASSERT_TRUE(attrs.ok());
  EXPECT_EQ(attrs->backend_type, "vxlan");
}

TEST(LeaseJson, FlannelFormFastPathAgreesWithTheGeneralParser) {
  // flannel's own form is read by the fast path; the rest (and the near misses) go to the
  // general parser. Both must decode every input the same way.
  const std::vector<std::string> fast = {
      R"({"PublicIP":"10.0.0.1","PublicIPv6":null,"BackendType":"host-gw"})",
      R"({"PublicIP":"10.0.0.1","PublicIPv6":null})",
      R"({"PublicIP":"10.0.0.1","PublicIPv6":"fd00::1","BackendType":"vxlan",)"
      R"("BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:6c:0e"},)"
      R"("BackendV6Data":{"VNI":1,"VtepMAC":"c6:d2:32:6f:6c:0f"}})",
      R"({"PublicIP":"10.0.0.1","PublicIPv6":null,"BackendType":"","BackendData":null})",
      R"({"PublicIP":"10.0.0.1","PublicIPv6":"::ffff:10.0.0.2","BackendType":"x",)"
      R"("BackendData":[1,true,{"a":[]}]})",
      R"({"PublicIP":"10.0.0.1","PublicIPv6":null,"BackendV6Data":"s"})",
  };
  const std::vector<std::string> general = {
      R"({"PublicIP":"10.0.0.1","PublicIPv6":null,"BackendType":"host-gw","PublicIP":"10.0.0.2"})",
      R"({"PublicIPv6":null,"PublicIP":"10.0.0.1"})",
      R"({"publicip":"10.0.0.1","PublicIPv6":null})",
      R"({"PublicIP":"10.0.0.1", "PublicIPv6":null})",
      R"({"PublicIP":"10.0.0.\u0031","PublicIPv6":null})",
      R"({"PublicIP":"::ffff:10.0.0.1","PublicIPv6":null})",
      R"({"PublicIP":"10.0.0.1","PublicIPv6":null,"BackendType":null})",
      R"({"PublicIP":"10.0.0.1","PublicIPv6":null,"BackendData":{"a":"<"}})",
      R"({"PublicIP":"10.0.0.1","PublicIPv6":null,"BackendData":{"a":">"}})",
      R"({"PublicIP":"10.0.0.1","PublicIPv6":null,"BackendData":{"a":"x&y"}})",
      R"({"PublicIP":"10.0.0.1","PublicIPv6":null,"BackendData":{"a": 1}})",
      R"({"PublicIP":"10.0.0.1","PublicIPv6":null,"BackendData":{"a":"\u00e9"}})",
      R"({"PublicIP":"10.0.0.1","PublicIPv6":null,"BackendData":{"a":"é"}})",
      R"({"PublicIP":"10.0.0.1","PublicIPv6":null,"BackendData":1,"BackendData":2})",
      R"({"PublicIP":"10.0.0.1","PublicIPv6":null,"BackendV6Data":1,"BackendData":2})",
      R"({"PublicIP":"10.0.0.1","PublicIPv6":null,"Other":1})",
      R"({"PublicIP":"10.0.0.1","PublicIPv6":null} )",
      R"({"PublicIP":"10.0.0.256","PublicIPv6":null})",
      R"({"PublicIP":"10.0.0.1","PublicIPv6":"10.0.0.1x"})",
      R"({"PublicIP":"10.0.0.1","PublicIPv6":1})",
      R"({"PublicIP":"10.0.0.1","PublicIPv6":null,"BackendType":7})",
      R"({"PublicIP":"10.0.0.1","PublicIPv6":null)",
      R"({"PublicIP":"10.0.0.1"})",
      R"(null)",
      // Flannel's form around backend data that is not valid JSON: the fast path scans only the
      // data, and must reject these as the general parser does.
      R"({"PublicIP":"10.0.0.1","PublicIPv6":null,"BackendData":{"VNI":1,}})",
      R"({"PublicIP":"10.0.0.1","PublicIPv6":null,"BackendData":{"VNI":1})",
      R"({"PublicIP":"10.0.0.1","PublicIPv6":null,"BackendData":{"VNI":1}}})",
      R"({"PublicIP":"10.0.0.1","PublicIPv6":null,"BackendData":[1,2})",
      R"({"PublicIP":"10.0.0.1","PublicIPv6":null,"BackendData":1e400})",
      R"({"PublicIP":"10.0.0.1","PublicIPv6":null,"BackendData":tru})",
      R"({"PublicIP":"10.0.0.1","PublicIPv6":null,"BackendData":{"VNI":1},"BackendV6Data":{"a")"
      R"(:}})",
      R"({"PublicIP":"10.0.0.1","PublicIPv6":null,"BackendData":)",
  };
  for (const auto& in : fast) {
    ASSERT_TRUE(is_valid_json(in)) << in;
    const auto f = parse_lease_attrs_flannel_form(in);
    ASSERT_TRUE(f.has_value()) << in;
    const auto g = parse_lease_attrs_general(in);
    ASSERT_TRUE(g.ok()) << in << ": " << g.status().to_string();
    EXPECT_EQ(*f, *g) << in;
  }
  for (const auto& in : general) {
    EXPECT_FALSE(parse_lease_attrs_flannel_form(in).has_value()) << in;
    const auto a = parse_lease_attrs(in);
    const auto g = parse_lease_attrs_general(in);
    ASSERT_EQ(a.ok(), g.ok()) << in;
    if (a.ok()) {
      EXPECT_EQ(*a, *g) << in;
    } else {
      EXPECT_EQ(a.status().message(), g.status().message()) << in;
    }
  }
  // Without the backend data: the same decision and addresses, the data left empty.
  for (const auto* inputs : {&fast, &general}) {
    for (const auto& in : *inputs) {
      const auto with = parse_lease_attrs(in);
      const auto without = parse_lease_attrs(in, /*keep_backend_data=*/false);
      ASSERT_EQ(with.ok(), without.ok()) << in;
      if (with.ok()) {
        LeaseAttrs expected = *with;
        expected.backend_data.clear();
        expected.backend_v6_data.clear();
        EXPECT_EQ(*without, expected) << in;
      }
    }
  }
  // to_json's output is flannel's form: what weft writes is read back on the fast path.
  LeaseAttrs attrs;
  attrs.public_ip = v4("192.168.1.9");
  attrs.public_ipv6 = v6("fd00::9");
  attrs.backend_type = "vxlan";
  attrs.backend_data = R"({"VNI":1,"VtepMAC":"c6:d2:32:6f:6c:0e"})";
  EXPECT_EQ(parse_lease_attrs_flannel_form(to_json(attrs)), attrs);
}

TEST(Lease, Equality) {
  Lease a;
  a.subnet = net::Ip4Net::parse("10.1.2.0/24").value();
  Lease b = a;
  EXPECT_EQ(a, b);
  b.attrs.backend_type = "vxlan";
  EXPECT_NE(a, b);
  b = a;
  b.asof = 7;
  EXPECT_NE(a, b);
}

} // namespace
} // namespace weft::lease
