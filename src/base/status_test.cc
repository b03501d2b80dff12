#include "base/status.h"

#include <gtest/gtest.h>

namespace weft::base {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) {
    return invalid_argument("value " + std::to_string(v) + " is not positive");
  }
  return v;
}

Status chain(int v) {
  WEFT_RETURN_IF_ERROR(parse_positive(v).status());
  return {};
}

TEST(Status, OkAndErrorCarryCodeAndMessage) {
  EXPECT_TRUE(Status{}.ok());
  Status s = invalid_argument("SubnetLen must be less than /31");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.to_string(), "invalid_argument: SubnetLen must be less than /31");
  EXPECT_EQ(s.with_context("net-conf.json").message(),
            "net-conf.json: SubnetLen must be less than /31");
}

TEST(Status, RetryPolicyIsDecidedByCode) {
  EXPECT_TRUE(unavailable("x").retryable());
  EXPECT_TRUE(rate_limited("x").retryable());
  EXPECT_FALSE(invalid_argument("x").retryable());
  EXPECT_FALSE(permission_denied("x").retryable());
  EXPECT_FALSE(quota_exceeded("x").retryable());
}

TEST(Result, HoldsValueOrStatus) {
  auto good = parse_positive(3);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 3);
  auto bad = parse_positive(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "value -1 is not positive");
  EXPECT_EQ(bad.value_or(7), 7);
  EXPECT_TRUE(chain(1).ok());
  EXPECT_EQ(chain(0).code(), Code::kInvalidArgument);
}

} // namespace
} // namespace weft::base
