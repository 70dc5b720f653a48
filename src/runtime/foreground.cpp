#include "runtime/foreground.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <optional>

#include "base/fd.h"
#include "sys/process.h"

namespace berth::runtime {
namespace {

sigset_t forwarded_set() {
  sigset_t s;
  sigemptyset(&s);
  for (int sig : {SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT,
                  SIGTSTP, SIGTTIN, SIGTTOU, SIGPIPE, SIGALRM})
    sigaddset(&s, sig);
  return s;
}

// Raw mode on a tty for the life of the object.
class RawTerminal {
 public:
  explicit RawTerminal(int fd) : fd_(fd) {
    if (!::isatty(fd) || ::tcgetattr(fd, &saved_) < 0) return;
    struct termios raw = saved_;
    ::cfmakeraw(&raw);
    raw.c_oflag = saved_.c_oflag;  // keep output processing: the pty does its own
    active_ = ::tcsetattr(fd, TCSANOW, &raw) == 0;
  }
  ~RawTerminal() {
    if (active_) ::tcsetattr(fd_, TCSANOW, &saved_);
  }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  int fd_;
  struct termios saved_ = {};
  bool active_ = false;
};

void copy_winsize(int from, int to) {
  struct winsize ws;
  if (::ioctl(from, TIOCGWINSZ, &ws) == 0) ::ioctl(to, TIOCSWINSZ, &ws);
}

// Copies what is readable from in to out; false on EOF or error.
bool pump(int in, int out) {
  char buf[16384];
  ssize_t n = ::read(in, buf, sizeof buf);
  if (n <= 0) return n < 0 && (errno == EINTR || errno == EAGAIN);
  for (ssize_t off = 0; off < n;) {
    ssize_t w = ::write(out, buf + off, static_cast<size_t>(n - off));
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += w;
  }
  return true;
}

}  // namespace

SignalForwarding::SignalForwarding() {
  sigset_t s = forwarded_set();
  static_assert(sizeof old_mask_ >= sizeof(sigset_t));
  ::sigprocmask(SIG_BLOCK, &s, reinterpret_cast<sigset_t*>(old_mask_));
  sigfd_ = ::signalfd(-1, &s, SFD_CLOEXEC | SFD_NONBLOCK);
}

SignalForwarding::~SignalForwarding() {
  if (sigfd_ >= 0) ::close(sigfd_);
  ::sigprocmask(SIG_SETMASK, reinterpret_cast<sigset_t*>(old_mask_), nullptr);
}

Result<int> SignalForwarding::wait(pid_t pid, int master) {
  if (sigfd_ < 0) return sys_error("signalfd");
  std::optional<RawTerminal> raw;
  bool stdin_open = master >= 0;
  if (master >= 0) {
    raw.emplace(0);
    copy_winsize(0, master);
  }
  for (;;) {
    int ws = 0;
    pid_t r = ::waitpid(pid, &ws, WNOHANG);
    if (r == pid) {
      if (master >= 0)
        while (pump(master, 1)) {
          struct pollfd p = {master, POLLIN, 0};
          if (::poll(&p, 1, 0) <= 0) break;
        }
      return sys::exit_status_of(ws);
    }
    if (r < 0 && errno != EINTR)
      return sys_error("wait for container process", std::to_string(pid));
    struct pollfd fds[3] = {
        {sigfd_, POLLIN, 0}, {master, POLLIN, 0}, {stdin_open ? 0 : -1, POLLIN, 0}};
    if (::poll(fds, master >= 0 ? 3 : 1, -1) < 0 && errno != EINTR) return sys_error("poll");
    if (fds[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (::read(sigfd_, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
        int sig = static_cast<int>(si.ssi_signo);
        if (sig == SIGCHLD) continue;
        if (sig == SIGWINCH && master >= 0) {
          copy_winsize(0, master);
          continue;
        }
        ::kill(pid, sig);
      }
    }
    if (master >= 0 && (fds[1].revents & (POLLIN | POLLHUP)) && !pump(master, 1)) master = -1;
    if (stdin_open && (fds[2].revents & (POLLIN | POLLHUP)) && !pump(0, master)) stdin_open = false;
  }
}

Status send_console(const std::string& socket_path, int master) {
  int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return sys_error("socket", "console socket");
  UniqueFd sock(s);
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path)
    return Error(ENAMETOOLONG, "console socket", socket_path);
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size());
  if (::connect(s, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) < 0)
    return sys_error("connect to console socket", socket_path);
  char name[] = "/dev/ptmx";
  struct iovec iov = {name, sizeof name - 1};
  struct msghdr mh = {};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))] = {};
  mh.msg_control = cbuf;
  mh.msg_controllen = sizeof cbuf;
  struct cmsghdr* c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &master, sizeof(int));
  if (::sendmsg(s, &mh, MSG_NOSIGNAL) < 0)
    return sys_error("send pty to console socket", socket_path);
  return ok();
}

}  // namespace berth::runtime
