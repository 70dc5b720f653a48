#include "runtime/devices.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>

#include "base/file.h"
#include "sys/path_resolve.h"

namespace berth::runtime {
namespace {

oci::Device make(const char* path, int64_t major, int64_t minor) {
  oci::Device d;
  d.type = "c";
  d.path = path;
  d.major = major;
  d.minor = minor;
  d.file_mode = 0666;
  d.uid = 0;
  d.gid = 0;
  return d;
}

const oci::Device kDefaults[] = {make("/dev/null", 1, 3),    make("/dev/zero", 1, 5),
                                 make("/dev/full", 1, 7),    make("/dev/random", 1, 8),
                                 make("/dev/urandom", 1, 9), make("/dev/tty", 5, 0)};

mode_t type_bits(const std::string& t) {
  if (t == "b") return S_IFBLK;
  if (t == "p") return S_IFIFO;
  return S_IFCHR;  // "c" and "u"
}

Status bind_device(const oci::Device& d, int parent_fd, const std::string& name) {
  int fd = ::openat(parent_fd, name.c_str(), O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0 && errno != EEXIST) return sys_error("create device mount point", d.path);
  if (fd >= 0) ::close(fd);
  UniqueFd target = TRY(open_fd(sys::fd_path(parent_fd) + "/" + name, O_PATH | O_NOFOLLOW));
  if (::mount(d.path.c_str(), sys::fd_path(target.get()).c_str(), nullptr, MS_BIND, nullptr) < 0)
    return sys_error("bind device", d.path);
  return ok();
}

Status mknod_device(const oci::Device& d, int parent_fd, const std::string& name) {
  mode_t mode = type_bits(d.type) | (d.file_mode ? (*d.file_mode & 07777) : 0666);
  dev_t dev = makedev(static_cast<unsigned>(d.major), static_cast<unsigned>(d.minor));
  ::unlinkat(parent_fd, name.c_str(), 0);
  if (::mknodat(parent_fd, name.c_str(), mode, d.type == "p" ? 0 : dev) < 0)
    return sys_error("mknod", d.path);
  if (::fchmodat(parent_fd, name.c_str(), mode & 07777, 0) < 0) return sys_error("chmod", d.path);
  if (::fchownat(parent_fd, name.c_str(), d.uid.value_or(0), d.gid.value_or(0),
                 AT_SYMLINK_NOFOLLOW) < 0)
    return sys_error("chown", d.path);
  return ok();
}

Status create_device(const oci::Device& d, const RootfsContext& ctx, int root_fd) {
  std::string clean = clean_path(d.path);
  UniqueFd parent = TRY(sys::mkdir_in_root(root_fd, dirname_of(clean)));
  std::string name = basename_of(clean);
  // The parent may be an O_PATH fd: reopen it as a directory for the *at() calls.
  UniqueFd dir = TRY(open_fd(sys::fd_path(parent.get()), O_RDONLY | O_DIRECTORY));
  if (ctx.in_userns) return bind_device(d, dir.get(), name);
  return mknod_device(d, dir.get(), name);
}

}  // namespace

Status create_devices(const RootfsContext& ctx, int root_fd) {
  mode_t old = ::umask(0);
  Status st;
  for (const auto& d : kDefaults) {
    bool overridden = false;
    if (ctx.spec->linux)
      for (const auto& sd : ctx.spec->linux->devices) overridden |= clean_path(sd.path) == d.path;
    if (!overridden && !(st = create_device(d, ctx, root_fd))) break;
  }
  if (st && ctx.spec->linux)
    for (const auto& d : ctx.spec->linux->devices)
      if (!(st = create_device(d, ctx, root_fd))) break;
  ::umask(old);
  return st;
}

Status create_dev_symlinks(int root_fd) {
  struct Link {
    const char* target;
    const char* name;
  };
  const Link links[] = {{"/proc/self/fd", "fd"},       {"/proc/self/fd/0", "stdin"},
                        {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
                        {"pts/ptmx", "ptmx"},          {"/proc/kcore", "core"}};
  UniqueFd dev_path = TRY(sys::mkdir_in_root(root_fd, "/dev"));
  UniqueFd dev = TRY(open_fd(sys::fd_path(dev_path.get()), O_RDONLY | O_DIRECTORY));
  for (const auto& l : links) {
    if (std::string(l.name) == "core" && !path_exists("/proc/kcore")) continue;
    if (std::string(l.name) == "ptmx") ::unlinkat(dev.get(), "ptmx", 0);
    if (::symlinkat(l.target, dev.get(), l.name) < 0 && errno != EEXIST)
      return sys_error("symlink /dev/" + std::string(l.name) + " ->", l.target);
  }
  return ok();
}

}  // namespace berth::runtime
