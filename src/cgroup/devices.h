// devices.h - device cgroup rules: v1 rule strings and the v2 eBPF filter (internal).
//
// The eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE) reads struct bpf_cgroup_dev_ctx:
//   r2 = device type (BPF_DEVCG_DEV_BLOCK/CHAR), r3 = requested access (BPF_DEVCG_ACC_*),
//   r4 = major, r5 = minor
// then tests the rules from last to first, so the last matching rule wins; an allow rule
// matches when it grants every requested access, a deny rule when it names any of them.
// No match returns 0 (deny). Programs are loaded as "berth_devices" so an update can find
// and detach the previous one.
#pragma once

#include <linux/bpf.h>

#include <string>
#include <vector>

#include "base/error.h"
#include "oci/spec.h"

namespace berth::cgroup::detail {

inline constexpr const char kBpfProgName[] = "berth_devices";

// Type a/c/b, access from "rwm", major/minor absent or in [0, 2^32).
Status validate_device_rule(const oci::DeviceCgroup& rule);
// "c 1:3 rwm", "b *:* r", "a".
std::string v1_device_rule(const oci::DeviceCgroup& rule);

// The program's instructions; validates every rule.
Result<std::vector<bpf_insn>> build_device_program(const std::vector<oci::DeviceCgroup>& rules);

// Loads insns and attaches them to the cgroup directory with BPF_F_ALLOW_MULTI, then
// detaches the programs named kBpfProgName that were attached there before.
Status attach_device_program(const std::string& cgroup_dir, const std::vector<bpf_insn>& insns);
// Ids of the device programs attached directly to cgroup_dir.
Result<std::vector<uint32_t>> query_device_programs(const std::string& cgroup_dir);

}  // namespace berth::cgroup::detail
