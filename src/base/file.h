#pragma once
// File helpers with the durability rules weft needs: an atomic write (temp file in the same
// directory, fsync, rename, fsync of the directory) so a reader never sees half a file.

#include <string>
#include <sys/types.h>

#include "base/status.h"

namespace weft::base {

// Writes `content` to `path` atomically with the given mode (umask ignored), creating missing
// parent directories with mode 0755.
Status write_file_atomic(const std::string& path, const std::string& content, mode_t mode = 0644);

// Reads a whole file. NotFound if it does not exist.
Result<std::string> read_file(const std::string& path);

} // namespace weft::base
