// caps.h - Linux capabilities of the container process (OCI process.capabilities).
//
// Sets are bit masks (bit n = capability n). Names go up to CAP_CHECKPOINT_RESTORE (40).
// A name the library knows but the running kernel does not (n > cap_last_cap, e.g.
// CAP_BPF on 5.4) is kept by resolve_caps and silently left out by apply_caps and
// drop_bounding, as runc does, so one config works on older kernels.
//
// Use in the container init:
//   drop_bounding(sets.bounding)      // while still holding CAP_SETPCAP, before setuid
//   prctl(PR_SET_KEEPCAPS, 1); setresuid(...)
//   apply_caps(sets)                  // after setuid
// Neither call allocates unless it fails.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.h"
#include "oci/names.h"
#include "oci/spec.h"

namespace berth::security {

// The highest capability number berth knows (CAP_CHECKPOINT_RESTORE).
constexpr int kCapMax = oci::kLastCapability;

struct CapSets {
  uint64_t bounding = 0;
  uint64_t effective = 0;
  uint64_t inheritable = 0;
  uint64_t permitted = 0;
  uint64_t ambient = 0;
};

// "CAP_NET_ADMIN" -> 12. Exact, upper-case names as in the OCI spec.
Result<int> cap_from_name(std::string_view name);
// 12 -> "CAP_NET_ADMIN"; nullptr beyond kCapMax.
const char* cap_name(int cap);
// Masks from names; errors name the field: `capabilities.bounding[2]: unknown capability
// "CAP_FOO"`.
Result<CapSets> resolve_caps(const oci::Capabilities& caps);

// The running kernel's last capability (as /proc/sys/kernel/cap_last_cap says), found with
// PR_CAPBSET_READ so it works before /proc is mounted; and the mask of caps 0..last.
int kernel_cap_last_cap() noexcept;
uint64_t kernel_cap_mask() noexcept;

// Drops from the bounding set every capability the kernel knows and `bounding` lacks.
// Needs CAP_SETPCAP (so call it before setuid); caps already dropped are skipped.
Status drop_bounding(uint64_t bounding);
// drop_bounding, then capset(effective, permitted, inheritable), then clears the ambient set
// and raises each ambient cap (which must be permitted and inheritable).
Status apply_caps(const CapSets& sets);

// "CAP_CHOWN,CAP_KILL" in bit order; unknown bits as "CAP_41"; "" for an empty set.
std::string caps_to_string(uint64_t set);

}  // namespace berth::security
