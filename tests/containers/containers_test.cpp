// containers_test.cpp - berth's containers end to end: the real binary, a busybox fixture
// image, real namespaces, overlayfs, cgroups, the monitor process and bridge networking.
// Each test has its own store and run root; whatever a test leaves running is removed by
// the fixture (rm -f of every container), and the suite checks nothing is left on the host.
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "images_fixture.h"
#include "test_util.h"

namespace berth::ctest {
namespace {

using imgtest::BerthEnv;
using regtest::Output;

class Containers : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "containers need root (namespaces, overlayfs, cgroups)";
    img_ = imgtest::make_busybox_image(env_.path("img"));
    imgtest::install_fixture(env_, img_, {"docker.io/library/bb:latest"});
  }
  void TearDown() override {
    remove_containers_and_check_mounts(env_);
  }
  Output berth(const std::vector<std::string>& args, const std::string& in = "", int timeout = 60) {
    return env_.berth(args, in, timeout);
  }
  nlohmann::json inspect(const std::string& name) {
    Output o = berth({"inspect", name});
    EXPECT_EQ(o.status, 0) << o.err;
    auto j = nlohmann::json::parse(o.out, nullptr, false);
    if (!j.is_array() || j.empty()) return nlohmann::json::object();
    return j[0];
  }

  BerthEnv env_;
  imgtest::FixtureImage img_;
};

TEST_F(Containers, RunForegroundOutputAndExitStatus) {
  Output o = berth({"run", "--rm", "--network", "none", "bb", "sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(o.status, 3) << o.err;
  EXPECT_EQ(o.out, "out\n");
  EXPECT_EQ(o.err, "err\n");
  EXPECT_EQ(trim_end(berth({"ps", "-aq"}).out), "") << "--rm removed it";
}

TEST_F(Containers, RunWithoutRmLeavesExitedContainer) {
  Output o = berth({"run", "--name", "c1", "--network", "none", "bb", "true"});
  ASSERT_EQ(o.status, 0) << o.err;
  Output ps = berth({"ps", "-a", "--format", "{{.Names}} {{.Status}}"});
  EXPECT_EQ(ps.out.rfind("c1 Exited (0)", 0), 0u) << ps.out;
  auto j = inspect("c1");
  EXPECT_EQ(j["State"]["Status"], "exited");
  EXPECT_EQ(j["State"]["ExitCode"], 0);
  EXPECT_EQ(j["Name"], "/c1");
  EXPECT_EQ(j["Config"]["Cmd"][0], "true");
  EXPECT_EQ(berth({"rm", "c1"}).status, 0);
}

TEST_F(Containers, ExitCodesForBadCommands) {
  Output nf = berth({"run", "--rm", "--network", "none", "bb", "/no/such/program"});
  EXPECT_EQ(nf.status, 127) << nf.err;
  EXPECT_NE(nf.err.find("Error"), std::string::npos);
  Output bad = berth({"run", "--rm", "--bogus-flag", "bb", "true"});
  EXPECT_EQ(bad.status, 125);
  Output noimg = berth({"run", "--rm", "--pull", "never", "nosuchimage", "true"});
  EXPECT_EQ(noimg.status, 125);
  EXPECT_NE(noimg.err.find("No such image"), std::string::npos) << noimg.err;
  for (const char* flag : {"-p", "-v", "--ulimit", "--memory", "--restart"}) {
    Output o = berth({"run", "--rm", flag, "bogus:spec:x:y", "bb", "true"});
    EXPECT_EQ(o.status, 125) << flag;
    EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << flag << ": " << o.err;
  }
  EXPECT_EQ(berth({"stop", "nosuchcontainer"}).status, 1);
}

TEST_F(Containers, DetachedPsLogsExecStopRm) {
  Output run = berth({"run", "-d", "--name", "web", "--network", "none", "bb", "sh", "-c",
                      "echo started; echo oops >&2; while true; do sleep 0.1; done"});
  ASSERT_EQ(run.status, 0) << run.err;
  std::string id = trim_end(run.out);
  EXPECT_EQ(id.size(), 64u);
  Output ps = berth({"ps", "--format", "{{.ID}} {{.Names}} {{.Status}}"});
  EXPECT_EQ(ps.out.rfind(id.substr(0, 12) + " web Up", 0), 0u) << ps.out;
  EXPECT_TRUE(eventually([&] { return berth({"logs", "web"}).out == "started\n"; }));
  Output logs = berth({"logs", "web"});
  EXPECT_EQ(logs.err, "oops\n");
  EXPECT_EQ(trim_end(berth({"exec", "web", "cat", "/etc/hostname"}).out), id.substr(0, 12));
  EXPECT_EQ(berth({"exec", "web", "sh", "-c", "exit 7"}).status, 7);
  EXPECT_EQ(berth({"exec", "web", "/nope"}).status, 127);
  // The log is docker's json-file.
  std::ifstream f(env_.root() + "/containers/" + id + "/" + id + "-json.log");
  std::string first;
  std::getline(f, first);
  auto j = nlohmann::json::parse(first);
  EXPECT_EQ(j["log"], "started\n");
  EXPECT_TRUE(j.contains("time"));
  Output rm = berth({"rm", "web"});
  EXPECT_EQ(rm.status, 125) << "running: refused";
  EXPECT_EQ(berth({"stop", "-t", "1", "web"}).status, 0);
  auto st = inspect("web");
  EXPECT_EQ(st["State"]["Status"], "exited");
  EXPECT_NE(st["State"]["ExitCode"], 0);
  EXPECT_EQ(berth({"rm", "web"}).status, 0);
  EXPECT_NE(berth({"inspect", "web"}).status, 0);
}

TEST_F(Containers, UserEnvWorkdirHostnameAndEtcFiles) {
  Output o = berth({"run", "--rm", "--network", "none", "-u", "1000:1000", "-w", "/tmp", "-e", "A=1",
                    "-h", "box", "--add-host", "db:10.1.2.3", "bb", "sh", "-c",
                    "id -u; id -g; pwd; echo $A; hostname; busybox grep db /etc/hosts"});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "1000\n1000\n/tmp\n1\nbox\n10.1.2.3\tdb\n");
}

TEST_F(Containers, BindMountAndNamedVolume) {
  std::string host = env_.path("data");
  ::mkdir(host.c_str(), 0755);
  std::ofstream(host + "/in.txt") << "from host\n";
  Output o = berth({"run", "--rm", "--network", "none", "-v", host + ":/data", "bb", "sh", "-c",
                    "cat /data/in.txt; echo from container > /data/out.txt"});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "from host\n");
  std::ifstream out(host + "/out.txt");
  std::string line;
  std::getline(out, line);
  EXPECT_EQ(line, "from container");
  struct stat st;
  ASSERT_EQ(::stat((host + "/out.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  ASSERT_EQ(berth({"run", "--rm", "--network", "none", "-v", "cache:/cache", "bb", "sh", "-c", "echo kept > /cache/f"}).status, 0);
  Output again = berth({"run", "--rm", "--network", "none", "-v", "cache:/cache", "bb", "cat", "/cache/f"});
  EXPECT_EQ(again.out, "kept\n") << again.err;
  Output ro = berth({"run", "--rm", "--network", "none", "-v", host + ":/data:ro", "bb", "touch", "/data/x"});
  EXPECT_NE(ro.status, 0);
}

TEST_F(Containers, DockerSecurityDefaults) {
  Output o = berth({"run", "--rm", "--network", "none", "bb", "sh", "-c",
                    "busybox grep CapEff /proc/self/status; busybox grep Seccomp: /proc/self/status; cat /proc/kcore 2>&1 | head -c 0; echo x > /proc/sys/kernel/hostname 2>/dev/null && echo writable || echo ro"});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_NE(o.out.find("CapEff:\t00000000a80425fb"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("Seccomp:\t2"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("ro"), std::string::npos);
  Output priv = berth({"run", "--rm", "--network", "none", "--privileged", "bb", "busybox", "grep", "-E", "CapEff|Seccomp:", "/proc/self/status"});
  EXPECT_NE(priv.out.find("Seccomp:\t0"), std::string::npos) << priv.out;
  Output drop = berth({"run", "--rm", "--network", "none", "--cap-drop", "ALL", "--cap-add", "CHOWN", "-w", "/", "bb", "busybox", "grep", "CapEff", "/proc/self/status"});
  EXPECT_NE(drop.out.find("0000000000000001"), std::string::npos) << drop.out << drop.err << drop.status;
  Output shm = berth({"run", "--rm", "--network", "none", "--shm-size", "1g", "bb", "busybox", "df", "-k", "/dev/shm"});
  EXPECT_NE(shm.out.find("1048576"), std::string::npos) << shm.out;
}

TEST_F(Containers, KilledMonitorIsReportedAndRmCleansUp) {
  Output run = berth({"run", "-d", "--name", "m", "--network", "none", "bb", "sleep", "1000"});
  ASSERT_EQ(run.status, 0) << run.err;
  auto j = inspect("m");
  int monitor = j["State"]["MonitorPid"].get<int>();
  ASSERT_GT(monitor, 0);
  ::kill(monitor, SIGKILL);
  EXPECT_TRUE(eventually([&] { return ::kill(monitor, 0) != 0; }));
  Output ps = berth({"ps", "--format", "{{.Status}}"});
  EXPECT_NE(ps.out.find("monitor gone"), std::string::npos) << ps.out;
  EXPECT_EQ(berth({"rm", "-f", "m"}).status, 0);
  EXPECT_EQ(trim_end(berth({"ps", "-aq"}).out), "");
}

TEST_F(Containers, RestartPolicyOnFailure) {
  Output run = berth({"run", "-d", "--name", "r", "--network", "none", "--restart", "on-failure:2", "bb", "sh", "-c", "exit 1"});
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_TRUE(eventually([&] {
    auto j = inspect("r");
    return j["State"]["Status"] == "exited" && j["RestartCount"] == 2;
  })) << inspect("r").dump();
}

TEST_F(Containers, ConcurrentRunRm) {
  std::vector<std::thread> threads;
  std::vector<int> codes(20, -1);
  for (int i = 0; i < 20; ++i)
    threads.emplace_back([&, i] {
      codes[i] = berth({"run", "--rm", "--network", "none", "bb", "sh", "-c", "exit " + std::to_string(i % 5)}, "", 120).status;
    });
  for (auto& t : threads) t.join();
  for (int i = 0; i < 20; ++i) EXPECT_EQ(codes[i], i % 5) << i;
  EXPECT_EQ(trim_end(berth({"ps", "-aq"}).out), "");
}

TEST_F(Containers, BridgePublishedPort) {
  std::string port = std::to_string(20000 + ::getpid() % 20000);
  Output run = berth({"run", "-d", "--name", "httpd", "-p", "127.0.0.1:" + port + ":80", "bb", "sh", "-c",
                      "mkdir -p /www && echo hello > /www/index.html && httpd -f -p 80 -h /www"});
  ASSERT_EQ(run.status, 0) << run.err;
  Output get;
  EXPECT_TRUE(eventually([&] {
    get = regtest::run({"curl", "-sS", "--max-time", "2", "http://127.0.0.1:" + port + "/"});
    return get.out == "hello\n";
  })) << get.err;
  EXPECT_EQ(trim_end(berth({"port", "httpd", "80"}).out), "127.0.0.1:" + port);
  // From another container: straight to its address on the bridge.
  std::string ip = inspect("httpd")["NetworkSettings"]["IPAddress"];
  Output peer = berth({"run", "--rm", "bb", "busybox", "wget", "-q", "-O", "-", "http://" + ip + "/"});
  EXPECT_EQ(peer.out, "hello\n") << peer.err;
  auto j = inspect("httpd");
  EXPECT_FALSE(j["NetworkSettings"]["IPAddress"].get<std::string>().empty());
  Output clash = berth({"run", "--rm", "-p", "127.0.0.1:" + port + ":80", "bb", "true"});
  EXPECT_EQ(clash.status, 125);
  EXPECT_NE(clash.err.find("already allocated"), std::string::npos) << clash.err;
  EXPECT_EQ(berth({"rm", "-f", "httpd"}).status, 0);
  // rm removes the network namespace; the kernel deletes the veth pair with it in its own
  // cleanup work, a few milliseconds later.
  Output links;
  EXPECT_TRUE(eventually([&] {
    links = regtest::run({"ip", "-o", "link"});
    return links.out.find("berth" + trim_end(run.out).substr(0, 10)) == std::string::npos;
  })) << links.out;
}


TEST_F(Containers, PauseRenameTopStatsWaitFilters) {
  ASSERT_EQ(berth({"run", "-d", "--name", "busy", "--network", "none", "-l", "team=ml", "bb", "sleep", "1000"}).status, 0);
  ASSERT_EQ(berth({"run", "--name", "done", "--network", "none", "bb", "sh", "-c", "exit 2"}).status, 2);
  EXPECT_EQ(trim_end(berth({"ps", "-a", "--filter", "status=exited", "--format", "{{.Names}}"}).out), "done");
  EXPECT_EQ(trim_end(berth({"ps", "--filter", "label=team=ml", "--format", "{{.Names}}"}).out), "busy");
  EXPECT_EQ(trim_end(berth({"ps", "-a", "--filter", "exited=2", "-q"}).out).size(), 12u);
  Output top = berth({"top", "busy"});
  EXPECT_NE(top.out.find("sleep 1000"), std::string::npos) << top.out << top.err;
  EXPECT_EQ(berth({"pause", "busy"}).status, 0);
  EXPECT_EQ(inspect("busy")["State"]["Status"], "paused");
  EXPECT_NE(berth({"ps", "--format", "{{.Status}}"}).out.find("(Paused)"), std::string::npos);
  EXPECT_EQ(berth({"unpause", "busy"}).status, 0);
  EXPECT_EQ(inspect("busy")["State"]["Status"], "running");
  EXPECT_EQ(berth({"rename", "busy", "renamed"}).status, 0);
  EXPECT_EQ(berth({"rename", "renamed", "done"}).status, 125) << "name taken";
  Output st = berth({"stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "renamed"});
  EXPECT_EQ(trim_end(st.out), "renamed 1") << st.err;
  // BLOCK I/O from the cgroup's blkio/io counters: "read / write".
  Output bio = berth({"stats", "--no-stream", "--format", "{{.BlockIO}}", "renamed"});
  EXPECT_TRUE(std::regex_match(trim_end(bio.out), std::regex(R"([0-9.]+[kMGT]?B / [0-9.]+[kMGT]?B)"))) << bio.out;
  // ps -s: what the container wrote, and that plus its image.
  ASSERT_EQ(berth({"run", "--name", "writer", "--network", "none", "bb", "sh", "-c", "head -c 1000 /bin/busybox > /f"}).status, 0);
  Output size = berth({"ps", "-a", "-s", "--filter", "name=writer", "--format", "{{.Size}}"});
  EXPECT_TRUE(std::regex_match(trim_end(size.out), std::regex(R"(1kB \(virtual [0-9.]+MB\))"))) << size.out;
  EXPECT_NE(berth({"ps", "-a", "-s"}).out.find("SIZE"), std::string::npos);
  EXPECT_EQ(trim_end(berth({"wait", "done"}).out), "2");
  std::thread killer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    berth({"kill", "-s", "TERM", "renamed"});
    berth({"kill", "renamed"});
  });
  Output w = berth({"wait", "renamed"});
  killer.join();
  EXPECT_EQ(trim_end(w.out), "137") << w.err;
  Output json = berth({"ps", "-a", "--format", "json"});
  EXPECT_NE(json.out.find("\"Names\":\"renamed\""), std::string::npos) << json.out;
}

TEST_F(Containers, CgroupParentHoldsTheContainersCgroup) {
  std::string parent = "berth-test-parent-" + std::to_string(::getpid());
  Output o = berth({"run", "-d", "--name", "cg", "--network", "none", "--cgroup-parent", parent,
                    "--memory", "48m", "bb", "sleep", "60"});
  ASSERT_EQ(o.status, 0) << o.err;
  std::string id = trim_end(o.out);
  bool v2 = ::access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;
  std::string dir = v2 ? "/sys/fs/cgroup/" + parent + "/" + id : "/sys/fs/cgroup/memory/" + parent + "/" + id;
  EXPECT_EQ(trim_end(regtest::read_text(dir + (v2 ? "/memory.max" : "/memory.limit_in_bytes"))), "50331648");
  EXPECT_EQ(inspect("cg")["HostConfig"]["CgroupParent"], "/" + parent);
  EXPECT_EQ(berth({"rm", "-f", "cg"}).status, 0);
  struct stat st;
  EXPECT_NE(::stat(dir.c_str(), &st), 0) << dir << " is left";
  // The parent is the user's to remove, as with docker.
  for (const auto& h : lines_of(regtest::run({"sh", "-c", "ls -d /sys/fs/cgroup/*/ /sys/fs/cgroup/"}).out))
    ::rmdir((h + parent).c_str());
  o = berth({"run", "--rm", "--cgroup-parent", "../escape", "bb", "true"});
  EXPECT_EQ(o.status, 125);
  EXPECT_EQ(o.err, "Error: --cgroup-parent: invalid cgroup path: ../escape\n");
}

TEST_F(Containers, DetachedRmAndAlwaysRestartStoppedByUser) {
  ASSERT_EQ(berth({"run", "-d", "--rm", "--name", "gone", "--network", "none", "bb", "true"}).status, 0);
  EXPECT_TRUE(eventually([&] { return trim_end(berth({"ps", "-aq", "--filter", "name=gone"}).out).empty(); }))
      << "the monitor's hook removed it";
  ASSERT_EQ(berth({"run", "-d", "--name", "always", "--network", "none", "--restart", "always", "bb", "sh", "-c", "sleep 0.2"}).status, 0);
  EXPECT_TRUE(eventually([&] { return inspect("always")["RestartCount"].get<int>() >= 2; }));
  EXPECT_EQ(berth({"stop", "-t", "1", "always"}).status, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_EQ(inspect("always")["State"]["Status"], "exited") << "stop ends the restarts";
}

TEST_F(Containers, InitForwardsSignalsAndReaps) {
  Output o = berth({"run", "--rm", "--init", "--network", "none", "bb", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; exit 3"});
  EXPECT_EQ(o.status, 3) << o.err;
  EXPECT_EQ(o.out.rfind("/sbin/docker-init -- sh", 0), 0u) << o.out;
  ASSERT_EQ(berth({"run", "-d", "--init", "--name", "ini", "--network", "none", "bb", "sleep", "1000"}).status, 0);
  EXPECT_EQ(berth({"stop", "-t", "5", "ini"}).status, 0);
  int code = inspect("ini")["State"]["ExitCode"].get<int>();
  EXPECT_TRUE(code > 128 && code != 137) << code << ": the stop signal reached sleep through the init (no SIGKILL)";
}

TEST_F(Containers, PublishedOnEveryHostAddress) {
  // The host's first global IPv4 address that is not one of the container bridges.
  Output addrs = regtest::run({"sh", "-c", "ip -4 -o addr show scope global | awk '{print $2, $4}'"});
  std::string host_ip;
  for (const auto& line : lines_of(addrs.out)) {
    if (line.rfind("eth", 0) != 0 && line.rfind("en", 0) != 0) continue;
    host_ip = line.substr(line.find(' ') + 1);
    host_ip = host_ip.substr(0, host_ip.find('/'));
    break;
  }
  if (host_ip.empty()) GTEST_SKIP() << "no ethernet address on this host: " << addrs.out;
  std::string port = std::to_string(20000 + (::getpid() + 7) % 20000);
  ASSERT_EQ(berth({"run", "-d", "--name", "web2", "-p", port + ":80", "bb", "sh", "-c",
                   "mkdir -p /www && echo hi > /www/index.html && httpd -f -p 80 -h /www"}).status, 0);
  for (const std::string& addr : {std::string("127.0.0.1"), host_ip}) {
    Output get;
    EXPECT_TRUE(eventually([&] {
      get = regtest::run({"curl", "-sS", "--max-time", "2", "http://" + addr + ":" + port + "/"});
      return get.out == "hi\n";
    })) << addr << ": " << get.err;
  }
  // From another container, through the host's address (hairpin NAT).
  Output peer = berth({"run", "--rm", "bb", "busybox", "wget", "-q", "-O", "-", "http://" + host_ip + ":" + port + "/"});
  EXPECT_EQ(peer.out, "hi\n") << peer.err;
  Output p = berth({"port", "web2"});
  EXPECT_EQ(trim_end(p.out), "80/tcp -> 0.0.0.0:" + port);
}

// The pty tests run berth under script(1), which gives it a terminal; input is typed with
// pauses so it arrives after the container's shell is up.
std::string shell_quote(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += "'" + a + "' ";
  return out;
}

TEST_F(Containers, InteractivePtyWindowSizeAndExitStatus) {
  std::string cmd = "stty cols 100 rows 30; " + shell_quote(env_.argv({"run", "-it", "--rm", "--network", "none", "bb", "sh"}));
  Output o = regtest::run({"sh", "-c", "(sleep 1; printf 'tty; echo $TERM; stty size; exit 5\\r'; sleep 1) | script -qec \"" + cmd + "\" /dev/null"}, "", 60);
  EXPECT_EQ(o.status, 5) << o.out << o.err;
  EXPECT_NE(o.out.find("/dev/pts/0"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("xterm"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("30 100"), std::string::npos) << o.out;
}

TEST_F(Containers, StdinPipeDetachKeysAndAttach) {
  Output cat = berth({"run", "-i", "--rm", "--network", "none", "bb", "cat"}, "hello stdin\n");
  EXPECT_EQ(cat.out, "hello stdin\n") << cat.err;
  std::string cmd = shell_quote(env_.argv({"run", "-it", "--name", "det", "--network", "none", "bb", "sh"}));
  Output d = regtest::run({"sh", "-c", "(sleep 1; printf '\\020\\021'; sleep 1) | script -qec \"" + cmd + "\" /dev/null"}, "", 60);
  EXPECT_EQ(d.status, 0) << d.out << d.err;
  EXPECT_EQ(inspect("det")["State"]["Status"], "running") << "ctrl-p ctrl-q detached, the container goes on";
  std::string att = shell_quote(env_.argv({"attach", "det"}));
  Output a = regtest::run({"sh", "-c", "(sleep 1; printf 'exit 4\\r'; sleep 1) | script -qec \"" + att + "\" /dev/null"}, "", 60);
  EXPECT_EQ(a.status, 4) << a.out << a.err;
  EXPECT_TRUE(eventually([&] { return inspect("det")["State"]["Status"] == "exited"; }));
}

// An Xvfb server on a display nobody uses, with a cookie file; killed, and its socket, lock
// and cookie removed, however the test ends (SIGKILL leaves the socket and lock behind).
class XvfbDisplay {
 public:
  explicit XvfbDisplay(std::string cookie_file) : cookie_file_(std::move(cookie_file)) {}
  ~XvfbDisplay() {
    xvfb_.stop();
    ::unlink(cookie_file_.c_str());
    if (!launched_) return;  // the display's files are someone else's
    ::unlink(socket_path().c_str());
    ::unlink(lock_path().c_str());
  }
  XvfbDisplay(const XvfbDisplay&) = delete;
  XvfbDisplay& operator=(const XvfbDisplay&) = delete;

  // Picks a free display, writes the cookie and starts Xvfb; "" when its socket is up.
  std::string start(const std::string& log) {
    for (int i = 0; i < 9 && number_ < 0; ++i) {
      int n = 90 + (::getpid() + i) % 9;
      if (::access(socket_path(n).c_str(), F_OK) != 0 && ::access(lock_path(n).c_str(), F_OK) != 0)
        number_ = n;
    }
    if (number_ < 0) return "no free display among :90 to :98";
    Output add = regtest::run(
        {"xauth", "-f", cookie_file_, "add", display(), "MIT-MAGIC-COOKIE-1", random_hex(16)});
    if (add.status != 0) return "xauth add: " + add.err;
    xvfb_ = regtest::Child({"Xvfb", display(), "-auth", cookie_file_, "-nolisten", "tcp"}, log);
    launched_ = true;
    for (int i = 0; i < 200; ++i) {
      if (::access(socket_path().c_str(), F_OK) == 0) return "";
      if (!xvfb_.alive()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return "Xvfb " + display() + " did not create " + socket_path() +
           " within 10 s: " + regtest::read_text(log);
  }
  std::string display() const { return ":" + std::to_string(number_); }

 private:
  std::string socket_path(int n = -1) const {
    return "/tmp/.X11-unix/X" + std::to_string(n < 0 ? number_ : n);
  }
  std::string lock_path(int n = -1) const {
    return "/tmp/.X" + std::to_string(n < 0 ? number_ : n) + "-lock";
  }
  static std::string random_hex(size_t bytes) {
    std::random_device rd;
    std::string out;
    for (size_t i = 0; i < bytes; ++i) {
      char b[3];
      std::snprintf(b, sizeof b, "%02x", rd() & 0xff);
      out += b;
    }
    return out;
  }

  std::string cookie_file_;
  int number_ = -1;
  bool launched_ = false;
  regtest::Child xvfb_;
};

// docs/containers.md "GUI programs (X11)": the X socket folder bind-mounted, DISPLAY passed,
// and the cookie as a read-only file named by XAUTHORITY; --network none, so only the unix
// socket can carry it. Without the cookie the server must say no.
TEST_F(Containers, X11RecipeWithXauthCookie) {
  ASSERT_TRUE(regtest::have("Xvfb") && regtest::have("xauth"))
      << "the X11 recipe test needs Xvfb and xauth (scripts/install-deps.sh: xvfb xauth)";
  std::string cookie = env_.path("xauth");
  XvfbDisplay x(cookie);
  std::string failure = x.start(env_.path("xvfb.log"));
  ASSERT_EQ(failure, "");
  std::vector<std::string> base = {"run", "--rm", "--network", "none",
                                   "-e", "DISPLAY=" + x.display(),
                                   "-v", "/tmp/.X11-unix:/tmp/.X11-unix",
                                   "-v", std::string(BERTH_PROBE) + ":/probe:ro"};
  std::vector<std::string> with_cookie = base;
  with_cookie.insert(with_cookie.end(), {"-v", cookie + ":/tmp/.Xauthority:ro", "-e",
                                         "XAUTHORITY=/tmp/.Xauthority", "bb", "/probe", "x11"});
  Output ok = berth(with_cookie);
  EXPECT_EQ(ok.status, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("x11: connected, vendor "), std::string::npos) << ok.out << ok.err;
  std::vector<std::string> without = base;
  without.insert(without.end(), {"bb", "/probe", "x11"});
  Output refused = berth(without);
  EXPECT_EQ(refused.status, 1) << refused.out << refused.err;
  EXPECT_NE(refused.out.find("x11: refused: "), std::string::npos) << refused.out << refused.err;
}

}  // namespace
}  // namespace berth::ctest
