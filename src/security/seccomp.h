// seccomp.h - compiles an OCI linux.seccomp profile to a classic BPF program and loads it.
//
// The runtime compiles in the parent (it allocates, calls libseccomp, may use a cache) and
// hands the bytes to the container's init, which loads them right before exec with
// load_seccomp(), a single syscall that allocates nothing on success.
//
// Semantics follow runc and crun where the spec is silent:
//  - syscall names that libseccomp does not know are skipped, so one profile serves several
//    kernels and architectures;
//  - a rule whose action equals the default action is skipped (libseccomp rejects it);
//  - conditions on distinct arguments are ANDed in one rule; when the same argument index
//    appears twice, each condition becomes a rule of its own (ORed), as runc does;
//  - SCMP_ACT_ERRNO and SCMP_ACT_TRACE return errnoRet, EPERM when it is absent;
//  - SCMP_ACT_NOTIFY (and so listenerPath) is not supported yet and is rejected.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "oci/spec.h"

namespace berth::security {

// Builds the filter and returns the raw `struct sock_filter` array as bytes (8 bytes per
// instruction). Errors name the field: `seccomp: syscalls[3]: unknown operator "SCMP_CMP_FOO"`.
Result<std::string> compile_seccomp(const oci::Seccomp& profile);

// Like compile_seccomp, but keeps the program in cache_dir/<hash>.bpf: a canonical
// serialization of the profile, the libseccomp version and API level and the native
// architecture, followed by the program; a hit needs the whole serialization to match (the
// 64-bit hash only names the file). cache_dir is created (0700) when missing and must be writable only by the
// runtime's user: a cached program is loaded into containers as is. A cache file that is
// another profile's, empty, not a whole number of instructions, or not owned by us (or group/world writable) is
// ignored and rewritten. A cache that cannot be written is not an error. Empty cache_dir:
// no cache.
Result<std::string> compile_seccomp_cached(const oci::Seccomp& profile,
                                           const std::string& cache_dir);

// The cache file's name (16 hex digits) compile_seccomp_cached uses; exposed for tests and tools.
std::string seccomp_cache_key(const oci::Seccomp& profile);

// Maps OCI flag names (SECCOMP_FILTER_FLAG_TSYNC, _LOG, _SPEC_ALLOW) to seccomp(2) flags.
// Lets the runtime reject a bad profile before it forks.
Result<unsigned> seccomp_filter_flags(const std::vector<std::string>& flags);

// Loads bpf (from compile_seccomp) with seccomp(SECCOMP_SET_MODE_FILTER, flags). Allocates
// nothing unless it fails. The caller has set no_new_privs or holds CAP_SYS_ADMIN.
Status load_seccomp(const std::string& bpf, const std::vector<std::string>& flags);

// The allocation-free core of load_seccomp for code that reports (errno, step) over a pipe:
// returns 0 or an errno value (EINVAL for a malformed program; ESRCH when TSYNC could not
// synchronize another thread).
int load_seccomp_raw(std::string_view bpf, unsigned flags) noexcept;

}  // namespace berth::security
