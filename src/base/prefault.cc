#include "base/prefault.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>

namespace weft::base {

void prefault(void* begin, std::size_t len) {
  if (begin == nullptr || len < (256u << 10)) {
    return;
  }
  static const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto start = reinterpret_cast<std::uintptr_t>(begin);
  const auto b = (start + page - 1) & ~(page - 1);
  const auto e = (start + len) & ~(page - 1);
  if (e > b) {
#ifdef MADV_POPULATE_WRITE
    (void)::madvise(reinterpret_cast<void*>(b), e - b, MADV_POPULATE_WRITE);
#endif
  }
}

} // namespace weft::base
