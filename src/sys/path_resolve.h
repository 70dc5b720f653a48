// path_resolve.h - paths inside a container's root, resolved by the kernel (openat2 with
// RESOLVE_IN_ROOT), never by joining strings: a symlink in the image such as /dev -> /
// or ../../etc cannot lead a mount or a device node outside the rootfs.
#pragma once

#include <sys/types.h>

#include <string>

#include "base/error.h"
#include "base/fd.h"

namespace berth::sys {

// Opens path (absolute or relative, interpreted inside root_fd) with flags (O_PATH etc.).
Result<UniqueFd> open_in_root(int root_fd, const std::string& path, int flags, mode_t mode = 0);
// Creates every missing directory of path inside root_fd; returns an O_PATH fd of the last.
Result<UniqueFd> mkdir_in_root(int root_fd, const std::string& path, mode_t mode = 0755);
// Makes sure path exists inside root (a directory when dir, else an empty file, parents
// created as directories); returns an O_PATH fd to it, suitable as a mount target.
Result<UniqueFd> ensure_in_root(int root_fd, const std::string& path, bool dir);
// "/proc/self/fd/N": a path naming an open fd, for mount(2) and friends.
std::string fd_path(int fd);

}  // namespace berth::sys
