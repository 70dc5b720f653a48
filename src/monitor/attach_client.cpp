#include "monitor/attach_client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <optional>

#include "base/strings.h"
#include "monitor/protocol.h"

namespace berth::monitor {
namespace {

constexpr size_t kMaxPending = 64 * 1024;
const int kProxied[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM};
const int kRawInterrupts[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM};

// Raw mode on a terminal for the life of the object (output processing kept: the
// container's pty does its own).
class RawTerminal {
 public:
  explicit RawTerminal(int fd) : fd_(fd) {
    if (!::isatty(fd) || ::tcgetattr(fd, &saved_) < 0) return;
    struct termios raw = saved_;
    ::cfmakeraw(&raw);
    raw.c_oflag = saved_.c_oflag;
    active_ = ::tcsetattr(fd, TCSANOW, &raw) == 0;
  }
  ~RawTerminal() {
    if (active_) ::tcsetattr(fd_, TCSANOW, &saved_);
  }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;
  bool active() const { return active_; }

 private:
  int fd_;
  struct termios saved_ = {};
  bool active_ = false;
};

// Blocks a set of signals and reads them from a signalfd; the old mask comes back after.
class SignalCatcher {
 public:
  explicit SignalCatcher(const sigset_t& set) {
    ::pthread_sigmask(SIG_BLOCK, &set, &old_);
    fd_.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  }
  ~SignalCatcher() {
    fd_.reset();
    ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SignalCatcher(const SignalCatcher&) = delete;
  SignalCatcher& operator=(const SignalCatcher&) = delete;
  int fd() const { return fd_.get(); }

 private:
  sigset_t old_;
  UniqueFd fd_;
};

void append_frame(std::string& out, uint8_t type, const void* p, size_t n) {
  unsigned char h[kFrameHeaderSize];
  encode_header(h, type, static_cast<uint32_t>(n));
  out.append(reinterpret_cast<const char*>(h), sizeof h);
  out.append(static_cast<const char*>(p), n);
}

Status write_out(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {  // someone made our terminal non-blocking
      struct pollfd pf = {fd, POLLOUT, 0};
      ::poll(&pf, 1, -1);
      continue;
    }
    if (w <= 0) return sys_error("write container output");
    p += w;
    n -= static_cast<size_t>(w);
  }
  return ok();
}

// Holds back a possible start of the detach sequence; finds it whole.
class DetachMatcher {
 public:
  explicit DetachMatcher(std::string keys) : keys_(std::move(keys)) {}
  // Appends to out what is really input; true when the sequence was completed.
  bool feed(const char* p, size_t n, std::string& out) {
    for (size_t i = 0; i < n; i++) {
      if (keys_.empty()) {
        out += p[i];
        continue;
      }
      if (p[i] == keys_[matched_]) {
        if (++matched_ == keys_.size()) return true;
        continue;
      }
      out.append(keys_, 0, matched_);  // not the sequence after all: the held bytes are input
      matched_ = 0;
      out += p[i];
    }
    return false;
  }

 private:
  std::string keys_;
  size_t matched_ = 0;
};

class Session {
 public:
  Session(const AttachOptions& o, UniqueFd sock, std::string keys)
      : o_(o), sock_(std::move(sock)), detach_(std::move(keys)) {}
  Result<AttachResult> run();

 private:
  sigset_t signal_set(bool raw) const;
  std::optional<Result<AttachResult>> on_signal_fd(int sigfd, bool raw);
  std::optional<Result<AttachResult>> on_input();
  std::optional<Result<AttachResult>> on_socket();
  std::optional<Result<AttachResult>> on_frame_bytes(const char* p, size_t n);
  void queue_resize();
  void flush_pending(int timeout_ms);

  const AttachOptions& o_;
  UniqueFd sock_;
  DetachMatcher detach_;
  std::string pending_;  // bytes for the monitor not yet sent
  bool send_failed_ = false;
  bool stdin_open_ = false;
  unsigned char hdr_[kFrameHeaderSize];
  size_t hdr_len_ = 0;
  uint32_t left_ = 0;
  std::string exit_payload_;
};

sigset_t Session::signal_set(bool raw) const {
  sigset_t s;
  sigemptyset(&s);
  if (o_.tty) sigaddset(&s, SIGWINCH);
  if (o_.on_signal)
    for (int sig : kProxied) sigaddset(&s, sig);
  else if (raw)
    for (int sig : kRawInterrupts) sigaddset(&s, sig);
  return s;
}

void Session::queue_resize() {
  struct winsize ws = {};
  int fd = ::isatty(o_.out_fd) ? o_.out_fd : o_.in_fd;
  if (::ioctl(fd, TIOCGWINSZ, &ws) < 0 || ws.ws_row == 0) return;
  unsigned char p[4] = {static_cast<unsigned char>(ws.ws_row >> 8), static_cast<unsigned char>(ws.ws_row),
                        static_cast<unsigned char>(ws.ws_col >> 8), static_cast<unsigned char>(ws.ws_col)};
  append_frame(pending_, kFrameResize, p, sizeof p);
}

// Sends what is pending without blocking (timeout 0), or waiting up to timeout_ms.
void Session::flush_pending(int timeout_ms) {
  while (!pending_.empty() && !send_failed_) {
    ssize_t w = ::send(sock_.get(), pending_.data(), pending_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      struct pollfd pf = {sock_.get(), POLLOUT, 0};
      if (timeout_ms == 0 || ::poll(&pf, 1, timeout_ms) <= 0) return;
      continue;
    }
    if (w < 0) {  // the monitor closed: keep reading for its exit frame
      send_failed_ = true;
      pending_.clear();
      return;
    }
    pending_.erase(0, static_cast<size_t>(w));
  }
}

std::optional<Result<AttachResult>> Session::on_signal_fd(int sigfd, bool raw) {
  struct signalfd_siginfo si;
  while (::read(sigfd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
    int sig = static_cast<int>(si.ssi_signo);
    if (sig == SIGWINCH) {
      queue_resize();
    } else if (o_.on_signal) {
      o_.on_signal(sig);
    } else if (raw) {
      return Result<AttachResult>(Error(EINTR, "attach to container", "interrupted by signal " + std::to_string(sig)));
    }
  }
  return std::nullopt;
}

std::optional<Result<AttachResult>> Session::on_input() {
  char buf[4096];
  ssize_t n = ::read(o_.in_fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return std::nullopt;
  if (n <= 0) {  // EOF (or EIO: the terminal went away): the container's stdin ends
    stdin_open_ = false;
    append_frame(pending_, kFrameCloseStdin, nullptr, 0);
    return std::nullopt;
  }
  std::string input;
  bool detached = detach_.feed(buf, static_cast<size_t>(n), input);
  if (!input.empty()) append_frame(pending_, kFrameStdin, input.data(), input.size());
  if (!detached) return std::nullopt;
  flush_pending(1000);
  AttachResult r;
  r.detached = true;
  return r;
}

std::optional<Result<AttachResult>> Session::on_frame_bytes(const char* p, size_t n) {
  while (n > 0) {
    if (hdr_len_ < kFrameHeaderSize) {
      size_t k = std::min(n, kFrameHeaderSize - hdr_len_);
      std::memcpy(hdr_ + hdr_len_, p, k);
      hdr_len_ += k;
      p += k;
      n -= k;
      if (hdr_len_ < kFrameHeaderSize) break;
      left_ = get_be32(hdr_ + 4);
      uint8_t t = hdr_[0];
      if (t != kFrameStdout && t != kFrameStderr && t != kFrameExit && t != kFrameAttached)
        return Result<AttachResult>(Error::invalid("container monitor sent an unknown frame type", std::to_string(t)));
      if (t == kFrameAttached && left_ != 0)
        return Result<AttachResult>(Error::invalid("container monitor sent a bad attached frame"));
      if (t == kFrameExit && (left_ < 4 || left_ > kMaxExitPayload))
        return Result<AttachResult>(Error::invalid("container monitor sent a bad exit frame"));
    } else {
      size_t k = std::min<size_t>(n, left_);
      if (hdr_[0] == kFrameExit) {
        exit_payload_.append(p, k);
      } else {
        int fd = hdr_[0] == kFrameStderr ? o_.err_fd : o_.out_fd;
        Status st = write_out(fd, p, k);
        if (!st) return Result<AttachResult>(std::move(st).error());
      }
      p += k;
      n -= k;
      left_ -= static_cast<uint32_t>(k);
    }
    if (hdr_len_ == kFrameHeaderSize && left_ == 0) {
      if (hdr_[0] == kFrameExit) {
        AttachResult r;
        r.exit_status = static_cast<int>(get_be32(reinterpret_cast<const unsigned char*>(exit_payload_.data())));
        r.finished_at = exit_payload_.substr(4);
        return r;
      }
      if (hdr_[0] == kFrameAttached && o_.on_connected) {
        Status st = o_.on_connected();
        if (!st) return Result<AttachResult>(std::move(st).error());
      }
      hdr_len_ = 0;
    }
  }
  return std::nullopt;
}

std::optional<Result<AttachResult>> Session::on_socket() {
  char buf[65536];
  ssize_t n = ::recv(sock_.get(), buf, sizeof buf, MSG_DONTWAIT);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return std::nullopt;
  if (n <= 0) return Result<AttachResult>(Error::invalid("container monitor disconnected"));
  return on_frame_bytes(buf, static_cast<size_t>(n));
}

Result<AttachResult> Session::run() {
  uint8_t flags = (o_.attach_stdin ? kWantStdin : 0) | (o_.attach_stdout ? kWantStdout : 0) |
                  (o_.attach_stderr ? kWantStderr : 0) | (o_.on_connected ? kWantAck : 0) |
                  (o_.owns_exit ? kOwnsExit : 0);
  pending_.push_back(static_cast<char>(flags));
  stdin_open_ = o_.attach_stdin;
  std::optional<RawTerminal> raw;
  if (o_.tty && o_.attach_stdin) raw.emplace(o_.in_fd);
  bool is_raw = raw && raw->active();
  SignalCatcher signals(signal_set(is_raw));
  if (o_.tty) queue_resize();
  for (;;) {
    flush_pending(0);
    struct pollfd fds[3] = {
        {sock_.get(), static_cast<short>(POLLIN | (pending_.empty() ? 0 : POLLOUT)), 0},
        {stdin_open_ && pending_.size() < kMaxPending ? o_.in_fd : -1, POLLIN, 0},
        {signals.fd(), POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return sys_error("poll attach socket");
    }
    std::optional<Result<AttachResult>> r;
    if (fds[2].revents) r = on_signal_fd(signals.fd(), is_raw);
    if (!r && fds[1].revents) r = on_input();
    if (!r && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) r = on_socket();
    if (r) return std::move(*r);
  }
}

}  // namespace

Result<std::string> parse_detach_keys(const std::string& keys) {
  std::string out;
  for (const std::string& k : split(keys, ',')) {
    if (k.size() == 1) {
      out += k[0];
      continue;
    }
    static const char kCtrl[] = "@abcdefghijklmnopqrstuvwxyz[\\]^_";
    if (k.size() == 6 && k.compare(0, 5, "ctrl-") == 0) {
      const char* at = std::strchr(kCtrl, k[5]);
      if (at && *at) {
        out += static_cast<char>(at - kCtrl);
        continue;
      }
    }
    return Error::invalid("invalid detach keys " + keys + ": unknown key", "'" + k + "'");
  }
  return out;
}

Result<UniqueFd> connect_attach(const std::string& socket_path) {
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path)
    return Error(ENAMETOOLONG, "connect to container monitor", socket_path);
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return sys_error("create socket for container monitor");
  if (::connect(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) < 0)
    return sys_error("connect to container monitor", socket_path);
  return fd;
}

Result<AttachResult> attach(const AttachOptions& opts) {
  std::string keys;
  // docker: empty detach keys mean the default ones.
  if (opts.attach_stdin) keys = TRY(parse_detach_keys(opts.detach_keys.empty() ? "ctrl-p,ctrl-q" : opts.detach_keys));
  UniqueFd sock = TRY(connect_attach(opts.socket_path));
  Session s(opts, std::move(sock), std::move(keys));
  return s.run();
}

Result<int> wait_exit(const std::string& socket_path) {
  AttachOptions o;
  o.socket_path = socket_path;
  o.attach_stdout = o.attach_stderr = false;
  AttachResult r = TRY(attach(o));
  return r.exit_status;
}

}  // namespace berth::monitor
