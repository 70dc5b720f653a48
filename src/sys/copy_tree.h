// copy_tree.h - copies a directory's contents, owners, modes and times included, between two
// open directory fds (for tmpcopyup: the old contents of a mount point into the new tmpfs).
// Never follows symlinks: they are copied as links.
#pragma once

#include "base/error.h"

namespace berth::sys {

Status copy_tree(int src_dir_fd, int dst_dir_fd);

}  // namespace berth::sys
