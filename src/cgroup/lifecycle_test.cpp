// lifecycle_test.cpp - create, persist, freeze, list, stats and destroy on fake trees.
#include <gtest/gtest.h>
#include <signal.h>

#include "cgroup/cgroup.h"
#include "cgroup/fake_tree_test.h"

namespace berth::cgroup {
namespace {

using testing::FakeTree;

TEST(Create, V1MakesEveryHierarchyAndCopiesCpuset) {
  FakeTree t(FakeTree::kV1);
  t.file("sys/fs/cgroup/cpuset/cpuset.cpus", "0-3\n");
  t.file("sys/fs/cgroup/cpuset/cpuset.mems", "0\n");
  // What the kernel puts in a new cpuset: empty cpus and mems.
  for (const char* level : {"berth", "berth/c1"}) {
    t.file(std::string("sys/fs/cgroup/cpuset/") + level + "/cpuset.cpus", "\n");
    t.file(std::string("sys/fs/cgroup/cpuset/") + level + "/cpuset.mems", "\n");
  }
  t.file("sys/fs/cgroup/cpuset/berth/cpuset.mems", "1\n");  // already set: kept
  auto cg = Cgroup::create("", "c1", t.layout());
  ASSERT_TRUE(cg.ok()) << cg.error().trail();
  EXPECT_EQ(cg->path(), "/berth/c1");
  for (const char* h : {"systemd", "cpu,cpuacct", "cpuset", "memory", "devices", "freezer", "blkio",
                        "pids", "hugetlb", "net_cls,net_prio"})
    EXPECT_TRUE(is_directory(t.path(std::string("sys/fs/cgroup/") + h + "/berth/c1"))) << h;
  EXPECT_EQ(t.read("sys/fs/cgroup/cpuset/berth/cpuset.cpus"), "0-3");
  EXPECT_EQ(t.read("sys/fs/cgroup/cpuset/berth/cpuset.mems"), "1\n");
  EXPECT_EQ(t.read("sys/fs/cgroup/cpuset/berth/c1/cpuset.cpus"), "0-3");
  EXPECT_EQ(t.read("sys/fs/cgroup/cpuset/berth/c1/cpuset.mems"), "1");
  EXPECT_EQ(cg->dirs().size(), 10u);
  EXPECT_EQ(cg->v2_dir(), nullptr);
  EXPECT_EQ(cg->primary().path, t.path("sys/fs/cgroup/pids/berth/c1"));
}

TEST(Create, FailureRemovesWhatItMade) {
  FakeTree t(FakeTree::kV1);  // no cpuset files: copying them fails
  auto cg = Cgroup::create("/berth/c1", "c1", t.layout());
  ASSERT_FALSE(cg.ok());
  EXPECT_EQ(cg.error().message(), "open " + t.path("sys/fs/cgroup/cpuset/berth/cpuset.cpus") +
                                      ": No such file or directory");
  EXPECT_EQ(cg.error().contexts(), std::vector<std::string>{"create cgroup /berth/c1"});
  EXPECT_FALSE(t.exists("sys/fs/cgroup/systemd/berth"));
  EXPECT_FALSE(t.exists("sys/fs/cgroup/cpu,cpuacct/berth"));
  EXPECT_FALSE(t.exists("sys/fs/cgroup/cpuset/berth"));
}

TEST(Create, V2EnablesControllersInTheParents) {
  FakeTree t(FakeTree::kV2);
  auto cg = Cgroup::create("/berth/c1", "c1", t.layout());
  ASSERT_TRUE(cg.ok()) << cg.error().trail();
  EXPECT_TRUE(is_directory(t.path("sys/fs/cgroup/berth/c1")));
  EXPECT_EQ(t.read("sys/fs/cgroup/cgroup.subtree_control"),
            "+cpuset +cpu +io +memory +hugetlb +pids +rdma +misc");
  ASSERT_EQ(cg->dirs().size(), 1u);
  EXPECT_TRUE(cg->dirs()[0].v2);
  EXPECT_EQ(cg->dir_for("memory"), cg->v2_dir());
  EXPECT_EQ(cg->dir_for("devices"), cg->v2_dir());
  EXPECT_EQ(cg->dir_for("net_cls"), nullptr);
}

TEST(Create, V2SkipsControllersAlreadyEnabled) {
  FakeTree t(FakeTree::kV2);
  t.file("sys/fs/cgroup/cgroup.subtree_control", "cpu memory\n");
  ASSERT_TRUE(Cgroup::create("/berth/c1", "c1", t.layout()).ok());
  EXPECT_EQ(t.read("sys/fs/cgroup/cgroup.subtree_control"),
            "+cpuset +io +hugetlb +pids +rdma +misc");
}

TEST(Create, HybridJoinsTheUnifiedHierarchyToo) {
  FakeTree t(FakeTree::kHybrid);
  t.file("sys/fs/cgroup/cpuset/cpuset.cpus", "0\n");
  t.file("sys/fs/cgroup/cpuset/cpuset.mems", "0\n");
  t.file("sys/fs/cgroup/cpuset/berth/x/c1/cpuset.cpus", "1\n");
  t.file("sys/fs/cgroup/cpuset/berth/x/c1/cpuset.mems", "0\n");
  t.file("sys/fs/cgroup/cpuset/berth/x/cpuset.cpus", "0\n");
  t.file("sys/fs/cgroup/cpuset/berth/x/cpuset.mems", "0\n");
  t.file("sys/fs/cgroup/cpuset/berth/cpuset.cpus", "0\n");
  t.file("sys/fs/cgroup/cpuset/berth/cpuset.mems", "0\n");
  auto cg = Cgroup::create("berth/x/c1", "c1", t.layout());  // relative
  ASSERT_TRUE(cg.ok()) << cg.error().trail();
  EXPECT_TRUE(is_directory(t.path("sys/fs/cgroup/memory/process_api/abc/berth/x/c1")));
  EXPECT_TRUE(is_directory(t.path("sys/fs/cgroup/pids/berth/x/c1")));
  EXPECT_TRUE(is_directory(t.path("sys/fs/cgroup/unified/berth/x/c1")));
  EXPECT_EQ(t.read("sys/fs/cgroup/unified/cgroup.subtree_control"),
            "<open " + t.path("sys/fs/cgroup/unified/cgroup.subtree_control") +
                ": No such file or directory>");  // the fake has none: refusals are ignored
  ASSERT_NE(cg->v2_dir(), nullptr);
  EXPECT_EQ(cg->v2_dir()->controllers, std::vector<std::string>{"hugetlb"});
}

TEST(Persist, JsonRoundTrip) {
  FakeTree t(FakeTree::kHybrid);
  auto cg = Cgroup::resolve("/berth/c1", "c1", t.layout());
  ASSERT_TRUE(cg.ok());
  auto back = Cgroup::from_json(cg->to_json());
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->path(), "/berth/c1");
  ASSERT_EQ(back->dirs().size(), cg->dirs().size());
  for (size_t i = 0; i < cg->dirs().size(); ++i) {
    EXPECT_EQ(back->dirs()[i].path, cg->dirs()[i].path);
    EXPECT_EQ(back->dirs()[i].v2, cg->dirs()[i].v2);
    EXPECT_EQ(back->dirs()[i].controllers, cg->dirs()[i].controllers);
  }
  EXPECT_EQ(back->to_json(), cg->to_json());
}

TEST(Persist, RejectsBadState) {
  const char* bad[] = {"",
                       "[]",
                       "{}",
                       "{\"dirs\":[]}",
                       "{\"dirs\":[{\"v2\":true}]}",
                       "{\"dirs\":[{\"path\":\"rel/x\"}]}",
                       "{\"dirs\":[{\"path\":\"/sys/fs/cgroup/../etc\"}]}"};
  for (const char* j : bad) EXPECT_FALSE(Cgroup::from_json(j).ok()) << j;
}

TEST(Freezer, V1) {
  FakeTree t(FakeTree::kV1);
  t.file("sys/fs/cgroup/freezer/berth/c1/freezer.state", "THAWED\n");
  auto cg = Cgroup::resolve("/berth/c1", "c1", t.layout()).value();
  EXPECT_EQ(cg.freezer_state().value(), "running");
  ASSERT_TRUE(cg.freeze().ok());
  EXPECT_EQ(t.read("sys/fs/cgroup/freezer/berth/c1/freezer.state"), "FROZEN");
  EXPECT_EQ(cg.freezer_state().value(), "paused");
  ASSERT_TRUE(cg.thaw().ok());
  EXPECT_EQ(cg.freezer_state().value(), "running");
}

TEST(Freezer, V2WaitsForCgroupEvents) {
  FakeTree t(FakeTree::kV2);
  t.file("sys/fs/cgroup/berth/c1/cgroup.freeze", "0\n");
  t.file("sys/fs/cgroup/berth/c1/cgroup.events", "populated 1\nfrozen 1\n");
  auto cg = Cgroup::resolve("/berth/c1", "c1", t.layout()).value();
  ASSERT_TRUE(cg.freeze().ok());
  EXPECT_EQ(t.read("sys/fs/cgroup/berth/c1/cgroup.freeze"), "1");
  EXPECT_EQ(cg.freezer_state().value(), "paused");
  t.file("sys/fs/cgroup/berth/c1/cgroup.events", "populated 1\nfrozen 0\n");
  ASSERT_TRUE(cg.thaw().ok());
  EXPECT_EQ(cg.freezer_state().value(), "running");
}

TEST(Freezer, V2TimesOutWhenNeverFrozen) {
  FakeTree t(FakeTree::kV2);
  t.file("sys/fs/cgroup/berth/c1/cgroup.freeze", "0\n");
  t.file("sys/fs/cgroup/berth/c1/cgroup.events", "populated 1\nfrozen 0\n");
  auto cg = Cgroup::resolve("/berth/c1", "c1", t.layout()).value();
  Status s = cg.freeze();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(), "wait for \"frozen 1\" in cgroup.events of " +
                                     t.path("sys/fs/cgroup/berth/c1") + ": Connection timed out");
  EXPECT_EQ(t.read("sys/fs/cgroup/berth/c1/cgroup.freeze"), "0");  // undone
}

TEST(Freezer, MissingCgroupIsAnError) {
  FakeTree t(FakeTree::kV1);
  auto cg = Cgroup::resolve("/berth/gone", "c1", t.layout()).value();
  EXPECT_FALSE(cg.freezer_state().ok());
  EXPECT_FALSE(cg.freeze().ok());
}

TEST(Pids, ListsDescendantsOfThePrimaryDir) {
  FakeTree t(FakeTree::kHybrid);
  t.file("sys/fs/cgroup/unified/berth/c1/cgroup.procs", "7\n3\n");
  t.file("sys/fs/cgroup/unified/berth/c1/sub/cgroup.procs", "12\n3\n");
  auto cg = Cgroup::resolve("/berth/c1", "c1", t.layout()).value();
  EXPECT_EQ(cg.pids().value(), (std::vector<pid_t>{3, 7, 12}));
}

TEST(Pids, KillAllUsesCgroupKillForSigkill) {
  FakeTree t(FakeTree::kV2);
  t.file("sys/fs/cgroup/berth/c1/cgroup.kill", "");
  auto cg = Cgroup::resolve("/berth/c1", "c1", t.layout()).value();
  ASSERT_TRUE(cg.kill_all(SIGKILL).ok());
  EXPECT_EQ(t.read("sys/fs/cgroup/berth/c1/cgroup.kill"), "1");
}

TEST(Pids, AddProcessWritesEveryHierarchy) {
  FakeTree t(FakeTree::kHybrid);
  auto cg = Cgroup::resolve("/berth/c1", "c1", t.layout()).value();
  for (const auto& d : cg.dirs()) t.file(d.path.substr(t.root().size() + 1) + "/cgroup.procs", "");
  ASSERT_TRUE(cg.add_process(4242).ok());
  for (const auto& d : cg.dirs())
    EXPECT_EQ(t.read(d.path.substr(t.root().size() + 1) + "/cgroup.procs"), "4242") << d.path;
  Status s = Cgroup::resolve("/other", "c1", t.layout())->add_process(1);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().trail(), "write 1 to " + t.path("sys/fs/cgroup/cpu/other/cgroup.procs") +
                                   ": No such file or directory\n  while add process 1 to "
                                   "cgroup /other");
}

TEST(Destroy, RemovesEveryDirAndToleratesMissingOnes) {
  FakeTree t(FakeTree::kV2);
  auto cg = Cgroup::create("/berth/c1", "c1", t.layout());
  ASSERT_TRUE(cg.ok());
  t.dir("sys/fs/cgroup/berth/c1/nested/deeper");  // made by the container
  ASSERT_TRUE(cg->destroy().ok());
  EXPECT_FALSE(t.exists("sys/fs/cgroup/berth/c1"));
  EXPECT_TRUE(t.exists("sys/fs/cgroup/berth"));
  EXPECT_TRUE(cg->destroy().ok());
}

TEST(Destroy, ReportsWhatCannotBeRemoved) {
  FakeTree t(FakeTree::kV2);
  t.file("sys/fs/cgroup/berth/c1/stray", "x");  // a plain file: rmdir says ENOTEMPTY
  auto cg = Cgroup::resolve("/berth/c1", "c1", t.layout()).value();
  Status s = cg.destroy();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().trail(), "rmdir " + t.path("sys/fs/cgroup/berth/c1") +
                                   ": Directory not empty\n  while remove cgroup /berth/c1");
}

TEST(Stats, V2) {
  FakeTree t(FakeTree::kV2);
  t.file("sys/fs/cgroup/berth/c1/memory.current", "4096\n");
  t.file("sys/fs/cgroup/berth/c1/memory.max", "max\n");
  t.file("sys/fs/cgroup/berth/c1/memory.peak", "8192\n");
  t.file("sys/fs/cgroup/berth/c1/cpu.stat", "usage_usec 15\nuser_usec 10\nsystem_usec 5\n");
  t.file("sys/fs/cgroup/berth/c1/pids.current", "3\n");
  t.file("sys/fs/cgroup/berth/c1/pids.max", "100\n");
  t.file("sys/fs/cgroup/berth/c1/io.stat",
         "8:0 rbytes=4096 wbytes=1024 rios=1 wios=1 dbytes=0 dios=0\n259:0 rbytes=100 wbytes=0\n");
  auto cg = Cgroup::resolve("/berth/c1", "c1", t.layout()).value();
  auto s = cg.stats();
  ASSERT_TRUE(s.ok()) << s.error().trail();
  EXPECT_EQ(s->memory_usage, 4096u);
  EXPECT_FALSE(s->memory_limit.has_value());
  EXPECT_EQ(s->memory_max_usage, 8192u);
  EXPECT_EQ(s->cpu_usage_ns, 15000u);
  EXPECT_EQ(s->cpu_user_ns, 10000u);
  EXPECT_EQ(s->cpu_system_ns, 5000u);
  EXPECT_EQ(s->pids_current, 3u);
  EXPECT_EQ(s->pids_limit, 100u);
  EXPECT_EQ(s->io_read_bytes, 4196u);
  EXPECT_EQ(s->io_write_bytes, 1024u);
}

TEST(Stats, V1) {
  FakeTree t(FakeTree::kV1);
  std::string mem = "sys/fs/cgroup/memory/berth/c1/";
  t.file(mem + "memory.usage_in_bytes", "1000\n");
  t.file(mem + "memory.limit_in_bytes", "9223372036854771712\n");
  t.file(mem + "memory.max_usage_in_bytes", "2000\n");
  t.file(mem + "memory.memsw.usage_in_bytes", "1500\n");
  std::string cpu = "sys/fs/cgroup/cpu,cpuacct/berth/c1/";
  t.file(cpu + "cpuacct.usage", "300\n");
  t.file(cpu + "cpuacct.usage_user", "200\n");
  t.file(cpu + "cpuacct.usage_sys", "100\n");
  t.file("sys/fs/cgroup/pids/berth/c1/pids.current", "1\n");
  t.file("sys/fs/cgroup/pids/berth/c1/pids.max", "max\n");
  t.file("sys/fs/cgroup/blkio/berth/c1/blkio.throttle.io_service_bytes_recursive",
         "8:0 Read 2048\n8:0 Write 512\n8:0 Sync 2560\n8:0 Total 2560\n8:16 Read 1\nTotal 2561\n");
  auto s = Cgroup::resolve("/berth/c1", "c1", t.layout())->stats();
  ASSERT_TRUE(s.ok()) << s.error().trail();
  EXPECT_EQ(s->memory_usage, 1000u);
  EXPECT_FALSE(s->memory_limit.has_value());
  EXPECT_EQ(s->memory_max_usage, 2000u);
  EXPECT_EQ(s->swap_usage, 500u);
  EXPECT_EQ(s->cpu_usage_ns, 300u);
  EXPECT_EQ(s->cpu_user_ns, 200u);
  EXPECT_EQ(s->pids_current, 1u);
  EXPECT_FALSE(s->pids_limit.has_value());
  EXPECT_EQ(s->io_read_bytes, 2049u);
  EXPECT_EQ(s->io_write_bytes, 512u);
}

}  // namespace
}  // namespace berth::cgroup
