#pragma once
// prefault(): maps the pages of a large buffer about to be filled in one system call, instead of
// one page fault per 4 KiB as it is written. On a VM a fault costs microseconds (12 us on the CI
// machine, against 3 us a page populated in bulk): a 5000-lease listing and its parsed entries
// touch a few megabytes at start. Best effort: nothing happens below 256 KiB or on kernels
// without MADV_POPULATE_WRITE (before 5.14).

#include <cstddef>

namespace weft::base {

void prefault(void* begin, std::size_t len);

// The storage of a vector reserved for `n` more elements.
template <typename Vector> void prefault_reserved(Vector& v) {
  prefault(v.data() + v.size(), (v.capacity() - v.size()) * sizeof(typename Vector::value_type));
}

} // namespace weft::base
