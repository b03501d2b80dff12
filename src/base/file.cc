#include "base/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace weft::base {
namespace {

std::string errno_text(int err) {
  return std::strerror(err);
}

Status write_all(int fd, const std::string& content, const std::string& path) {
  const char* p = content.data();
  size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return unavailable("writing " + path + ": " + errno_text(errno));
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  return {};
}

} // namespace

Status write_file_atomic(const std::string& path, const std::string& content, mode_t mode) {
  std::filesystem::path target(path);
  std::filesystem::path dir = target.has_parent_path() ? target.parent_path() : ".";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return unavailable("creating directory " + dir.string() + ": " + ec.message());
  }
  std::string tmp_template = (dir / ("." + target.filename().string() + ".XXXXXX")).string();
  int fd = ::mkstemp(tmp_template.data());
  if (fd < 0) {
    return unavailable("creating temporary file in " + dir.string() + ": " + errno_text(errno));
  }
  Status st = write_all(fd, content, tmp_template);
  if (st.ok() && ::fchmod(fd, mode) != 0) {
    st = unavailable("chmod " + tmp_template + ": " + errno_text(errno));
  }
  if (st.ok() && ::fsync(fd) != 0) {
    st = unavailable("fsync " + tmp_template + ": " + errno_text(errno));
  }
  ::close(fd);
  if (st.ok() && ::rename(tmp_template.c_str(), path.c_str()) != 0) {
    st = unavailable("renaming " + tmp_template + " to " + path + ": " + errno_text(errno));
  }
  if (!st.ok()) {
    ::unlink(tmp_template.c_str());
    return st;
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!std::filesystem::exists(path)) {
      return not_found("file " + path + " does not exist");
    }
    return unavailable("cannot open " + path + ": " + errno_text(errno));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

} // namespace weft::base
