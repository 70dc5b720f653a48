// mount_options.h - turns an OCI mount's option strings into mount(2) arguments.
//
// Accepts what runc accepts: the flag words of mount(8) (ro, nosuid, nodev, noexec, ...),
// propagation words (private, rslave, ...), bind/rbind, recursive "r" variants (rro, rnosuid,
// ...) applied with mount_setattr, and anything else passed to the filesystem as data
// ("mode=755", "size=64m"). tmpcopyup is recognised (copy the old contents into a tmpfs).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace berth::sys {

struct MountOptions {
  unsigned long flags = 0;        // MS_* flags for the mount itself
  unsigned long clear_flags = 0;  // flags explicitly turned off (rw, suid, dev, exec...)
  unsigned long propagation = 0;  // MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (|MS_REC)
  uint64_t rec_attr_set = 0;      // MOUNT_ATTR_* applied recursively (rro, rnosuid...)
  uint64_t rec_attr_clr = 0;
  std::string data;  // filesystem-specific options, comma-joined
  bool bind = false;
  bool recursive_bind = false;
  bool tmpcopyup = false;
  bool idmap = false;
};

MountOptions parse_mount_options(const std::vector<std::string>& options);
// Propagation word ("rslave") to MS_* flags; 0 when unknown.
unsigned long propagation_flags(const std::string& word);

}  // namespace berth::sys
