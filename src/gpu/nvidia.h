// nvidia.h - berth's own NVIDIA injection, without the NVIDIA Container Toolkit: which GPUs
// a container gets (NVIDIA_VISIBLE_DEVICES semantics), and the container edits that give it
// them (device nodes, driver libraries and binaries, firmware, IPC sockets, a /proc view that
// shows only its GPUs, and the createContainer hook that makes the soname links and runs
// ldconfig). ../shared/GPU.md is the reference; docs/gpus.md the user's view.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "gpu/discover.h"
#include "gpu/edits.h"
#include "gpu/request.h"

namespace berth::gpu {

struct GpuSelection {
  std::vector<const GpuInfo*> gpus;  // whole GPUs, and the parents of selected MIG devices
  struct Mig {
    const GpuInfo* parent;
    const MigDevice* mig;
  };
  std::vector<Mig> migs;
};

// Matches each id of v against the driver's GPUs: a GPU UUID (case-insensitive), a PCI bus
// id (16- or 32-bit domain, or without one), a decimal index; then MIG devices: MIG-UUID or
// "GPU:MIG" indexes. kAll: every GPU; kNone: none (the control nodes and libraries still
// come). An id that matches nothing is an error naming it and listing what this host has.
Result<GpuSelection> select_gpus(const DriverInfo& d, const VisibleDevices& v);

struct NvidiaOptions {
  HostRoots roots;
  unsigned capabilities = kDefaultCapabilities;
  std::string visible_devices;  // the NVIDIA_VISIBLE_DEVICES value to set inside
  // berth-runtime's absolute path: the createContainer hook is "berth-runtime gpu-hook ...".
  std::string hook_exe;
  // Where the edited copy of the driver's params (ModifyDeviceFiles: 0) is written; "" leaves
  // the /proc view out (e.g. a CDI spec for other engines).
  std::string params_copy;
};

// The edits for a selection. Errors name what is missing on the host (a device node, the
// uvm module's node for compute).
Result<ContainerEdits> nvidia_edits(const DriverInfo& d, const GpuSelection& sel,
                                    const NvidiaOptions& o);

// The hook's arguments for a set of libraries mounted into the container: "--link
// DIR/SONAME=TARGET" for each soname of a mounted library, libcuda.so -> libcuda.so.1, and
// "--folder DIR" for each library folder (ldconfig runs over them).
std::vector<std::string> hook_args(const DriverInfo& d, const std::vector<MountEdit>& libs);

}  // namespace berth::gpu
