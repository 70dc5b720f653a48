#include "monitor/monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <initializer_list>  // header only: range-for over a braced list

#include "monitor/protocol.h"

namespace berth::monitor {
namespace {

void set_nonblock(int fd) {
  if (fd < 0) return;
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Where poll entries come from.
enum Tag { kTagSignal, kTagListen, kTagOut, kTagErr, kTagStdin, kTagHook, kTagClient };

}  // namespace

bool Monitor::init(const Options& o) {
  o_ = &o;
  pid_ = o.pid;
  out_.frame = kFrameStdout;
  out_.name = "stdout";
  err_.frame = kFrameStderr;
  err_.name = "stderr";
  if (!log_.open(o.log_path, o.log_max_size, o.log_max_files)) return false;
  setup_streams(o.pty_fd, o.stdout_fd, o.stderr_fd, o.stdin_fd);
  return true;
}

void Monitor::setup_streams(int pty, int out, int err, int in) {
  pty_ = pty >= 0;
  out_.fd = pty_ ? pty : out;
  err_.fd = pty_ ? -1 : err;
  stdin_fd_ = pty_ ? pty : in;
  out_.len = err_.len = 0;
  stdin_len_ = 0;
  stdin_close_pending_ = false;
  once_taken_ = false;
  set_nonblock(out_.fd);
  set_nonblock(err_.fd);
  set_nonblock(stdin_fd_);
}

int Monitor::run(int listen_fd, int sig_fd) {
  listen_fd_ = listen_fd;
  sig_fd_ = sig_fd;
  reap();  // the container may have exited before we got here
  while (!done_) loop();
  close_all_clients();
  unlink(o_->attach_socket);
  return 0;
}

void Monitor::loop() {
  struct pollfd fds[6 + kMaxClients];
  int tags[6 + kMaxClients];
  nfds_t n = 0;
  auto add = [&](int fd, short ev, int tag) {
    fds[n] = {fd, ev, 0};
    tags[n++] = tag;
  };
  add(sig_fd_, POLLIN, kTagSignal);
  add(listen_fd_, POLLIN, kTagListen);
  if (out_.fd >= 0) add(out_.fd, POLLIN, kTagOut);
  if (err_.fd >= 0) add(err_.fd, POLLIN, kTagErr);
  if (stdin_fd_ >= 0 && stdin_len_ > 0) add(stdin_fd_, POLLOUT, kTagStdin);
  if (hook_fd_ >= 0) add(hook_fd_, POLLIN, kTagHook);
  bool room = stdin_len_ < sizeof stdin_buf_;
  for (size_t i = 0; i < kMaxClients; i++)
    if (clients_[i].fd >= 0)
      add(clients_[i].fd, (room || !clients_[i].have_flags) ? POLLIN : 0, kTagClient + static_cast<int>(i));
  if (poll(fds, n, -1) < 0) return;  // EINTR: go round
  for (nfds_t i = 0; i < n && !done_; i++) {
    if (fds[i].revents == 0) continue;
    switch (tags[i]) {
      case kTagSignal: {
        struct signalfd_siginfo si;
        while (read(sig_fd_, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
        }
        reap();
        break;
      }
      case kTagListen: accept_clients(); break;
      case kTagOut: if (out_.fd == fds[i].fd) read_stream(out_); break;
      case kTagErr: if (err_.fd == fds[i].fd) read_stream(err_); break;
      case kTagStdin: if (stdin_fd_ == fds[i].fd) write_stdin(); break;
      case kTagHook: if (hook_fd_ == fds[i].fd) read_hook(); break;
      default: {
        Client& c = clients_[tags[i] - kTagClient];
        if (c.fd == fds[i].fd) read_client(c);
      }
    }
  }
}

bool Monitor::read_stream(Stream& s) {
  ssize_t n = read(s.fd, s.buf + s.len, kLineMax - s.len);
  if (n < 0 && errno == EINTR) return true;
  if (n < 0 && errno == EAGAIN) return false;
  if (n <= 0) {  // EOF, or EIO from a pty master whose slave side is gone
    close_stream(s);
    return false;
  }
  broadcast(s.frame, s.buf + s.len, static_cast<size_t>(n));
  s.len += static_cast<size_t>(n);
  emit_lines(s, false);
  return true;
}

void Monitor::emit_lines(Stream& s, bool flush_partial) {
  size_t start = 0;
  for (size_t i = 0; i < s.len; i++) {
    if (s.buf[i] != '\n') continue;
    log_.write_entry(s.name, s.buf + start, i + 1 - start);
    start = i + 1;
  }
  s.len -= start;
  if (start > 0 && s.len > 0) memmove(s.buf, s.buf + start, s.len);
  if (s.len == kLineMax || (flush_partial && s.len > 0)) {
    log_.write_entry(s.name, s.buf, s.len);
    s.len = 0;
  }
}

void Monitor::close_stream(Stream& s) {
  emit_lines(s, true);
  if (s.fd >= 0 && !(pty_ && s.fd == stdin_fd_)) close(s.fd);
  s.fd = -1;
}

void Monitor::write_stdin() {
  if (stdin_fd_ < 0) {
    stdin_len_ = 0;
    return;
  }
  while (stdin_len_ > 0) {
    ssize_t w = write(stdin_fd_, stdin_buf_, stdin_len_);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) return;
    if (w <= 0) {  // EPIPE: the container closed its stdin; what is left cannot go anywhere
      close_stdin();
      return;
    }
    stdin_len_ -= static_cast<size_t>(w);
    memmove(stdin_buf_, stdin_buf_ + w, stdin_len_);
  }
  if (stdin_close_pending_) close_stdin();
}

// docker closes a container's stdin only without a tty: a pty master is its output too.
void Monitor::request_stdin_close() {
  if (pty_ || stdin_fd_ < 0) return;
  stdin_close_pending_ = true;
  if (stdin_len_ == 0) close_stdin();
}

void Monitor::close_stdin() {
  if (stdin_fd_ >= 0 && !pty_) close(stdin_fd_);
  stdin_fd_ = -1;
  stdin_len_ = 0;
  stdin_close_pending_ = false;
}

void Monitor::reap() {
  for (;;) {
    int ws = 0;
    if (hook_pid_ > 0) {
      // While the hook runs, reap only the hook: a process it hands over as the restarted
      // container is reparented to us and must not be mistaken for an orphan.
      pid_t r = waitpid(hook_pid_, &ws, WNOHANG);
      if (r == 0 || (r < 0 && errno == EINTR)) return;
      hook_exited();
      continue;
    }
    pid_t r = waitpid(-1, &ws, WNOHANG);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return;
    if (r == pid_ && !exited_) container_exited(ws);  // anything else: an orphan, reaped
  }
}

void Monitor::container_exited(int ws) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  char finished[48];
  format_rfc3339nano(now, finished);
  exited_ = true;
  // Drain what the container wrote before it died. A pipe holds it all already; a pty
  // passes it through the line discipline asynchronously, so wait (bounded) for its EIO.
  // Never wait for an EOF that a surviving grandchild holding a pipe could postpone.
  for (Stream* s : {&out_, &err_}) {
    int waited_ms = 0;
    while (s->fd >= 0) {
      if (read_stream(*s)) continue;
      if (s->fd < 0 || !pty_ || waited_ms >= 1000) break;
      struct pollfd p = {s->fd, POLLIN, 0};
      poll(&p, 1, 50);
      waited_ms += 50;  // counted either way: a stream that keeps saying EAGAIN ends too
    }
    if (s->fd >= 0) close_stream(*s);
  }
  if (pty_ && stdin_fd_ >= 0) close(stdin_fd_);  // the master, once
  stdin_fd_ = -1;
  close_stdin();
  int code = 0, sig = 0;
  if (WIFSIGNALED(ws)) {
    sig = WTERMSIG(ws);
    code = 128 + sig;
  } else {
    code = WEXITSTATUS(ws);
  }
  write_exit_file(code, sig, read_oom(), finished);
  put_be32(exit_payload_, static_cast<uint32_t>(code));
  size_t fl = strlen(finished);
  memcpy(exit_payload_ + 4, finished, fl);
  exit_payload_len_ = 4 + fl;
  bool owned = false;  // a connected `berth run` cleans up itself
  for (Client& c : clients_)
    if (c.fd >= 0 && c.have_flags && (c.flags & kOwnsExit)) owned = true;
  for (Client& c : clients_)
    if (c.fd >= 0 && c.have_flags) send_exit_and_close(c);
  if (o_->hook_argc > 0 && !owned)
    start_hook();
  else
    done_ = true;
}

bool Monitor::read_oom() const {
  if (!o_->oom_file) return false;
  int fd = open(o_->oom_file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[4096];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  // cgroup v2 memory.events and v1 memory.oom_control both carry "oom_kill N".
  for (char* line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : nullptr) {
    if (strncmp(line, "oom_kill ", 9) == 0) return strtoll(line + 9, nullptr, 10) > 0;
  }
  return false;
}

// The record lives in the run root: runtime state, meaningless after a reboot (as /run is), so
// it is renamed into place for readers but not fsynced (two fsyncs were ~0.5 ms of every
// container's exit on this disk).
void Monitor::write_exit_file(int code, int sig, bool oom, const char* finished) {
  char json[256];
  int n = snprintf(json, sizeof json, "{\"ExitCode\":%d,\"Signal\":%d,\"FinishedAt\":\"%s\",\"OOMKilled\":%s}",
                   code, sig, finished, oom ? "true" : "false");
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", o_->exit_file);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;  // nowhere to report it; the attach clients still get the status
  bool ok = write_all(fd, json, static_cast<size_t>(n));
  close(fd);
  if (!ok || rename(tmp, o_->exit_file) != 0) unlink(tmp);
}

}  // namespace berth::monitor
