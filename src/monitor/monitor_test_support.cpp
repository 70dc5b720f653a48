#include "monitor/monitor_test_support.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

#include "monitor/protocol.h"

namespace berth::monitor::mtest {
namespace {

std::string read_all(int fd) {
  std::string s;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) s.append(buf, static_cast<size_t>(n));
  return s;
}

long now_ms() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

[[noreturn]] void exec_monitor(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  static std::string bin = monitor_binary();
  argv.push_back(bin.data());
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  execv(bin.c_str(), argv.data());
  _exit(127);
}

// The container: a session of its own, stdio from the pipes or the pty slave.
[[noreturn]] void exec_container(const MonitorSetup& s, int in, int out, int err, const char* slave) {
  setsid();
  if (slave) {
    int fd = open(slave, O_RDWR);  // first tty opened by a session leader: our ctty
    if (fd < 0) _exit(126);
    in = out = err = fd;
  }
  if (in < 0) in = open("/dev/null", O_RDONLY);
  dup2(in, 0);
  dup2(out, 1);
  dup2(err, 2);
  close_range(3, ~0U, 0);
  execl("/bin/sh", "sh", "-c", s.script.c_str(), static_cast<char*>(nullptr));
  _exit(127);
}

// In M: make the container, then become the monitor.
[[noreturn]] void run_m(const MonitorSetup& s, const MonitorProc& p, int info_w, int ready_w) {
  int out[2] = {-1, -1}, err[2] = {-1, -1}, in[2] = {-1, -1}, master = -1;
  const char* slave = nullptr;
  if (s.pty) {
    master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) _exit(125);
    slave = ptsname(master);
  } else if (pipe(out) < 0 || pipe(err) < 0 || (s.with_stdin && pipe(in) < 0)) {
    _exit(125);
  }
  pid_t c = fork();
  if (c == 0) exec_container(s, in[0], out[1], err[1], slave);
  for (int fd : {in[0], out[1], err[1]})
    if (fd >= 0) close(fd);
  (void)!write(info_w, &c, sizeof c);
  close(info_w);
  std::vector<std::string> args = {"--pid", std::to_string(c), "--exit-file", p.exit_file, "--attach-socket",
                                   p.socket, "--log", p.log, "--ready-fd", std::to_string(ready_w)};
  if (s.pty) {
    args.insert(args.end(), {"--pty-fd", std::to_string(master)});
  } else {
    args.insert(args.end(), {"--stdout-fd", std::to_string(out[0]), "--stderr-fd", std::to_string(err[0])});
    if (s.with_stdin) args.insert(args.end(), {"--stdin-fd", std::to_string(in[1])});
  }
  args.insert(args.end(), s.args.begin(), s.args.end());
  if (!s.hook.empty()) {
    args.push_back("--");
    args.insert(args.end(), s.hook.begin(), s.hook.end());
  }
  for (const auto& [k, v] : s.env) setenv(k.c_str(), v.c_str(), 1);
  exec_monitor(args);
}

}  // namespace

std::string monitor_binary() {
  return BERTH_MONITOR_BIN;
}

MonitorProc::MonitorProc(MonitorProc&& o) noexcept
    : monitor(std::exchange(o.monitor, -1)), container(std::exchange(o.container, -1)),
      ready(std::move(o.ready)), socket(std::move(o.socket)), log(std::move(o.log)),
      exit_file(std::move(o.exit_file)) {}

MonitorProc::~MonitorProc() {
  if (monitor <= 0) return;
  if (container > 0) kill(container, SIGKILL);
  if (wait(5000) < 0) {
    kill(monitor, SIGKILL);
    waitpid(monitor, nullptr, 0);
  }
}

MonitorProc MonitorProc::start(const MonitorSetup& s, const std::string& dir) {
  MonitorProc p;
  p.socket = dir + "/attach.sock";
  p.log = dir + "/ctr.log";
  p.exit_file = dir + "/exit.json";
  int info[2], ready[2];
  if (pipe2(info, O_CLOEXEC) < 0 || pipe2(ready, O_CLOEXEC) < 0) return p;
  pid_t m = fork();
  if (m == 0) {
    fcntl(ready[1], F_SETFD, 0);
    run_m(s, p, info[1], ready[1]);
  }
  close(info[1]);
  close(ready[1]);
  p.monitor = m;
  pid_t c = -1;
  if (read(info[0], &c, sizeof c) == static_cast<ssize_t>(sizeof c)) p.container = c;
  close(info[0]);
  p.ready = read_all(ready[0]);
  close(ready[0]);
  return p;
}

int MonitorProc::wait(int timeout_ms) {
  if (monitor <= 0) return -1;
  long end = now_ms() + timeout_ms;
  for (;;) {
    int ws = 0;
    pid_t r = waitpid(monitor, &ws, WNOHANG);
    if (r == monitor) {
      monitor = -1;
      container = -1;
      return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    }
    if (r < 0 || now_ms() > end) return -1;
    usleep(5000);
  }
}

std::pair<int, std::string> run_cli(const std::vector<std::string>& args, std::string* ready_out) {
  int errp[2], ready[2];
  if (pipe2(errp, O_CLOEXEC) < 0 || pipe2(ready, O_CLOEXEC) < 0) return {-1, ""};
  std::vector<std::string> a = args;
  for (auto& s : a)
    if (s == "READY_FD") s = std::to_string(ready[1]);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(errp[1], 2);
    fcntl(ready[1], F_SETFD, 0);
    exec_monitor(a);
  }
  close(errp[1]);
  close(ready[1]);
  std::string err = read_all(errp[0]);
  close(errp[0]);
  std::string r = read_all(ready[0]);
  close(ready[0]);
  if (ready_out) *ready_out = r;
  int ws = 0;
  waitpid(pid, &ws, 0);
  return {WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws), err};
}

UniqueFd raw_connect(const std::string& socket, unsigned char flags) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket.c_str(), socket.size());
  if (connect(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) < 0) return UniqueFd();
  if (send(fd.get(), &flags, 1, MSG_NOSIGNAL) != 1) return UniqueFd();
  return fd;
}

bool raw_send(int fd, unsigned char type, const std::string& payload) {
  std::string f(kFrameHeaderSize, '\0');
  encode_header(reinterpret_cast<unsigned char*>(f.data()), type, static_cast<uint32_t>(payload.size()));
  f += payload;
  return send(fd, f.data(), f.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(f.size());
}

Frames raw_read(int fd, int timeout_ms) {
  Frames fr;
  std::string buf;
  long end = now_ms() + timeout_ms;
  for (;;) {
    while (buf.size() >= kFrameHeaderSize) {
      uint32_t len = get_be32(reinterpret_cast<const unsigned char*>(buf.data()) + 4);
      if (buf.size() < kFrameHeaderSize + len) break;
      std::string payload = buf.substr(kFrameHeaderSize, len);
      unsigned char type = static_cast<unsigned char>(buf[0]);
      buf.erase(0, kFrameHeaderSize + len);
      if (type == kFrameStdout) fr.out += payload;
      if (type == kFrameStderr) fr.err += payload;
      if (type == kFrameExit && payload.size() >= 4) {
        fr.exit_status = static_cast<int>(get_be32(reinterpret_cast<const unsigned char*>(payload.data())));
        fr.finished = payload.substr(4);
        return fr;
      }
    }
    struct pollfd p = {fd, POLLIN, 0};
    long left = end - now_ms();
    if (left <= 0 || poll(&p, 1, static_cast<int>(left)) <= 0) return fr;
    char tmp[4096];
    ssize_t n = recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) {
      fr.eof = true;
      return fr;
    }
    buf.append(tmp, static_cast<size_t>(n));
  }
}

bool wait_for_file(const std::string& path, int timeout_ms) {
  long end = now_ms() + timeout_ms;
  struct stat st;
  while (stat(path.c_str(), &st) != 0) {
    if (now_ms() > end) return false;
    usleep(5000);
  }
  return true;
}

}  // namespace berth::monitor::mtest
