// podman (Debian's 4.3, with conmon) using berth-runtime as its OCI runtime:
//   podman --root T/root --runroot T/run --runtime build/bin/berth-runtime run --rm IMAGE ...
// The store, containers.conf and every podman path are in a temp dir; what podman still
// writes to fixed host paths (/var/lib/containers/cache, /run/berth-runtime) goes to an
// overlay and a tmpfs in the test's private mount namespace.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <memory>

#include "base/file.h"
#include "base/strings.h"
#include "clients_support.h"

namespace berth::test {
namespace {

constexpr const char* kImage = "localhost/berth-probe:latest";

class Podman : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    skip_ = missing_requirements({"podman", "conmon"});
    if (!skip_.empty()) return;
    error_ = isolate_host();
    if (!error_.empty()) return;
    dir_ = std::make_unique<TempDir>("berth-podman");
    cgroup_ = "berth-clients-" + std::to_string(getpid()) + "-podman";
    // podman 4.3 keeps its blob-info cache in /var/lib/containers/cache whatever --root says.
    error_ = divert_writes("/var/lib", *dir_ / "varlib");
    if (!error_.empty()) return;
    error_ = write_config();
    if (!error_.empty()) return;
    Bundle rootfs;  // busybox + probe
    std::string tar = *dir_ / "rootfs.tar";
    error_ = tar_dir(rootfs.rootfs(), tar);
    if (!error_.empty()) return;
    Output o = podman({"import", "--change", "CMD=[\"/bin/probe\"]", tar, kImage});
    if (o.status != 0) error_ = "podman import failed: " + o.err;
  }

  static void TearDownTestSuite() {
    if (dir_) {
      podman({"rm", "--all", "--force", "--time", "0"});
      if (path_exists(*dir_ / "varlib/upper")) umount2("/var/lib", MNT_DETACH);
      kill_children();
      remove_cgroup_tree(cgroup_);
    }
    for (const char* v :
         {"CONTAINERS_CONF", "CONTAINERS_STORAGE_CONF", "CONTAINERS_REGISTRIES_CONF", "TMPDIR"})
      unsetenv(v);
    dir_.reset();
  }

  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    if (!error_.empty()) FAIL() << error_;
  }

  // Nothing of a test's containers may be left: no podman container, no process in the
  // cgroup parent, no runtime state.
  void TearDown() override {
    if (!skip_.empty() || !error_.empty()) return;
    Output ps = podman({"ps", "--all", "--quiet"});
    EXPECT_EQ(ps.out, "") << "containers left";
    podman({"rm", "--all", "--force", "--time", "0"});
    EXPECT_TRUE(wait_until([] { return cgroup_tree_pids(cgroup_).empty(); }, 5000))
        << "processes left in the cgroup";
    auto left = list_dir("/run/berth-runtime");
    if (left)
      for (const auto& n : *left)
        if (n[0] != '.') ADD_FAILURE() << "runtime state left: /run/berth-runtime/" << n;
  }

  static std::string write_config() {
    // default_ulimits: podman asks for nofile/nproc above this machine's hard limits
    // otherwise, and without CAP_SYS_RESOURCE the runtime cannot raise them (see
    // shared/peers/setup.sh); nproc also stays under kernel.pid_max.
    std::string d = dir_->path();
    std::string conf =
        "[containers]\n"
        "default_ulimits = [\"nofile=1024:1024\", \"nproc=4096:4096\"]\n"
        "netns = \"none\"\n"
        "log_driver = \"k8s-file\"\n"
        "[network]\n"
        "network_config_dir = \"" +
        d +
        "/net\"\n"
        "[engine]\n"
        "cgroup_manager = \"cgroupfs\"\n"
        "events_logger = \"file\"\n"
        "events_logfile_path = \"" +
        d +
        "/events.log\"\n"
        "tmp_dir = \"" +
        d +
        "/tmp\"\n"
        "image_copy_tmp_dir = \"" +
        d +
        "/tmp\"\n"
        "volume_path = \"" +
        d +
        "/volumes\"\n"
        "lock_type = \"file\"\n";
    std::string storage = "[storage]\ndriver = \"overlay\"\ngraphroot = \"" + d +
                          "/root\"\nrunroot = \"" + d + "/run\"\n";
    if (!write_file_atomic(d + "/containers.conf", conf).ok() ||
        !write_file_atomic(d + "/storage.conf", storage).ok() ||
        !write_file_atomic(d + "/registries.conf", "unqualified-search-registries = []\n").ok() ||
        !mkdir_all(d + "/tmp").ok())
      return "cannot write podman's configuration in " + d;
    setenv("CONTAINERS_CONF", (d + "/containers.conf").c_str(), 1);
    setenv("CONTAINERS_STORAGE_CONF", (d + "/storage.conf").c_str(), 1);
    setenv("CONTAINERS_REGISTRIES_CONF", (d + "/registries.conf").c_str(), 1);
    setenv("TMPDIR", (d + "/tmp").c_str(), 1);
    return "";
  }

  static Output podman(std::vector<std::string> args, int timeout_s = 30) {
    std::vector<std::string> argv = {"podman",      "--root",    *dir_ / "root",  "--runroot",
                                     *dir_ / "run", "--runtime", runtime_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_cmd(argv, "", timeout_s);
  }

  // podman run with the test's cgroup parent (so cleanup finds every process).
  static std::vector<std::string> run_args(std::vector<std::string> extra) {
    std::vector<std::string> a = {"run", "--cgroup-parent", "/" + cgroup_};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  static inline std::string skip_;   // why the test cannot run here
  static inline std::string error_;  // why setting the client up failed
  static inline std::unique_ptr<TempDir> dir_;
  static inline std::string cgroup_;
};

TEST_F(Podman, RunPrintsWhatTheContainerSees) {
  Output o = podman(run_args({"--rm", kImage, "probe"}));
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(probe_value(o.out, "pid"), "1");
  EXPECT_EQ(probe_value(o.out, "uid"), "0");
  EXPECT_EQ(probe_value(o.out, "rlimit.NOFILE"), "1024/1024")
      << "containers.conf's default_ulimits";
  bool in_parent = false;
  for (const auto& c : probe_values(o.out, "cgroup"))
    in_parent |= c.find("/" + cgroup_ + "/libpod-") != std::string::npos;
  EXPECT_TRUE(in_parent) << o.out;
}

TEST_F(Podman, RunReturnsTheExitCode) {
  EXPECT_EQ(podman(run_args({"--rm", kImage, "probe", "exit", "7"})).status, 7);
  EXPECT_EQ(podman(run_args({"--rm", kImage, "probe", "exit", "0"})).status, 0);
  Output missing = podman(run_args({"--rm", kImage, "/no/such/program"}));
  EXPECT_EQ(missing.status, 127) << "podman's code for a command that is not found: "
                                 << missing.err;
}

TEST_F(Podman, RunAsAnotherUser) {
  Output o = podman(run_args({"--rm", "--user", "65534:65534", kImage, "probe"}));
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(probe_value(o.out, "uid"), "65534");
  EXPECT_EQ(probe_value(o.out, "gid"), "65534");
}

TEST_F(Podman, DetachedExecPauseAndForcedRemove) {
  Output d = podman(run_args({"-d", "--name", "berth-detached", kImage, "probe", "signals"}));
  ASSERT_EQ(d.status, 0) << d.err;
  std::string id(trim(d.out));
  Output running =
      podman({"inspect", "--format", "{{.State.Status}} {{.State.Pid}}", "berth-detached"});
  ASSERT_TRUE(starts_with(running.out, "running ")) << running.out << running.err;

  Output e = podman({"exec", "berth-detached", "probe", "exit", "5"});
  EXPECT_EQ(e.status, 5) << e.err;
  Output p = podman({"exec", "berth-detached", "probe"});
  EXPECT_EQ(p.status, 0) << p.err;
  EXPECT_NE(probe_value(p.out, "pid"), "1") << "exec runs beside the init, in its pid namespace";
  EXPECT_EQ(podman({"exec", "berth-detached", "probe", "cat", "/proc/1/comm"}).out, "line=probe\n");

  ASSERT_EQ(podman({"pause", "berth-detached"}).status, 0);
  EXPECT_EQ(podman({"inspect", "--format", "{{.State.Status}}", "berth-detached"}).out, "paused\n");
  ASSERT_EQ(podman({"unpause", "berth-detached"}).status, 0);
  EXPECT_EQ(podman({"inspect", "--format", "{{.State.Status}}", "berth-detached"}).out,
            "running\n");

  Output rm = podman({"rm", "--force", "berth-detached"});
  EXPECT_EQ(rm.status, 0) << rm.err;
  EXPECT_EQ(podman({"ps", "--all", "--quiet"}).out, "");
  EXPECT_TRUE(wait_until([] { return cgroup_tree_pids(cgroup_).empty(); }, 5000));
  EXPECT_FALSE(path_exists("/run/berth-runtime/" + id)) << "the runtime's state of the container";
}

TEST_F(Podman, StopSendsSigtermThroughTheRuntime) {
  ASSERT_EQ(podman(run_args({"-d", "--name", "berth-stop", kImage, "probe", "signals"})).status, 0);
  Output s = podman({"stop", "--time", "10", "berth-stop"});
  EXPECT_EQ(s.status, 0) << s.err;
  EXPECT_EQ(podman({"inspect", "--format", "{{.State.ExitCode}}", "berth-stop"}).out, "143\n")
      << "probe exits 143 on SIGTERM; 137 would mean podman had to SIGKILL it";
  EXPECT_EQ(podman({"rm", "berth-stop"}).status, 0);
}

}  // namespace
}  // namespace berth::test
