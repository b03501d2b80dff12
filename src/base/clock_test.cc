#include "base/clock.h"

#include <gtest/gtest.h>

namespace weft::base {
namespace {

TEST(ManualClock, MovesOnlyWhenAdvanced) {
  ManualClock clock;
  auto t0 = clock.now();
  auto w0 = clock.wall_now();
  EXPECT_EQ(clock.now(), t0);
  clock.advance(std::chrono::seconds(5));
  EXPECT_EQ(clock.now() - t0, std::chrono::seconds(5));
  EXPECT_EQ(clock.wall_now() - w0, std::chrono::seconds(5));
}

TEST(SystemClock, IsMonotonic) {
  auto a = system_clock().now();
  auto b = system_clock().now();
  EXPECT_LE(a, b);
}

} // namespace
} // namespace weft::base
