// cgroup_priv_test.cpp - Cgroup on the real /sys/fs/cgroup (root only).
//
// Every test works below /berth-test-<pid> in each hierarchy; a Guard thaws, kills and
// removes that tree when the test ends, pass or fail, and restores the unified root's
// cgroup.subtree_control. Children wait on a pipe so they are in the cgroup before acting.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <thread>

#include "base/file.h"
#include "base/strings.h"
#include "cgroup/cgroup.h"
#include "cgroup/devices.h"

namespace berth::cgroup {
namespace {

#define REQUIRE_ROOT() \
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: creates cgroups in /sys/fs/cgroup"

std::string top_name() {
  return "/berth-test-" + std::to_string(::getpid());
}

// Removes <mount>/berth-test-<pid> everywhere, whatever state a failed test left it in.
class Guard {
 public:
  explicit Guard(Layout layout) : layout_(std::move(layout)) {
    if (const Hierarchy* u = layout_.unified()) {
      auto v = read_file(path_join(u->mount_point, "cgroup.subtree_control"));
      if (v.ok()) root_subtree_ = std::string(trim(*v));
    }
  }
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;
  ~Guard() {
    for (const auto& h : layout_.v1()) clean(path_join(h.mount_point, top_name()));
    if (const Hierarchy* u = layout_.unified()) {
      clean(path_join(u->mount_point, top_name()));
      restore_subtree_control(u->mount_point);
    }
  }
  const Layout& layout() const { return layout_; }

 private:
  static void clean(const std::string& dir) {
    if (!is_directory(dir)) return;
    auto entries = list_dir(dir);
    for (const auto& name : entries.ok() ? *entries : std::vector<std::string>())
      if (is_directory(path_join(dir, name))) clean(path_join(dir, name));
    (void)write_file(path_join(dir, "freezer.state"), "THAWED");
    (void)write_file(path_join(dir, "cgroup.freeze"), "0");
    for (int i = 0; i < 200 && ::rmdir(dir.c_str()) < 0 && errno == EBUSY; ++i) {
      auto procs = read_file(path_join(dir, "cgroup.procs"));
      for (const auto& line : split(procs.ok() ? *procs : "", '\n'))
        if (auto pid = parse_int(line)) ::kill(static_cast<pid_t>(*pid), SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  // create() enabled controllers in the unified root; turn off the ones it added.
  void restore_subtree_control(const std::string& mount_point) {
    auto now = read_file(path_join(mount_point, "cgroup.subtree_control"));
    if (!now.ok()) return;
    auto before = split(root_subtree_, ' ');
    for (const auto& c : split(trim(*now), ' '))
      if (!c.empty() && std::find(before.begin(), before.end(), c) == before.end())
        (void)write_file(path_join(mount_point, "cgroup.subtree_control"), "-" + c);
  }

  Layout layout_;
  std::string root_subtree_;
};

// Thaws everything below /berth-test-<pid>: a frozen task does not die of SIGKILL (v1)
// until thawed, so a failed test must thaw before it reaps its children.
void thaw_test_tree(const std::string& dir) {
  if (!is_directory(dir)) return;
  (void)write_file(path_join(dir, "freezer.state"), "THAWED");
  (void)write_file(path_join(dir, "cgroup.freeze"), "0");
  auto entries = list_dir(dir);
  for (const auto& name : entries.ok() ? *entries : std::vector<std::string>())
    thaw_test_tree(path_join(dir, name));
}

void thaw_test_trees() {
  auto layout = Layout::detect();
  if (!layout.ok()) return;
  for (const auto& h : layout->v1()) thaw_test_tree(path_join(h.mount_point, top_name()));
  if (const Hierarchy* u = layout->unified()) thaw_test_tree(path_join(u->mount_point, top_name()));
}

// A forked child that waits until go(), then runs `body` and exits with its result.
class Child {
 public:
  explicit Child(const std::function<int()>& body) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) < 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(fds[1]);
      char c;
      if (::read(fds[0], &c, 1) != 1) ::_exit(100);
      ::_exit(body());
    }
    ::close(fds[0]);
    go_ = UniqueFd(fds[1]);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      thaw_test_trees();
      ::waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  void go() {
    (void)!::write(go_.get(), "x", 1);
    go_.reset();
  }
  int wait() {  // raw waitpid status
    int status = 0;
    ::waitpid(pid_, &status, 0);
    reaped_ = true;
    return status;
  }

 private:
  pid_t pid_ = -1;
  UniqueFd go_;
  bool reaped_ = false;
};

Layout host_layout() {
  auto l = Layout::detect();
  EXPECT_TRUE(l.ok()) << l.error().trail();
  return l.ok() ? std::move(l.value()) : Layout();
}

std::string read_in(const Cgroup& cg, const char* controller, const char* file) {
  const Cgroup::Dir* d = cg.dir_for(controller);
  if (d == nullptr) return "<no " + std::string(controller) + ">";
  auto v = read_file(path_join(d->path, file));
  return v.ok() ? std::string(trim(*v)) : "<" + v.error().message() + ">";
}

// Every line of /proc/<pid>/cgroup names `path`.
void expect_in_cgroup(pid_t pid, const std::string& path) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/cgroup");
  ASSERT_TRUE(text.ok());
  for (const auto& line : split(trim(*text), '\n')) {
    auto colon = line.find(':', line.find(':') + 1);
    EXPECT_EQ(line.substr(colon + 1), path) << line;
  }
}

TEST(CgroupPriv, LifecycleWithLimitsFreezeKillAndDestroy) {
  REQUIRE_ROOT();
  Guard guard(host_layout());
  std::string path = top_name() + "/life";
  auto cg = Cgroup::create(path, "life", guard.layout());
  ASSERT_TRUE(cg.ok()) << cg.error().trail() << "\n" << guard.layout().describe();
  oci::Resources r;
  r.memory.emplace().limit = 64 << 20;
  r.pids = oci::Pids{32};
  Status applied = cg->apply(r);
  ASSERT_TRUE(applied.ok()) << applied.error().trail();
  bool v2_memory = cg->dir_for("memory")->v2;
  EXPECT_EQ(read_in(*cg, "memory", v2_memory ? "memory.max" : "memory.limit_in_bytes"), "67108864");
  EXPECT_EQ(read_in(*cg, "pids", "pids.max"), "32");

  Child child([] { return 0; });
  ASSERT_GT(child.pid(), 0);
  Status added = cg->add_process(child.pid());
  ASSERT_TRUE(added.ok()) << added.error().trail();
  expect_in_cgroup(child.pid(), path);
  EXPECT_EQ(cg->pids().value(), std::vector<pid_t>{child.pid()});
  auto stats = cg->stats();
  ASSERT_TRUE(stats.ok()) << stats.error().trail();
  EXPECT_EQ(stats->pids_current, 1u);
  EXPECT_EQ(stats->memory_limit, uint64_t{64} << 20);

  Status frozen = cg->freeze();
  ASSERT_TRUE(frozen.ok()) << frozen.error().trail();
  EXPECT_EQ(cg->freezer_state().value(), "paused");
  ASSERT_TRUE(cg->thaw().ok());
  EXPECT_EQ(cg->freezer_state().value(), "running");

  // delete runs in another process: work from the persisted handle.
  auto restored = Cgroup::from_json(cg->to_json());
  ASSERT_TRUE(restored.ok());
  ASSERT_TRUE(restored->kill_all(SIGKILL).ok());
  int status = child.wait();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  Status destroyed = restored->destroy();
  ASSERT_TRUE(destroyed.ok()) << destroyed.error().trail();
  for (const auto& d : cg->dirs()) EXPECT_FALSE(path_exists(d.path)) << d.path;
}

TEST(CgroupPriv, KillAllWithSigtermFreezesThenSignals) {
  REQUIRE_ROOT();
  Guard guard(host_layout());
  auto cg = Cgroup::create(top_name() + "/term", "term", guard.layout());
  ASSERT_TRUE(cg.ok()) << cg.error().trail();
  Child a([] { return 0; }), b([] { return 0; });
  ASSERT_TRUE(cg->add_process(a.pid()).ok());
  ASSERT_TRUE(cg->add_process(b.pid()).ok());
  Status killed = cg->kill_all(SIGTERM);
  ASSERT_TRUE(killed.ok()) << killed.error().trail();
  for (Child* c : {&a, &b}) {
    int status = c->wait();
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << status;
  }
  EXPECT_EQ(cg->freezer_state().value(), "running");
  ASSERT_TRUE(cg->destroy().ok());
}

TEST(CgroupPriv, KillAllOnAPausedContainer) {
  REQUIRE_ROOT();
  Guard guard(host_layout());
  auto cg = Cgroup::create(top_name() + "/paused", "paused", guard.layout());
  ASSERT_TRUE(cg.ok()) << cg.error().trail();
  Child term([] { return 0; }), kill([] { return 0; });
  ASSERT_TRUE(cg->add_process(term.pid()).ok());
  ASSERT_TRUE(cg->add_process(kill.pid()).ok());
  ASSERT_TRUE(cg->freeze().ok());
  ASSERT_TRUE(cg->kill_all(SIGTERM).ok());
  EXPECT_EQ(cg->freezer_state().value(), "paused");  // still paused, SIGTERM pending
  EXPECT_EQ(cg->pids()->size(), 2u);
  Status killed = cg->kill_all(SIGKILL);
  ASSERT_TRUE(killed.ok()) << killed.error().trail();
  for (Child* c : {&term, &kill}) {
    int status = c->wait();
    EXPECT_TRUE(WIFSIGNALED(status)) << status;
  }
  Status destroyed = cg->destroy();
  ASSERT_TRUE(destroyed.ok()) << destroyed.error().trail();
}

// 0: /dev/null opened and /dev/zero refused with EPERM.
int probe_devices() {
  int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 1;
  ::close(fd);
  fd = ::open("/dev/zero", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) return 2;
  return errno == EPERM ? 0 : 3;
}

std::vector<oci::DeviceCgroup> null_only() {
  return {{false, "a", std::nullopt, std::nullopt, "rwm"}, {true, "c", 1, 3, "rwm"}};
}

void expect_probe_passes(const Cgroup& cg) {
  Child child(probe_devices);
  ASSERT_GT(child.pid(), 0);
  Status added = cg.add_process(child.pid());
  ASSERT_TRUE(added.ok()) << added.error().trail();
  child.go();
  int status = child.wait();
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: /dev/null refused, 2: /dev/zero opened, 3: not EPERM";
}

TEST(CgroupPriv, EbpfDeviceFilterOnTheUnifiedCgroup) {
  REQUIRE_ROOT();
  Guard guard(host_layout());
  if (!guard.layout().has_v2()) GTEST_SKIP() << "needs a cgroup v2 hierarchy for the eBPF filter";
  auto cg = Cgroup::create(top_name() + "/bpf", "bpf", guard.layout());
  ASSERT_TRUE(cg.ok()) << cg.error().trail();
  Status first = cg->apply_device_bpf({{true, "a", std::nullopt, std::nullopt, "rwm"}});
  ASSERT_TRUE(first.ok()) << first.error().trail();
  Status second = cg->apply_device_bpf(null_only());  // replaces the first
  ASSERT_TRUE(second.ok()) << second.error().trail();
  auto ids = detail::query_device_programs(cg->v2_dir()->path);
  ASSERT_TRUE(ids.ok()) << ids.error().trail();
  EXPECT_EQ(ids->size(), 1u);
  expect_probe_passes(*cg);
  ASSERT_TRUE(cg->destroy().ok());
}

// The usual default list (runc's): the kernel verifier must accept every rule shape.
TEST(CgroupPriv, EbpfVerifierAcceptsADefaultDeviceList) {
  REQUIRE_ROOT();
  Guard guard(host_layout());
  if (!guard.layout().has_v2()) GTEST_SKIP() << "needs a cgroup v2 hierarchy for the eBPF filter";
  auto cg = Cgroup::create(top_name() + "/verifier", "verifier", guard.layout());
  ASSERT_TRUE(cg.ok()) << cg.error().trail();
  auto any = std::nullopt;
  std::vector<oci::DeviceCgroup> rules = {
      {false, "a", any, any, "rwm"}, {true, "c", any, any, "m"},   {true, "b", any, any, "m"},
      {true, "c", 1, 3, "rwm"},      {true, "c", 1, 5, "rwm"},     {true, "c", 1, 7, "rwm"},
      {true, "c", 5, 0, "rwm"},      {true, "c", 5, 1, "rwm"},     {true, "c", 1, 8, "rwm"},
      {true, "c", 1, 9, "rwm"},      {true, "c", 136, any, "rwm"}, {true, "c", 5, 2, "rwm"},
      {true, "c", 10, 200, "rwm"},   {false, "c", 1, 5, "w"},      {true, "b", 8, 0, "r"}};
  Status s = cg->apply_device_bpf(rules);
  ASSERT_TRUE(s.ok()) << s.error().trail();
  ASSERT_TRUE(cg->destroy().ok());
}

// A handle that sees only the unified cgroup runs the v2 code paths (cgroup.freeze, eBPF
// through apply(), cpu.stat) even on a hybrid host.
TEST(CgroupPriv, V2CoreFeaturesOnTheUnifiedHierarchy) {
  REQUIRE_ROOT();
  Guard guard(host_layout());
  if (!guard.layout().has_v2()) GTEST_SKIP() << "needs a cgroup v2 hierarchy";
  auto full = Cgroup::create(top_name() + "/v2", "v2", guard.layout());
  ASSERT_TRUE(full.ok()) << full.error().trail();
  auto only_v2 =
      Cgroup::from_json("{\"path\":\"/v2\",\"dirs\":[{\"path\":\"" + full->v2_dir()->path +
                        "\",\"v2\":true,\"controllers\":[\"cpuacct\",\"devices\",\"freezer\"]}]}");
  ASSERT_TRUE(only_v2.ok()) << only_v2.error().trail();
  if (!path_exists(only_v2->primary().path + "/cgroup.freeze"))
    GTEST_SKIP() << "needs cgroup.freeze (kernel >= 5.2)";
  Child child([] { return 0; });
  ASSERT_TRUE(only_v2->add_process(child.pid()).ok());
  Status frozen = only_v2->freeze();
  ASSERT_TRUE(frozen.ok()) << frozen.error().trail();
  EXPECT_EQ(only_v2->freezer_state().value(), "paused");
  ASSERT_TRUE(only_v2->thaw().ok());
  EXPECT_EQ(only_v2->freezer_state().value(), "running");
  EXPECT_TRUE(only_v2->stats().ok());
  ASSERT_TRUE(only_v2->kill_all(SIGTERM).ok());
  int status = child.wait();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << status;

  oci::Resources r;
  r.devices = null_only();
  Status applied = only_v2->apply(r);  // v2 devices: the eBPF program
  ASSERT_TRUE(applied.ok()) << applied.error().trail();
  expect_probe_passes(*only_v2);
  ASSERT_TRUE(full->destroy().ok());
}

TEST(CgroupPriv, V1DevicesController) {
  REQUIRE_ROOT();
  Guard guard(host_layout());
  const Hierarchy* devices = guard.layout().find("devices");
  if (devices == nullptr || devices->v2) GTEST_SKIP() << "needs the v1 devices controller";
  auto cg = Cgroup::create(top_name() + "/dev", "dev", guard.layout());
  ASSERT_TRUE(cg.ok()) << cg.error().trail();
  oci::Resources r;
  r.devices = null_only();
  Status applied = cg->apply(r);
  ASSERT_TRUE(applied.ok()) << applied.error().trail();
  EXPECT_EQ(read_in(*cg, "devices", "devices.list"), "c 1:3 rwm");
  expect_probe_passes(*cg);
  ASSERT_TRUE(cg->destroy().ok());
}

TEST(CgroupPriv, CpuAndHugetlbWhereTheyLive) {
  REQUIRE_ROOT();
  Guard guard(host_layout());
  auto cg = Cgroup::create(top_name() + "/cpu", "cpu", guard.layout());
  ASSERT_TRUE(cg.ok()) << cg.error().trail();
  oci::Resources r;
  r.cpu.emplace().shares = 512;
  r.cpu->quota = 20000;
  r.cpu->period = 100000;
  bool hugetlb = cg->dir_for("hugetlb") != nullptr &&
                 is_directory("/sys/kernel/mm/hugepages/hugepages-2048kB");
  if (hugetlb) r.hugepage_limits = {{"2MB", 4 << 20}};
  Status applied = cg->apply(r);
  ASSERT_TRUE(applied.ok()) << applied.error().trail();
  if (cg->dir_for("cpu")->v2) {
    EXPECT_EQ(read_in(*cg, "cpu", "cpu.weight"), "20");
    EXPECT_EQ(read_in(*cg, "cpu", "cpu.max"), "20000 100000");
  } else {
    EXPECT_EQ(read_in(*cg, "cpu", "cpu.shares"), "512");
    EXPECT_EQ(read_in(*cg, "cpu", "cpu.cfs_quota_us"), "20000");
  }
  if (hugetlb) {
    bool v2 = cg->dir_for("hugetlb")->v2;
    EXPECT_EQ(read_in(*cg, "hugetlb", v2 ? "hugetlb.2MB.max" : "hugetlb.2MB.limit_in_bytes"),
              "4194304");
  }
  ASSERT_TRUE(cg->destroy().ok());
}

TEST(CgroupPriv, ApplyErrorNamesTheRealFile) {
  REQUIRE_ROOT();
  Guard guard(host_layout());
  auto cg = Cgroup::create(top_name() + "/err", "err", guard.layout());
  ASSERT_TRUE(cg.ok()) << cg.error().trail();
  oci::Resources r;
  r.cpu.emplace().cpus = "100000";  // no such CPU
  Status s = cg->apply(r);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(), "write 100000 to " + cg->dir_for("cpuset")->path +
                                     "/cpuset.cpus: " + std::strerror(s.error().code()));
  EXPECT_NE(s.error().code(), 0);
  ASSERT_TRUE(cg->destroy().ok());
}

}  // namespace
}  // namespace berth::cgroup
