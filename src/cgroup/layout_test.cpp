// layout_test.cpp - layout detection and cgroupsPath resolution on fake hosts.
#include "cgroup/layout.h"

#include <gtest/gtest.h>

#include "cgroup/fake_tree_test.h"

namespace berth::cgroup {
namespace {

using testing::FakeTree;

std::string where(const Layout& l, const char* controller) {
  const Hierarchy* h = l.find(controller);
  if (h == nullptr) return "-";
  std::string mp = h->mount_point;
  return (h->v2 ? "v2:" : "v1:") + mp.substr(mp.rfind("/sys/fs/cgroup") + 14);
}

TEST(Layout, Hybrid) {
  FakeTree t(FakeTree::kHybrid);
  const Layout& l = t.layout();
  EXPECT_EQ(l.mode(), Mode::hybrid);
  EXPECT_TRUE(l.has_v2());
  EXPECT_EQ(l.v1().size(), 9u);  // 8 controllers + name=systemd
  EXPECT_EQ(where(l, "memory"), "v1:/memory");
  EXPECT_EQ(where(l, "cpuacct"), "v1:/cpuacct");
  EXPECT_EQ(where(l, "devices"), "v1:/devices");
  EXPECT_EQ(where(l, "freezer"), "v1:/freezer");
  EXPECT_EQ(where(l, "hugetlb"), "v2:/unified");
  EXPECT_EQ(where(l, "net_cls"), "-");
  EXPECT_EQ(where(l, "rdma"), "-");
  EXPECT_EQ(l.v2_controllers(), std::vector<std::string>{"hugetlb"});
  EXPECT_EQ(l.find("memory")->own_path, "/process_api/abc");
  EXPECT_EQ(l.unified()->own_path, "/");
  EXPECT_EQ(l.unified()->mount_point, t.path("sys/fs/cgroup/unified"));
}

TEST(Layout, PureV1) {
  FakeTree t(FakeTree::kV1);
  const Layout& l = t.layout();
  EXPECT_EQ(l.mode(), Mode::v1);
  EXPECT_FALSE(l.has_v2());
  EXPECT_EQ(where(l, "cpu"), "v1:/cpu,cpuacct");
  EXPECT_EQ(where(l, "cpuacct"), "v1:/cpu,cpuacct");
  EXPECT_EQ(where(l, "hugetlb"), "v1:/hugetlb");
  EXPECT_EQ(where(l, "net_prio"), "v1:/net_cls,net_prio");
  EXPECT_EQ(where(l, "cpuset"), "v1:/cpuset");  // "clone_children" is not a controller
  EXPECT_EQ(l.find("cpuset")->controllers, std::vector<std::string>{"cpuset"});
  EXPECT_EQ(l.find("pids")->own_path, "/user.slice/user-1000.slice");
  EXPECT_TRUE(l.v2_controllers().empty());
}

TEST(Layout, PureV2) {
  FakeTree t(FakeTree::kV2);
  const Layout& l = t.layout();
  EXPECT_EQ(l.mode(), Mode::v2);
  EXPECT_TRUE(l.v1().empty());
  EXPECT_EQ(where(l, "memory"), "v2:");
  EXPECT_EQ(where(l, "blkio"), "v2:");  // as "io"
  EXPECT_EQ(where(l, "devices"), "v2:");
  EXPECT_EQ(where(l, "freezer"), "v2:");
  EXPECT_EQ(where(l, "net_cls"), "-");
  EXPECT_EQ(l.unified()->own_path, "/user.slice/user-1000.slice/session-1.scope");
  auto v2 = l.v2_controllers();
  EXPECT_EQ(v2.size(), 11u) << l.describe();  // not net_cls, net_prio, perf_event
}

TEST(Layout, NamedOnlyV1PlusUnifiedIsV2) {
  // systemd's "unified" mode: cgroup2 everywhere plus a name=systemd v1 hierarchy.
  auto l = Layout::parse(
      "1 0 0:1 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n"
      "2 0 0:2 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n",
      "", "");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->mode(), Mode::v2);
}

TEST(Layout, EscapesDuplicatesAndOddLines) {
  auto l = Layout::parse(
      "garbage\n"
      "1 0 0:1 / /sys/fs/cgroup/my\\040memory rw - cgroup cgroup rw,memory\n"
      "2 0 0:1 / /mnt/again rw - cgroup cgroup rw,memory\n"
      "3 0 0:3 / /x rw shared:5 - cgroup cgroup rw,pids\n",
      "", "");
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->v1().size(), 2u);
  EXPECT_EQ(l->v1()[0].mount_point, "/sys/fs/cgroup/my memory");
  EXPECT_EQ(l->find("pids")->mount_point, "/x");
}

TEST(Layout, NoCgroupMountIsAnError) {
  auto l = Layout::parse("22 1 8:1 / / rw - ext4 /dev/vda rw\n", "", "");
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.error().message(),
            "find a mounted cgroup hierarchy in mountinfo: No such file or directory");
}

TEST(Layout, DetectReadsTheSourceFiles) {
  FakeTree t(FakeTree::kHybrid);
  t.file("proc/mountinfo", testing::kHybridMountinfo);
  t.file("proc/cgroup", testing::kHybridSelf);
  auto l = Layout::detect({t.path("proc/mountinfo"), t.path("proc/cgroup"), t.root()});
  ASSERT_TRUE(l.ok()) << l.error().message();
  EXPECT_EQ(l->mode(), Mode::hybrid);
  auto missing = Layout::detect({t.path("proc/none"), t.path("proc/cgroup"), t.root()});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().trail(), "open " + t.path("proc/none") +
                                         ": No such file or directory\n  while detect the "
                                         "cgroup layout");
}

struct NormalizeCase {
  const char* path;
  const char* expected;  // nullptr: an error containing `error`
  const char* error;
};

TEST(CgroupsPath, Normalize) {
  const NormalizeCase cases[] = {
      {"", "/berth/ctr1", nullptr},
      {"/a/b", "/a/b", nullptr},
      {"//a/./b/", "/a/b", nullptr},
      {"a/b", "a/b", nullptr},
      {"./a", "a", nullptr},
      {"/a/../b", nullptr, "must not contain \"..\""},
      {"..", nullptr, "must not contain \"..\""},
      {"a/..", nullptr, "must not contain \"..\""},
      {"/", nullptr, "refers to the parent's own cgroup"},
      {"system.slice:berth:ctr1", nullptr, "systemd cgroup driver is not supported"},
      {"a:b", "a:b", nullptr},
  };
  for (const auto& c : cases) {
    auto r = normalize_cgroups_path(c.path, "ctr1");
    if (c.expected) {
      ASSERT_TRUE(r.ok()) << c.path << ": " << r.error().message();
      EXPECT_EQ(*r, c.expected) << c.path;
    } else {
      ASSERT_FALSE(r.ok()) << c.path << " gave " << *r;
      EXPECT_NE(r.error().message().find(c.error), std::string::npos) << r.error().message();
    }
  }
  EXPECT_FALSE(normalize_cgroups_path("", "a/b").ok());
  EXPECT_FALSE(normalize_cgroups_path("", "..").ok());
  EXPECT_FALSE(normalize_cgroups_path("", "").ok());
}

TEST(CgroupsPath, SystemdFormMessage) {
  auto r = normalize_cgroups_path("system.slice:berth:abc", "abc");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(),
            "systemd cgroup driver is not supported (cgroupsPath \"system.slice:berth:abc\" has "
            "the slice:prefix:name form); use a path such as /berth/<id>");
}

TEST(CgroupsPath, DirectoriesPerHierarchy) {
  FakeTree t(FakeTree::kHybrid);
  const Layout& l = t.layout();
  const Hierarchy& memory = *l.find("memory");
  const Hierarchy& pids = *l.find("pids");
  const Hierarchy& unified = *l.unified();
  EXPECT_EQ(hierarchy_dir(memory, "/a/b"), t.path("sys/fs/cgroup/memory/a/b"));
  EXPECT_EQ(hierarchy_dir(memory, "a/b"), t.path("sys/fs/cgroup/memory/process_api/abc/a/b"));
  EXPECT_EQ(hierarchy_dir(pids, "a/b"), t.path("sys/fs/cgroup/pids/a/b"));
  EXPECT_EQ(hierarchy_dir(unified, "a/b"), t.path("sys/fs/cgroup/unified/a/b"));
}

TEST(CgroupsPath, RelativeOnV2UsesTheParentOfTheOwnCgroup) {
  FakeTree t(FakeTree::kV2);
  const Hierarchy& u = *t.layout().unified();
  EXPECT_EQ(hierarchy_dir(u, "berth/c1"),
            t.path("sys/fs/cgroup/user.slice/user-1000.slice/berth/c1"));
  EXPECT_EQ(hierarchy_dir(u, "/berth/c1"), t.path("sys/fs/cgroup/berth/c1"));
}

TEST(CgroupsPath, RelativeUnderAMountOfASubtree) {
  // A container without a cgroup namespace sees its host cgroup mounted as the root.
  Hierarchy h;
  h.mount_point = "/sys/fs/cgroup/memory";
  h.mount_root = "/docker/abc";
  h.own_path = "/docker/abc/inner";
  EXPECT_EQ(hierarchy_dir(h, "x"), "/sys/fs/cgroup/memory/inner/x");
  h.own_path = "/docker/abc";
  EXPECT_EQ(hierarchy_dir(h, "x"), "/sys/fs/cgroup/memory/x");
  h.own_path = "/inner";  // a cgroup namespace: own path already relative to the mount
  EXPECT_EQ(hierarchy_dir(h, "x"), "/sys/fs/cgroup/memory/inner/x");
}

}  // namespace
}  // namespace berth::cgroup
