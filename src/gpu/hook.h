// hook.h - `berth-runtime gpu-hook`: the createContainer hook of berth's GPU injection (and
// of the CDI specs `berth gpu cdi generate` writes). It runs in the container's mount
// namespace before pivot_root, reads the container state (OCI) on stdin to find the rootfs,
// and inside it:
//   --link DIR/NAME=TARGET  makes the symlink DIR/NAME -> TARGET (soname links, libcuda.so),
//                           replacing an older symlink, never a file the image has;
//   --folder DIR            a library folder; one not searched by default is written to
//                           /etc/ld.so.conf.d/00-berth-gpu.conf;
// then runs the image's own ldconfig (when it has one) chrooted into the rootfs, with no
// capabilities and an empty environment, so the loader cache knows the driver's libraries.
// Every path is resolved inside the rootfs by the kernel (openat2 RESOLVE_IN_ROOT).
#pragma once

#include <string>
#include <vector>

#include "base/error.h"

namespace berth::gpu {

struct HookRequest {
  std::vector<std::pair<std::string, std::string>> links;  // DIR/NAME, TARGET
  std::vector<std::string> folders;
  bool ldconfig = true;
};
// Parses the arguments after "gpu-hook".
Result<HookRequest> parse_hook_args(const std::vector<std::string>& args);
// Applies the request to the rootfs at rootfs (an absolute host path).
Status run_gpu_hook(const HookRequest& r, const std::string& rootfs);
// The rootfs from the OCI state JSON (bundle + config.json's root.path).
Result<std::string> rootfs_from_state(std::string_view state_json);

}  // namespace berth::gpu
