#include "cloud/tencent/tc3_signer.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <ctime>

#include <fmt/format.h>

namespace weft::cloud::tencent {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) {
    s.remove_prefix(1);
  }
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) {
    s.remove_suffix(1);
  }
  return s;
}

std::vector<std::pair<std::string, std::string>> canonical_headers(const Tc3Request& request) {
  std::vector<std::pair<std::string, std::string>> headers;
  headers.reserve(request.signed_headers.size());
  for (const auto& [name, value] : request.signed_headers) {
    headers.emplace_back(lower(trim(name)), lower(trim(value)));
  }
  std::sort(headers.begin(), headers.end());
  return headers;
}

} // namespace

std::string hex_encode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  size_t len = 0;
  if (EVP_Q_digest(nullptr, "SHA256", nullptr, data.data(), data.size(), md, &len) != 1) {
    std::abort(); // SHA-256 is always available in OpenSSL 3; failing here is a broken install.
  }
  return hex_encode(std::string_view(reinterpret_cast<const char*>(md), len));
}

std::string hmac_sha256(std::string_view key, std::string_view message) {
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t len = 0;
  static const char kEmpty = 0;
  const void* key_ptr = key.empty() ? &kEmpty : key.data();
  const auto* msg =
      reinterpret_cast<const unsigned char*>(message.empty() ? &kEmpty : message.data());
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key_ptr, key.size(), msg,
                message.size(), out, sizeof(out), &len) == nullptr) {
    std::abort();
  }
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string utc_date(std::int64_t timestamp) {
  std::time_t t = static_cast<std::time_t>(timestamp);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

std::string signed_header_list(const Tc3Request& request) {
  std::string out;
  for (const auto& [name, value] : canonical_headers(request)) {
    if (!out.empty()) {
      out.push_back(';');
    }
    out += name;
  }
  return out;
}

std::string canonical_request(const Tc3Request& request) {
  std::string out =
      request.method + "\n" + request.canonical_uri + "\n" + request.canonical_query + "\n";
  for (const auto& [name, value] : canonical_headers(request)) {
    out += name + ":" + value + "\n";
  }
  out += "\n" + signed_header_list(request) + "\n" + request.hashed_payload;
  return out;
}

std::string credential_scope(std::string_view date, std::string_view service) {
  return fmt::format("{}/{}/{}", date, service, kTc3Terminator);
}

std::string string_to_sign(std::int64_t timestamp, std::string_view scope,
                           std::string_view canonical_request_text) {
  return fmt::format("{}\n{}\n{}\n{}", kTc3Algorithm, timestamp, scope,
                     sha256_hex(canonical_request_text));
}

std::string derive_signing_key(std::string_view secret_key, std::string_view date,
                               std::string_view service) {
  std::string secret_date = hmac_sha256("TC3" + std::string(secret_key), date);
  std::string secret_service = hmac_sha256(secret_date, service);
  return hmac_sha256(secret_service, kTc3Terminator);
}

std::string tc3_signature(std::string_view secret_key, std::string_view date,
                          std::string_view service, std::string_view string_to_sign_text) {
  return hex_encode(
      hmac_sha256(derive_signing_key(secret_key, date, service), string_to_sign_text));
}

std::string authorization_header(std::string_view secret_id, std::string_view scope,
                                 std::string_view signed_headers, std::string_view signature) {
  return fmt::format("{} Credential={}/{}, SignedHeaders={}, Signature={}", kTc3Algorithm,
                     secret_id, scope, signed_headers, signature);
}

std::string sign_tc3(const Tc3Request& request, std::string_view secret_id,
                     std::string_view secret_key, std::string_view service,
                     std::int64_t timestamp) {
  std::string date = utc_date(timestamp);
  std::string scope = credential_scope(date, service);
  std::string to_sign = string_to_sign(timestamp, scope, canonical_request(request));
  return authorization_header(secret_id, scope, signed_header_list(request),
                              tc3_signature(secret_key, date, service, to_sign));
}

base::Result<Tc3Authorization> parse_authorization(std::string_view header) {
  header = trim(header);
  size_t space = header.find(' ');
  if (space == std::string_view::npos || header.substr(0, space) != kTc3Algorithm) {
    return base::invalid_argument(
        fmt::format("Authorization must start with \"{} \"", kTc3Algorithm));
  }
  std::string_view rest = header.substr(space + 1);
  Tc3Authorization auth;
  bool have_credential = false;
  bool have_headers = false;
  bool have_signature = false;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view part = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      return base::invalid_argument(fmt::format("Authorization part \"{}\" has no '='", part));
    }
    std::string_view key = part.substr(0, eq);
    std::string_view value = part.substr(eq + 1);
    if (key == "Credential") {
      std::vector<std::string_view> pieces;
      size_t start = 0;
      while (true) {
        size_t slash = value.find('/', start);
        pieces.push_back(value.substr(start, slash - start));
        if (slash == std::string_view::npos) {
          break;
        }
        start = slash + 1;
      }
      if (pieces.size() != 4 || pieces[0].empty() || pieces[1].empty() || pieces[2].empty() ||
          pieces[3] != kTc3Terminator) {
        return base::invalid_argument(
            "Credential must be <SecretId>/<YYYY-MM-DD>/<service>/tc3_request");
      }
      auth.secret_id = pieces[0];
      auth.date = pieces[1];
      auth.service = pieces[2];
      have_credential = true;
    } else if (key == "SignedHeaders") {
      size_t start = 0;
      while (start <= value.size()) {
        size_t semi = value.find(';', start);
        std::string_view name = value.substr(start, semi - start);
        if (name.empty()) {
          return base::invalid_argument("SignedHeaders has an empty header name");
        }
        auth.signed_headers.push_back(lower(name));
        if (semi == std::string_view::npos) {
          break;
        }
        start = semi + 1;
      }
      have_headers = true;
    } else if (key == "Signature") {
      if (value.size() != 64 || value.find_first_not_of("0123456789abcdef") != value.npos) {
        return base::invalid_argument("Signature must be 64 lowercase hex digits");
      }
      auth.signature = value;
      have_signature = true;
    } else {
      return base::invalid_argument(fmt::format("unknown Authorization part \"{}\"", key));
    }
  }
  if (!have_credential || !have_headers || !have_signature) {
    return base::invalid_argument("Authorization needs Credential, SignedHeaders and Signature");
  }
  return auth;
}

} // namespace weft::cloud::tencent
