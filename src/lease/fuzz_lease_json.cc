// libFuzzer target: parse_lease_attrs on arbitrary bytes. Whatever parses must serialise with
// to_json and parse back to the same attributes, and serialise again to the same bytes. The
// JSON check must agree with nlohmann::json::accept, which it replaced, and the fast path for
// flannel's own form with the general parser.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "lease/lease.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (weft::lease::is_valid_json(text) != nlohmann::json::accept(text)) {
    std::abort();
  }
  auto attrs = weft::lease::parse_lease_attrs(text);
  // The fast path for flannel's own form decides exactly as the general parser.
  const auto general = weft::lease::parse_lease_attrs_general(text);
  if (attrs.ok() != general.ok() || (attrs.ok() && !(*attrs == *general))) {
    std::abort();
  }
  if (!attrs.ok()) {
    return 0;
  }
  // Without the backend data: the same addresses and type, the data left empty.
  auto lean = weft::lease::parse_lease_attrs(text, /*keep_backend_data=*/false);
  weft::lease::LeaseAttrs expected = *attrs;
  expected.backend_data.clear();
  expected.backend_v6_data.clear();
  if (!lean.ok() || !(*lean == expected)) {
    std::abort();
  }
  const std::string json = weft::lease::to_json(*attrs);
  auto again = weft::lease::parse_lease_attrs(json);
  if (!again.ok() || !(*again == *attrs) || weft::lease::to_json(*again) != json) {
    std::abort();
  }
  return 0;
}
