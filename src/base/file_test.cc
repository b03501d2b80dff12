#include "base/file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

namespace weft::base {
namespace {

TEST(File, AtomicWriteCreatesDirsAndSetsMode) {
  auto dir =
      std::filesystem::temp_directory_path() / ("weft-file-test-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::string path = (dir / "a" / "subnet.env").string();
  ASSERT_TRUE(write_file_atomic(path, "X=1\n", 0644).ok());
  auto got = read_file(path);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "X=1\n");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  ASSERT_TRUE(write_file_atomic(path, "X=2\n", 0600).ok());
  EXPECT_EQ(*read_file(path), "X=2\n");
  // No temporary files are left behind.
  int entries = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir / "a")) {
    ++entries;
  }
  EXPECT_EQ(entries, 1);
  std::filesystem::remove_all(dir);
}

TEST(File, ReadMissingIsNotFound) {
  auto r = read_file("/nonexistent/weft/file");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
}

} // namespace
} // namespace weft::base
