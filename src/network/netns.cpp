#include "network/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "base/fd.h"
#include "base/file.h"

namespace berth::network {
namespace {

// Makes dir a shared mount point: a bind mount of itself first when it is not a mount point
// (MS_SHARED on a plain directory fails with EINVAL).
Status make_shared_mount_point(const std::string& dir) {
  if (mount("", dir.c_str(), "none", MS_SHARED | MS_REC, nullptr) == 0) return ok();
  if (errno != EINVAL) return sys_error("make shared mount", dir);
  if (mount(dir.c_str(), dir.c_str(), "none", MS_BIND | MS_REC, nullptr) < 0)
    return sys_error("bind mount onto itself", dir);
  if (mount("", dir.c_str(), "none", MS_SHARED | MS_REC, nullptr) < 0)
    return sys_error("make shared mount", dir);
  return ok();
}

// In a thread of its own: a new network namespace, bind-mounted at path. Threads share the
// mount namespace, so the mount is visible to the whole process; the calling thread keeps
// its network namespace.
Status unshare_and_bind(const std::string& path) {
  Status out;
  std::thread t([&] {
    if (unshare(CLONE_NEWNET) < 0) {
      out = sys_error("unshare network namespace for", path);
      return;
    }
    if (mount("/proc/thread-self/ns/net", path.c_str(), "none", MS_BIND, nullptr) < 0)
      out = sys_error("bind mount network namespace at", path);
  });
  t.join();
  return out;
}

}  // namespace

Result<std::string> create_netns(const std::string& path) {
  if (path.empty() || path[0] != '/')
    return Error::invalid("network namespace path is not absolute", path);
  std::string dir = dirname_of(path);
  TRY(mkdir_all(dir, 0755));
  TRY(make_shared_mount_point(dir));
  {
    int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (fd < 0) return sys_error("create network namespace file", path);
    UniqueFd owned(fd);
  }
  Status s = unshare_and_bind(path);
  if (!s) {
    ::unlink(path.c_str());
    return std::move(s).error();
  }
  return path;
}

Status remove_netns(const std::string& path) {
  if (umount2(path.c_str(), MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
    return sys_error("unmount network namespace", path);
  if (::unlink(path.c_str()) < 0 && errno != ENOENT)
    return sys_error("remove network namespace file", path);
  return ok();
}

}  // namespace berth::network
