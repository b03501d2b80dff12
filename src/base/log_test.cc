#include "base/log.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "base/secret.h"

namespace weft::base {
namespace {

std::vector<std::string>& captured() {
  static std::vector<std::string> lines;
  return lines;
}

class LogTest : public ::testing::Test {
protected:
  void SetUp() override {
    captured().clear();
    set_log_sink([](std::string_view line) { captured().emplace_back(line); });
  }
  void TearDown() override {
    set_log_sink(nullptr);
    set_log_verbosity(0);
  }
};

TEST_F(LogTest, KlogLineFormat) {
  WEFT_INFO("acquired lease {}", "10.1.2.0/24");
  ASSERT_EQ(captured().size(), 1u);
  std::regex klog(
      R"(^I\d{4} \d\d:\d\d:\d\d\.\d{6} +\d+ log_test\.cc:\d+\] acquired lease 10\.1\.2\.0/24\n$)");
  EXPECT_TRUE(std::regex_match(captured()[0], klog)) << captured()[0];
}

TEST_F(LogTest, VerbosityGatesVlog) {
  WEFT_VLOG(2, "hidden");
  EXPECT_TRUE(captured().empty());
  set_log_verbosity(2);
  WEFT_VLOG(2, "shown");
  ASSERT_EQ(captured().size(), 1u);
  EXPECT_NE(captured()[0].find("shown"), std::string::npos);
}

TEST_F(LogTest, SecretsAreRedacted) {
  Secret key("AKIDsuper-secret-value");
  WEFT_WARN("credentials {}", key);
  ASSERT_EQ(captured().size(), 1u);
  EXPECT_EQ(captured()[0].find("super-secret"), std::string::npos);
  EXPECT_NE(captured()[0].find("<redacted>"), std::string::npos);
  EXPECT_EQ(key.reveal(), "AKIDsuper-secret-value");
}

} // namespace
} // namespace weft::base
