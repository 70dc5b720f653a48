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

}  // namespace berth::sys
