#include "reconcile/token_bucket.h"

#include <gtest/gtest.h>

namespace weft::reconcile {
namespace {

using std::chrono::milliseconds;

TEST(TokenBucket, StartsFullAndEmptiesAtBurst) {
  base::ManualClock clock;
  TokenBucket bucket(clock, 2.0, 3.0);
  EXPECT_TRUE(bucket.try_take());
  EXPECT_TRUE(bucket.try_take());
  EXPECT_TRUE(bucket.try_take());
  EXPECT_FALSE(bucket.try_take());
}

TEST(TokenBucket, RefillsAtRateAndCapsAtBurst) {
  base::ManualClock clock;
  TokenBucket bucket(clock, 2.0, 3.0);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(bucket.try_take());
  }
  EXPECT_EQ(bucket.time_until(1.0), milliseconds(500));
  clock.advance(milliseconds(499));
  EXPECT_FALSE(bucket.try_take());
  clock.advance(milliseconds(1));
  EXPECT_TRUE(bucket.try_take());
  clock.advance(std::chrono::seconds(100));
  EXPECT_DOUBLE_EQ(bucket.available(), 3.0);
}

TEST(TokenBucket, FailedTakeTakesNothing) {
  base::ManualClock clock;
  TokenBucket bucket(clock, 1.0, 2.0);
  EXPECT_FALSE(bucket.try_take(3.0));
  EXPECT_TRUE(bucket.try_take(2.0));
}

TEST(TokenBucket, ZeroRateIsUnlimited) {
  base::ManualClock clock;
  TokenBucket bucket(clock, 0.0, 1.0);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(bucket.try_take());
  }
  EXPECT_EQ(bucket.time_until(5.0), base::Clock::Duration::zero());
}

} // namespace
} // namespace weft::reconcile
