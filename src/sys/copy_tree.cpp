#include "sys/copy_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "base/fd.h"

namespace berth::sys {
namespace {

// Where copy_file_range cannot cross filesystems: plain reads and writes from the current offsets.
Status copy_by_read(int in, int out, const char* name) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_error("read for copy", name);
    if (n == 0) return ok();
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(out, buf + off, static_cast<size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return sys_error("write copy", name);
      off += w;
    }
  }
}

Status copy_file(int src_dir, int dst_dir, const char* name, const struct stat& st) {
  UniqueFd in(::openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!in) return sys_error("open for copy", name);
  UniqueFd out(::openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                        st.st_mode & 07777));
  if (!out) return sys_error("create copy", name);
  for (off_t left = st.st_size; left > 0;) {
    ssize_t n =
        ::copy_file_range(in.get(), nullptr, out.get(), nullptr, static_cast<size_t>(left), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP || errno == ENOSYS))
      return copy_by_read(in.get(), out.get(), name);
    if (n < 0) return sys_error("copy", name);
    if (n == 0) break;  // the file shrank
    left -= n;
  }
  return ok();
}

Status copy_entry(int src_dir, int dst_dir, const char* name) {
  struct stat st;
  if (::fstatat(src_dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return sys_error("stat for copy", name);
  if (S_ISDIR(st.st_mode)) {
    if (::mkdirat(dst_dir, name, st.st_mode & 07777) < 0) return sys_error("mkdir copy", name);
    UniqueFd s(::openat(src_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    UniqueFd d(::openat(dst_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!s || !d) return sys_error("open directory for copy", name);
    TRY(copy_tree(s.get(), d.get()));
  } else if (S_ISREG(st.st_mode)) {
    TRY(copy_file(src_dir, dst_dir, name, st));
  } else if (S_ISLNK(st.st_mode)) {
    char target[4096];
    ssize_t n = ::readlinkat(src_dir, name, target, sizeof target - 1);
    if (n < 0) return sys_error("readlink for copy", name);
    target[n] = '\0';
    if (::symlinkat(target, dst_dir, name) < 0) return sys_error("symlink copy", name);
  } else if (::mknodat(dst_dir, name, st.st_mode, st.st_rdev) < 0) {
    return sys_error("mknod copy", name);
  }
  if (::fchownat(dst_dir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0 && errno != EPERM)
    return sys_error("chown copy", name);
  if (!S_ISLNK(st.st_mode) && ::fchmodat(dst_dir, name, st.st_mode & 07777, 0) < 0)
    return sys_error("chmod copy", name);
  struct timespec times[2] = {st.st_atim, st.st_mtim};
  (void)::utimensat(dst_dir, name, times, AT_SYMLINK_NOFOLLOW);
  return ok();
}

}  // namespace

Status copy_tree(int src_dir_fd, int dst_dir_fd) {
  int fd = ::dup(src_dir_fd);
  if (fd < 0) return sys_error("dup directory fd");
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    ::close(fd);
    return sys_error("opendir for copy");
  }
  ::rewinddir(d);
  Status st;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    if (!(st = copy_entry(::dirfd(d), dst_dir_fd, e->d_name))) break;
  }
  ::closedir(d);
  return st;
}

}  // namespace berth::sys
