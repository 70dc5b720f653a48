#include "runtime/rootless.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "base/file.h"

namespace berth::runtime {
namespace {

TEST(SubIds, FindsTheUsersFirstRangeByNameOrUid) {
  auto r = parse_subids("# comment\n\nbob:100000:65536\nalice:165536:65536\nalice:1:1\n",
                        "alice", 1000);
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->start, 165536u);
  EXPECT_EQ((*r)->count, 65536u);
  auto by_uid = parse_subids("1000:200000:1000\n", "alice", 1000);
  ASSERT_TRUE(by_uid.ok());
  ASSERT_TRUE(by_uid->has_value());
  EXPECT_EQ((*by_uid)->start, 200000u);
  auto none = parse_subids("bob:100000:65536\n", "alice", 1000);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_FALSE(parse_subids("", "alice", 1000)->has_value());
}

TEST(SubIds, MalformedLinesOfTheUserAreOneLineErrors) {
  for (const char* text : {"alice:x:10\n", "alice:1\n", "alice:1:0\n", "alice:1:2:3\n",
                           "alice:4294967295:2\n", "alice:-1:5\n", "alice:99999999999:1\n"}) {
    SCOPED_TRACE(text);
    auto r = parse_subids(text, "alice", 1000);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("line 1: malformed range for alice"), std::string::npos)
        << r.error().message();
    EXPECT_EQ(r.error().message().find('\n'), std::string::npos);
  }
  // Another user's broken line is not ours to judge.
  EXPECT_TRUE(parse_subids("bob:x:y\nalice:10:10\n", "alice", 1000).ok());
}

TEST(SubIds, MappingFromFiles) {
  auto dir = TempDir::create();
  ASSERT_TRUE(dir.ok());
  std::string su = dir->path() + "/subuid", sg = dir->path() + "/subgid";
  std::string me = std::to_string(::geteuid());
  ASSERT_TRUE(write_file_atomic(su, me + ":300000:65536\n").ok());
  ASSERT_TRUE(write_file_atomic(sg, me + ":400000:65536\n").ok());
  auto m = rootless_mapping(su, sg);
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_FALSE(m->single_id);
  ASSERT_EQ(m->uids.size(), 2u);
  EXPECT_EQ(m->uids[0].container_id, 0u);
  EXPECT_EQ(m->uids[0].host_id, ::geteuid());
  EXPECT_EQ(m->uids[1].container_id, 1u);
  EXPECT_EQ(m->uids[1].host_id, 300000u);
  EXPECT_EQ(m->gids[1].host_id, 400000u);
  // No range (or only one of the two files has one): a single id.
  ASSERT_TRUE(write_file_atomic(sg, "nobody:1:1\n").ok());
  m = rootless_mapping(su, sg);
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->single_id);
  EXPECT_EQ(m->uids.size(), 1u);
  m = rootless_mapping(dir->path() + "/missing", dir->path() + "/missing");
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->single_id);
  ASSERT_TRUE(write_file_atomic(su, me + ":bad\n").ok());
  m = rootless_mapping(su, sg);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message().find(su), std::string::npos) << m.error().message();
}

}  // namespace
}  // namespace berth::runtime
