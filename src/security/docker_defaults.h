// docker_defaults.h - docker's security defaults for a container: capabilities (and docker's
// --cap-add/--cap-drop rules), the default seccomp profile, masked and read-only paths.
//
// The engine calls these while building a container's OCI spec:
//   auto caps = TRY(apply_cap_changes(docker_default_capabilities(), cap_add, cap_drop));
//   spec.process->capabilities = {caps, caps, {}, caps, {}};   // docker leaves ambient empty
//   spec.linux->seccomp = TRY(docker_default_seccomp(caps));    // or a --security-opt file:
//   spec.linux->seccomp = TRY(seccomp_from_docker_profile(text, caps, native_seccomp_arch(),
//                                                         running_kernel_version()));
//   spec.linux->masked_paths = docker_masked_paths();
//   spec.linux->readonly_paths = docker_readonly_paths();
// The result is a plain oci::Seccomp, so the runtime compiles it once and caches the BPF by
// the profile's hash like any other (compile_seccomp_cached). Equal inputs give equal output.
//
// Profiles are read in docker's format (defaultAction, defaultErrnoRet, archMap, syscalls[]
// with name/names, action, errnoRet, args, includes/excludes {caps, arches, minKernel}) and
// in the OCI linux.seccomp form, which is a subset of it. Origin, license and the update
// procedure of the embedded profile: docs/security.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "oci/spec.h"

namespace berth::security {

// ---- capabilities ---------------------------------------------------------------------------

// Docker's 14 default capabilities, in docker's order: CAP_CHOWN ... CAP_AUDIT_WRITE.
std::vector<std::string> docker_default_capabilities();

// What "ALL" means: every capability from CAP_CHOWN up to the running kernel's last one
// (and at most CAP_CHECKPOINT_RESTORE), as docker's GetAllCapabilities.
std::vector<std::string> all_capabilities();

// "net_admin", "NET_ADMIN", "Cap_Net_Admin" -> "CAP_NET_ADMIN"; "all" -> "ALL". Names berth
// does not know fail with `invalid capability: FOO` (FOO as given).
Result<std::string> normalize_capability(std::string_view name);

// docker's --cap-add/--cap-drop: names with or without CAP_, any case.
//  - "ALL" in cap_add: every capability (all_capabilities) except those in cap_drop;
//  - else "ALL" in cap_drop: only cap_add;
//  - else base without cap_drop, then cap_add.
// No changes returns base as is. The result has no duplicates and keeps first-seen order.
Result<std::vector<std::string>> apply_cap_changes(const std::vector<std::string>& base,
                                                   const std::vector<std::string>& cap_add,
                                                   const std::vector<std::string>& cap_drop);

// ---- paths ----------------------------------------------------------------------------------

// linux.maskedPaths and linux.readonlyPaths as docker sets them for a non-privileged container.
std::vector<std::string> docker_masked_paths();
std::vector<std::string> docker_readonly_paths();

// ---- seccomp --------------------------------------------------------------------------------

// A kernel release reduced to what docker's minKernel compares: "5.10.0-28-amd64" -> 5.10.
struct KernelVersion {
  uint32_t major = 0;
  uint32_t minor = 0;
  friend auto operator<=>(const KernelVersion&, const KernelVersion&) = default;
};

// Parses "<major>.<minor>" followed by anything ("6.1", "6.1.0-13-amd64", "3.12-1-amd64").
// Error: `invalid kernel version "foo"`.
Result<KernelVersion> parse_kernel_version(std::string_view release);
// uname(2)'s release, parsed; {0, 0} if it cannot be read or parsed (so every minKernel
// include fails closed: the syscall stays denied).
KernelVersion running_kernel_version();

// This build's architecture in docker's naming: "amd64", "arm64", "ppc64le", "s390x", ...
std::string native_seccomp_arch();

// Docker's architecture name for `arch`, which may be docker's ("amd64"), GOARCH ("386"),
// uname -m ("x86_64", "aarch64") or libseccomp's ("SCMP_ARCH_X86_64"). "" when unknown.
std::string docker_arch_name(std::string_view arch);

// Evaluates a docker seccomp profile (or an OCI linux.seccomp object) for one container:
//  - a syscalls[] entry is left out when excludes.arches holds the native arch, excludes.caps
//    holds any of effective_caps, or kernel >= excludes.minKernel; or when includes.arches
//    lacks the native arch, includes.caps has one not in effective_caps, or kernel <
//    includes.minKernel;
//  - architectures: the profile's own list, or the archMap entry of the native arch (it and
//    its subArchitectures), or none (libseccomp's native arch) when archMap lacks it;
//  - defaultAction, defaultErrnoRet, flags, listenerPath, listenerMetadata, and each kept
//    entry's names, action, errnoRet and args are copied; "name" becomes names: [name].
// native_arch: anything docker_arch_name accepts. Errors are one line naming the JSON path:
//   seccomp profile: syscalls[3].action: unknown action "SCMP_ACT_FOO"
// Unknown fields (comment, ...) are ignored; a profile without defaultAction is an error
// (docker would run such a container unconfined; say so explicitly instead).
Result<oci::Seccomp> seccomp_from_docker_profile(std::string_view profile_json,
                                                 const std::vector<std::string>& effective_caps,
                                                 std::string_view native_arch,
                                                 KernelVersion kernel);

// The embedded default profile (data/seccomp-default.json, moby's default.json), as text.
std::string_view docker_default_seccomp_profile();

// The embedded profile evaluated for this machine (native_seccomp_arch,
// running_kernel_version) and the container's effective capabilities.
Result<oci::Seccomp> docker_default_seccomp(const std::vector<std::string>& effective_caps);

}  // namespace berth::security
