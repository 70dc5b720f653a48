// The exit hook (docs/monitor.md, "Exit hook"): run after every container exit; it answers
// over fd 3 with nothing (done) or "restart PID" plus the new container's fds.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "monitor/monitor.h"

namespace berth::monitor {
namespace {

constexpr int kHookFd = 3;
constexpr int kMaxPassedFds = 3;
const int kIgnoredSignals[] = {SIGINT, SIGHUP, SIGTERM, SIGQUIT, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU};

// In the forked child: signals as a fresh process has them, fd 3 = the socket, then exec.
[[noreturn]] void exec_hook(char** argv, int sock) {
  struct sigaction sa = {};
  sa.sa_handler = SIG_DFL;
  for (int sig : kIgnoredSignals) sigaction(sig, &sa, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  if (sock == kHookFd)
    fcntl(sock, F_SETFD, 0);
  else if (dup2(sock, kHookFd) < 0)
    _exit(127);
  close_range(kHookFd + 1, ~0U, 0);
  execvp(argv[0], argv);
  _exit(127);
}

void reply(int fd, const char* msg) {
  send(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT);
}

// "restart PID" (one trailing newline allowed) -> PID, or 0.
pid_t parse_restart(char* msg, size_t n) {
  if (n > 0 && msg[n - 1] == '\n') msg[--n] = '\0';
  if (strncmp(msg, "restart ", 8) != 0 || msg[8] < '1' || msg[8] > '9') return 0;
  char* end = nullptr;
  errno = 0;
  long v = strtol(msg + 8, &end, 10);
  if (errno != 0 || *end != '\0' || v <= 0 || v > 0x7fffffff) return 0;
  return static_cast<pid_t>(v);
}

}  // namespace

void Monitor::start_hook() {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
    done_ = true;
    return;
  }
  static char fd_arg[] = "--monitor-fd=3";
  int argc = o_->hook_argc;
  char** argv = static_cast<char**>(calloc(static_cast<size_t>(argc) + 2, sizeof(char*)));
  if (!argv) {
    close(sv[0]);
    close(sv[1]);
    done_ = true;
    return;
  }
  memcpy(argv, o_->hook_argv, static_cast<size_t>(argc) * sizeof(char*));
  if (o_->hook_fd_arg) argv[argc] = fd_arg;
  pid_t pid = fork();
  if (pid == 0) exec_hook(argv, sv[1]);
  free(argv);
  close(sv[1]);
  if (pid < 0) {
    close(sv[0]);
    done_ = true;
    return;
  }
  fcntl(sv[0], F_SETFL, O_NONBLOCK);
  hook_fd_ = sv[0];
  hook_pid_ = pid;
}

void Monitor::read_hook() {
  char msg[128];
  alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * (kMaxPassedFds + 1))] = {};
  struct iovec iov = {msg, sizeof msg - 1};
  struct msghdr mh = {};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = cbuf;
  mh.msg_controllen = sizeof cbuf;
  if (hook_fd_ < 0) return;
  ssize_t n = recvmsg(hook_fd_, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n < 0) mh.msg_controllen = 0;  // nothing was received: no fds to look at
  int fds[kMaxPassedFds + 1];
  int nfds = 0;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    int k = static_cast<int>((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    for (int i = 0; i < k && nfds <= kMaxPassedFds; i++) memcpy(&fds[nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
  }
  if (n <= 0) {  // EOF: the hook said nothing (more)
    for (int i = 0; i < nfds; i++) close(fds[i]);
    close(hook_fd_);
    hook_fd_ = -1;
    return;
  }
  msg[n] = '\0';
  pid_t pid = parse_restart(msg, static_cast<size_t>(n));
  const char* why = nullptr;
  if (pid == 0) why = "error: expected \"restart PID\"\n";
  else if (restart_pid_ != 0) why = "error: restart already requested\n";
  else if ((mh.msg_flags & MSG_CTRUNC) || (pty_ ? nfds != 1 : (nfds < 2 || nfds > 3)))
    why = pty_ ? "error: restart needs 1 fd (pty master)\n"
               : "error: restart needs 2 or 3 fds (stdout, stderr, [stdin])\n";
  if (why) {
    for (int i = 0; i < nfds; i++) close(fds[i]);
    reply(hook_fd_, why);
    return;
  }
  restart_pid_ = pid;
  restart_nfds_ = nfds;
  for (int i = 0; i < nfds; i++) restart_fds_[i] = fds[i];
  reply(hook_fd_, "ok\n");
}

void Monitor::hook_exited() {
  hook_pid_ = 0;
  // Messages sent before the hook exited are still queued.
  for (int i = 0; i < 8 && hook_fd_ >= 0; i++) read_hook();
  if (hook_fd_ >= 0) close(hook_fd_);
  hook_fd_ = -1;
  if (restart_pid_ == 0) {
    done_ = true;
    return;
  }
  siginfo_t si = {};
  if (waitid(P_PID, static_cast<id_t>(restart_pid_), &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
    // Not our child (the hook did not hand it over by exiting): nothing to monitor.
    for (int i = 0; i < restart_nfds_; i++) close(restart_fds_[i]);
    restart_pid_ = 0;
    restart_nfds_ = 0;
    done_ = true;
    return;
  }
  adopt();
}

void Monitor::adopt() {
  pid_ = restart_pid_;
  restart_pid_ = 0;
  exited_ = false;
  exit_payload_len_ = 0;
  if (pty_)
    setup_streams(restart_fds_[0], -1, -1, -1);
  else
    setup_streams(-1, restart_fds_[0], restart_fds_[1], restart_nfds_ > 2 ? restart_fds_[2] : -1);
  restart_nfds_ = 0;
  for (int& fd : restart_fds_) fd = -1;
}

}  // namespace berth::monitor
