#include "base/backoff.h"

#include <gtest/gtest.h>

namespace weft::base {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, DoublesWithJitterUpToMax) {
  Backoff b(milliseconds(100), milliseconds(1000), 42);
  milliseconds bases[] = {milliseconds(100), milliseconds(200),  milliseconds(400),
                          milliseconds(800), milliseconds(1000), milliseconds(1000)};
  for (auto base : bases) {
    auto d = b.next();
    EXPECT_GE(d, base / 2);
    EXPECT_LE(d, base);
  }
  EXPECT_EQ(b.attempts(), 6);
  b.reset();
  auto d = b.next();
  EXPECT_LE(d, milliseconds(100));
}

TEST(Backoff, JitterSpreadsDelays) {
  Backoff a(milliseconds(1000), milliseconds(1000), 1);
  Backoff b(milliseconds(1000), milliseconds(1000), 2);
  int differ = 0;
  for (int i = 0; i < 10; ++i) {
    differ += a.next() != b.next() ? 1 : 0;
  }
  EXPECT_GT(differ, 5);
}

} // namespace
} // namespace weft::base
