// request.h - what GPUs a container asks for: docker's --gpus grammar, the
// NVIDIA_VISIBLE_DEVICES and NVIDIA_DRIVER_CAPABILITIES contract (../shared/GPU.md 1.5, 3).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace berth::gpu {

// Driver capabilities as a bit set.
enum Capability : unsigned {
  kCompute = 1u << 0,
  kCompat32 = 1u << 1,
  kGraphics = 1u << 2,
  kUtility = 1u << 3,
  kVideo = 1u << 4,
  kDisplay = 1u << 5,
  kNgx = 1u << 6,
  kAllCapabilities = (1u << 7) - 1,
};
constexpr unsigned kDefaultCapabilities = kUtility | kCompute;

// Parses a comma-separated capability list ("compute,utility", "all"), entries trimmed and
// empty ones skipped. Empty input gives kDefaultCapabilities. Implications applied: video
// adds compute, display adds graphics. Unknown name: error "unsupported capability: X".
Result<unsigned> parse_capabilities(std::string_view s);
// "compute,utility" (fixed order: compute compat32 graphics utility video display ngx), or
// "all" when every bit is set.
std::string capabilities_string(unsigned caps);

// docker's --gpus value (docker/cli opts/gpus.go), parsed as CSV so '"device=0,2"' works:
// "all" | N | device=ID[,ID...] | capabilities=CAP[,CAP...] | driver=NAME | options=K=V
// in any combination. Defaults: count 1 when neither count nor device is given.
struct GpusFlag {
  int count = 0;                        // -1: all; 0 with device_ids set
  std::vector<std::string> device_ids;  // as given
  // The "capabilities=" values that name NVIDIA driver capabilities (compute, utility...,
  // or "all"), trimmed, duplicates dropped; "gpu" and other docker-generic words are
  // dropped. Empty: not given (or only generic words). Each entry parse_capabilities accepts.
  std::vector<std::string> capabilities;
  std::string driver;  // "", "nvidia" (others rejected: berth only has the nvidia driver)
};
// Errors as docker's: "cannot set both Count and DeviceIDs on device request", "invalid
// count: X", "unexpected key 'K' in 'V'", "gpu request key 'K' can be specified only once"
// (a bare count counts as key "count"), a CSV quoting error. Stricter than docker: a count
// below -1 or above kMaxGpuCount, an empty device id, a control character (one trailing
// newline is dropped) and a driver other than "nvidia" are errors. options= is checked as
// CSV and otherwise ignored, as moby's nvidia driver ignores it.
constexpr int kMaxGpuCount = 1024;
Result<GpusFlag> parse_gpus_flag(std::string_view value);

// An NVIDIA_VISIBLE_DEVICES value. Entries trimmed, empty ones skipped, duplicates dropped;
// "void" or "none" among other entries stays a list entry (an unknown device later).
struct VisibleDevices {
  enum Kind { kVoid, kNone, kAll, kList } kind = kVoid;
  std::vector<std::string> ids;  // kList: GPU index, GPU-uuid, bus id, MIG-uuid, "gpu:mig"
};
// "" or "void" (or only empty entries) -> kVoid, "none" -> kNone, "all" (alone or among
// others) -> kAll. Case-sensitive, as the toolkit is.
VisibleDevices parse_visible_devices(std::string_view value);
// The NVIDIA_VISIBLE_DEVICES value a --gpus flag stands for: count -1 -> "all", N -> "0,..,N-1",
// device ids joined by ',' ; count 0 and no ids -> "void".
std::string visible_devices_for(const GpusFlag& flag);

}  // namespace berth::gpu
