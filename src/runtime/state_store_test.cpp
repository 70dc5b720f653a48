#include "runtime/state_store.h"

#include <gtest/gtest.h>

#include "base/file.h"

namespace berth::runtime {
namespace {

TEST(StateStore, SaveLoadAndReserve) {
  auto dir = TempDir::create();
  ASSERT_TRUE(dir.ok());
  StateStore s(dir->path() + "/root");
  ASSERT_TRUE(s.reserve("c1").ok());
  EXPECT_EQ(s.reserve("c1").error().message(), "container already exists: c1");
  ContainerRecord r;
  r.id = "c1";
  r.pid = 42;
  r.pid_start = 7;
  r.annotations = {{"a", "b"}};
  ASSERT_TRUE(s.save(r).ok());
  auto back = s.load("c1");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->pid, 42);
  EXPECT_EQ(back->annotations.at("a"), "b");
  EXPECT_EQ(s.ids().value(), std::vector<std::string>{"c1"});
  ASSERT_TRUE(s.remove("c1").ok());
  EXPECT_EQ(s.load("c1").error().message(), "container does not exist: c1");
}

TEST(StateStore, TamperedStateIsAnErrorNotACrash) {
  auto dir = TempDir::create();
  ASSERT_TRUE(dir.ok());
  StateStore s(dir->path());
  const char* bad[] = {"",
                       "[]",
                       "{\"pid\":\"12\"}",
                       "{\"pid\":1e30}",
                       "{\"pidStart\":-1}",
                       "{\"bundle\":{}}",
                       "{\"annotations\":{\"a\":1}}",
                       "{\"pid\":-5}"};
  for (const char* text : bad) {
    ASSERT_TRUE(mkdir_all(dir->path() + "/x").ok());
    ASSERT_TRUE(write_file_atomic(dir->path() + "/x/state.json", text).ok());
    auto r = s.load("x");
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.error().message().find("corrupt state file"), std::string::npos)
        << r.error().message();
  }
  // The id comes from the directory, never from the file.
  ASSERT_TRUE(
      write_file_atomic(dir->path() + "/x/state.json", "{\"id\":\"../../etc\",\"pid\":1}").ok());
  EXPECT_EQ(s.load("x")->id, "x");
}

TEST(StateStore, ContainerIdRules) {
  for (const char* good : {"a", "A-b_c.d+e", "0123"})
    EXPECT_TRUE(validate_container_id(good).ok()) << good;
  for (const char* bad : {"", ".", "..", "a/b", "a b", "../x", "x\n"})
    EXPECT_FALSE(validate_container_id(bad).ok()) << bad;
  EXPECT_FALSE(validate_container_id(std::string(1025, 'a')).ok());
}

}  // namespace
}  // namespace berth::runtime
