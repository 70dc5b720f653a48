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

std::string text_of(const std::vector<oci::IdMapping>& m) {
  std::string out;
  for (const auto& e : m)
    out += std::to_string(e.container_id) + " " + std::to_string(e.host_id) + " " +
           std::to_string(e.size) + "; ";
  return out;
}

TEST(KeepId, SwapsTheUsersIdWithRootAndKeepsTheRest) {
  // berth's namespace: 0 = the user outside, 1..65536 = the subordinate range.
  EXPECT_EQ(text_of(keep_id_mapping(1000, 65537)), "1000 0 1; 0 1000 1; 1 1 999; 1001 1001 64536; ");
  EXPECT_EQ(text_of(keep_id_mapping(1, 65537)), "1 0 1; 0 1 1; 2 2 65535; ");
  EXPECT_EQ(text_of(keep_id_mapping(65536, 65537)), "65536 0 1; 0 65536 1; 1 1 65535; ");
  EXPECT_EQ(text_of(keep_id_mapping(0, 65537)), "0 0 1; 1 1 65536; ");
  // A single id: only the user exists inside.
  EXPECT_EQ(text_of(keep_id_mapping(1000, 1)), "1000 0 1; ");
  // An id beyond the range: 0 stays unmapped.
  EXPECT_EQ(text_of(keep_id_mapping(70000, 65537)), "70000 0 1; 1 1 65536; ");
  // Every mapping is one-to-one: no container or outer id twice.
  for (uint32_t id : {1u, 2u, 999u, 1000u, 65535u, 65536u}) {
    auto m = keep_id_mapping(id, 65537);
    uint64_t total = 0;
    for (const auto& a : m) {
      total += a.size;
      for (const auto& b : m) {
        if (&a == &b) continue;
        EXPECT_TRUE(a.container_id + a.size <= b.container_id ||
                    b.container_id + b.size <= a.container_id) << text_of(m);
        EXPECT_TRUE(a.host_id + a.size <= b.host_id || b.host_id + b.size <= a.host_id)
            << text_of(m);
      }
    }
    EXPECT_EQ(total, 65537u) << text_of(m);
  }
}

TEST(KeepId, OuterIdsOutsideAnyUserNamespace) {
  OuterIds o = outer_ids();
  if (sys::in_user_namespace()) GTEST_SKIP() << "runs in a user namespace";
  EXPECT_EQ(o.uid, ::geteuid());
  EXPECT_EQ(o.gid, ::getegid());
  EXPECT_EQ(o.uid_span, UINT32_MAX);
}

}  // namespace
}  // namespace berth::runtime
