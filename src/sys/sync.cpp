#include "sys/sync.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace berth::sys {

Result<std::pair<SyncSocket, SyncSocket>> SyncSocket::pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
    return sys_error("socketpair", "sync channel");
  return std::make_pair(SyncSocket(UniqueFd(fds[0])), SyncSocket(UniqueFd(fds[1])));
}

bool SyncSocket::send(const Msg& m, int fd_to_pass) const {
  struct iovec iov = {const_cast<Msg*>(&m), sizeof m};
  struct msghdr mh = {};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))] = {};
  if (fd_to_pass >= 0) {
    mh.msg_control = cbuf;
    mh.msg_controllen = sizeof cbuf;
    struct cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd_to_pass, sizeof(int));
  }
  for (;;) {
    ssize_t n = ::sendmsg(fd_.get(), &mh, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    return n == static_cast<ssize_t>(sizeof m);
  }
}

bool SyncSocket::recv(Msg* m, int* fd_out) const {
  struct iovec iov = {m, sizeof *m};
  struct msghdr mh = {};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))] = {};
  mh.msg_control = cbuf;
  mh.msg_controllen = sizeof cbuf;
  ssize_t n;
  do {
    n = ::recvmsg(fd_.get(), &mh, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(sizeof *m)) return false;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&mh); c != nullptr; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
      if (fd_out != nullptr) {
        *fd_out = fd;
      } else {
        ::close(fd);
      }
    }
  }
  return true;
}

bool send_simple(const SyncSocket& s, MsgType t, int64_t value) {
  Msg m;
  m.type = t;
  m.value = value;
  return s.send(m);
}

static void copy_str(char* dst, size_t cap, const char* src) {
  if (src == nullptr) src = "";
  size_t n = std::strlen(src);
  if (n >= cap) n = cap - 1;
  std::memcpy(dst, src, n);
  dst[n] = '\0';
}

bool send_error(const SyncSocket& s, const char* step, int err, const char* detail) {
  Msg m;
  m.type = MsgType::kError;
  m.err = err;
  copy_str(m.step, sizeof m.step, step);
  copy_str(m.detail, sizeof m.detail, detail);
  return s.send(m);
}

Error error_from_msg(const Msg& m) {
  std::string step(m.step, strnlen(m.step, sizeof m.step));
  std::string detail(m.detail, strnlen(m.detail, sizeof m.detail));
  return Error(m.err, step, detail);
}

}  // namespace berth::sys
