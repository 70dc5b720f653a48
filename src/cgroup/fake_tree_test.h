// fake_tree_test.h - fake cgroup hosts in a temp dir for the unit tests (test-only).
//
// Each tree has the mountinfo and /proc/self/cgroup text of a real host of that kind, with
// mount points under the temp dir. Files the kernel would create in a new cgroup are created
// by the test (file()), so what apply() wrote can be read back.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "base/file.h"
#include "cgroup/layout.h"

namespace berth::cgroup::testing {

inline constexpr char kHybridMountinfo[] =
    "22 1 8:1 / / rw,relatime - ext4 /dev/vda rw\n"
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n"
    "37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
    "38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n";
inline constexpr char kHybridSelf[] =
    "9:name=systemd:/\n8:pids:/\n7:blkio:/\n6:freezer:/\n5:devices:/\n"
    "4:memory:/process_api/abc\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n0::/\n";

inline constexpr char kV1Mountinfo[] =
    "22 1 8:1 / / rw,relatime - ext4 /dev/vda rw\n"
    "25 22 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n"
    "26 25 0:23 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
    "27 25 0:24 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
    "28 25 0:25 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset,clone_children\n"
    "29 25 0:26 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
    "30 25 0:27 / /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices\n"
    "31 25 0:28 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer\n"
    "32 25 0:29 / /sys/fs/cgroup/blkio rw - cgroup cgroup rw,blkio\n"
    "33 25 0:30 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n"
    "34 25 0:31 / /sys/fs/cgroup/hugetlb rw - cgroup cgroup rw,hugetlb\n"
    "35 25 0:32 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio\n";
inline constexpr char kV1Self[] =
    "10:net_cls,net_prio:/\n9:hugetlb:/\n8:pids:/user.slice/user-1000.slice\n7:blkio:/\n"
    "6:freezer:/\n5:devices:/user.slice\n4:memory:/user.slice/user-1000.slice\n3:cpuset:/\n"
    "2:cpu,cpuacct:/user.slice\n1:name=systemd:/user.slice/user-1000.slice/session-1.scope\n";

inline constexpr char kV2Mountinfo[] =
    "22 1 8:1 / / rw,relatime - ext4 /dev/vda rw\n"
    "30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec - cgroup2 cgroup2 rw,nsdelegate\n";
inline constexpr char kV2Self[] = "0::/user.slice/user-1000.slice/session-1.scope\n";
inline constexpr char kV2Controllers[] = "cpuset cpu io memory hugetlb pids rdma misc\n";

class FakeTree {
 public:
  enum Kind { kHybrid, kV1, kV2 };

  explicit FakeTree(Kind kind) : dir_(TempDir::create("/tmp/berth-cgtest-").value()) {
    const char* mountinfo = kind == kHybrid ? kHybridMountinfo
                            : kind == kV1   ? kV1Mountinfo
                                            : kV2Mountinfo;
    const char* self = kind == kHybrid ? kHybridSelf : kind == kV1 ? kV1Self : kV2Self;
    if (kind == kHybrid) file("sys/fs/cgroup/unified/cgroup.controllers", "hugetlb\n");
    if (kind == kV2) {
      file("sys/fs/cgroup/cgroup.controllers", kV2Controllers);
      file("sys/fs/cgroup/cgroup.subtree_control", "");
    }
    make_mount_points(mountinfo);
    auto layout = Layout::parse(mountinfo, self, dir_.path());
    EXPECT_TRUE(layout.ok()) << layout.error().message();
    layout_ = std::move(layout.value());
  }

  const Layout& layout() const { return layout_; }
  const std::string& root() const { return dir_.path(); }
  // Host path of a path below the fake root ("sys/fs/cgroup/memory/x").
  std::string path(const std::string& rel) const { return path_join(dir_.path(), rel); }

  void file(const std::string& rel, const std::string& content) {
    std::string p = path(rel);
    ASSERT_TRUE(mkdir_all(dirname_of(p)).ok());
    std::ofstream(p, std::ios::trunc) << content;  // no fsync: these are throwaway files
    ASSERT_TRUE(path_exists(p)) << p;
  }
  void dir(const std::string& rel) { ASSERT_TRUE(mkdir_all(path(rel)).ok()); }
  std::string read(const std::string& rel) const {
    auto r = read_file(path(rel));
    return r.ok() ? r.value() : "<" + r.error().message() + ">";
  }
  bool exists(const std::string& rel) const { return path_exists(path(rel)); }

 private:
  void make_mount_points(const char* mountinfo) {
    auto layout = Layout::parse(mountinfo, "", dir_.path());
    ASSERT_TRUE(layout.ok());
    for (const auto& h : layout->v1()) ASSERT_TRUE(mkdir_all(h.mount_point).ok());
    if (layout->unified()) {
      ASSERT_TRUE(mkdir_all(layout->unified()->mount_point).ok());
    }
  }

  TempDir dir_;
  Layout layout_;
};

}  // namespace berth::cgroup::testing
