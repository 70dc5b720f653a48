// berth-monitor: stays with one detached container (docs/monitor.md). The steps before
// the loop can fail and report on --ready-fd; once "ok" is written the monitor only ends
// when the container exited and the exit hook is done.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <initializer_list>  // header only: range-for over a braced list

#include "monitor/monitor.h"
#include "monitor/options.h"

namespace {

using berth::monitor::Monitor;
using berth::monitor::Options;

Options g_options;
Monitor g_monitor;  // ~70 KiB of buffers in .bss: pages are touched only when used
char g_err[600];

[[noreturn]] void fatal(int ready_fd, const char* fmt, ...) {
  char msg[sizeof g_err + 64];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  dprintf(2, "berth-monitor: %s\n", msg);
  if (ready_fd >= 0) dprintf(ready_fd, "error: %s\n", msg);
  _exit(1);
}

// Moves a given fd off 0-2 (stdio becomes /dev/null) and marks it close-on-exec.
void relocate(int* fd) {
  if (*fd < 0) return;
  if (*fd <= 2) *fd = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
  else fcntl(*fd, F_SETFD, FD_CLOEXEC);
}

// Closes every inherited fd above 2 that no option names: a stray write end of the
// container's own pipe would otherwise keep it from ever seeing EOF.
void close_others(const Options& o) {
  int keep[5] = {o.pty_fd, o.stdout_fd, o.stderr_fd, o.stdin_fd, o.ready_fd};
  for (int i = 0; i < 5; i++)
    for (int j = i + 1; j < 5; j++)
      if (keep[j] < keep[i]) {
        int t = keep[i];
        keep[i] = keep[j];
        keep[j] = t;
      }
  unsigned lo = 3;
  for (int fd : keep) {
    if (fd < 3) continue;
    if (static_cast<unsigned>(fd) > lo) close_range(lo, static_cast<unsigned>(fd) - 1, 0);
    lo = static_cast<unsigned>(fd) + 1;
  }
  close_range(lo, ~0U, 0);
}

int setup_signals() {
  struct sigaction sa = {};
  sa.sa_handler = SIG_IGN;
  for (int sig : {SIGINT, SIGHUP, SIGTERM, SIGQUIT, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU}) sigaction(sig, &sa, nullptr);
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGCHLD);
  sigprocmask(SIG_SETMASK, &s, nullptr);  // everything else unblocked, whatever we inherited
  return signalfd(-1, &s, SFD_CLOEXEC | SFD_NONBLOCK);
}

int listen_on(const char* path, int ready_fd) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) fatal(ready_fd, "create attach socket: %s", strerror(errno));
  struct stat st;
  if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) unlink(path);  // stale, from a dead monitor
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, path, strlen(path));  // length checked by parse_options
  mode_t old = umask(0177);
  int r = bind(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr);
  umask(old);
  if (r < 0) fatal(ready_fd, "bind attach socket %s: %s", path, strerror(errno));
  if (chmod(path, 0600) < 0 || listen(fd, 64) < 0) {
    int e = errno;
    unlink(path);
    fatal(ready_fd, "listen on attach socket %s: %s", path, strerror(e));
  }
  return fd;
}

void stdio_to_null() {
  int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (fd < 0) return;
  for (int i = 0; i <= 2; i++) dup2(fd, i);
  if (fd > 2) close(fd);
}

}  // namespace

// `berth-monitor --pause`: the process that keeps a rootless berth's user and mount
// namespaces alive (docs/rootless.md). It only waits for SIGTERM or SIGKILL.
[[noreturn]] void pause_forever() {
  prctl(PR_SET_NAME, "berth-pause", 0, 0, 0);
  sigset_t all;
  sigfillset(&all);
  sigdelset(&all, SIGTERM);
  sigdelset(&all, SIGINT);
  sigprocmask(SIG_SETMASK, &all, nullptr);
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  for (;;) pause();
}

int main(int argc, char** argv) {
  if (argc == 2 && strcmp(argv[1], "--pause") == 0) pause_forever();
  Options& o = g_options;
  if (!berth::monitor::parse_options(argc, argv, &o, g_err, sizeof g_err)) {
    int ready = -1;  // report on --ready-fd too when it was parsed
    if (o.ready_fd >= 0) ready = o.ready_fd;
    fatal(ready, "%s", g_err);
  }
  for (int* fd : {&o.pty_fd, &o.stdout_fd, &o.stderr_fd, &o.stdin_fd, &o.ready_fd}) relocate(fd);
  close_others(o);
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  int sig_fd = setup_signals();
  if (sig_fd < 0) fatal(o.ready_fd, "signalfd: %s", strerror(errno));
  siginfo_t si = {};
  if (waitid(P_PID, static_cast<id_t>(o.pid), &si, WEXITED | WNOHANG | WNOWAIT) < 0)
    fatal(o.ready_fd, "--pid %d: not a child of berth-monitor: %s", o.pid, strerror(errno));
  if (!g_monitor.init(o)) fatal(o.ready_fd, "open log %s: %s", o.log_path, strerror(errno));
  int listen_fd = listen_on(o.attach_socket, o.ready_fd);
  if (o.ready_fd >= 0) {
    (void)!write(o.ready_fd, "ok\n", 3);
    close(o.ready_fd);
    o.ready_fd = -1;
  }
  (void)!chdir("/");
  stdio_to_null();
  setsid();  // fails when the caller already made us a session leader: fine
  return g_monitor.run(listen_fd, sig_fd);
}
