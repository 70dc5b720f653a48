// rlimit.h - resource limits of the container process (OCI process.rlimits).
#pragma once

#include <string_view>
#include <vector>

#include "base/error.h"
#include "oci/spec.h"

namespace berth::security {

// "RLIMIT_NOFILE" -> RLIMIT_NOFILE, for all sixteen RLIMIT_* names Linux defines.
Result<int> rlimit_from_name(std::string_view name);
// Checks names and soft <= hard for each entry; lets the runtime reject a config before fork.
Status validate_rlimits(const std::vector<oci::Rlimit>& rlimits);
// Sets each limit on the calling process. Raising a hard limit needs CAP_SYS_RESOURCE; that
// failure says so: `setrlimit RLIMIT_NOFILE to 1048576/1048576: Operation not permitted
// (the hard limit here is 20000 and raising it needs CAP_SYS_RESOURCE)`.
Status apply_rlimits(const std::vector<oci::Rlimit>& rlimits);

}  // namespace berth::security
