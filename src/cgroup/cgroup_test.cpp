// cgroup_test.cpp - Cgroup on fake v1, hybrid and v2 trees: which file gets which value.
#include "cgroup/cgroup.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <functional>
#include <utility>

#include "cgroup/fake_tree_test.h"

namespace berth::cgroup {
namespace {

using testing::FakeTree;
using Files = std::vector<std::pair<std::string, std::string>>;  // path below the leaf, content

constexpr char kV1Unlimited[] = "9223372036854771712\n";

struct ApplyCase {
  const char* name;
  std::function<void(oci::Resources&)> set;
  Files before;    // files present before apply(): "memory/memory.limit_in_bytes" ...
  Files expected;  // their contents after
};

// Runs cases on one tree kind. Paths in before/expected are relative to
// <root>/sys/fs/cgroup and use the container path /berth/c1.
void run_cases(FakeTree::Kind kind, const std::vector<ApplyCase>& cases) {
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    FakeTree t(kind);
    for (const auto& [file, content] : c.before) {
      auto slash = file.find('/');
      t.file("sys/fs/cgroup/" + file.substr(0, slash) + "/berth/c1" + file.substr(slash), content);
    }
    oci::Resources r;
    c.set(r);
    auto cg = Cgroup::resolve("/berth/c1", "c1", t.layout());
    ASSERT_TRUE(cg.ok());
    Status s = cg->apply(r);
    ASSERT_TRUE(s.ok()) << s.error().trail();
    for (const auto& [file, content] : c.expected) {
      auto slash = file.find('/');
      EXPECT_EQ(t.read("sys/fs/cgroup/" + file.substr(0, slash) + "/berth/c1" + file.substr(slash)),
                content)
          << file;
    }
  }
}

oci::Memory memory(std::optional<int64_t> limit, std::optional<int64_t> swap = {},
                   std::optional<int64_t> reservation = {}) {
  oci::Memory m;
  m.limit = limit;
  m.swap = swap;
  m.reservation = reservation;
  return m;
}

TEST(ApplyV1, Table) {
  const Files mem = {{"memory/memory.limit_in_bytes", kV1Unlimited},
                     {"memory/memory.memsw.limit_in_bytes", kV1Unlimited},
                     {"memory/memory.soft_limit_in_bytes", kV1Unlimited},
                     {"memory/memory.swappiness", "60\n"},
                     {"memory/memory.oom_control", "oom_kill_disable 0\n"}};
  std::vector<ApplyCase> cases = {
      {"memory limit, swap, reservation, swappiness, oom",
       [](oci::Resources& r) {
         r.memory = memory(1000, 3000, 500);
         r.memory->swappiness = 10;
         r.memory->disable_oom_killer = true;
       },
       mem,
       {{"memory/memory.limit_in_bytes", "1000"},
        {"memory/memory.memsw.limit_in_bytes", "3000"},
        {"memory/memory.soft_limit_in_bytes", "500"},
        {"memory/memory.swappiness", "10"},
        {"memory/memory.oom_control", "1"}}},
      {"unlimited memory makes swap unlimited too",
       [](oci::Resources& r) { r.memory = memory(-1); },
       mem,
       {{"memory/memory.limit_in_bytes", "-1"}, {"memory/memory.memsw.limit_in_bytes", "-1"}}},
      {"no memsw file: swap limit skipped",
       [](oci::Resources& r) { r.memory = memory(1000, 3000); },
       {{"memory/memory.limit_in_bytes", kV1Unlimited}},
       {{"memory/memory.limit_in_bytes", "1000"}}},
      {"cpu shares, cfs and realtime",
       [](oci::Resources& r) {
         r.cpu.emplace();
         r.cpu->shares = 512;
         r.cpu->quota = 50000;
         r.cpu->period = 100000;
         r.cpu->realtime_runtime = 950000;
         r.cpu->realtime_period = 1000000;
         r.cpu->idle = 0;
       },
       {{"cpu/cpu.shares", "1024\n"},
        {"cpu/cpu.cfs_quota_us", "-1\n"},
        {"cpu/cpu.cfs_period_us", "100000\n"},
        {"cpu/cpu.rt_runtime_us", "0\n"},
        {"cpu/cpu.rt_period_us", "1000000\n"},
        {"cpu/cpu.idle", "0\n"}},
       {{"cpu/cpu.shares", "512"},
        {"cpu/cpu.cfs_quota_us", "50000"},
        {"cpu/cpu.cfs_period_us", "100000"},
        {"cpu/cpu.rt_runtime_us", "950000"},
        {"cpu/cpu.rt_period_us", "1000000"},
        {"cpu/cpu.idle", "0"}}},
      {"unlimited quota",
       [](oci::Resources& r) { r.cpu.emplace().quota = -1; },
       {{"cpu/cpu.cfs_quota_us", "50000\n"}},
       {{"cpu/cpu.cfs_quota_us", "-1"}}},
      {"cpuset",
       [](oci::Resources& r) {
         r.cpu.emplace();
         r.cpu->cpus = "0-1";
         r.cpu->mems = "0";
       },
       {{"cpuset/cpuset.cpus", "0-3\n"}, {"cpuset/cpuset.mems", "0\n"}},
       {{"cpuset/cpuset.cpus", "0-1"}, {"cpuset/cpuset.mems", "0"}}},
      {"pids -1 is max",
       [](oci::Resources& r) { r.pids = oci::Pids{-1}; },
       {{"pids/pids.max", "max\n"}},
       {{"pids/pids.max", "max"}}},
      {"pids 0 is max",
       [](oci::Resources& r) { r.pids = oci::Pids{0}; },
       {{"pids/pids.max", "100\n"}},
       {{"pids/pids.max", "max"}}},
      {"pids 100",
       [](oci::Resources& r) { r.pids = oci::Pids{100}; },
       {{"pids/pids.max", "max\n"}},
       {{"pids/pids.max", "100"}}},
      {"hugetlb",
       [](oci::Resources& r) {
         r.hugepage_limits = {{"2MB", 4194304}};
       },
       {{"hugetlb/hugetlb.2MB.limit_in_bytes", "0\n"},
        {"hugetlb/hugetlb.2MB.rsvd.limit_in_bytes", "0\n"}},
       {{"hugetlb/hugetlb.2MB.limit_in_bytes", "4194304"},
        {"hugetlb/hugetlb.2MB.rsvd.limit_in_bytes", "4194304"}}},
      {"blkio",
       [](oci::Resources& r) {
         r.block_io.emplace().weight = 500;
         r.block_io->weight_device.push_back({8, 0, 300, std::nullopt});
         r.block_io->throttle_read_bps_device.push_back({8, 0, 1048576});
         r.block_io->throttle_write_iops_device.push_back({8, 16, 100});
       },
       {{"blkio/blkio.weight", "100\n"},
        {"blkio/blkio.weight_device", ""},
        {"blkio/blkio.throttle.read_bps_device", ""},
        {"blkio/blkio.throttle.write_iops_device", ""}},
       {{"blkio/blkio.weight", "500"},
        {"blkio/blkio.weight_device", "8:0 300"},
        {"blkio/blkio.throttle.read_bps_device", "8:0 1048576"},
        {"blkio/blkio.throttle.write_iops_device", "8:16 100"}}},
      {"blkio with bfq",
       [](oci::Resources& r) { r.block_io.emplace().weight = 500; },
       {{"blkio/blkio.bfq.weight", "100\n"}},
       {{"blkio/blkio.bfq.weight", "500"}}},
      {"devices: the last rule of each kind stays in the file",
       [](oci::Resources& r) {
         r.devices = {{false, "a", std::nullopt, std::nullopt, "rwm"},
                      {true, "c", 1, 3, "rwm"},
                      {true, "c", 136, std::nullopt, "rw"}};
       },
       {{"devices/devices.allow", ""}, {"devices/devices.deny", ""}},
       {{"devices/devices.allow", "c 136:* rw"}, {"devices/devices.deny", "a"}}},
  };
  // The fake v1 tree mounts cpu,cpuacct together.
  for (auto& c : cases) {
    for (auto* files : {&c.before, &c.expected})
      for (auto& [file, content] : *files)
        if (file.rfind("cpu/", 0) == 0) file = "cpu,cpuacct" + file.substr(3);
  }
  run_cases(FakeTree::kV1, cases);
}

TEST(ApplyV2, Table) {
  std::vector<ApplyCase> cases = {
      {"memory: swap is memory+swap minus memory",
       [](oci::Resources& r) { r.memory = memory(1000, 3000, 500); },
       {{"/memory.max", "max\n"}, {"/memory.swap.max", "max\n"}, {"/memory.low", "0\n"}},
       {{"/memory.max", "1000"}, {"/memory.swap.max", "2000"}, {"/memory.low", "500"}}},
      {"memory -1 is max, swap follows",
       [](oci::Resources& r) { r.memory = memory(-1); },
       {{"/memory.max", "1000\n"}, {"/memory.swap.max", "0\n"}},
       {{"/memory.max", "max"}, {"/memory.swap.max", "max"}}},
      {"swap equal to memory disables swap",
       [](oci::Resources& r) { r.memory = memory(1000, 1000); },
       {{"/memory.max", "max\n"}, {"/memory.swap.max", "max\n"}},
       {{"/memory.max", "1000"}, {"/memory.swap.max", "0"}}},
      {"swap -1 is max",
       [](oci::Resources& r) { r.memory = memory(1000, -1); },
       {{"/memory.max", "max\n"}, {"/memory.swap.max", "0\n"}},
       {{"/memory.max", "1000"}, {"/memory.swap.max", "max"}}},
      {"no memory.swap.max: unlimited swap is fine",
       [](oci::Resources& r) { r.memory = memory(-1, -1); },
       {{"/memory.max", "1000\n"}},
       {{"/memory.max", "max"}}},
      {"cpu weight from shares, cpu.max, idle, burst",
       [](oci::Resources& r) {
         r.cpu.emplace();
         r.cpu->shares = 1024;
         r.cpu->quota = 50000;
         r.cpu->period = 100000;
         r.cpu->idle = 1;
         r.cpu->burst = 1000;
       },
       {{"/cpu.weight", "100\n"},
        {"/cpu.max", "max 100000\n"},
        {"/cpu.idle", "0\n"},
        {"/cpu.max.burst", "0\n"}},
       {{"/cpu.weight", "39"},
        {"/cpu.max", "50000 100000"},
        {"/cpu.idle", "1"},
        {"/cpu.max.burst", "1000"}}},
      {"quota -1 with a period",
       [](oci::Resources& r) {
         r.cpu.emplace().quota = -1;
         r.cpu->period = 50000;
       },
       {{"/cpu.max", "1000 100000\n"}},
       {{"/cpu.max", "max 50000"}}},
      {"quota alone",
       [](oci::Resources& r) { r.cpu.emplace().quota = 20000; },
       {{"/cpu.max", "max 100000\n"}},
       {{"/cpu.max", "20000"}}},
      {"cpuset",
       [](oci::Resources& r) {
         r.cpu.emplace();
         r.cpu->cpus = "1";
         r.cpu->mems = "0";
       },
       {{"/cpuset.cpus", "\n"}, {"/cpuset.mems", "\n"}},
       {{"/cpuset.cpus", "1"}, {"/cpuset.mems", "0"}}},
      {"pids -1 is max",
       [](oci::Resources& r) { r.pids = oci::Pids{-1}; },
       {{"/pids.max", "10\n"}},
       {{"/pids.max", "max"}}},
      {"pids 32",
       [](oci::Resources& r) { r.pids = oci::Pids{32}; },
       {{"/pids.max", "max\n"}},
       {{"/pids.max", "32"}}},
      {"hugetlb",
       [](oci::Resources& r) {
         r.hugepage_limits = {{"1GB", 1073741824}};
       },
       {{"/hugetlb.1GB.max", "max\n"}},
       {{"/hugetlb.1GB.max", "1073741824"}}},
      {"io weight and io.max",
       [](oci::Resources& r) {
         r.block_io.emplace().weight = 500;
         r.block_io->throttle_read_bps_device.push_back({8, 0, 1048576});
       },
       {{"/io.weight", "default 100\n"}, {"/io.max", ""}},
       {{"/io.weight", "4950"}, {"/io.max", "8:0 rbps=1048576"}}},
      {"unified files verbatim, after the typed ones",
       [](oci::Resources& r) {
         r.pids = oci::Pids{10};
         r.unified = {{"memory.high", "5000"}, {"pids.max", "20"}};
       },
       {{"/memory.high", "max\n"}, {"/pids.max", "max\n"}},
       {{"/memory.high", "5000"}, {"/pids.max", "20"}}},
  };
  // Paths are "<hierarchy>/file"; v2 has one hierarchy at sys/fs/cgroup itself.
  for (auto& c : cases)
    for (auto* files : {&c.before, &c.expected})
      for (auto& [file, content] : *files) file = "." + file;
  run_cases(FakeTree::kV2, cases);
}

TEST(ApplyHybrid, ControllersGoWhereTheyLive) {
  FakeTree t(FakeTree::kHybrid);
  t.file("sys/fs/cgroup/memory/berth/c1/memory.limit_in_bytes", kV1Unlimited);
  t.file("sys/fs/cgroup/pids/berth/c1/pids.max", "max\n");
  t.file("sys/fs/cgroup/unified/berth/c1/hugetlb.2MB.max", "max\n");
  t.file("sys/fs/cgroup/unified/berth/c1/hugetlb.2MB.rsvd.max", "max\n");
  t.file("sys/fs/cgroup/unified/berth/c1/cgroup.max.depth", "max\n");
  auto cg = Cgroup::resolve("/berth/c1", "c1", t.layout());
  ASSERT_TRUE(cg.ok());
  oci::Resources r;
  r.memory = memory(1 << 20);
  r.pids = oci::Pids{5};
  r.hugepage_limits = {{"2MB", 2097152}};
  r.unified = {{"cgroup.max.depth", "3"}};
  Status s = cg->apply(r);
  ASSERT_TRUE(s.ok()) << s.error().trail();
  EXPECT_EQ(t.read("sys/fs/cgroup/memory/berth/c1/memory.limit_in_bytes"), "1048576");
  EXPECT_EQ(t.read("sys/fs/cgroup/pids/berth/c1/pids.max"), "5");
  EXPECT_EQ(t.read("sys/fs/cgroup/unified/berth/c1/hugetlb.2MB.max"), "2097152");
  EXPECT_EQ(t.read("sys/fs/cgroup/unified/berth/c1/hugetlb.2MB.rsvd.max"), "2097152");
  EXPECT_EQ(t.read("sys/fs/cgroup/unified/berth/c1/cgroup.max.depth"), "3");
  EXPECT_EQ(cg->dir_for("hugetlb"), cg->v2_dir());
  EXPECT_EQ(cg->primary().path, t.path("sys/fs/cgroup/unified/berth/c1"));
}

TEST(ApplyErrors, NameTheFileAndValue) {
  FakeTree t(FakeTree::kV2);
  auto cg = Cgroup::resolve("/berth/c1", "c1", t.layout());
  ASSERT_TRUE(cg.ok());
  t.dir("sys/fs/cgroup/berth/c1");
  oci::Resources r;
  r.memory = memory(1000);
  Status s = cg->apply(r);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(), "write 1000 to " + t.path("sys/fs/cgroup/berth/c1/memory.max") +
                                     ": No such file or directory");
  EXPECT_EQ(s.error().contexts(), std::vector<std::string>{"apply resources to cgroup /berth/c1"});
}

TEST(ApplyErrors, Invalid) {
  FakeTree v1(FakeTree::kV1), v2(FakeTree::kV2);
  auto c1 = Cgroup::resolve("/berth/c1", "c1", v1.layout()).value();
  auto c2 = Cgroup::resolve("/berth/c1", "c1", v2.layout()).value();
  auto message = [](const Cgroup& cg, const std::function<void(oci::Resources&)>& set) {
    oci::Resources r;
    set(r);
    Status s = cg.apply(r);
    return s.ok() ? std::string("ok") : s.error().message();
  };
  EXPECT_EQ(message(c1,
                    [](auto& r) {
                      r.unified = {{"memory.high", "1"}};
                    }),
            "apply linux.resources.unified: this host has no cgroup v2 hierarchy");
  EXPECT_EQ(message(c2,
                    [](auto& r) {
                      r.unified = {{"../x", "1"}};
                    }),
            "invalid linux.resources.unified key \"../x\"");
  EXPECT_EQ(message(c2, [](auto& r) { r.memory = memory(1000, 500); }),
            "set memory.swap to 500: memory+swap must be >= the memory limit 1000");
  EXPECT_EQ(message(c2, [](auto& r) { r.memory = memory(std::nullopt, 500); }),
            "set memory.swap: a swap limit needs a memory limit");
  EXPECT_EQ(message(c2, [](auto& r) { r.cpu.emplace().realtime_runtime = 5; }),
            "set cpu.realtimeRuntime/realtimePeriod: not supported on cgroup v2");
  EXPECT_EQ(message(c2,
                    [](auto& r) {
                      r.hugepage_limits = {{"../2MB", 1}};
                    }),
            "invalid hugepage size \"../2MB\"");
  EXPECT_EQ(message(c1, [](auto& r) { (r.memory = memory(1)).value().swappiness = 101; }),
            "invalid memory.swappiness 101: the valid range is 0-100");
  FakeTree hybrid(FakeTree::kHybrid);
  auto ch = Cgroup::resolve("/berth/c1", "c1", hybrid.layout()).value();
  EXPECT_EQ(message(ch, [](auto& r) { r.block_io.emplace(); }), "ok");
  EXPECT_EQ(message(c2,
                    [](auto& r) {
                      r.devices = {{true, "z", 1, 1, "r"}};
                    }),
            "invalid device cgroup rule type \"z\"");
}

TEST(Conversions, SharesToWeight) {
  const std::pair<uint64_t, uint64_t> table[] = {
      {0, 0}, {1, 1}, {2, 1}, {512, 20}, {1024, 39}, {262144, 10000}, {500000, 10000}};
  for (auto [shares, weight] : table) EXPECT_EQ(shares_to_weight(shares), weight) << shares;
  EXPECT_EQ(blkio_weight_to_io_weight(10), 1u);
  EXPECT_EQ(blkio_weight_to_io_weight(1000), 10000u);
  EXPECT_EQ(blkio_weight_to_io_weight(0), 0u);
}

TEST(Conversions, SwapToV2) {
  EXPECT_EQ(swap_to_v2(0, -1).value(), "max");
  EXPECT_EQ(swap_to_v2(0, 1000).value(), "");
  EXPECT_EQ(swap_to_v2(-1, 1000).value(), "max");
  EXPECT_EQ(swap_to_v2(3000, 1000).value(), "2000");
  EXPECT_EQ(swap_to_v2(1000, 1000).value(), "0");
  EXPECT_FALSE(swap_to_v2(500, 1000).ok());
  EXPECT_FALSE(swap_to_v2(500, -1).ok());
}

}  // namespace
}  // namespace berth::cgroup
