#include "sys/path_resolve.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "base/file.h"
#include "base/strings.h"

namespace berth::sys {

Result<UniqueFd> open_in_root(int root_fd, const std::string& path, int flags, mode_t mode) {
  struct open_how how = {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  std::string rel = path;
  while (!rel.empty() && rel.front() == '/') rel.erase(0, 1);
  if (rel.empty()) rel = ".";
  for (;;) {
    long fd = ::syscall(SYS_openat2, root_fd, rel.c_str(), &how, sizeof how);
    if (fd >= 0) return UniqueFd(static_cast<int>(fd));
    if (errno == EINTR || errno == EAGAIN) continue;
    return sys_error("open in container root", path);
  }
}

Result<UniqueFd> mkdir_in_root(int root_fd, const std::string& path, mode_t mode) {
  // Usually the directory exists (/proc, /dev, /sys in an image): one lookup.
  if (auto existing = open_in_root(root_fd, path, O_PATH | O_DIRECTORY)) return existing;
  std::string clean = clean_path(path);
  UniqueFd cur = TRY(open_in_root(root_fd, "/", O_PATH | O_DIRECTORY));
  std::string prefix;
  for (const auto& part : split(clean, '/')) {
    if (part.empty()) continue;
    prefix += '/';
    prefix += part;
    if (::mkdirat(cur.get(), part.c_str(), mode) < 0 && errno != EEXIST)
      return sys_error("mkdir in container root", prefix);
    // Re-resolve from the root so a symlinked component stays inside it.
    cur = TRY(open_in_root(root_fd, prefix, O_PATH | O_DIRECTORY));
  }
  return cur;
}

Result<UniqueFd> ensure_in_root(int root_fd, const std::string& path, bool dir) {
  if (dir) return mkdir_in_root(root_fd, path);
  auto existing = open_in_root(root_fd, path, O_PATH);
  if (existing) return existing;
  std::string clean = clean_path(path);
  UniqueFd parent = TRY(mkdir_in_root(root_fd, dirname_of(clean)));
  std::string name = basename_of(clean);
  int fd = ::openat(parent.get(), name.c_str(), O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0 && errno != EEXIST) return sys_error("create mount point", path);
  if (fd >= 0) ::close(fd);
  return open_in_root(root_fd, path, O_PATH);
}

std::string fd_path(int fd) {
  return "/proc/self/fd/" + std::to_string(fd);
}

}  // namespace berth::sys
