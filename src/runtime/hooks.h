// hooks.h - OCI hooks: a program run with the container's state JSON on stdin.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "oci/spec.h"

namespace berth::runtime {

// Runs one hook and waits for it (at most hook.timeout seconds; killed after that).
// A non-zero exit or a timeout is an error naming the hook kind and path.
Status run_hook(const oci::Hook& hook, const std::string& state_json, const char* kind);
Status run_hooks(const std::vector<oci::Hook>& hooks, const std::string& state_json,
                 const char* kind);

// createContainer hooks, from the container's init before pivot_root. berth's own GPU hook
// ("berth-runtime gpu-hook ...", gpu/hook.h, naming the berth-runtime beside this
// executable) runs here in this process on rootfs: the same code as the exec'd hook, without
// the ~2 ms of starting a process and reading config.json again. Others are exec'd.
Status run_create_container_hooks(const std::vector<oci::Hook>& hooks,
                                  const std::string& state_json, const std::string& rootfs);
// Whether hook is berth's own GPU hook, as above.
bool is_own_gpu_hook(const oci::Hook& hook);

}  // namespace berth::runtime
