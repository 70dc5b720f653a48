// containerd 1.6 (Debian's, with containerd-shim-runc-v2) using berth-runtime as its runc:
//   ctr -a SOCK run --runc-binary build/bin/berth-runtime --rm IMAGE ID CMD...
// The shim calls the runtime as it calls runc: `--root R --log F --log-format json create
// --bundle B --pid-file P [--console-socket S] ID`, then start, state, kill, delete,
// exec --process F --detach --pid-file P, pause, resume, ps --format json.
// A private containerd (temp root, state and socket, CRI off) runs for the test; the image
// is a docker-archive made here from busybox and the probe.
#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>

#include "base/file.h"
#include "base/strings.h"
#include "clients_support.h"

namespace berth::test {
namespace {

constexpr const char* kImage = "localhost/berth-probe:latest";
constexpr const char* kNamespace = "berth-test";

class Containerd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    skip_ = missing_requirements({"containerd", "ctr", "containerd-shim-runc-v2"});
    if (!skip_.empty()) return;
    error_ = isolate_host();  // /run/containerd/{s,fifo}: shim sockets and ctr's fifos
    if (!error_.empty()) return;
    dir_ = std::make_unique<TempDir>("berth-containerd");
    cgroup_ = "berth-clients-" + std::to_string(getpid()) + "-containerd";
    error_ = start_containerd();
    if (!error_.empty()) return;
    Bundle rootfs;  // busybox + probe
    std::string archive = *dir_ / "image.tar";
    error_ = write_docker_archive(rootfs.rootfs(), kImage, {"/bin/probe"}, archive);
    if (!error_.empty()) return;
    Output o = ctr({"images", "import", archive});
    if (o.status != 0) error_ = "ctr images import failed: " + o.err + o.out;
  }

  static void TearDownTestSuite() {
    if (daemon_) {
      remove_containers();
      daemon_.reset();
    }
    kill_children();  // shims whose containerd is gone
    if (dir_) remove_cgroup_tree(cgroup_);
    dir_.reset();
  }

  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    if (!error_.empty()) FAIL() << error_;
  }

  void TearDown() override {
    if (!skip_.empty() || !error_.empty()) return;
    EXPECT_EQ(ctr({"containers", "list", "--quiet"}).out, "") << "containers left";
    remove_containers();
    EXPECT_TRUE(wait_until([] { return cgroup_tree_pids(cgroup_).empty(); }, 5000))
        << "processes left";
    auto left = list_dir(*dir_ / ("runc/" + std::string(kNamespace)));
    if (left)
      for (const auto& n : *left) ADD_FAILURE() << "runtime state left: " << n;
  }

  static std::string start_containerd() {
    std::string d = dir_->path();
    std::string conf =
        "version = 2\n"
        "root = \"" +
        d +
        "/root\"\n"
        "state = \"" +
        d +
        "/state\"\n"
        "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n"
        "[grpc]\n  address = \"" +
        sock() +
        "\"\n"
        "[ttrpc]\n  address = \"" +
        sock() +
        ".ttrpc\"\n"
        "[debug]\n  address = \"\"\n"
        "[metrics]\n  address = \"\"\n"
        "[plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"" +
        d + "/opt\"\n";
    if (!write_file_atomic(d + "/config.toml", conf).ok())
      return "cannot write " + d + "/config.toml";
    daemon_ = std::make_unique<Daemon>(
        std::vector<std::string>{"containerd", "--config", d + "/config.toml"},
        d + "/containerd.log");
    bool up = wait_until([] { return !daemon_->running() || ctr({"version"}).status == 0; }, 15000);
    if (!up || !daemon_->running()) return "containerd did not start: " + daemon_->log();
    return "";
  }

  static std::string sock() { return *dir_ / "containerd.sock"; }

  static Output ctr(std::vector<std::string> args, int timeout_s = 30) {
    std::vector<std::string> argv = {"ctr", "--address", sock(), "--namespace", kNamespace};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_cmd(argv, "", timeout_s);
  }

  // ctr run with berth-runtime as the shim's runc, its state in the temp dir, and the
  // container in the test's cgroup tree.
  static std::vector<std::string> run_args(const std::string& id, std::vector<std::string> flags,
                                           std::vector<std::string> cmd) {
    std::vector<std::string> a = {
        "run",          "--runc-binary", runtime_binary(),        "--runc-root",
        *dir_ / "runc", "--cgroup",      "/" + cgroup_ + "/" + id};
    a.insert(a.end(), flags.begin(), flags.end());
    a.push_back(kImage);
    a.push_back(id);
    a.insert(a.end(), cmd.begin(), cmd.end());
    return a;
  }

  static void remove_containers() {
    for (const auto& id : split(ctr({"containers", "list", "--quiet"}).out, '\n')) {
      if (id.empty()) continue;
      ctr({"task", "kill", "--all", "--signal", "SIGKILL", id});
      ctr({"task", "delete", "--force", id});
      ctr({"containers", "delete", id});
    }
  }

  static std::string task_status(const std::string& id) {
    for (const auto& line : split(ctr({"task", "list"}).out, '\n')) {
      auto f = split(line, ' ');
      if (!f.empty() && f[0] == id) return f.back();
    }
    return "";
  }

  static inline std::string skip_;   // why the test cannot run here
  static inline std::string error_;  // why setting the client up failed
  static inline std::unique_ptr<TempDir> dir_;
  static inline std::unique_ptr<Daemon> daemon_;
  static inline std::string cgroup_;
};

TEST_F(Containerd, RunPrintsWhatTheContainerSees) {
  Output o = ctr(run_args("see", {"--rm"}, {"probe"}));
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(probe_value(o.out, "pid"), "1");
  EXPECT_EQ(probe_value(o.out, "NoNewPrivs"), "1") << "ctr's default spec";
  bool in_cgroup = false;
  for (const auto& c : probe_values(o.out, "cgroup"))
    in_cgroup |= c.find("/" + cgroup_ + "/see") != std::string::npos;
  EXPECT_TRUE(in_cgroup) << o.out;
}

TEST_F(Containerd, RunReturnsTheExitCode) {
  EXPECT_EQ(ctr(run_args("exit7", {"--rm"}, {"probe", "exit", "7"})).status, 7);
  EXPECT_EQ(ctr(run_args("exit0", {"--rm"}, {"probe", "exit", "0"})).status, 0);
  Output missing = ctr(run_args("missing", {"--rm"}, {"/no/such/program"}));
  EXPECT_NE(missing.status, 0);
  EXPECT_NE(missing.err.find("/no/such/program"), std::string::npos)
      << "the shim reads the runtime's JSON log for the reason: " << missing.err;
  ctr({"containers", "delete", "missing"});
}

TEST_F(Containerd, DetachedTaskExecPauseResumeKill) {
  Output d = ctr(run_args("bg", {"--detach", "--null-io"}, {"probe", "signals"}));
  ASSERT_EQ(d.status, 0) << d.err;
  ASSERT_TRUE(wait_until([] { return task_status("bg") == "RUNNING"; }, 5000))
      << ctr({"task", "list"}).out;

  Output e = ctr({"task", "exec", "--exec-id", "x1", "bg", "probe", "exit", "3"});
  EXPECT_EQ(e.status, 3) << e.err;
  Output p = ctr({"task", "exec", "--exec-id", "x2", "bg", "probe"});
  EXPECT_EQ(p.status, 0) << p.err;
  EXPECT_NE(probe_value(p.out, "pid"), "1") << "exec joins the task's pid namespace";

  Output ps = ctr({"task", "ps", "bg"});  // the shim: runtime ps --format json
  EXPECT_EQ(ps.status, 0) << ps.err;
  EXPECT_EQ(split(std::string(trim(ps.out)), '\n').size(), 2u) << ps.out;

  ASSERT_EQ(ctr({"task", "pause", "bg"}).status, 0);
  EXPECT_EQ(task_status("bg"), "PAUSED");
  ASSERT_EQ(ctr({"task", "resume", "bg"}).status, 0);
  EXPECT_EQ(task_status("bg"), "RUNNING");

  ASSERT_EQ(ctr({"task", "kill", "bg"}).status, 0);  // SIGTERM: probe exits 143
  ASSERT_TRUE(wait_until([] { return task_status("bg") == "STOPPED"; }, 5000));
  Output again = ctr({"task", "kill", "bg"});
  EXPECT_NE(again.err.find("process already finished"), std::string::npos)
      << "the shim must see runc's 'container not running': " << again.err;
  Output rm = ctr({"task", "delete", "bg"});
  EXPECT_EQ(rm.status, 0) << rm.err;
  EXPECT_NE(rm.err.find("143"), std::string::npos) << "exit status of the task: " << rm.err;
  EXPECT_EQ(ctr({"containers", "delete", "bg"}).status, 0);
}

TEST_F(Containerd, KillAllReachesEveryProcess) {
  ASSERT_EQ(ctr(run_args("all", {"--detach", "--null-io"}, {"probe", "sleep", "60"})).status, 0);
  ASSERT_TRUE(wait_until([] { return task_status("all") == "RUNNING"; }, 5000));
  ASSERT_EQ(
      ctr({"task", "exec", "--detach", "--exec-id", "s", "all", "probe", "sleep", "60"}).status, 0);
  ASSERT_TRUE(wait_until([] { return cgroup_tree_pids(cgroup_ + "/all").size() == 2; }, 5000));
  ASSERT_EQ(ctr({"task", "kill", "--all", "--signal", "SIGKILL", "all"}).status, 0);
  EXPECT_TRUE(wait_until([] { return task_status("all") == "STOPPED"; }, 5000));
  EXPECT_TRUE(wait_until([] { return cgroup_tree_pids(cgroup_ + "/all").empty(); }, 5000));
  ctr({"task", "delete", "all"});
  ctr({"containers", "delete", "all"});
}

TEST_F(Containerd, TerminalThroughTheConsoleSocket) {
  // ctr run -t wants a terminal on stdin: give it a pty. The shim passes --console-socket
  // and receives the pty master from the runtime.
  std::vector<std::string> argv = {"ctr", "--address", sock(), "--namespace", kNamespace};
  for (const auto& a : run_args("tty", {"--rm", "--tty"}, {"probe"})) argv.push_back(a);
  Output o = run_in_pty(argv);
  EXPECT_EQ(o.status, 0) << o.out << o.err;
  EXPECT_EQ(probe_value(o.out, "isatty"), "1") << o.out;

  argv.resize(5);
  for (const auto& a : run_args("tty2", {"--rm", "--tty"}, {"probe", "exit", "4"}))
    argv.push_back(a);
  EXPECT_EQ(run_in_pty(argv).status, 4);
}

}  // namespace
}  // namespace berth::test
