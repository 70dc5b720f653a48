// ns.h - Linux namespaces by their OCI names.
#pragma once

#include <string>

#include "base/error.h"
#include "base/fd.h"

namespace berth::sys {

// OCI namespace type ("network") -> CLONE_NEW* flag; 0 when unknown.
int ns_clone_flag(const std::string& oci_type);
// The file name under /proc/PID/ns/ for an OCI type ("network" -> "net").
const char* ns_proc_name(const std::string& oci_type);
// Opens a namespace file and checks that it is a namespace of the expected type.
Result<UniqueFd> open_namespace(const std::string& path, const std::string& oci_type);

// True when the process runs in a user namespace that does not map every id (berth's own
// rootless namespace, `unshare -r`, a container).
bool in_user_namespace();
// True when the process lacks real root: not euid 0, or euid 0 in a user namespace.
bool rootless();

}  // namespace berth::sys
