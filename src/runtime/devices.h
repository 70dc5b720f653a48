// devices.h - device nodes in the container's /dev: the OCI default set (null, zero, full,
// random, urandom, tty), the spec's linux.devices, and the standard /dev symlinks.
// mknod where allowed; a bind mount of the host node inside a user namespace.
#pragma once

#include "base/error.h"
#include "runtime/rootfs.h"

namespace berth::runtime {

Status create_devices(const RootfsContext& ctx, int root_fd);
Status create_dev_symlinks(int root_fd);

}  // namespace berth::runtime
