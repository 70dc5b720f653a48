// netns.h - persistent network namespaces: a new namespace kept alive by a bind mount of its
// nsfs file at any path (like `ip netns add`, which uses /run/netns/NAME).
#pragma once

#include <string>

#include "base/error.h"

namespace berth::network {

// Creates a new network namespace and bind-mounts it at path (the file must not exist). The
// parent directory is made a mount point with shared propagation, as iproute2 does for
// /run/netns, so that removing the mount later also removes the copies other mount namespaces
// (containers made after it) hold. Returns path.
Result<std::string> create_netns(const std::string& path);
// Unmounts (MNT_DETACH) and unlinks path; a missing path is not an error.
Status remove_netns(const std::string& path);

}  // namespace berth::network
