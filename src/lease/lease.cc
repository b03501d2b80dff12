#include "lease/lease.h"

#include <cctype>
#include <clocale>
#include <cmath>
#include <cstdlib>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace weft::lease {
namespace {

using Json = nlohmann::json;

constexpr char kHex[] = "0123456789abcdef";

// Appends s as a JSON string the way Go's encoding/json writes it (HTML-safe escaping, short
// escapes for \b \f \n \r \t, \u00XX for other control bytes, U+FFFD for invalid UTF-8).
void append_go_string(std::string& out, std::string_view s) {
  out += '"';
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '<':
      case '>':
      case '&':
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xf];
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        } else {
          out += static_cast<char>(c);
        }
      }
      ++i;
      continue;
    }
    // Validate one UTF-8 sequence.
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    }
    bool valid = len != 0 && i + len <= s.size();
    for (std::size_t k = 1; valid && k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) {
        valid = false;
      } else {
        cp = (cp << 6) | (cc & 0x3f);
      }
    }
    if (valid) {
      const bool overlong =
          (len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
      valid = !overlong && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
    }
    if (!valid) {
      out += "\xef\xbf\xbd"; // U+FFFD, one per bad byte as Go does
      ++i;
      continue;
    }
    if (cp == 0x2028 || cp == 0x2029) {
      out += cp == 0x2028 ? "\\u2028" : "\\u2029";
    } else {
      out.append(s.substr(i, len));
    }
    i += len;
  }
  out += '"';
}

bool is_json_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Index just past the JSON value starting at `pos` in already-validated text.
std::size_t skip_value(std::string_view text, std::size_t pos) {
  if (text[pos] == '"') {
    ++pos;
    while (text[pos] != '"') {
      pos += text[pos] == '\\' ? 2 : 1;
    }
    return pos + 1;
  }
  if (text[pos] == '{' || text[pos] == '[') {
    int depth = 0;
    while (true) {
      const char c = text[pos];
      if (c == '"') {
        pos = skip_value(text, pos);
        continue;
      }
      if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        --depth;
        if (depth == 0) {
          return pos + 1;
        }
      }
      ++pos;
    }
  }
  while (pos < text.size() && !is_json_space(text[pos]) && text[pos] != ',' && text[pos] != '}' &&
         text[pos] != ']') {
    ++pos;
  }
  return pos;
}

std::size_t skip_space(std::string_view text, std::size_t pos) {
  while (pos < text.size() && is_json_space(text[pos])) {
    ++pos;
  }
  return pos;
}

// Go's case folding for field names: ASCII case plus the Kelvin sign (U+212A) folding to 'k'.
std::string fold_key(std::string_view key) {
  std::string out;
  for (std::size_t i = 0; i < key.size(); ++i) {
    if (key.substr(i, 3) == "\xe2\x84\xaa") {
      out += 'k';
      i += 2;
      continue;
    }
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(key[i])));
  }
  return out;
}

std::string quote_for_error(std::string_view raw) {
  constexpr std::size_t kMax = 80;
  std::string out(raw.substr(0, kMax));
  if (raw.size() > kMax) {
    out += "...";
  }
  return out;
}

enum class Field { kNone, kPublicIp, kPublicIpv6, kBackendType, kBackendData, kBackendV6Data };

Field match_field(const std::string& key) {
  static const std::pair<const char*, Field> kFields[] = {
      {"PublicIP", Field::kPublicIp},           {"PublicIPv6", Field::kPublicIpv6},
      {"BackendType", Field::kBackendType},     {"BackendData", Field::kBackendData},
      {"BackendV6Data", Field::kBackendV6Data},
  };
  for (const auto& [name, field] : kFields) {
    if (key == name) {
      return field;
    }
  }
  const std::string folded = fold_key(key);
  for (const auto& [name, field] : kFields) {
    if (folded == fold_key(name)) {
      return field;
    }
  }
  return Field::kNone;
}

base::Status field_error(const char* field, std::string_view raw, const std::string& why) {
  return base::invalid_argument(std::string("lease attrs: field ") + field + " = " +
                                quote_for_error(raw) + ": " + why);
}

// A JSON string value's decoded text, or nullopt when the value is not a string.
std::optional<std::string> decode_string(std::string_view raw) {
  if (raw.empty() || raw[0] != '"') {
    return std::nullopt;
  }
  if (raw.find('\\') == std::string_view::npos) { // nothing to unescape (validated JSON)
    return std::string(raw.substr(1, raw.size() - 2));
  }
  return Json::parse(raw).get<std::string>();
}

} // namespace

namespace {

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// The \uXXXX at text[i] ("\u" included), or -1.
int unicode_escape(std::string_view text, std::size_t i) {
  if (i + 6 > text.size() || text[i] != '\\' || text[i + 1] != 'u') {
    return -1;
  }
  int v = 0;
  for (std::size_t k = i + 2; k < i + 6; ++k) {
    if (!is_hex(text[k])) {
      return -1;
    }
    const char c = text[k];
    v = v * 16 + (c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
  }
  return v;
}

// Length of the well-formed UTF-8 sequence (RFC 3629) of 2 to 4 bytes at text[i], or 0.
std::size_t utf8_length(std::string_view text, std::size_t i) {
  const auto at = [&](std::size_t k) {
    return k < text.size() ? static_cast<unsigned char>(text[k]) : 0u;
  };
  const unsigned c = at(i);
  unsigned lo = 0x80;
  unsigned hi = 0xbf;
  std::size_t len = 0;
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    lo = c == 0xe0 ? 0xa0 : 0x80;
    hi = c == 0xed ? 0x9f : 0xbf;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    lo = c == 0xf0 ? 0x90 : 0x80;
    hi = c == 0xf4 ? 0x8f : 0xbf;
  } else {
    return 0;
  }
  if (at(i + 1) < lo || at(i + 1) > hi) {
    return 0;
  }
  for (std::size_t k = i + 2; k < i + len; ++k) {
    if (at(k) < 0x80 || at(k) > 0xbf) {
      return 0;
    }
  }
  return len;
}

// Index past the string starting at text[i] == '"', or npos when it is not valid.
std::size_t scan_json_string(std::string_view text, std::size_t i) {
  ++i;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"') {
      return i + 1;
    }
    if (c < 0x20) {
      return std::string_view::npos;
    }
    if (c == '\\') {
      if (i + 1 >= text.size()) {
        return std::string_view::npos;
      }
      const char e = text[i + 1];
      if (e == 'u') {
        const int cp = unicode_escape(text, i);
        if (cp < 0 || (cp >= 0xdc00 && cp <= 0xdfff)) {
          return std::string_view::npos;
        }
        i += 6;
        if (cp >= 0xd800 && cp <= 0xdbff) {
          const int low = unicode_escape(text, i);
          if (low < 0xdc00 || low > 0xdfff) {
            return std::string_view::npos;
          }
          i += 6;
        }
        continue;
      }
      if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
        return std::string_view::npos;
      }
      i += 2;
      continue;
    }
    if (c < 0x80) {
      ++i;
      continue;
    }
    const std::size_t len = utf8_length(text, i);
    if (len == 0) {
      return std::string_view::npos;
    }
    i += len;
  }
  return std::string_view::npos;
}

// Whether a number token's value is finite as a double (nlohmann rejects "1e400" as a number
// overflow, after strtod in the "C" locale). Only a token with an exponent or of 300 characters
// or more can overflow.
bool finite_number(std::string_view token) {
  if (token.size() < 300 && token.find_first_of("eE") == std::string_view::npos) {
    return true;
  }
  static const locale_t c_locale = ::newlocale(LC_NUMERIC_MASK, "C", nullptr);
  const std::string copy(token);
  return std::isfinite(::strtod_l(copy.c_str(), nullptr, c_locale));
}

// Index past the number starting at text[i], or npos.
std::size_t scan_json_number(std::string_view text, std::size_t i) {
  const std::size_t start = i;
  const auto digit = [&](std::size_t k) {
    return k < text.size() && text[k] >= '0' && text[k] <= '9';
  };
  if (i < text.size() && text[i] == '-') {
    ++i;
  }
  if (!digit(i)) {
    return std::string_view::npos;
  }
  if (text[i] == '0') {
    ++i;
  } else {
    while (digit(i)) {
      ++i;
    }
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    if (!digit(i)) {
      return std::string_view::npos;
    }
    while (digit(i)) {
      ++i;
    }
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
      ++i;
    }
    if (!digit(i)) {
      return std::string_view::npos;
    }
    while (digit(i)) {
      ++i;
    }
  }
  return finite_number(text.substr(start, i - start)) ? i : std::string_view::npos;
}

// Index past the one JSON value that starts at text[i] (after any space) and the space after it,
// or npos when no valid value starts there. One pass, no allocation below 16 levels of nesting.
std::size_t scan_json_value(std::string_view text, std::size_t i) {
  constexpr auto npos = std::string_view::npos;
  std::string open; // the enclosing '{' and '['
  enum class Want { kValue, kKey, kAfterValue } want = Want::kValue;
  const auto skip = [&] {
    while (i < text.size() && is_json_space(text[i])) {
      ++i;
    }
  };
  while (true) {
    skip();
    if (want == Want::kAfterValue) {
      if (open.empty()) {
        return i;
      }
      if (i >= text.size()) {
        return npos;
      }
      const char close = open.back() == '{' ? '}' : ']';
      if (text[i] == close) {
        open.pop_back();
        ++i;
        continue;
      }
      if (text[i] != ',') {
        return npos;
      }
      ++i;
      want = open.back() == '{' ? Want::kKey : Want::kValue;
      continue;
    }
    if (i >= text.size()) {
      return npos;
    }
    if (want == Want::kKey) {
      if (text[i] != '"' || (i = scan_json_string(text, i)) == npos) {
        return npos;
      }
      skip();
      if (i >= text.size() || text[i] != ':') {
        return npos;
      }
      ++i;
      want = Want::kValue;
      continue;
    }
    const char c = text[i];
    if (c == '{' || c == '[') {
      ++i;
      skip();
      const char close = c == '{' ? '}' : ']';
      if (i < text.size() && text[i] == close) {
        ++i;
        want = Want::kAfterValue;
        continue;
      }
      open += c;
      want = c == '{' ? Want::kKey : Want::kValue;
      continue;
    }
    if (c == '"') {
      i = scan_json_string(text, i);
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      i = scan_json_number(text, i);
    } else {
      std::size_t len = 0;
      for (std::string_view word : {"true", "false", "null"}) {
        if (text.substr(i, word.size()) == word) {
          len = word.size();
        }
      }
      i = len == 0 ? npos : i + len;
    }
    if (i == npos) {
      return npos;
    }
    want = Want::kAfterValue;
  }
}

} // namespace

bool is_valid_json(std::string_view text) {
  std::size_t i = 0;
  if (text.substr(0, 3) == "\xef\xbb\xbf") {
    i = 3;
  }
  i = scan_json_value(text, i);
  return i != std::string_view::npos && (i == text.size() || text[i] == '\0');
}

std::string go_ip6_string(const net::Ip6Addr& addr) {
  const auto& b = addr.bytes();
  bool mapped = b[10] == 0xff && b[11] == 0xff;
  for (std::size_t i = 0; mapped && i < 10; ++i) {
    mapped = b[i] == 0;
  }
  if (mapped) {
    return net::Ip4Addr(static_cast<std::uint32_t>(static_cast<std::uint32_t>(b[12]) << 24 |
                                                   static_cast<std::uint32_t>(b[13]) << 16 |
                                                   static_cast<std::uint32_t>(b[14]) << 8 | b[15]))
        .to_string();
  }
  return addr.to_string();
}

std::string go_ip6_net_string(const net::Ip6Net& n) {
  return go_ip6_string(n.ip()) + "/" + std::to_string(n.prefix_len());
}

base::Result<net::Ip6Addr> parse_go_ip6(std::string_view text) {
  if (text.find(':') == std::string_view::npos) {
    auto v4 = net::Ip4Addr::parse(text);
    if (!v4.ok()) {
      return base::invalid_argument("invalid IPv6 address \"" + quote_for_error(text) + "\"");
    }
    return net::Ip6Addr::from_value((static_cast<net::Uint128>(0xffff) << 32) | v4->value());
  }
  return net::Ip6Addr::parse(text);
}

std::string go_compact_json(std::string_view json) {
  std::string out;
  out.reserve(json.size());
  bool in_string = false;
  for (std::size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (!in_string) {
      if (is_json_space(c)) {
        continue;
      }
      if (c == '"') {
        in_string = true;
      }
      out += c;
      continue;
    }
    if (c == '\\' && i + 1 < json.size()) {
      out += c;
      out += json[++i];
      continue;
    }
    if (c == '"') {
      in_string = false;
      out += c;
    } else if (c == '<' || c == '>' || c == '&') {
      out += "\\u00";
      out += kHex[static_cast<unsigned char>(c) >> 4];
      out += kHex[static_cast<unsigned char>(c) & 0xf];
    } else if (json.substr(i, 3) == "\xe2\x80\xa8" || json.substr(i, 3) == "\xe2\x80\xa9") {
      out += json[i + 2] == '\xa8' ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

std::string to_json(const LeaseAttrs& attrs) {
  std::string out = "{\"PublicIP\":\"";
  out += attrs.public_ip.to_string();
  out += "\",\"PublicIPv6\":";
  if (attrs.public_ipv6) {
    out += '"';
    out += go_ip6_string(*attrs.public_ipv6);
    out += '"';
  } else {
    out += "null";
  }
  if (!attrs.backend_type.empty()) {
    out += ",\"BackendType\":";
    append_go_string(out, attrs.backend_type);
  }
  if (!attrs.backend_data.empty()) {
    out += ",\"BackendData\":";
    out += go_compact_json(attrs.backend_data);
  }
  if (!attrs.backend_v6_data.empty()) {
    out += ",\"BackendV6Data\":";
    out += go_compact_json(attrs.backend_v6_data);
  }
  out += '}';
  return out;
}

namespace {

// A byte a JSON string holds as itself (no escape), and one Go's json.Compact keeps as it is in a
// raw value: printable ASCII but the quote and backslash; no space, none of the <, > and & that
// Go writes as \u escapes.
bool plain_char(char c) {
  return c >= 0x20 && c <= 0x7e && c != '"' && c != '\\';
}
bool compact_char(char c) {
  return c > 0x20 && c <= 0x7e && c != '<' && c != '>' && c != '&' && c != '\\';
}

} // namespace

// Keys in flannel's order, no space, no escape, raw values Go's compaction leaves as they are.
// Anything else (another key, order or spelling, an escape, space, an address only the general
// parser takes) is nullopt, for the general parser; what this accepts, the general parser decodes
// to the same attributes (fuzz_lease_json compares the two).
std::optional<LeaseAttrs> parse_lease_attrs_flannel_form(std::string_view s,
                                                         bool keep_backend_data) {
  auto eat = [&s](std::string_view literal) {
    if (!s.starts_with(literal)) {
      return false;
    }
    s.remove_prefix(literal.size());
    return true;
  };
  // The text of a string of plain characters whose opening quote is eaten, and its closing quote.
  auto plain_string = [&s]() -> std::optional<std::string_view> {
    std::size_t i = 0;
    while (i < s.size() && plain_char(s[i])) {
      ++i;
    }
    if (i == s.size() || s[i] != '"') {
      return std::nullopt;
    }
    const std::string_view text = s.substr(0, i);
    s.remove_prefix(i + 1);
    return text;
  };
  LeaseAttrs a;
  if (!eat(R"({"PublicIP":")")) {
    return std::nullopt;
  }
  const auto ip = plain_string();
  if (!ip) {
    return std::nullopt;
  }
  const auto v4 = net::Ip4Addr::parse(*ip);
  if (!v4.ok()) {
    return std::nullopt;
  }
  a.public_ip = *v4;
  if (!eat(R"(,"PublicIPv6":)")) {
    return std::nullopt;
  }
  if (!eat("null")) {
    if (!eat("\"")) {
      return std::nullopt;
    }
    const auto text = plain_string();
    if (!text) {
      return std::nullopt;
    }
    const auto v6 = parse_go_ip6(*text);
    if (!v6.ok()) {
      return std::nullopt;
    }
    a.public_ipv6 = *v6;
  }
  if (eat(R"(,"BackendType":")")) {
    const auto text = plain_string();
    if (!text) {
      return std::nullopt;
    }
    a.backend_type = *text;
  }
  for (const auto& [literal, field] :
       {std::pair{std::string_view(R"(,"BackendData":)"), &a.backend_data},
        std::pair{std::string_view(R"(,"BackendV6Data":)"), &a.backend_v6_data}}) {
    if (!eat(literal) || s.empty()) {
      continue;
    }
    // The raw value is the one part whose validity the form does not already decide.
    const std::size_t end = scan_json_value(s, 0);
    if (end == std::string_view::npos) {
      return std::nullopt;
    }
    const std::string_view raw = s.substr(0, end);
    for (const char c : raw) {
      if (!compact_char(c)) {
        return std::nullopt;
      }
    }
    if (keep_backend_data) {
      *field = raw;
    }
    s.remove_prefix(end);
  }
  if (s != "}") {
    return std::nullopt;
  }
  return a;
}

base::Result<LeaseAttrs> parse_lease_attrs(std::string_view json, bool keep_backend_data) {
  if (auto a = parse_lease_attrs_flannel_form(json, keep_backend_data)) {
    return std::move(*a);
  }
  auto a = parse_lease_attrs_general(json);
  if (a.ok() && !keep_backend_data) {
    a->backend_data.clear();
    a->backend_v6_data.clear();
  }
  return a;
}

base::Result<LeaseAttrs> parse_lease_attrs_general(std::string_view json) {
  if (!is_valid_json(json)) {
    try {
      const Json parsed = Json::parse(json);
      (void)parsed;
    } catch (const Json::exception& e) {
      return base::invalid_argument(std::string("lease attrs: invalid JSON: ") + e.what());
    }
    return base::invalid_argument("lease attrs: invalid JSON");
  }
  LeaseAttrs attrs;
  std::size_t pos = skip_space(json, 0);
  if (json.substr(pos, 4) == "null") {
    return attrs; // Go: unmarshalling null into a struct is a no-op
  }
  if (json[pos] != '{') {
    return base::invalid_argument("lease attrs: want a JSON object, got " +
                                  quote_for_error(json.substr(pos)));
  }
  pos = skip_space(json, pos + 1);
  try {
    while (json[pos] != '}') {
      const std::size_t key_end = skip_value(json, pos);
      const std::string key = *decode_string(json.substr(pos, key_end - pos));
      pos = skip_space(json, key_end);
      pos = skip_space(json, pos + 1); // ':'
      const std::size_t value_end = skip_value(json, pos);
      const std::string_view raw = json.substr(pos, value_end - pos);
      pos = skip_space(json, value_end);
      if (json[pos] == ',') {
        pos = skip_space(json, pos + 1);
      }
      const bool is_null = raw == "null";
      switch (match_field(key)) {
      case Field::kNone:
        break;
      case Field::kPublicIp: {
        const auto text = decode_string(raw);
        if (!text) {
          return field_error("PublicIP", raw, "want a string holding an IPv4 address");
        }
        auto v4 = net::Ip4Addr::parse(*text);
        if (!v4.ok()) {
          // Go's net.ParseIP also takes the IPv4-mapped IPv6 form.
          auto v6 = net::Ip6Addr::parse(*text);
          if (v6.ok() && v6->value() >> 32 == 0xffff) {
            attrs.public_ip = net::Ip4Addr(static_cast<std::uint32_t>(v6->value()));
            break;
          }
          return field_error("PublicIP", raw, "not an IPv4 address");
        }
        attrs.public_ip = *v4;
        break;
      }
      case Field::kPublicIpv6: {
        if (is_null) {
          attrs.public_ipv6.reset();
          break;
        }
        const auto text = decode_string(raw);
        if (!text) {
          return field_error("PublicIPv6", raw, "want null or a string holding an IPv6 address");
        }
        auto v6 = parse_go_ip6(*text);
        if (!v6.ok()) {
          return field_error("PublicIPv6", raw, "not an IPv6 address");
        }
        attrs.public_ipv6 = *v6;
        break;
      }
      case Field::kBackendType: {
        if (is_null) {
          break;
        }
        const auto text = decode_string(raw);
        if (!text) {
          return field_error("BackendType", raw, "want a string");
        }
        attrs.backend_type = *text;
        break;
      }
      case Field::kBackendData:
        attrs.backend_data = go_compact_json(raw);
        break;
      case Field::kBackendV6Data:
        attrs.backend_v6_data = go_compact_json(raw);
        break;
      }
    }
  } catch (const Json::exception& e) {
    return base::internal_error(std::string("lease attrs: scanning validated JSON: ") + e.what());
  }
  return attrs;
}

} // namespace weft::lease
