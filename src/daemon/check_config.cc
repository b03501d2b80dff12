#include "daemon/check_config.h"

#include <fmt/format.h>

#include <vector>

#include "base/file.h"
#include "config/net_config.h"

namespace weft::daemon {

CheckConfigReport check_config_text(const std::string& text, const std::string& source) {
  CheckConfigReport report;
  auto parsed = config::parse_net_config(text);
  if (!parsed.ok()) {
    report.exit_code = 1;
    report.err = fmt::format("weftd: {}: {}\n", source, parsed.status().message());
    return report;
  }
  // The network rules and the backend type are independent: report both when both are wrong.
  std::vector<std::string> problems;
  if (base::Status st = config::check_net_config(*parsed); !st.ok()) {
    problems.push_back(st.message());
  }
  if (!config::is_known_backend_type(parsed->backend_type)) {
    problems.push_back(fmt::format("unknown backend type: \"{}\" (known types: {})",
                                   parsed->backend_type, config::known_backend_types()));
  }
  if (!problems.empty()) {
    report.exit_code = 1;
    for (const std::string& p : problems) {
      report.err += fmt::format("weftd: {}: {}\n", source, p);
    }
    return report;
  }
  report.out = config::to_normalised_json(*parsed);
  return report;
}

CheckConfigReport check_config_file(const std::string& path) {
  auto text = base::read_file(path);
  if (!text.ok()) {
    CheckConfigReport report;
    report.exit_code = 1;
    report.err = fmt::format("weftd: --check-config: {}\n", text.status().message());
    return report;
  }
  return check_config_text(*text, path);
}

} // namespace weft::daemon
