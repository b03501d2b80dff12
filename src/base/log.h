#pragma once
// klog-like logging: "I1125 20:06:47.123456    1234 file.cc:12] message" on stderr, with
// verbosity levels (-v) as flanneld's klog. Messages are formatted with fmt.
//
// Never pass a secret to a log call: credentials are wrapped in base::Secret (secret.h), whose
// formatter prints a redaction.

#include <fmt/format.h>

#include <string_view>

namespace weft::base {

enum class Severity { kInfo, kWarning, kError, kFatal };

// Current -v level; messages logged with WEFT_VLOG(n) appear when n <= verbosity.
int log_verbosity();
void set_log_verbosity(int v);

// Where log lines go; by default stderr. Tests capture lines to prove what is (not) logged.
using LogSink = void (*)(std::string_view line);
void set_log_sink(LogSink sink); // nullptr restores stderr

void log_line(Severity severity, const char* file, int line, std::string_view message);

} // namespace weft::base

#define WEFT_LOG_AT(sev, ...)                                                                      \
  ::weft::base::log_line((sev), __FILE__, __LINE__, ::fmt::format(__VA_ARGS__))
#define WEFT_INFO(...) WEFT_LOG_AT(::weft::base::Severity::kInfo, __VA_ARGS__)
#define WEFT_WARN(...) WEFT_LOG_AT(::weft::base::Severity::kWarning, __VA_ARGS__)
#define WEFT_ERROR(...) WEFT_LOG_AT(::weft::base::Severity::kError, __VA_ARGS__)
#define WEFT_VLOG(level, ...)                                                                      \
  do {                                                                                             \
    if ((level) <= ::weft::base::log_verbosity()) {                                                \
      WEFT_LOG_AT(::weft::base::Severity::kInfo, __VA_ARGS__);                                     \
    }                                                                                              \
  } while (false)
