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

}  // namespace berth::runtime
