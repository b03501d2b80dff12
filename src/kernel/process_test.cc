#include "kernel/process.h"

#include <gtest/gtest.h>

namespace weft::kernel {
namespace {

TEST(RunProcess, FeedsStdinAndCollectsOutput) {
  std::string big(1 << 20, 'x'); // larger than a pipe buffer: needs the poll loop
  auto r = run_process({"cat"}, big);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->out, big);
}

TEST(RunProcess, ReportsExitCodeAndStderr) {
  auto r = run_process({"sh", "-c", "echo oops >&2; exit 3"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->err, "oops\n");
}

TEST(RunProcess, ChildIgnoringStdinDoesNotKillUs) {
  auto r = run_process({"true"}, std::string(1 << 20, 'y'));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0);
}

TEST(RunProcess, MissingProgramIsAnError) {
  auto r = run_process({"weft-no-such-program"});
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(run_process({}).ok());
}

} // namespace
} // namespace weft::kernel
