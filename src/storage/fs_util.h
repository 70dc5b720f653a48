// fs_util.h - small fd-relative file helpers shared by the blob store, the layer store and
// the layer unpacker (internal to src/storage).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "base/error.h"
#include "base/fd.h"

namespace berth::storage {

// 16 random hex digits, for temp names that never collide between processes.
std::string random_name();
// Opens a directory (O_RDONLY | O_DIRECTORY | O_CLOEXEC).
Result<UniqueFd> open_dir(const std::string& path);
// Writes all of data at offset off (pwrite), retrying short writes and EINTR.
Status pwrite_all(int fd, const void* data, size_t n, off_t off, const std::string& what);
Status fsync_fd(int fd, const std::string& what);
// flock(LOCK_EX); with wait=false fails with EWOULDBLOCK when another holder has it.
Status lock_exclusive(int fd, bool wait, const std::string& what);
// True when dirfd/name (not following symlinks) is the file open as fd: after taking a lock
// on a temp file, tells whether a concurrent cleaner unlinked it first.
bool still_linked(int dirfd, const std::string& name, int fd);
// rm -rf of dirfd/name: never follows symlinks, makes directories writable on the way so
// read-only trees from a layer (0555 dirs) can be removed without root. Missing is fine.
Status remove_tree_at(int dirfd, const std::string& name);
// remove_tree_at for a whole path.
Status remove_tree(const std::string& path);

}  // namespace berth::storage
