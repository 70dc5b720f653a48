// rootfs_parts.h - rootfs and volume helpers shared inside src/containers.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "storage/db.h"

namespace berth::containers {

// An overlay at target: lowers top first. no_index: index=off, for an upper dir whose lower
// stack changes between mounts.
Status mount_overlay(const std::vector<std::string>& lowers, const std::string& upper,
                     const std::string& work, const std::string& target, bool no_index = false);
// ROOT/volumes/<name>/_data
std::string volume_data_dir(const std::string& root, const std::string& name);
// Makes the volume when it does not exist (name "" = a new anonymous one); returns its
// name. *created tells whether it was new (then copy_up_volume applies).
Result<std::string> ensure_volume(storage::Db& db, const std::string& root, std::string name,
                                  bool* created);
// --ipc shareable: a tmpfs at dir (made if missing) of bytes, for /dev/shm; idempotent.
// release_rootfs unmounts it.
Status mount_shareable_shm(const std::string& dir, int64_t bytes);
Status copy_up_volume(const std::string& rootfs, const std::string& target, const std::string& data);

}  // namespace berth::containers
