// rootfs.h - the container's filesystem view, built in its new mount namespace:
// propagation, the rootfs bind, spec mounts, devices, pivot_root, masked and read-only paths.
// Runs in the container's init between fork and exec (see init.cpp).
#pragma once

#include <string>

#include "base/error.h"
#include "oci/spec.h"

namespace berth::runtime {

struct RootfsContext {
  const oci::Spec* spec = nullptr;
  std::string rootfs;      // absolute host path
  std::string bundle;      // for relative mount sources
  bool in_userns = false;  // mknod and some mounts are impossible there
  bool new_cgroupns = false;
  bool no_pivot = false;
};

// Everything before the switch of root: propagation, the rootfs bind, mounts, devices.
Status prepare_rootfs(const RootfsContext& ctx);
// Makes the rootfs "/" (pivot_root, or MS_MOVE + chroot when no_pivot or pivot is impossible).
Status switch_root(const RootfsContext& ctx);
// After the switch: masked and read-only paths, read-only root.
Status finish_rootfs(const RootfsContext& ctx);
// Binds the pty slave over /dev/console (when process.terminal).
Status setup_console(const std::string& slave_path);

}  // namespace berth::runtime
