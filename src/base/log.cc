#include "base/log.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>

namespace weft::base {
namespace {

std::atomic<int> g_verbosity{0};
std::atomic<LogSink> g_sink{nullptr};
std::mutex g_write_mutex;

char severity_letter(Severity s) {
  switch (s) {
  case Severity::kInfo:
    return 'I';
  case Severity::kWarning:
    return 'W';
  case Severity::kError:
    return 'E';
  case Severity::kFatal:
    return 'F';
  }
  return '?';
}

const char* base_name(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash != nullptr ? slash + 1 : path;
}

} // namespace

int log_verbosity() {
  return g_verbosity.load(std::memory_order_relaxed);
}
void set_log_verbosity(int v) {
  g_verbosity.store(v, std::memory_order_relaxed);
}
void set_log_sink(LogSink sink) {
  g_sink.store(sink);
}

void log_line(Severity severity, const char* file, int line, std::string_view message) {
  auto now = std::chrono::system_clock::now();
  std::time_t secs = std::chrono::system_clock::to_time_t(now);
  auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() %
      1000000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::string text = fmt::format(
      "{}{:02}{:02} {:02}:{:02}:{:02}.{:06} {:>7} {}:{}] {}\n", severity_letter(severity),
      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micros,
      static_cast<long>(::syscall(SYS_gettid)), base_name(file), line, message);
  if (LogSink sink = g_sink.load(); sink != nullptr) {
    sink(text);
  } else {
    std::lock_guard lock(g_write_mutex);
    std::fwrite(text.data(), 1, text.size(), stderr);
  }
}

} // namespace weft::base
