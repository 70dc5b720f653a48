#include "base/file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

namespace berth {
namespace {

TEST(File, AtomicWriteThenRead) {
  auto dir = TempDir::create();
  ASSERT_TRUE(dir.ok());
  std::string p = dir->path() + "/state.json";
  ASSERT_TRUE(write_file_atomic(p, "{\"a\":1}", 0600).ok());
  EXPECT_EQ(read_file(p).value(), "{\"a\":1}");
  struct stat st;
  ASSERT_EQ(stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_TRUE(list_dir(dir->path()).ok());
  EXPECT_EQ(list_dir(dir->path())->size(), 1u);  // no temp file left behind
}

TEST(File, ReadMissingNamesPath) {
  auto r = read_file("/nonexistent/berth/x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "open /nonexistent/berth/x: No such file or directory");
}

TEST(File, MkdirAllAndRemoveAll) {
  auto dir = TempDir::create();
  ASSERT_TRUE(dir.ok());
  std::string deep = dir->path() + "/a/b/c";
  ASSERT_TRUE(mkdir_all(deep).ok());
  EXPECT_TRUE(is_directory(deep));
  ASSERT_TRUE(write_file_atomic(deep + "/f", "x").ok());
  ASSERT_EQ(symlink("/etc", (dir->path() + "/a/link").c_str()), 0);
  ASSERT_TRUE(remove_all(dir->path() + "/a").ok());
  EXPECT_FALSE(path_exists(dir->path() + "/a"));
  EXPECT_TRUE(is_directory("/etc"));  // the symlink was not followed
}

TEST(File, CleanPathTable) {
  struct {
    const char* in;
    const char* out;
  } cases[] = {{"", "/"},
               {"/", "/"},
               {"a/b", "/a/b"},
               {"/a/../../b", "/b"},
               {"//a//./b/", "/a/b"},
               {"/../../etc/passwd", "/etc/passwd"}};
  for (auto& c : cases) EXPECT_EQ(clean_path(c.in), c.out) << c.in;
}

TEST(File, DirAndBaseName) {
  EXPECT_EQ(dirname_of("/a/b/c"), "/a/b");
  EXPECT_EQ(dirname_of("/a"), "/");
  EXPECT_EQ(basename_of("/a/b/"), "b");
  EXPECT_EQ(path_join("/a/", "/b"), "/a/b");
}

}  // namespace
}  // namespace berth
