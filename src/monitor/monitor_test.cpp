// The real berth-monitor over real processes (docs/monitor.md). Needs no root, but forks
// process trees and measures memory: label priv.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pty.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <regex>
#include <string>
#include <vector>

#include "base/file.h"
#include "base/strings.h"
#include "monitor/attach_client.h"
#include "monitor/monitor_test_support.h"
#include "monitor/protocol.h"

namespace berth::monitor {
namespace {

using mtest::Frames;
using mtest::MonitorProc;
using mtest::MonitorSetup;

// The exit hook used by ExitHook.RestartAdoptsNewProcess is this test binary: with
// BERTH_MONITOR_TEST_HOOK set it does the hook's work before main() and exits.
int hook_main(const char* state) {
  if (access(state, F_OK) == 0) return 0;  // second exit: "done" (EOF)
  int out[2], err[2];
  if (pipe(out) < 0 || pipe(err) < 0) return 1;
  pid_t c = fork();
  if (c == 0) {
    dup2(out[1], 1);
    dup2(err[1], 2);
    close_range(3, ~0U, 0);
    execl("/bin/sh", "sh", "-c", "echo second; echo second-err >&2; exit 5", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  std::string msg = "restart " + std::to_string(c);
  int fds[2] = {out[0], err[0]};
  struct iovec iov = {msg.data(), msg.size()};
  alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof fds)] = {};
  struct msghdr mh = {};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = cbuf;
  mh.msg_controllen = sizeof cbuf;
  struct cmsghdr* cm = CMSG_FIRSTHDR(&mh);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof fds);
  memcpy(CMSG_DATA(cm), fds, sizeof fds);
  if (sendmsg(3, &mh, 0) < 0) return 1;
  char reply[128] = {};
  ssize_t n = recv(3, reply, sizeof reply - 1, 0);
  auto cmdline = read_file("/proc/self/cmdline");
  std::string args = cmdline.ok() ? *cmdline : "";
  std::replace(args.begin(), args.end(), '\0', ' ');
  (void)write_file_atomic(state, std::string(reply, n > 0 ? static_cast<size_t>(n) : 0) + args);
  return 0;
}

const int kHookRan = [] {
  const char* state = getenv("BERTH_MONITOR_TEST_HOOK");
  if (state) _exit(hook_main(state));
  return 0;
}();

std::string self_exe() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

class MonitorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = TempDir::create("/tmp/berth-mon-");
    ASSERT_TRUE(d.ok());
    dir_.emplace(std::move(*d));
  }
  MonitorProc start(const MonitorSetup& s) {
    MonitorProc p = MonitorProc::start(s, dir_->path());
    EXPECT_EQ(p.ready, "ok\n");
    return p;
  }
  std::string dir() const { return dir_->path(); }
  std::optional<TempDir> dir_;
};

std::string slurp(const std::string& path) {
  auto r = read_file(path);
  return r.ok() ? *r : "";
}

// One log line without its time, which is checked for shape.
std::vector<std::string> log_entries(const std::string& path) {
  static const std::regex time_re(R"re(,"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z"\}$)re");
  std::vector<std::string> out;
  for (const auto& line : split(slurp(path), '\n')) {
    if (line.empty()) continue;
    std::smatch m;
    EXPECT_TRUE(std::regex_search(line, m, time_re)) << line;
    out.push_back(line.substr(0, static_cast<size_t>(m.position(0))) + "}");
  }
  return out;
}

UniqueFd pipe_with(const std::string& data, bool close_write, UniqueFd* keep_write = nullptr) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return UniqueFd();
  (void)!write(p[1], data.data(), data.size());
  if (close_write) close(p[1]);
  else if (keep_write) keep_write->reset(p[1]);
  return UniqueFd(p[0]);
}

TEST_F(MonitorTest, PipesLogsExitFileAndAttach) {
  MonitorSetup s;
  s.script = "echo out; echo err >&2; read x; echo \"got $x\"; printf 'tab\\there<&>'; exit 3";
  s.with_stdin = true;
  MonitorProc p = start(s);
  UniqueFd in = pipe_with("hello\n", true);
  int outp[2], errp[2];
  ASSERT_EQ(pipe2(outp, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(errp, O_CLOEXEC), 0);
  UniqueFd out_r(outp[0]), out_w(outp[1]), err_r(errp[0]), err_w(errp[1]);
  AttachOptions o;
  o.socket_path = p.socket;
  o.attach_stdin = true;
  o.in_fd = in.get();
  o.out_fd = out_w.get();
  o.err_fd = err_w.get();
  auto r = attach(o);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_FALSE(r->detached);
  EXPECT_EQ(r->exit_status, 3);
  EXPECT_FALSE(r->finished_at.empty());
  out_w.reset();
  char buf[4096];
  ssize_t n = read(out_r.get(), buf, sizeof buf);
  std::string got(buf, n > 0 ? static_cast<size_t>(n) : 0);
  EXPECT_NE(got.find("got hello\n"), std::string::npos) << got;
  EXPECT_EQ(p.wait(), 0);
  std::vector<std::string> want = {
      R"({"log":"out\n","stream":"stdout"})",
      R"({"log":"err\n","stream":"stderr"})",
      R"({"log":"got hello\n","stream":"stdout"})",
      R"({"log":"tab\u0009here\u003c\u0026\u003e","stream":"stdout"})",
  };
  auto entries = log_entries(p.log);
  // stdout and stderr are separate pipes: only the order within a stream is defined.
  std::sort(entries.begin(), entries.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(entries, want);
  std::string exit_json = slurp(p.exit_file);
  std::regex exit_re(R"re(^\{"ExitCode":3,"Signal":0,"FinishedAt":"[0-9T:.\-]+Z","OOMKilled":false\}$)re");
  EXPECT_TRUE(std::regex_match(exit_json, exit_re)) << exit_json;
  EXPECT_NE(exit_json.find(r->finished_at), std::string::npos);
  EXPECT_FALSE(path_exists(p.socket)) << "the socket is removed when the monitor ends";
}

TEST_F(MonitorTest, StdinOnceClosesStdinWhenTheClientLeaves) {
  MonitorSetup s;
  s.script = "cat; echo done";
  s.with_stdin = true;
  s.args = {"--stdin-once"};
  MonitorProc p = start(s);
  {
    UniqueFd c = mtest::raw_connect(p.socket, kWantStdin | kWantStdout);
    ASSERT_TRUE(c);
    ASSERT_TRUE(mtest::raw_send(c.get(), kFrameStdin, "abc\n"));
  }  // disconnect: with --stdin-once the container's stdin closes, cat ends
  EXPECT_EQ(p.wait(), 0);
  auto entries = log_entries(p.log);
  std::vector<std::string> want = {R"({"log":"abc\n","stream":"stdout"})", R"({"log":"done\n","stream":"stdout"})"};
  EXPECT_EQ(entries, want);
}

TEST_F(MonitorTest, StdinEofFromAttachClosesStdinOnce) {
  MonitorSetup s;
  s.script = "cat; echo done";
  s.with_stdin = true;
  s.args = {"--stdin-once"};
  MonitorProc p = start(s);
  UniqueFd in = pipe_with("line1\nline2\n", true);
  int outp[2];
  ASSERT_EQ(pipe2(outp, O_CLOEXEC), 0);
  UniqueFd out_r(outp[0]), out_w(outp[1]);
  AttachOptions o;
  o.socket_path = p.socket;
  o.attach_stdin = true;
  o.in_fd = in.get();
  o.out_fd = out_w.get();
  o.err_fd = out_w.get();
  auto r = attach(o);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->exit_status, 0);
  out_w.reset();
  char buf[4096];
  ssize_t n = read(out_r.get(), buf, sizeof buf);
  EXPECT_EQ(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0), "line1\nline2\ndone\n");
  EXPECT_EQ(p.wait(), 0);
}

TEST_F(MonitorTest, TtyResizeReachesThePty) {
  MonitorSetup s;
  s.pty = true;
  s.script = "read x; stty size; exit 0";
  MonitorProc p = start(s);
  UniqueFd c = mtest::raw_connect(p.socket, kWantStdin | kWantStdout | kWantStderr);
  ASSERT_TRUE(c);
  const unsigned char size[4] = {0, 33, 0, 77};
  ASSERT_TRUE(mtest::raw_send(c.get(), kFrameResize, std::string(reinterpret_cast<const char*>(size), 4)));
  ASSERT_TRUE(mtest::raw_send(c.get(), kFrameStdin, "go\n"));
  Frames f = mtest::raw_read(c.get());
  EXPECT_EQ(f.exit_status, 0);
  EXPECT_NE(f.out.find("33 77\r\n"), std::string::npos) << f.out;
  EXPECT_TRUE(f.err.empty());
  EXPECT_EQ(p.wait(), 0);
  auto entries = log_entries(p.log);
  EXPECT_NE(std::find(entries.begin(), entries.end(), R"({"log":"33 77\r\n","stream":"stdout"})"), entries.end());
}

TEST_F(MonitorTest, AttachTtyRawModeInitialSizeAndRestore) {
  MonitorSetup s;
  s.pty = true;
  s.script = "read x; stty size; exit 0";
  MonitorProc p = start(s);
  int m, sl;
  struct winsize ws = {};
  ws.ws_row = 40;
  ws.ws_col = 120;
  ASSERT_EQ(openpty(&m, &sl, nullptr, nullptr, &ws), 0);
  UniqueFd master(m), slave(sl);
  struct termios before;
  ASSERT_EQ(tcgetattr(sl, &before), 0);
  ASSERT_EQ(write(m, "a\r", 2), 2);  // typed before attach: read after raw mode and the size
  int outp[2];
  ASSERT_EQ(pipe2(outp, O_CLOEXEC), 0);
  UniqueFd out_r(outp[0]), out_w(outp[1]);
  AttachOptions o;
  o.socket_path = p.socket;
  o.attach_stdin = true;
  o.tty = true;
  o.in_fd = sl;
  o.out_fd = out_w.get();
  auto r = attach(o);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->exit_status, 0);
  out_w.reset();
  std::string got;
  char buf[4096];
  for (ssize_t n; (n = read(out_r.get(), buf, sizeof buf)) > 0;) got.append(buf, static_cast<size_t>(n));
  EXPECT_NE(got.find("40 120"), std::string::npos) << got;
  struct termios after;
  ASSERT_EQ(tcgetattr(sl, &after), 0);
  EXPECT_EQ(after.c_lflag, before.c_lflag);
  EXPECT_EQ(after.c_iflag, before.c_iflag);
  EXPECT_EQ(p.wait(), 0);
}

TEST_F(MonitorTest, DetachKeysLeaveTheContainerRunning) {
  for (const char* keys : {"ctrl-p,ctrl-q", "ctrl-x,a"}) {
    SCOPED_TRACE(keys);
    TempDir d = std::move(TempDir::create("/tmp/berth-mon-").value());
    MonitorSetup s;
    s.script = "cat";
    s.with_stdin = true;
    MonitorProc p = MonitorProc::start(s, d.path());
    ASSERT_EQ(p.ready, "ok\n");
    std::string seq = parse_detach_keys(keys).value();
    UniqueFd keep;
    UniqueFd in = pipe_with("hi\n" + seq + "ignored", false, &keep);
    int outp[2];
    ASSERT_EQ(pipe2(outp, O_CLOEXEC), 0);
    UniqueFd out_r(outp[0]), out_w(outp[1]);
    AttachOptions o;
    o.socket_path = p.socket;
    o.attach_stdin = true;
    o.detach_keys = keys;
    o.in_fd = in.get();
    o.out_fd = out_w.get();
    o.err_fd = out_w.get();
    auto r = attach(o);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_TRUE(r->detached);
    usleep(100000);
    EXPECT_EQ(kill(p.container, 0), 0) << "the container goes on after a detach";
    EXPECT_FALSE(path_exists(p.exit_file));
    ASSERT_EQ(kill(p.container, SIGKILL), 0);
    EXPECT_EQ(p.wait(), 0);
    auto entries = log_entries(p.log);
    std::vector<std::string> want = {R"({"log":"hi\n","stream":"stdout"})"};
    EXPECT_EQ(entries, want) << "the detach keys and what follows never reach the container";
  }
}

TEST_F(MonitorTest, TwoClientsAtOnceAndOneAfterExit) {
  MonitorSetup s;
  s.script = "read x; echo \"line$x\"; exit 7";
  s.with_stdin = true;
  s.hook = {"/bin/sleep", "1"};  // keeps the monitor alive after the exit for a while
  MonitorProc p = start(s);
  UniqueFd b = mtest::raw_connect(p.socket, kWantStdout);
  UniqueFd a = mtest::raw_connect(p.socket, kWantStdin | kWantStdout | kWantStderr);
  ASSERT_TRUE(a && b);
  usleep(100000);  // both flag bytes read before the container can print
  ASSERT_TRUE(mtest::raw_send(a.get(), kFrameStdin, "1\n"));
  Frames fa = mtest::raw_read(a.get());
  Frames fb = mtest::raw_read(b.get());
  EXPECT_EQ(fa.out, "line1\n");
  EXPECT_EQ(fb.out, "line1\n");
  EXPECT_EQ(fa.exit_status, 7);
  EXPECT_EQ(fb.exit_status, 7);
  EXPECT_EQ(fa.finished, fb.finished);
  // After the exit, while the hook runs: the exit frame at once.
  UniqueFd late = mtest::raw_connect(p.socket, kWantStdout);
  ASSERT_TRUE(late);
  Frames fl = mtest::raw_read(late.get(), 2000);
  EXPECT_EQ(fl.exit_status, 7);
  EXPECT_EQ(fl.finished, fa.finished);
  auto w = wait_exit(p.socket);
  ASSERT_TRUE(w.ok()) << w.error().message();
  EXPECT_EQ(*w, 7);
  EXPECT_EQ(p.wait(), 0);
}

TEST_F(MonitorTest, BulkOutputReachesClientAndLogWhole) {
  MonitorSetup s;
  s.script = "read x; seq 1 200000; seq 1 1000 >&2";
  s.with_stdin = true;
  MonitorProc p = start(s);
  auto out = open_fd(dir() + "/out.txt", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_TRUE(out.ok());
  UniqueFd in = pipe_with("go\n", true);
  AttachOptions o;
  o.socket_path = p.socket;
  o.attach_stdin = true;
  o.attach_stderr = false;
  o.in_fd = in.get();
  o.out_fd = out->get();
  auto r = attach(o);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->exit_status, 0);
  std::string want;
  for (int i = 1; i <= 200000; i++) want += std::to_string(i) + "\n";
  EXPECT_TRUE(slurp(dir() + "/out.txt") == want) << "stdout arrived whole and in order, stderr not at all";
  EXPECT_EQ(p.wait(), 0);
  auto entries = log_entries(p.log);
  ASSERT_EQ(entries.size(), 201000u);
  size_t n_out = 0;
  for (const auto& e : entries) n_out += e.find(R"("stream":"stdout")") != std::string::npos;
  EXPECT_EQ(n_out, 200000u);
}

TEST_F(MonitorTest, KillNineIs137) {
  MonitorSetup s;
  s.script = "sleep 100";
  MonitorProc p = start(s);
  UniqueFd c = mtest::raw_connect(p.socket, kWantStdout | kWantStderr);
  usleep(50000);
  ASSERT_EQ(kill(p.container, SIGKILL), 0);
  Frames f = mtest::raw_read(c.get());
  EXPECT_EQ(f.exit_status, 137);
  EXPECT_EQ(p.wait(), 0);
  std::string exit_json = slurp(p.exit_file);
  EXPECT_NE(exit_json.find(R"("ExitCode":137,"Signal":9,)"), std::string::npos) << exit_json;
}

TEST_F(MonitorTest, MonitorSurvivesTerminalSignals) {
  MonitorSetup s;
  s.script = "sleep 100";
  MonitorProc p = start(s);
  for (int sig : {SIGINT, SIGHUP, SIGTERM, SIGQUIT, SIGPIPE}) ASSERT_EQ(kill(p.monitor, sig), 0);
  usleep(100000);
  int ws;
  EXPECT_EQ(waitpid(p.monitor, &ws, WNOHANG), 0) << "the monitor died of a signal";
  kill(p.container, SIGTERM);
  EXPECT_EQ(p.wait(), 0);
  EXPECT_NE(slurp(p.exit_file).find(R"("ExitCode":143,"Signal":15)"), std::string::npos);
}

TEST_F(MonitorTest, OomFileIsReported) {
  ASSERT_TRUE(write_file_atomic(dir() + "/memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n").ok());
  MonitorSetup s;
  s.script = "exit 0";
  s.args = {"--oom-file", dir() + "/memory.events"};
  MonitorProc p = start(s);
  EXPECT_EQ(p.wait(), 0);
  EXPECT_NE(slurp(p.exit_file).find(R"("OOMKilled":true)"), std::string::npos) << slurp(p.exit_file);
}

TEST_F(MonitorTest, ExitHookRestartAdoptsTheNewProcess) {
  MonitorSetup s;
  s.script = "echo first; exit 2";
  std::string state = dir() + "/hook-state";
  s.args = {"--exit-hook-fd-arg"};
  s.hook = {self_exe(), "ignored-arg"};
  s.env = {{"BERTH_MONITOR_TEST_HOOK", state}};
  MonitorProc p = start(s);
  EXPECT_EQ(p.wait(), 0);
  std::string st = slurp(state);
  EXPECT_EQ(st.rfind("ok\n", 0), 0u) << "the monitor's answer to restart: " << st;
  EXPECT_NE(st.find(" ignored-arg --monitor-fd=3 "), std::string::npos) << st;
  EXPECT_NE(slurp(p.exit_file).find(R"("ExitCode":5,"Signal":0)"), std::string::npos) << slurp(p.exit_file) << st;
  auto entries = log_entries(p.log);
  std::vector<std::string> want = {R"({"log":"first\n","stream":"stdout"})", R"({"log":"second\n","stream":"stdout"})",
                                   R"({"log":"second-err\n","stream":"stderr"})"};
  ASSERT_EQ(entries.size(), 3u);
  std::sort(entries.begin() + 1, entries.end());
  std::sort(want.begin() + 1, want.end());
  EXPECT_EQ(entries, want);
}

TEST_F(MonitorTest, LogRotationAndLongLines) {
  MonitorSetup s;
  s.script = "for i in $(seq 1 30); do echo line-$i; done; head -c 20000 /dev/zero | tr '\\0' a";
  s.args = {"--log-max-size", "400", "--log-max-files", "3"};
  MonitorProc p = start(s);
  EXPECT_EQ(p.wait(), 0);
  EXPECT_TRUE(path_exists(p.log + ".1"));
  EXPECT_TRUE(path_exists(p.log + ".2"));
  EXPECT_FALSE(path_exists(p.log + ".3"));
  auto last = log_entries(p.log);
  ASSERT_FALSE(last.empty());
  // 20000 bytes without a newline: a 16 KiB partial entry, then the rest at EOF.
  EXPECT_EQ(last.back(), R"({"log":")" + std::string(20000 - 16384, 'a') + R"(","stream":"stdout"})");
  bool found = false;
  for (const char* f : {"", ".1", ".2"})
    for (const auto& e : log_entries(p.log + f))
      if (e == R"({"log":")" + std::string(16384, 'a') + R"(","stream":"stdout"})") found = true;
  EXPECT_TRUE(found);
}

TEST_F(MonitorTest, BadCommandLinesFailWithOneLine) {
  std::string d = dir();
  std::vector<std::string> base = {"--pid", "1", "--exit-file", d + "/e", "--attach-socket", d + "/s", "--log", d + "/l"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = base;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  std::vector<std::vector<std::string>> cases = {
      {},
      {"--pid", "abc"},
      {"--pid", "-5", "--exit-file", "/e", "--attach-socket", "/s", "--log", "/l"},
      {"--pid", "1"},
      with({"--bogus"}),
      with({"--pid", "2"}),
      {"--pid", "1", "--exit-file", "relative", "--attach-socket", "/s", "--log", "/l"},
      with({"--pty-fd", "0", "--stdout-fd", "1"}),
      with({"--log-max-files", "3"}),
      with({"--log-max-size", "0"}),
      with({"--log-max-size", "10k"}),
      with({"--stdout-fd", "999"}),
      with({"--stdout-fd", "2", "--stderr-fd", "2"}),
      with({"stray"}),
      with({"--exit-hook-fd-arg"}),
      with({"--ready-fd"}),
      base,  // pid 1 is no child of ours
  };
  for (const auto& c : cases) {
    auto [status, err] = mtest::run_cli(c);
    EXPECT_EQ(status, 1) << join(c, " ");
    EXPECT_EQ(err.rfind("berth-monitor: ", 0), 0u) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  }
  // Over-long socket path: reported on --ready-fd as well.
  std::vector<std::string> a = base;
  a[5] = "/" + std::string(200, 's');
  a.insert(a.end(), {"--ready-fd", "READY_FD"});
  std::string ready;
  auto [status, err] = mtest::run_cli(a, &ready);
  EXPECT_EQ(status, 1);
  EXPECT_NE(err.find("path too long"), std::string::npos) << err;
  EXPECT_EQ(ready.rfind("error: --attach-socket", 0), 0u) << ready;
}

TEST_F(MonitorTest, HostileClientsAreDropped) {
  MonitorSetup s;
  s.script = "read x; echo \"got $x\"";
  s.with_stdin = true;
  MonitorProc p = start(s);
  {
    UniqueFd bad = mtest::raw_connect(p.socket, kWantStdin);
    ASSERT_TRUE(mtest::raw_send(bad.get(), 9, "junk"));  // unknown type
    Frames f = mtest::raw_read(bad.get(), 5000);
    EXPECT_TRUE(f.eof);
  }
  {
    UniqueFd bad = mtest::raw_connect(p.socket, kWantStdin);
    ASSERT_TRUE(mtest::raw_send(bad.get(), kFrameResize, "toolong"));
    EXPECT_TRUE(mtest::raw_read(bad.get(), 5000).eof);
  }
  UniqueFd c = mtest::raw_connect(p.socket, kWantStdin | kWantStdout);
  ASSERT_TRUE(mtest::raw_send(c.get(), kFrameStdin, "fine\n"));
  Frames f = mtest::raw_read(c.get());
  EXPECT_EQ(f.out, "got fine\n");
  EXPECT_EQ(f.exit_status, 0);
  EXPECT_EQ(p.wait(), 0);
}

TEST_F(MonitorTest, IdlePssBelowConmon) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "sanitizer build: memory figures are the sanitizer's";
#endif
  MonitorSetup s;
  s.script = "echo started; sleep 100";
  s.with_stdin = true;
  MonitorProc p = start(s);
  UniqueFd c = mtest::raw_connect(p.socket, kWantStdin | kWantStdout | kWantStderr);
  usleep(300000);
  std::string rollup = slurp("/proc/" + std::to_string(p.monitor) + "/smaps_rollup");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(rollup, m, std::regex(R"(\nPss:\s+(\d+) kB)"))) << rollup;
  long pss_kb = std::stol(m[1]);
  std::regex_search(rollup, m, std::regex(R"(\nRss:\s+(\d+) kB)"));
  std::printf("berth-monitor idle: Pss %ld kB (%.3f MiB), Rss %s kB; conmon: 0.47 MiB\n", pss_kb, pss_kb / 1024.0,
              m[1].str().c_str());
  EXPECT_LT(pss_kb, 0.47 * 1024);
  kill(p.container, SIGKILL);
  EXPECT_EQ(p.wait(), 0);
}

}  // namespace
}  // namespace berth::monitor
