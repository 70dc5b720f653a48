// Slurm 22.05's native OCI support (oci.conf, `srun --container=BUNDLE`) with berth-runtime:
//   RunTimeRun="berth-runtime --root R/%u run --bundle %b %n.%u.%j.%s.%t"
// plus RunTimeQuery (state), RunTimeKill (kill -a) and RunTimeDelete (delete --force).
// slurmstepd runs RunTimeRun through /bin/sh -c as the job's user, with the task's stdio;
// on scancel it signals the task's process group (proctrack/pgid here), SIGKILL after
// KillWait, then calls Query/Kill/Delete. The container's init is in its own session, so
// only PR_SET_PDEATHSIG (set by the foreground run) takes it down with the runtime.
//
// The fixture runs munged (a generated key), slurmctld and slurmd for one node "localhost"
// on free ports, everything under a temp dir, no cgroup plugins (proctrack/pgid, task/none).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "base/strings.h"
#include "clients_support.h"

namespace berth::test {
namespace {

// The container ids Slurm derives from %n.%u.%j.%s.%t, in the runtime root of user.
std::vector<std::string> containers_of(const std::string& rt_root) {
  std::vector<std::string> out;
  if (auto names = list_dir(rt_root))
    for (const auto& n : *names)
      if (n[0] != '.') out.push_back(n);
  return out;
}

// pid of a running container, 0 when it is not running.
pid_t running_pid(const std::string& rt_root, const std::string& id) {
  Output o = run_cmd({runtime_binary(), "--root", rt_root, "state", id});
  if (o.status != 0) return 0;
  auto j = nlohmann::json::parse(o.out, nullptr, false);
  if (j.is_discarded() || j.value("status", "") != "running") return 0;
  return j.value("pid", 0);
}

class Slurm : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    skip_ = missing_requirements(
        {"slurmctld", "slurmd", "srun", "sbatch", "scancel", "scontrol", "sinfo", "munged"});
    if (!skip_.empty()) return;
    if (runtime_binary().find(' ') != std::string::npos)
      skip_ = "oci.conf commands go through /bin/sh: the build path must not hold spaces";
    if (!skip_.empty()) return;
    error_ = isolate_host();
    if (!error_.empty()) return;
    dir_ = std::make_unique<TempDir>("berth-slurm",
                                     0755);  // the job's user reaches its spool and bundle
    cgroup_ = "berth-clients-" + std::to_string(getpid()) + "-slurm";
    error_ = start_munge();
    if (error_.empty()) error_ = write_config();
    if (error_.empty()) error_ = start_slurm();
    if (!error_.empty()) return;
    bundle_ = std::make_unique<Bundle>();
    bundle_->config()["linux"]["cgroupsPath"] = "/" + cgroup_ + "/step";
    bundle_->write_config();
  }

  static void TearDownTestSuite() {
    slurmd_.reset();
    slurmctld_.reset();
    munged_.reset();
    kill_children();  // slurmstepd and what it ran
    if (dir_) {
      for (const auto& user : containers_of(*dir_ / "rt"))
        for (const auto& id : containers_of(*dir_ / ("rt/" + user)))
          run_cmd({runtime_binary(), "--root", *dir_ / ("rt/" + user), "delete", "--force", id});
      remove_cgroup_tree(cgroup_);
    }
    unsetenv("SLURM_CONF");
    bundle_.reset();
    dir_.reset();
  }

  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    if (!error_.empty()) FAIL() << error_;
  }

  void TearDown() override {
    if (!skip_.empty() || !error_.empty()) return;
    if (HasFailure()) {
      std::string log = read_file(*dir_ / "slurmd.log").value_or("");
      std::cerr << "--- end of slurmd.log:\n"
                << (log.size() > 4000 ? log.substr(log.size() - 4000) : log);
    }
    // Slurm deletes each container when its step ends (RunTimeDelete).
    for (const auto& user : containers_of(*dir_ / "rt"))
      EXPECT_TRUE(wait_until([&] { return containers_of(*dir_ / ("rt/" + user)).empty(); }, 10000))
          << "runtime state left for " << user;
    EXPECT_TRUE(wait_until([] { return cgroup_tree_pids(cgroup_).empty(); }, 5000))
        << "processes left";
  }

  static std::string start_munge() {
    std::string d = dir_->path();
    std::string key(1024, '\0');
    if (getentropy(key.data(), 256) < 0 || getentropy(key.data() + 256, 256) < 0 ||
        getentropy(key.data() + 512, 256) < 0 || getentropy(key.data() + 768, 256) < 0 ||
        !mkdir_all(d + "/munge", 0755).ok() || !write_file_atomic(d + "/munge.key", key, 0400).ok())
      return "cannot write a munge key in " + d;
    munged_ = std::make_unique<Daemon>(
        std::vector<std::string>{
            "munged", "--foreground", "--force", "--socket=" + d + "/munge/munge.sock",
            "--key-file=" + d + "/munge.key", "--pid-file=" + d + "/munge/munged.pid",
            "--seed-file=" + d + "/munge/munged.seed", "--log-file=" + d + "/munge/munged.log"},
        d + "/munged.out");
    if (!wait_until([&] { return path_exists(d + "/munge/munge.sock") || !munged_->running(); },
                    10000) ||
        !munged_->running())
      return "munged did not start: " + munged_->log();
    return "";
  }

  static std::string write_config() {
    std::string d = dir_->path();
    int ctld_port = free_port(), slurmd_port = free_port();
    if (ctld_port < 0 || slurmd_port < 0 || ctld_port == slurmd_port)
      return "no free ports for slurmctld and slurmd";
    std::string conf =
        "ClusterName=berthtest\nSlurmctldHost=localhost\n"
        "SlurmctldPort=" +
        std::to_string(ctld_port) + "\nSlurmdPort=" + std::to_string(slurmd_port) +
        "\n"
        "SlurmUser=root\nSlurmdUser=root\n"
        "AuthType=auth/munge\nCredType=cred/munge\nAuthInfo=socket=" +
        d +
        "/munge/munge.sock\n"
        "StateSaveLocation=" +
        d + "/ctld\nSlurmdSpoolDir=" + d +
        "/spool\n"
        "SlurmctldPidFile=" +
        d + "/slurmctld.pid\nSlurmdPidFile=" + d +
        "/slurmd.pid\n"
        "SlurmctldLogFile=" +
        d + "/slurmctld.log\nSlurmdLogFile=" + d +
        "/slurmd.log\nSlurmdDebug=debug\n"
        "ProctrackType=proctrack/pgid\nTaskPlugin=task/none\nJobAcctGatherType=jobacct_gather/"
        "none\n"
        "AccountingStorageType=accounting_storage/none\nJobCompType=jobcomp/none\n"
        "SelectType=select/cons_tres\nSchedulerType=sched/builtin\nMpiDefault=none\n"
        "ReturnToService=2\nKillWait=2\n"
        "NodeName=localhost NodeAddr=127.0.0.1 CPUs=" +
        std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) +
        " State=UNKNOWN\nPartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE "
        "State=UP\n";
    // One runtime root per user (%u): RunTimeRun runs as the job's user. 22.05 has no %U.
    std::string rt = runtime_binary() + " --root " + d + "/rt/%u ";
    std::string oci = "RunTimeRun=\"" + rt +
                      "run --bundle %b %n.%u.%j.%s.%t\"\n"
                      "RunTimeQuery=\"" +
                      rt +
                      "state %n.%u.%j.%s.%t\"\n"
                      "RunTimeKill=\"" +
                      rt +
                      "kill -a %n.%u.%j.%s.%t SIGKILL\"\n"
                      "RunTimeDelete=\"" +
                      rt + "delete --force %n.%u.%j.%s.%t\"\n";
    if (!write_file_atomic(d + "/slurm.conf", conf).ok() ||
        !write_file_atomic(d + "/oci.conf", oci).ok() || !mkdir_all(d + "/ctld").ok() ||
        !mkdir_all(d + "/rt").ok() || !mkdir_all(d + "/out").ok())
      return "cannot write Slurm's configuration in " + d;
    chmod((d + "/rt").c_str(), 01777);
    chmod((d + "/out").c_str(), 01777);
    setenv("SLURM_CONF", (d + "/slurm.conf").c_str(), 1);
    return "";
  }

  static std::string start_slurm() {
    std::string d = dir_->path();
    slurmctld_ = std::make_unique<Daemon>(std::vector<std::string>{"slurmctld", "-D", "-i"},
                                          d + "/slurmctld.out");
    slurmd_ = std::make_unique<Daemon>(std::vector<std::string>{"slurmd", "-D", "-N", "localhost"},
                                       d + "/slurmd.out");
    bool idle = wait_until(
        [] {
          if (!slurmctld_->running() || !slurmd_->running()) return true;
          return trim(run_cmd({"sinfo", "--noheader", "--format=%t"}, "", 5).out) == "idle";
        },
        20000);
    if (!idle || !slurmctld_->running() || !slurmd_->running())
      return "slurmctld/slurmd did not bring node localhost up: " + slurmctld_->log() +
             slurmd_->log();
    return "";
  }

  static inline std::string skip_;   // why the test cannot run here
  static inline std::string error_;  // why setting the client up failed
  static inline std::unique_ptr<TempDir> dir_;
  static inline std::unique_ptr<Daemon> munged_, slurmctld_, slurmd_;
  static inline std::unique_ptr<Bundle> bundle_;
  static inline std::string cgroup_;
};

TEST_F(Slurm, SrunReturnsOutputAndExitStatus) {
  Output o = run_cmd({"srun", "--container=" + bundle_->dir(), "probe"});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(probe_value(o.out, "pid"), "1");
  EXPECT_EQ(probe_value(o.out, "uid"), "0");
  bool job_env = false;
  for (const auto& e : probe_values(o.out, "env")) job_env |= starts_with(e, "SLURM_JOB_ID=");
  EXPECT_TRUE(job_env) << "Slurm puts the step's environment in config.json: " << o.out;

  Output e = run_cmd({"srun", "--container=" + bundle_->dir(), "probe", "exit", "3"});
  EXPECT_EQ(e.status, 3) << e.err;
}

TEST_F(Slurm, ScancelLeavesNoOrphan) {
  std::string rt_root = *dir_ / "rt/root";
  pid_t srun = spawn_cmd({"srun", "--container=" + bundle_->dir(), "probe", "sleep", "60"},
                         *dir_ / "srun.out");
  std::string id;
  pid_t init = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        auto ids = containers_of(rt_root);
        if (ids.size() == 1) id = ids[0], init = running_pid(rt_root, id);
        return init > 0;
      },
      15000))
      << "the container never ran: " << read_file(*dir_ / "srun.out").value_or("");
  auto pids = cgroup_tree_pids(cgroup_);
  EXPECT_NE(std::find(pids.begin(), pids.end(), init), pids.end())
      << "the container is in the bundle's cgroupsPath";
  auto parts = split(id, '.');  // localhost.root.JOB.STEP.TASK
  ASSERT_EQ(parts.size(), 5u) << id;
  ASSERT_EQ(run_cmd({"scancel", parts[2]}).status, 0);

  int ws = 0;
  EXPECT_TRUE(wait_until([&] { return waitpid(srun, &ws, WNOHANG) == srun; }, 20000))
      << "srun did not end";
  EXPECT_TRUE(wait_until([&] { return !process_alive(init); }, 10000))
      << "container init " << init << " outlived scancel";
  EXPECT_TRUE(wait_until([&] { return containers_of(rt_root).empty(); }, 10000))
      << "RunTimeDelete did not run";
  EXPECT_TRUE(cgroup_tree_pids(cgroup_).empty());
}

TEST_F(Slurm, JobOfAnOrdinaryUser) {
  // RunTimeRun runs as the job's user: the root-made bundle must still work (the runtime maps
  // the user to root in a user namespace, does without a cgroup, drops devpts' gid=5).
  std::string out = *dir_ / "out/nobody.out";
  std::string b = bundle_->dir();
  Output o = run_cmd({"sbatch", "--parsable", "--uid=65534", "--gid=65534", "--output=" + out,
                      "--wrap=srun --container=" + b + " probe; srun --container=" + b +
                          " probe exit 4; echo step=$?"});
  ASSERT_EQ(o.status, 0) << o.out << o.err;
  std::string job(trim(o.out));  // sbatch --wait polls every 10 s: ask ourselves
  std::string state;
  EXPECT_TRUE(wait_until(
      [&] {
        state = run_cmd({"scontrol", "show", "job", job}).out;
        return state.find("JobState=COMPLETED") != std::string::npos ||
               state.find("JobState=FAILED") != std::string::npos;
      },
      20000));
  EXPECT_NE(state.find("JobState=COMPLETED"), std::string::npos) << state;
  std::string text = read_file(out).value_or("");
  EXPECT_EQ(probe_value(text, "uid"), "0") << text;
  EXPECT_EQ(probe_value(text, "pid"), "1") << text;
  EXPECT_EQ(probe_value(text, "step"), "4") << text;
}

// What Slurm's SIGKILL after KillWait does to a foreground run, without Slurm: the runtime
// started with RunTimeRun's argv is killed; its container must not survive it.
TEST(SlurmArgv, KilledRuntimeTakesItsContainerAlong) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: creates namespaces, mounts and cgroups";
  if (auto e = isolate_host(); !e.empty()) FAIL() << e;
  TempDir dir("berth-slurm-argv");
  Bundle b;
  b.set_args({"probe", "sleep", "60"});
  std::string cg = "berth-clients-" + std::to_string(getpid()) + "-argv";
  b.config()["linux"]["cgroupsPath"] = "/" + cg;
  b.write_config();
  std::string root = dir / "rt", id = "localhost.root.1.0.0";
  pid_t runtime = spawn_cmd({runtime_binary(), "--root", root, "run", "--bundle", b.dir(), id},
                            dir / "run.out");
  pid_t init = 0;
  ASSERT_TRUE(wait_until([&] { return (init = running_pid(root, id)) > 0; }, 10000))
      << read_file(dir / "run.out").value_or("");
  kill(runtime, SIGKILL);
  int ws;
  waitpid(runtime, &ws, 0);
  EXPECT_TRUE(wait_until([&] { return !process_alive(init); }, 5000))
      << "container init outlived the runtime";
  Output st = run_cmd({runtime_binary(), "--root", root, "state", id});
  EXPECT_NE(st.out.find("\"stopped\""), std::string::npos)
      << st.out << st.err;  // what RunTimeQuery sees
  EXPECT_EQ(run_cmd({runtime_binary(), "--root", root, "delete", "--force", id}).status, 0);
  EXPECT_TRUE(cgroup_tree_pids(cg).empty());
  remove_cgroup_tree(cg);
}

}  // namespace
}  // namespace berth::test
