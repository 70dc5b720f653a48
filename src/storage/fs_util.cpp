#include "storage/fs_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include "base/file.h"

namespace berth::storage {

std::string random_name() {
  unsigned char bytes[8] = {};
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  if (got < sizeof bytes) {  // no entropy source: pid and time still avoid collisions here
    uint64_t v = static_cast<uint64_t>(::getpid()) << 32 ^ static_cast<uint64_t>(::time(nullptr));
    for (auto& b : bytes) b ^= static_cast<unsigned char>(v >>= 8);
  }
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  for (unsigned char b : bytes) {
    s += kHex[b >> 4];
    s += kHex[b & 0xf];
  }
  return s;
}

Result<UniqueFd> open_dir(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return sys_error("open directory", path);
  return UniqueFd(fd);
}

Status pwrite_all(int fd, const void* data, size_t n, off_t off, const std::string& what) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::pwrite(fd, p, n, off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return sys_error("write", what);
    }
    if (w == 0) return Error(ENOSPC, "write", what);
    p += w;
    n -= static_cast<size_t>(w);
    off += w;
  }
  return ok();
}

Status fsync_fd(int fd, const std::string& what) {
  if (::fsync(fd) < 0) return sys_error("fsync", what);
  return ok();
}

Status lock_exclusive(int fd, bool wait, const std::string& what) {
  int op = LOCK_EX | (wait ? 0 : LOCK_NB);
  while (::flock(fd, op) < 0) {
    if (errno != EINTR) return sys_error("lock", what);
  }
  return ok();
}

bool still_linked(int dirfd, const std::string& name, int fd) {
  struct stat a, b;
  if (::fstatat(dirfd, name.c_str(), &a, AT_SYMLINK_NOFOLLOW) < 0) return false;
  if (::fstat(fd, &b) < 0) return false;
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

namespace {

Status remove_children(int dfd, const std::string& shown) {
  DIR* d = ::fdopendir(dfd);
  if (d == nullptr) {
    ::close(dfd);
    return sys_error("open directory", shown);
  }
  Status st;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    st = remove_tree_at(::dirfd(d), e->d_name);
    if (!st) break;
  }
  ::closedir(d);
  return st;
}

}  // namespace

Status remove_tree_at(int dirfd, const std::string& name) {
  if (::unlinkat(dirfd, name.c_str(), 0) == 0 || errno == ENOENT) return ok();
  if (errno != EISDIR && errno != EPERM && errno != EACCES) return sys_error("remove", name);
  int fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == EACCES) {
    ::fchmodat(dirfd, name.c_str(), 0700, 0);
    fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  }
  if (fd < 0) return sys_error("remove", name);
  struct stat st;
  // A directory without write permission (0555 in an image) keeps its entries from an
  // unprivileged caller: make it writable first. Root does not need this.
  if (::fstat(fd, &st) == 0 && (st.st_mode & 0700) != 0700) ::fchmod(fd, st.st_mode | 0700);
  TRY(remove_children(fd, name));
  if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) < 0 && errno != ENOENT)
    return sys_error("remove directory", name);
  return ok();
}

Status remove_tree(const std::string& path) {
  std::string parent = dirname_of(path);
  int pfd = ::open(parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (pfd < 0) {
    if (errno == ENOENT) return ok();
    return sys_error("open directory", parent);
  }
  UniqueFd guard(pfd);
  Status st = remove_tree_at(pfd, basename_of(path));
  if (!st) return std::move(st).error().context("remove " + path);
  return ok();
}

}  // namespace berth::storage
