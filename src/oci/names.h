// names.h - the closed sets of names that config.json may use: capabilities, rlimits,
// namespaces, seccomp actions, operators, architectures and flags, mount propagation.
//
// validate_spec() checks names against these tables; the runtime maps them to kernel and
// libseccomp values with the lookups below.
#pragma once

#include <optional>
#include <string_view>

namespace berth::oci {

// "CAP_SYS_ADMIN" -> 21. Knows CAP_CHOWN (0) up to CAP_CHECKPOINT_RESTORE (40).
std::optional<int> capability_number(std::string_view name);
// 12 -> "CAP_NET_ADMIN" (NUL-terminated); nullptr beyond kLastCapability.
const char* capability_name(int number);
// The highest capability number capability_number() knows.
inline constexpr int kLastCapability = 40;
// "RLIMIT_NOFILE" -> RLIMIT_NOFILE from <sys/resource.h>; the full Linux list.
std::optional<int> rlimit_resource(std::string_view name);

bool is_namespace_type(std::string_view type);      // user mount pid network ipc uts cgroup time
bool is_seccomp_action(std::string_view action);    // SCMP_ACT_*
bool is_seccomp_operator(std::string_view op);      // SCMP_CMP_*
bool is_seccomp_arch(std::string_view arch);        // SCMP_ARCH_*
bool is_seccomp_flag(std::string_view flag);        // SECCOMP_FILTER_FLAG_*
bool is_rootfs_propagation(std::string_view prop);  // shared slave private unbindable, r*

}  // namespace berth::oci
