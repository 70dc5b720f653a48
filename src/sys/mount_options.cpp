#include "sys/mount_options.h"

#include <linux/mount.h>
#include <sys/mount.h>

#include <string_view>

namespace berth::sys {
namespace {

struct FlagWord {
  const char* name;
  bool clear;  // true: the word turns the flag off
  unsigned long flag;
};

constexpr FlagWord kFlags[] = {
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"nosuid", false, MS_NOSUID},
    {"suid", true, MS_NOSUID},
    {"nodev", false, MS_NODEV},
    {"dev", true, MS_NODEV},
    {"noexec", false, MS_NOEXEC},
    {"exec", true, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS},
    {"async", true, MS_SYNCHRONOUS},
    {"dirsync", false, MS_DIRSYNC},
    {"remount", false, MS_REMOUNT},
    {"mand", false, MS_MANDLOCK},
    {"nomand", true, MS_MANDLOCK},
    {"noatime", false, MS_NOATIME},
    {"atime", true, MS_NOATIME},
    {"nodiratime", false, MS_NODIRATIME},
    {"diratime", true, MS_NODIRATIME},
    {"relatime", false, MS_RELATIME},
    {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"lazytime", false, MS_LAZYTIME},
    {"nolazytime", true, MS_LAZYTIME},
    {"nosymfollow", false, MS_NOSYMFOLLOW},
    {"symfollow", true, MS_NOSYMFOLLOW},
    {"silent", false, MS_SILENT},
    {"loud", true, MS_SILENT},
};

struct RecWord {
  const char* name;
  bool clear;
  uint64_t attr;
};

constexpr RecWord kRecAttrs[] = {
    {"rro", false, MOUNT_ATTR_RDONLY},
    {"rrw", true, MOUNT_ATTR_RDONLY},
    {"rnosuid", false, MOUNT_ATTR_NOSUID},
    {"rsuid", true, MOUNT_ATTR_NOSUID},
    {"rnodev", false, MOUNT_ATTR_NODEV},
    {"rdev", true, MOUNT_ATTR_NODEV},
    {"rnoexec", false, MOUNT_ATTR_NOEXEC},
    {"rexec", true, MOUNT_ATTR_NOEXEC},
    {"rnodiratime", false, MOUNT_ATTR_NODIRATIME},
    {"rdiratime", true, MOUNT_ATTR_NODIRATIME},
    {"rnoatime", false, MOUNT_ATTR_NOATIME},
    {"rrelatime", false, MOUNT_ATTR_RELATIME},
    {"rstrictatime", false, MOUNT_ATTR_STRICTATIME},
    {"rnosymfollow", false, MOUNT_ATTR_NOSYMFOLLOW},
    {"rsymfollow", true, MOUNT_ATTR_NOSYMFOLLOW},
};

}  // namespace

unsigned long propagation_flags(const std::string& w) {
  if (w == "private") return MS_PRIVATE;
  if (w == "rprivate") return MS_PRIVATE | MS_REC;
  if (w == "shared") return MS_SHARED;
  if (w == "rshared") return MS_SHARED | MS_REC;
  if (w == "slave") return MS_SLAVE;
  if (w == "rslave") return MS_SLAVE | MS_REC;
  if (w == "unbindable") return MS_UNBINDABLE;
  if (w == "runbindable") return MS_UNBINDABLE | MS_REC;
  return 0;
}

static bool apply_word(MountOptions& o, std::string_view w) {
  for (const auto& f : kFlags) {
    if (w != f.name) continue;
    if (f.clear) {
      o.flags &= ~f.flag;
      o.clear_flags |= f.flag;
    } else {
      o.flags |= f.flag;
      o.clear_flags &= ~f.flag;
    }
    return true;
  }
  for (const auto& r : kRecAttrs) {
    if (w != r.name) continue;
    (r.clear ? o.rec_attr_clr : o.rec_attr_set) |= r.attr;
    return true;
  }
  if (unsigned long p = propagation_flags(std::string(w)); p != 0) {
    o.propagation = p;
    return true;
  }
  if (w == "bind") {
    o.bind = true;
    return true;
  }
  if (w == "rbind") {
    o.bind = o.recursive_bind = true;
    return true;
  }
  if (w == "tmpcopyup") return o.tmpcopyup = true;
  if (w == "idmap" || w == "ridmap") return o.idmap = true;
  return false;
}

MountOptions parse_mount_options(const std::vector<std::string>& options) {
  MountOptions o;
  for (const auto& w : options) {
    if (apply_word(o, w)) continue;
    if (!o.data.empty()) o.data += ',';
    o.data += w;
  }
  return o;
}

}  // namespace berth::sys
