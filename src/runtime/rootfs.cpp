#include "runtime/rootfs.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "base/file.h"
#include "base/strings.h"
#include "runtime/devices.h"
#include "sys/copy_tree.h"
#include "sys/mount_options.h"
#include "sys/path_resolve.h"

namespace berth::runtime {
namespace {

using sys::MountOptions;

Status do_mount(const std::string& src, const std::string& target, const char* type,
                unsigned long flags, const std::string& data, const std::string& shown) {
  if (::mount(src.empty() ? nullptr : src.c_str(), target.c_str(), type, flags,
              data.empty() ? nullptr : data.c_str()) < 0)
    return sys_error(
        std::string("mount ") + (type ? type : "") + " " + (src.empty() ? "none" : src) + " on",
        shown);
  return ok();
}

// A mount's per-mount flags as MS_* flags.
unsigned long ms_flags_of(const struct statvfs& st) {
  unsigned long f = 0;
  if (st.f_flag & ST_NOSUID) f |= MS_NOSUID;
  if (st.f_flag & ST_NODEV) f |= MS_NODEV;
  if (st.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (st.f_flag & ST_RDONLY) f |= MS_RDONLY;
  if (st.f_flag & ST_NOATIME) f |= MS_NOATIME;
  if (st.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (st.f_flag & ST_RELATIME) f |= MS_RELATIME;
  return f;
}

// Flags the kernel refuses to clear on a remount inside a user namespace: keep them.
unsigned long locked_flags(const std::string& path) {
  struct statvfs st;
  return ::statvfs(path.c_str(), &st) < 0 ? 0 : ms_flags_of(st);
}

Status set_rec_attrs(const std::string& target, const MountOptions& o, const std::string& shown) {
  if (o.rec_attr_set == 0 && o.rec_attr_clr == 0) return ok();
  struct mount_attr attr = {};
  attr.attr_set = o.rec_attr_set;
  attr.attr_clr = o.rec_attr_clr;
  if (::syscall(SYS_mount_setattr, AT_FDCWD, target.c_str(), AT_RECURSIVE, &attr, sizeof attr) < 0)
    return sys_error("set recursive mount attributes on", shown);
  return ok();
}

std::string mount_source(const oci::Mount& m, const std::string& bundle) {
  if (m.source.empty() || m.source.front() == '/') return m.source;
  return path_join(bundle, m.source);
}

// The per-mount flags a bind remount sets, as mount_setattr(2) attributes. A remount
// replaces them all: what is not asked for is cleared, except the atime mode, which is
// kept unless one is given.
constexpr unsigned long kAttrFlags =
    MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME |
    MS_STRICTATIME;

uint64_t attrs_of(unsigned long ms) {
  uint64_t a = 0;
  if (ms & MS_RDONLY) a |= MOUNT_ATTR_RDONLY;
  if (ms & MS_NOSUID) a |= MOUNT_ATTR_NOSUID;
  if (ms & MS_NODEV) a |= MOUNT_ATTR_NODEV;
  if (ms & MS_NOEXEC) a |= MOUNT_ATTR_NOEXEC;
  if (ms & MS_NOATIME) a |= MOUNT_ATTR_NOATIME;
  if (ms & MS_STRICTATIME) a |= MOUNT_ATTR_STRICTATIME;
  if (ms & MS_NODIRATIME) a |= MOUNT_ATTR_NODIRATIME;
  return a;
}

int sys_mount_setattr(int fd, unsigned flags, const struct mount_attr& attr) {
  return static_cast<int>(::syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | flags, &attr,
                                    sizeof attr));
}

// A bind mount made detached (open_tree), given its flags and propagation there
// (mount_setattr) and then attached to target_fd (move_mount): three calls where the
// classic path makes three mount(2) calls through /proc/self/fd paths, two re-resolutions
// and a statvfs. Returns false, with nothing mounted, when the options need the classic path
// or any call fails (a kernel without the calls, a seccomp filter of a nested host, a flag
// the user namespace locks): the classic path then does it, or says what is wrong.
bool bind_detached(const std::string& src, const MountOptions& o, const RootfsContext& ctx,
                   int target_fd) {
  constexpr unsigned long kAtime = MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME;
  unsigned long extra = o.flags & ~(MS_REMOUNT | MS_BIND | MS_REC);
  if ((extra & ~kAttrFlags) != 0 || (o.clear_flags & ~kAttrFlags) != 0) return false;
  // Shared and unbindable trees meet move_mount's own propagation rules; an atime flag in a
  // user namespace must merge with the locked ones as a remount does.
  if (o.propagation & (MS_SHARED | MS_UNBINDABLE)) return false;
  if (ctx.in_userns && (extra & kAtime)) return false;
  unsigned tree_flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (o.recursive_bind ? AT_RECURSIVE : 0);
  UniqueFd tree(static_cast<int>(::syscall(SYS_open_tree, AT_FDCWD, src.c_str(), tree_flags)));
  if (!tree) return false;
  if (extra != 0 || o.clear_flags != 0) {
    struct mount_attr top = {};
    top.attr_set = attrs_of(extra);
    top.attr_clr = (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC) &
                   ~top.attr_set;
    if (ctx.in_userns) {  // flags locked by the user namespace's owner stay
      struct statvfs sv;
      if (::fstatvfs(tree.get(), &sv) < 0) return false;
      top.attr_clr &= ~attrs_of(ms_flags_of(sv) & ~o.clear_flags);
    }
    if (extra & kAtime) top.attr_clr |= MOUNT_ATTR__ATIME | MOUNT_ATTR_NODIRATIME;
    if (sys_mount_setattr(tree.get(), 0, top) < 0) return false;
  }
  if (o.rec_attr_set || o.rec_attr_clr || o.propagation) {
    struct mount_attr rec = {};
    rec.attr_set = o.rec_attr_set;
    rec.attr_clr = o.rec_attr_clr;
    rec.propagation = o.propagation & ~MS_REC;
    bool recursive = (o.propagation & MS_REC) || o.rec_attr_set || o.rec_attr_clr;
    if (rec.propagation && !(o.propagation & MS_REC) && (o.rec_attr_set || o.rec_attr_clr)) {
      // A propagation for the top mount only, with recursive attributes: two calls.
      struct mount_attr prop = {};
      prop.propagation = rec.propagation;
      if (sys_mount_setattr(tree.get(), 0, prop) < 0) return false;
      rec.propagation = 0;
    }
    if (sys_mount_setattr(tree.get(), recursive ? AT_RECURSIVE : 0, rec) < 0) return false;
  }
  return ::syscall(SYS_move_mount, tree.get(), "", target_fd, "",
                   MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) == 0;
}

Status bind_mount(const oci::Mount& m, const MountOptions& o, const RootfsContext& ctx,
                  int root_fd) {
  std::string src = mount_source(m, ctx.bundle);
  struct stat st;
  if (::stat(src.c_str(), &st) < 0) return sys_error("mount source", src);
  UniqueFd target_fd = TRY(sys::ensure_in_root(root_fd, m.destination, S_ISDIR(st.st_mode)));
  if (bind_detached(src, o, ctx, target_fd.get())) return ok();
  std::string target = sys::fd_path(target_fd.get());
  unsigned long bflags = MS_BIND | (o.recursive_bind ? MS_REC : 0);
  TRY(do_mount(src, target, nullptr, bflags, "", m.destination));
  // Re-resolve: the new mount hides the old dentry behind the fd.
  target_fd = TRY(sys::open_in_root(root_fd, m.destination, O_PATH));
  target = sys::fd_path(target_fd.get());
  unsigned long extra = o.flags & ~(MS_REMOUNT | MS_BIND | MS_REC);
  if (extra != 0 || o.clear_flags != 0) {
    unsigned long keep = locked_flags(target) & ~o.clear_flags;
    TRY(do_mount("", target, nullptr, MS_BIND | MS_REMOUNT | extra | (ctx.in_userns ? keep : 0), "",
                 m.destination));
  }
  TRY(set_rec_attrs(target, o, m.destination));
  if (o.propagation != 0) TRY(do_mount("", target, nullptr, o.propagation, "", m.destination));
  return ok();
}

// cgroup mounts: cgroup2 where the host is v2 (or hybrid with the unified hierarchy only),
// otherwise a tmpfs with one cgroup v1 mount per hierarchy, like runc.
Status mount_cgroup(const oci::Mount& m, const MountOptions& o, const RootfsContext& ctx,
                    int root_fd);

// The mount data without its gid=N option.
std::string without_gid(const std::string& data) {
  std::vector<std::string> kept;
  for (const auto& opt : split(data, ','))
    if (!starts_with(opt, "gid=")) kept.push_back(opt);
  return join(kept, ",");
}

Status fs_mount(const oci::Mount& m, const MountOptions& o, const RootfsContext& ctx, int root_fd) {
  UniqueFd target_fd = TRY(sys::mkdir_in_root(root_fd, m.destination));
  std::string target = sys::fd_path(target_fd.get());
  unsigned long flags = o.flags & ~MS_REMOUNT;
  UniqueFd old_contents;  // tmpcopyup: the directory as it was, still reachable once covered
  if (o.tmpcopyup) {
    if (m.type != "tmpfs")
      return Error::invalid("tmpcopyup is only for tmpfs mounts:", m.destination);
    old_contents = TRY(open_fd(target, O_RDONLY | O_DIRECTORY));
  }
  Status st = do_mount(m.source.empty() ? m.type : m.source, target, m.type.c_str(), flags, o.data,
                       m.destination);
  if (!st && ctx.in_userns && st.error().code() == EINVAL && m.type == "devpts" &&
      without_gid(o.data) != o.data) {
    // A bundle written for root asks for gid=5 (tty), which is not mapped when an ordinary
    // user runs it (Slurm runs RunTimeRun as the job's user): the ptys then belong to the
    // user's own group, as with crun.
    st = do_mount(m.source.empty() ? m.type : m.source, target, m.type.c_str(), flags,
                  without_gid(o.data), m.destination);
  }
  if (!st && ctx.in_userns && st.error().code() == EPERM &&
      (m.type == "sysfs" || m.type == "mqueue")) {
    // A user namespace without its own network/ipc namespace cannot mount these: bind the host's.
    std::string host = m.type == "sysfs" ? "/sys" : "/dev/mqueue";
    st = do_mount(host, target, nullptr, MS_BIND | MS_REC, "", m.destination);
    if (st && (flags & MS_RDONLY)) {
      target_fd = TRY(sys::open_in_root(root_fd, m.destination, O_PATH));
      target = sys::fd_path(target_fd.get());
      st = do_mount("", target, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags(target),
                    "", m.destination);
    }
  }
  TRY(st);
  if (old_contents) {
    UniqueFd fresh = TRY(sys::open_in_root(root_fd, m.destination, O_RDONLY | O_DIRECTORY));
    TRY_CTX(sys::copy_tree(old_contents.get(), fresh.get()), "tmpcopyup " + m.destination);
  }
  if (o.rec_attr_set || o.rec_attr_clr || o.propagation) {
    target_fd = TRY(sys::open_in_root(root_fd, m.destination, O_PATH));
    target = sys::fd_path(target_fd.get());
    TRY(set_rec_attrs(target, o, m.destination));
    if (o.propagation != 0) TRY(do_mount("", target, nullptr, o.propagation, "", m.destination));
  }
  return ok();
}

Status mount_one(const oci::Mount& m, const RootfsContext& ctx, int root_fd) {
  MountOptions o = sys::parse_mount_options(m.options);
  if (o.idmap) return Error(ENOTSUP, "idmapped mounts are not supported yet:", m.destination);
  if (m.type == "bind" || o.bind) return bind_mount(m, o, ctx, root_fd);
  if (m.type == "cgroup") return mount_cgroup(m, o, ctx, root_fd);
  if (m.type.empty())
    return Error::invalid("mount has no type and is not a bind mount:", m.destination);
  return fs_mount(m, o, ctx, root_fd);
}

Result<std::vector<std::pair<std::string, std::string>>> v1_hierarchies() {
  // (mount point name, options) of every cgroup v1 hierarchy the host has mounted.
  std::vector<std::pair<std::string, std::string>> out;
  auto mi = TRY(read_file("/proc/self/mountinfo"));
  for (const auto& line : split(mi, '\n')) {
    auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    auto post = split(line.substr(dash + 3), ' ');
    if (post.size() < 3 || post[0] != "cgroup") continue;
    auto pre = split(line.substr(0, dash), ' ');
    if (pre.size() < 5) continue;
    std::string opts;
    for (const auto& w : split(post[2], ',')) {
      if (w == "rw" || w == "ro" || w == "relatime") continue;
      if (!opts.empty()) opts += ',';
      opts += w;
    }
    out.emplace_back(basename_of(pre[4]), opts);
  }
  return out;
}

Status mount_cgroup(const oci::Mount& m, const MountOptions& o, const RootfsContext& ctx,
                    int root_fd) {
  UniqueFd target_fd = TRY(sys::mkdir_in_root(root_fd, m.destination));
  std::string target = sys::fd_path(target_fd.get());
  unsigned long flags = (o.flags & ~(MS_REMOUNT | MS_RDONLY)) | MS_NOSUID | MS_NOEXEC | MS_NODEV;
  bool ro = o.flags & MS_RDONLY;
  auto v1 = TRY(v1_hierarchies());
  if (v1.empty()) {
    Status st =
        do_mount("cgroup2", target, "cgroup2", flags | (ro ? MS_RDONLY : 0), "", m.destination);
    if (!st && !ctx.new_cgroupns)  // without a cgroup namespace: show the host's hierarchy
      st = do_mount("/sys/fs/cgroup", target, nullptr, MS_BIND | MS_REC, "", m.destination);
    return st;
  }
  TRY(do_mount("tmpfs", target, "tmpfs", flags, "mode=755", m.destination));
  for (const auto& [name, opts] : v1) {
    std::string sub = m.destination + "/" + name;
    UniqueFd sfd = TRY(sys::mkdir_in_root(root_fd, sub));
    Status st = do_mount("cgroup", sys::fd_path(sfd.get()), "cgroup", flags | (ro ? MS_RDONLY : 0),
                         opts, sub);
    if (!st)
      st = do_mount("/sys/fs/cgroup/" + name, sys::fd_path(sfd.get()), nullptr, MS_BIND | MS_REC,
                    "", sub);
    TRY(st);
  }
  if (is_directory("/sys/fs/cgroup/unified")) {
    std::string sub = m.destination + "/unified";
    UniqueFd sfd = TRY(sys::mkdir_in_root(root_fd, sub));
    (void)do_mount("cgroup2", sys::fd_path(sfd.get()), "cgroup2", flags | (ro ? MS_RDONLY : 0), "",
                   sub);
  }
  if (ro) {
    target_fd = TRY(sys::open_in_root(root_fd, m.destination, O_PATH));
    target = sys::fd_path(target_fd.get());
    TRY(do_mount("", target, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | flags, "", m.destination));
  }
  return ok();
}

bool dev_is_bind_mounted(const oci::Spec& spec) {
  for (const auto& m : spec.mounts)
    if (m.destination == "/dev" && (m.type == "bind" || sys::parse_mount_options(m.options).bind))
      return true;
  return false;
}

}  // namespace

Status prepare_rootfs(const RootfsContext& ctx) {
  const oci::Spec& spec = *ctx.spec;
  std::string prop = spec.linux ? spec.linux->rootfs_propagation : "";
  unsigned long pflags = prop.empty() ? (MS_SLAVE | MS_REC) : sys::propagation_flags(prop);
  // Our view first becomes a slave (or what the spec asks) so nothing leaks to the host.
  TRY(do_mount("", "/", nullptr, pflags & MS_SHARED ? (MS_SLAVE | MS_REC) : pflags, "", "/"));
  TRY(do_mount(ctx.rootfs, ctx.rootfs, nullptr, MS_BIND | MS_REC, "", ctx.rootfs));
  UniqueFd root_fd = TRY(open_fd(ctx.rootfs, O_PATH | O_DIRECTORY));
  for (const auto& m : spec.mounts) TRY(mount_one(m, ctx, root_fd.get()));
  if (!dev_is_bind_mounted(spec)) {
    TRY(create_devices(ctx, root_fd.get()));
    TRY(create_dev_symlinks(root_fd.get()));
  }
  return ok();
}

static Status pivot(const std::string& rootfs) {
  UniqueFd oldroot = TRY(open_fd("/", O_DIRECTORY | O_RDONLY));
  UniqueFd newroot = TRY(open_fd(rootfs, O_DIRECTORY | O_RDONLY));
  if (::fchdir(newroot.get()) < 0) return sys_error("chdir", rootfs);
  if (::syscall(SYS_pivot_root, ".", ".") < 0) return sys_error("pivot_root", rootfs);
  if (::fchdir(oldroot.get()) < 0) return sys_error("chdir", "old root");
  // The old root sits on top of the new one: detach it without propagating to the host.
  TRY(do_mount("", ".", nullptr, MS_SLAVE | MS_REC, "", "old root"));
  if (::umount2(".", MNT_DETACH) < 0) return sys_error("unmount", "old root");
  if (::chdir("/") < 0) return sys_error("chdir", "/");
  return ok();
}

static Status move_root(const std::string& rootfs) {
  if (::chdir(rootfs.c_str()) < 0) return sys_error("chdir", rootfs);
  TRY(do_mount(rootfs, "/", nullptr, MS_MOVE, "", rootfs));
  if (::chroot(".") < 0) return sys_error("chroot", rootfs);
  if (::chdir("/") < 0) return sys_error("chdir", "/");
  return ok();
}

Status switch_root(const RootfsContext& ctx) {
  if (ctx.no_pivot) return move_root(ctx.rootfs);
  Status st = pivot(ctx.rootfs);
  // pivot_root is impossible when / is the initramfs (rootfs): fall back like runc --no-pivot.
  if (!st && st.error().code() == EINVAL) return move_root(ctx.rootfs);
  if (!st) return st;
  std::string prop = ctx.spec->linux ? ctx.spec->linux->rootfs_propagation : "";
  if (!prop.empty()) TRY(do_mount("", "/", nullptr, sys::propagation_flags(prop), "", "/"));
  return ok();
}

static Status mask_path(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) < 0)
    return errno == ENOENT ? ok() : sys_error("stat masked path", path);
  if (S_ISDIR(st.st_mode)) return do_mount("tmpfs", path, "tmpfs", MS_RDONLY, "", path);
  return do_mount("/dev/null", path, nullptr, MS_BIND, "", path);
}

static Status readonly_path(const std::string& path) {
  Status st = do_mount(path, path, nullptr, MS_BIND | MS_REC, "", path);
  if (!st) return st.error().code() == ENOENT ? ok() : st;
  return do_mount("", path, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC | locked_flags(path),
                  "", path);
}

Status finish_rootfs(const RootfsContext& ctx) {
  const oci::Spec& spec = *ctx.spec;
  if (spec.linux) {
    for (const auto& p : spec.linux->masked_paths) TRY(mask_path(p));
    for (const auto& p : spec.linux->readonly_paths) TRY(readonly_path(p));
  }
  if (spec.root.readonly)
    TRY(do_mount("", "/", nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags("/"), "", "/"));
  return ok();
}

Status setup_console(const std::string& slave_path) {
  int fd = ::open("/dev/console", O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd >= 0) ::close(fd);
  return do_mount(slave_path, "/dev/console", nullptr, MS_BIND, "", "/dev/console");
}

}  // namespace berth::runtime
