// The attach socket's server side (docs/monitor.md, "Attach protocol").
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <termios.h>
#include <unistd.h>

#include "monitor/monitor.h"
#include "monitor/protocol.h"

namespace berth::monitor {

void Monitor::accept_clients() {
  for (;;) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN (the listener is non-blocking), or a transient error
    Client* slot = nullptr;
    for (Client& c : clients_)
      if (c.fd < 0) {
        slot = &c;
        break;
      }
    if (!slot) {
      close(fd);  // full: the client sees EOF without an exit frame
      continue;
    }
    // Output is written blocking, so nothing is lost, but never for longer than this.
    struct timeval tv = {kClientSendTimeoutSec, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    *slot = Client{};
    slot->fd = fd;
  }
}

bool Monitor::send_frame(Client& c, uint8_t type, const void* p, size_t n) {
  unsigned char h[kFrameHeaderSize];
  encode_header(h, type, static_cast<uint32_t>(n));
  struct iovec iov[2] = {{h, sizeof h}, {const_cast<void*>(p), n}};
  struct msghdr mh = {};
  mh.msg_iov = iov;
  mh.msg_iovlen = 2;
  size_t left = sizeof h + n;
  while (left > 0) {
    ssize_t w = sendmsg(c.fd, &mh, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;  // EAGAIN here is the send timeout
    left -= static_cast<size_t>(w);
    size_t k = static_cast<size_t>(w);
    while (k > 0 && mh.msg_iovlen > 0) {
      size_t take = k < mh.msg_iov->iov_len ? k : mh.msg_iov->iov_len;
      mh.msg_iov->iov_base = static_cast<char*>(mh.msg_iov->iov_base) + take;
      mh.msg_iov->iov_len -= take;
      k -= take;
      if (mh.msg_iov->iov_len == 0) {
        mh.msg_iov++;
        mh.msg_iovlen--;
      }
    }
  }
  return true;
}

void Monitor::broadcast(uint8_t type, const unsigned char* p, size_t n) {
  uint8_t want = type == kFrameStderr ? kWantStderr : kWantStdout;
  for (Client& c : clients_)
    if (c.fd >= 0 && c.have_flags && (c.flags & want) && !send_frame(c, type, p, n)) drop_client(c);
}

void Monitor::send_exit_and_close(Client& c) {
  send_frame(c, kFrameExit, exit_payload_, exit_payload_len_);
  // Unread input makes close() reset the connection; read it away first (bounded).
  char junk[4096];
  for (int i = 0; i < 16 && recv(c.fd, junk, sizeof junk, MSG_DONTWAIT) > 0; i++) {
  }
  shutdown(c.fd, SHUT_WR);
  close(c.fd);
  c = Client{};
}

void Monitor::drop_client(Client& c) {
  bool once = c.once && !c.stdin_done;
  close(c.fd);
  c = Client{};
  if (once) request_stdin_close();
}

void Monitor::close_all_clients() {
  for (Client& c : clients_)
    if (c.fd >= 0) {
      close(c.fd);
      c = Client{};
    }
}

bool Monitor::read_client_flags(Client& c) {
  unsigned char b;
  ssize_t n = recv(c.fd, &b, 1, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
  if (n <= 0) return false;
  c.have_flags = true;
  c.flags = b & (kWantStdin | kWantStdout | kWantStderr | kOwnsExit);
  if ((c.flags & kWantStdin) && o_->stdin_once && !once_taken_) {
    c.once = true;
    once_taken_ = true;
  }
  if ((b & kWantAck) && !send_frame(c, kFrameAttached, nullptr, 0)) return false;
  if (exited_) send_exit_and_close(c);
  return true;
}

// A header is complete: check it; frames without payload take effect now.
bool Monitor::finish_header(Client& c) {
  uint32_t len = get_be32(c.hdr + 4);
  switch (c.hdr[0]) {
    case kFrameStdin:
      if (len > kMaxClientFrame) return false;
      break;
    case kFrameResize:
      if (len != 4) return false;
      c.small_len = 0;
      break;
    case kFrameCloseStdin:
      if (len != 0) return false;
      if (c.once && !c.stdin_done) request_stdin_close();
      c.stdin_done = true;
      break;
    default:
      return false;  // protocol error: the client is dropped
  }
  c.left = len;
  if (len == 0) c.hdr_len = 0;
  return true;
}

// Reads some payload; false when nothing more can be read now (or the client is gone).
bool Monitor::read_client_payload(Client& c) {
  char junk[4096];
  void* dst = junk;
  size_t room = c.left < sizeof junk ? c.left : sizeof junk;
  bool to_stdin = c.hdr[0] == kFrameStdin && (c.flags & kWantStdin) && !c.stdin_done && stdin_fd_ >= 0 &&
                  !stdin_close_pending_;
  if (to_stdin) {
    room = sizeof stdin_buf_ - stdin_len_;
    if (room == 0) return false;  // wait until the container read some
    if (room > c.left) room = c.left;
    dst = stdin_buf_ + stdin_len_;
  } else if (c.hdr[0] == kFrameResize) {
    dst = c.small + c.small_len;
    room = c.left;
  }
  ssize_t n = recv(c.fd, dst, room, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return false;
  if (n <= 0) {
    drop_client(c);
    return false;
  }
  c.left -= static_cast<uint32_t>(n);
  if (to_stdin) stdin_len_ += static_cast<size_t>(n);
  if (c.hdr[0] == kFrameResize) c.small_len += static_cast<size_t>(n);
  if (c.left > 0) return true;
  c.hdr_len = 0;
  int master = pty_ ? (stdin_fd_ >= 0 ? stdin_fd_ : out_.fd) : -1;
  if (c.hdr[0] == kFrameResize && master >= 0) {
    struct winsize ws = {};
    ws.ws_row = static_cast<unsigned short>((c.small[0] << 8) | c.small[1]);
    ws.ws_col = static_cast<unsigned short>((c.small[2] << 8) | c.small[3]);
    ioctl(master, TIOCSWINSZ, &ws);
  }
  return true;
}

void Monitor::read_client(Client& c) {
  if (!c.have_flags) {
    if (!read_client_flags(c)) drop_client(c);
    return;
  }
  // Bounded, so one chatty client cannot starve the rest of the loop.
  for (int round = 0; round < 64 && c.fd >= 0; round++) {
    if (c.hdr_len < kFrameHeaderSize) {
      ssize_t n = recv(c.fd, c.hdr + c.hdr_len, kFrameHeaderSize - c.hdr_len, MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
      if (n <= 0) {
        drop_client(c);
        return;
      }
      c.hdr_len += static_cast<size_t>(n);
      if (c.hdr_len == kFrameHeaderSize && !finish_header(c)) {
        drop_client(c);
        return;
      }
      continue;
    }
    if (!read_client_payload(c)) break;
  }
  if (stdin_len_ > 0) write_stdin();
}

}  // namespace berth::monitor
