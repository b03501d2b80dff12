// is_valid_json must agree with nlohmann::json::accept, which lease values were checked with
// before: the same values are accepted and rejected, byte for byte.

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <nlohmann/json.hpp>

#include "lease/lease.h"

namespace weft::lease {
namespace {

bool nlohmann_accepts(std::string_view text) {
  return nlohmann::json::accept(text);
}

TEST(IsValidJson, AgreesWithNlohmannOnEdgeCases) {
  using namespace std::string_literals;
  const std::string cases[] = {
      "",
      " ",
      "{}",
      " { } ",
      "[]",
      "[1,]",
      "{\"a\":1,}",
      "{,}",
      "{\"a\" : [1, 2.5, -0, 1e5, 1E-5, 0.0e+1, true, false, null, \"x\"]}",
      "01",
      "-",
      "1.",
      ".5",
      "1e",
      "1e+",
      "-01",
      "truex",
      "tru",
      "nul",
      "\"\\u00e9\\n\\t\\/\\\\\\\"\"",
      "\"\\x\"",
      "\"\\u12\"",
      "\"\\ud83d\\ude00\"",
      "\"\\ud83d\"",
      "\"\\ude00\"",
      "\"\\ud83d\\u0041\"",
      "\"\xc3\xa9\"",
      "\"\xc3\"",
      "\"\xe0\x80\x80\"",
      "\"\xed\xa0\x80\"",
      "\"\xf4\x90\x80\x80\"",
      "\"\xf0\x9f\x98\x80\"",
      "\"\xff\"",
      "\"a\tb\"",
      "\xef\xbb\xbf{}",
      "\xef\xbb{}",
      "{}\0junk"s,
      "\0"s,
      "{\"a\":\0}"s,
      "\"a\0\""s,
      "[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]",
      "[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]",
      "{\"PublicIP\":\"10.0.0.1\",\"PublicIPv6\":null,\"BackendType\":\"vxlan\","
      "\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"aa:bb:cc:dd:ee:ff\"}}",
      "1e400",
      "-1e400",
      "1e-400",
      "[1.5e308, 1.8e308]",
      "1E+308",
      std::string(400, '9'),
      "-" + std::string(310, '1') + ".5",
      "{\"a\":1}{\"b\":2}",
      "{\"a\":1} x",
      "{\"a\"1}",
      "{1:2}",
      "[1 2]",
  };
  for (const std::string& c : cases) {
    EXPECT_EQ(is_valid_json(c), nlohmann_accepts(c)) << "input: " << ::testing::PrintToString(c);
  }
}

// Text built from JSON's own pieces (and some bytes that are not), so that most of it is nearly
// valid and each rule is exercised.
rc::Gen<std::string> gen_jsonish() {
  static const std::vector<std::string> kPieces = {
      "{",
      "}",
      "[",
      "]",
      ",",
      ":",
      "\"",
      "\"k\"",
      " ",
      "\n",
      "0",
      "1",
      "-",
      ".",
      "e",
      "E",
      "+",
      "12",
      "true",
      "false",
      "null",
      "tru",
      "\\",
      "\\n",
      "\\u",
      "\\u00e9",
      "\\ud83d",
      "\\ude00",
      "a",
      "\xc3\xa9",
      "\xc3",
      "\xed\xa0\x80",
      "\xf0\x9f\x98\x80",
      "\xff",
      std::string(1, '\0'),
      "\t",
      "\x01",
      "\xef\xbb\xbf",
      "\"PublicIP\"",
      "\"10.0.0.1\"",
      "e400",
      "e-400",
      "e308",
      "9999",
  };
  return rc::gen::map(rc::gen::container<std::vector<std::size_t>>(
                          rc::gen::inRange<std::size_t>(0, kPieces.size())),
                      [](const std::vector<std::size_t>& picks) {
                        std::string out;
                        for (std::size_t p : picks) {
                          out += kPieces[p];
                        }
                        return out;
                      });
}

// Valid documents, mutated at one byte.
rc::Gen<std::string> gen_mutated() {
  return rc::gen::exec([] {
    static const std::vector<std::string> kDocs = {
        "{\"PublicIP\":\"10.0.0.1\",\"PublicIPv6\":null,\"BackendType\":\"host-gw\"}",
        "{\"PublicIP\":\"10.0.0.1\",\"BackendType\":\"vxlan\",\"BackendData\":{\"VNI\":1,"
        "\"VtepMAC\":\"aa:bb:cc:dd:ee:ff\"}}",
        "[1, -2.5e+3, \"\\u00e9\\ud83d\\ude00\", [true, false, null], {\"a\": {}}]",
    };
    std::string doc = *rc::gen::elementOf(kDocs);
    const auto at = *rc::gen::inRange<std::size_t>(0, doc.size());
    const auto byte = *rc::gen::arbitrary<char>();
    switch (*rc::gen::inRange(0, 3)) {
    case 0:
      doc[at] = byte;
      break;
    case 1:
      doc.erase(at, 1);
      break;
    default:
      doc.insert(at, 1, byte);
      break;
    }
    return doc;
  });
}

RC_GTEST_PROP(IsValidJson, AgreesWithNlohmannOnJsonishText, ()) {
  const std::string text = *gen_jsonish();
  RC_ASSERT(is_valid_json(text) == nlohmann_accepts(text));
}

RC_GTEST_PROP(IsValidJson, AgreesWithNlohmannOnMutatedDocuments, ()) {
  const std::string text = *gen_mutated();
  RC_ASSERT(is_valid_json(text) == nlohmann_accepts(text));
}

RC_GTEST_PROP(IsValidJson, AgreesWithNlohmannOnArbitraryBytes, (const std::string& text)) {
  RC_ASSERT(is_valid_json(text) == nlohmann_accepts(text));
}

} // namespace
} // namespace weft::lease
