// discover.h - finding the NVIDIA driver, its GPUs and files on the host without opening
// /dev/nvidia* (../shared/GPU.md 1.3): everything comes from procfs, sysfs, the driver root's
// ld.so.cache and folders, and one short-lived forked call of libcuda's cuDriverGetVersion
// (cached per driver version). NVML is loaded only on hosts with MIG instances, in a
// short-lived forked child that lists the MIG devices.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"

namespace berth::gpu {

// Where discovery looks. Production: all "/" and /proc, /sys. Tests point them at a fake
// driver tree (tests/fixtures/mk-fake-nvidia-driver.sh). From the environment variables
// BERTH_NVIDIA_DRIVER_ROOT, BERTH_NVIDIA_DEV_ROOT, BERTH_NVIDIA_PROC_ROOT,
// BERTH_NVIDIA_SYS_ROOT, BERTH_NVIDIA_RUN_ROOT, else the config keys of the same meaning,
// else the defaults.
struct HostRoots {
  std::string driver = "/";  // libraries (its etc/ld.so.cache), usr/bin, lib/firmware
  std::string dev = "/";     // holds dev/nvidia*
  std::string proc = "/proc";
  std::string sys = "/sys";
  // Where the persistenced / fabricmanager sockets and the MPS pipe folder live ("/").
  std::string run = "/";
};
// The roots from the environment over `base` (the config's values).
HostRoots roots_from_env(HostRoots base = {});

struct MigDevice {
  std::string uuid;  // MIG-...
  int index = 0;     // NVML's MIG index in its parent GPU (empty slots skipped, not renumbered)
  int gi = 0, ci = 0;
  // The nvidia-caps minors of the GI and CI access files.
  int gi_access_minor = -1, ci_access_minor = -1;
};

struct GpuInfo {
  int index = 0;            // NVML index = PCI bus order
  std::string uuid;         // GPU-...; "GPU-????..." when not yet initialised
  std::string bus_id;       // "0000:01:00.0" as in /proc/driver/nvidia/gpus
  std::string model;        // "NVIDIA H100 80GB HBM3"
  int minor = 0;            // "Device Minor": /dev/nvidia<minor>
  std::string brand;        // lower case, derived from the model: "tesla" for datacenter
                            // parts (A100/H100/...), "geforce", "quadro", "nvidia"
  std::string arch;         // compute capability when known ("9.0"), else ""
  // From NVML (nvml_mig_devices_for), asked only when PROC/driver/nvidia/capabilities/
  // gpu<minor>/mig/ holds gi<N> folders (the GPU has MIG instances now); the access minors
  // from procfs. Not cached: MIG layouts change at run time. Empty when NVML could not be
  // asked (DriverInfo::warnings says why).
  std::vector<MigDevice> migs;
};

struct DriverFile {
  std::string host_path;  // absolute path on the host (under roots.driver)
  std::string container_path;  // where it goes: the same path with the driver root stripped
};

struct DriverInfo {
  std::string version;       // "550.54.15" (from proc/driver/nvidia/version, cross-checked)
  std::string cuda_version;  // "12.4" from cuDriverGetVersion; "" when libcuda is missing
  int nvidia_major = 195;
  int uvm_major = -1;        // from proc/devices "nvidia-uvm"; -1 when not loaded
  int caps_major = -1;       // "nvidia-caps"
  std::vector<GpuInfo> gpus;
  // Per library name prefix ("libcuda", "libnvidia-ml", ...): the real files whose names end
  // in the driver version (stale versions dropped), from etc/ld.so.cache of the driver root
  // or, without one, its standard library folders. 64-bit only.
  std::map<std::string, std::vector<DriverFile>> libraries;
  // soname -> real file name in the same folder, e.g. "libcuda.so.1" -> "libcuda.so.550.54.15"
  std::map<std::string, std::string> sonames;
  std::map<std::string, DriverFile> binaries;   // "nvidia-smi" -> usr/bin/nvidia-smi
  std::vector<DriverFile> firmware;             // lib/firmware/nvidia/<version>/gsp*.bin
  std::vector<std::string> warnings;            // e.g. proc and library versions differ
};

// Discovers the driver under roots. No driver (no proc/driver/nvidia/version): error
// "no NVIDIA driver found: PROC/driver/nvidia/version does not exist (is the nvidia kernel
// module loaded?)". cache_dir: where the CUDA version is cached per driver version (""
// for no cache).
Result<DriverInfo> discover(const HostRoots& roots, const std::string& cache_dir);

// How long the NVML child may take: nvmlInit_v2 opens every GPU, about 2 s each one without
// persistence mode (GPU.md 1.3).
inline constexpr int kNvmlProbeTimeoutMs = 5000;

// discover() with the NVML child's time limit (tests shorten it).
Result<DriverInfo> discover(const HostRoots& roots, const std::string& cache_dir,
                            int nvml_timeout_ms);

// The CUDA version libcuda reports ("12.4"), calling cuDriverGetVersion in a forked child
// that dlopens lib (the host path of libcuda.so.1) and writes the number to a pipe; the
// child is killed after timeout_ms. Error when it cannot be loaded or answers nothing.
Result<std::string> cuda_driver_version(const std::string& libcuda_path, int timeout_ms = 2000);

// The MIG devices of one GPU, from NVML: a forked child dlopens libnvidia_ml_path (a path,
// never a bare name), calls nvmlInit_v2, nvmlDeviceGetHandleByPciBusId_v2, then for each MIG
// slot nvmlDeviceGetMigDeviceHandleByIndex, nvmlDeviceGetUUID, nvmlDeviceGetGpuInstanceId,
// nvmlDeviceGetComputeInstanceId, and nvmlShutdown, and sends fixed-size records over a
// pipe; it is killed after timeout_ms. bus_id: "0000:01:00.0" (procfs) or "00000000:01:00.0".
// The access minors are left -1 (discover() reads them from procfs). Errors: not a path, a
// bad bus id, dlopen, a missing NVML symbol, an NVML call failing (named with NVML's error),
// no answer in time (ETIMEDOUT).
Result<std::vector<MigDevice>> nvml_mig_devices(const std::string& libnvidia_ml_path,
                                                const std::string& bus_id,
                                                int timeout_ms = kNvmlProbeTimeoutMs);

// The same for several GPUs with one nvmlInit_v2 (it is the slow part): the result holds one
// entry per bus id, in order, each the MIG devices or that GPU's own error. The outer error
// is the child's: not a path, a bad bus id, dlopen, a missing symbol, nvmlInit_v2, timeout.
Result<std::vector<Result<std::vector<MigDevice>>>> nvml_mig_devices_for(
    const std::string& libnvidia_ml_path, const std::vector<std::string>& bus_ids,
    int timeout_ms = kNvmlProbeTimeoutMs);

// The library name prefixes of each capability (GPU.md 1.2) and the binaries.
std::vector<std::string> libraries_for(unsigned capabilities);
std::vector<std::string> binaries_for(unsigned capabilities);

}  // namespace berth::gpu
