#include "base/prefault.h"

#include <gtest/gtest.h>

#include <vector>

namespace weft::base {
namespace {

TEST(Prefault, KeepsWhatTheBufferHolds) {
  // Populating pages for writing must not change a byte already written, wherever the range
  // starts and ends inside its pages.
  std::vector<unsigned char> v(3u << 20);
  for (std::size_t i = 0; i < v.size(); ++i) {
    v[i] = static_cast<unsigned char>(i * 31 + 7);
  }
  prefault(v.data() + 123, v.size() - 5000);
  for (std::size_t i = 0; i < v.size(); ++i) {
    ASSERT_EQ(v[i], static_cast<unsigned char>(i * 31 + 7)) << i;
  }
  std::vector<int> reserved;
  reserved.reserve(1 << 20);
  prefault_reserved(reserved);
  EXPECT_TRUE(reserved.empty());
  prefault(nullptr, 1 << 30); // ignored
  prefault(v.data(), 100);    // too small to bother
}

} // namespace
} // namespace weft::base
