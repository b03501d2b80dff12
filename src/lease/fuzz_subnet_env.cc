// libFuzzer target: parse_subnet_env (and parse_subnet_key, the other line-shaped parser of this
// room) on arbitrary bytes. They must return a value or an error, never crash.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "lease/subnet_env.h"
#include "lease/subnet_key.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto env = weft::lease::parse_subnet_env(text);
  if (env.ok()) {
    const auto prev = weft::lease::previous_subnets(*env);
    if (prev.first && !prev.first->is_network()) {
      std::abort();
    }
  }
  auto key = weft::lease::parse_subnet_key(text);
  if (key.ok() && !key->first && !key->second) {
    std::abort();
  }
  return 0;
}
