#pragma once
// `weftd --check-config FILE`: validate a net-conf.json offline (no store, no network) with
// flanneld's rules plus weft's backend registry, and print it with every default filled in.

#include <string>

namespace weft::daemon {

struct CheckConfigReport {
  int exit_code = 0; // 0 valid, 1 invalid or unreadable
  std::string out;   // the normalised config (secrets redacted) when valid
  std::string err;   // one line per problem
};

CheckConfigReport check_config_file(const std::string& path);

// The same for text already read; `source` names it in messages.
CheckConfigReport check_config_text(const std::string& text, const std::string& source);

} // namespace weft::daemon
