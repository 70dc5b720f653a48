// nvidia.cpp - see nvidia.h. Everything here is computed from DriverInfo (discover.h): no
// device node is opened and NVML is never loaded on the start path.
#include "gpu/nvidia.h"

#include <algorithm>
#include <set>

#include "base/file.h"
#include "base/strings.h"

namespace berth::gpu {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "0000:01:00.0", "00000000:01:00.0" and "01:00.0" all name bus 01, device 00, function 0.
std::string bus_without_domain(std::string_view id) {
  std::string s = lower(id);
  if (std::count(s.begin(), s.end(), ':') == 2) s = s.substr(s.find(':') + 1);
  return s;
}

bool is_decimal(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

const GpuInfo* find_gpu(const DriverInfo& d, const std::string& id) {
  for (const auto& g : d.gpus) {
    if (lower(g.uuid) == lower(id)) return &g;
    if (id.find(':') != std::string::npos && id.find('.') != std::string::npos &&
        bus_without_domain(g.bus_id) == bus_without_domain(id))
      return &g;
    if (is_decimal(id) && id.size() < 6 && std::stoi(id) == g.index) return &g;
  }
  return nullptr;
}

std::optional<GpuSelection::Mig> find_mig(const DriverInfo& d, const std::string& id) {
  for (const auto& g : d.gpus)
    for (const auto& m : g.migs)
      if (lower(m.uuid) == lower(id)) return GpuSelection::Mig{&g, &m};
  auto colon = id.find(':');
  if (colon == std::string::npos) return std::nullopt;
  std::string gi = id.substr(0, colon), mi = id.substr(colon + 1);
  if (!is_decimal(gi) || !is_decimal(mi) || gi.size() > 5 || mi.size() > 5) return std::nullopt;
  for (const auto& g : d.gpus)
    if (g.index == std::stoi(gi))
      for (const auto& m : g.migs)
        if (m.index == std::stoi(mi)) return GpuSelection::Mig{&g, &m};
  return std::nullopt;
}

// "GPU 0 (GPU-1234..., 0000:01:00.0), GPU 1 (...)": what the host has, for errors.
std::string inventory(const DriverInfo& d) {
  if (d.gpus.empty()) return "this host has no NVIDIA GPU";
  std::vector<std::string> parts;
  for (const auto& g : d.gpus)
    parts.push_back(std::to_string(g.index) + " (" + g.uuid + ", " + g.bus_id + ")");
  return "this host has GPU " + join(parts, ", ");
}

void add_gpu(GpuSelection& sel, const GpuInfo* g) {
  if (std::find(sel.gpus.begin(), sel.gpus.end(), g) == sel.gpus.end()) sel.gpus.push_back(g);
}

const std::vector<std::string> kBindOptions = {"ro", "nosuid", "nodev", "rbind", "rprivate"};

}  // namespace

Result<GpuSelection> select_gpus(const DriverInfo& d, const VisibleDevices& v) {
  GpuSelection sel;
  if (v.kind == VisibleDevices::kAll) {
    for (const auto& g : d.gpus) add_gpu(sel, &g);
    return sel;
  }
  if (v.kind != VisibleDevices::kList) return sel;
  std::vector<std::string> unknown;
  for (const auto& id : v.ids) {
    if (const GpuInfo* g = find_gpu(d, id)) {
      add_gpu(sel, g);
    } else if (auto m = find_mig(d, id)) {
      add_gpu(sel, m->parent);
      sel.migs.push_back(*m);
    } else {
      unknown.push_back(id);
    }
  }
  if (!unknown.empty())
    return Error(ENODEV, "unknown GPU device " + join(unknown, ", ") + ": " + inventory(d));
  std::sort(sel.gpus.begin(), sel.gpus.end(),
            [](const GpuInfo* a, const GpuInfo* b) { return a->index < b->index; });
  return sel;
}

std::vector<std::string> hook_args(const DriverInfo& d, const std::vector<MountEdit>& libs) {
  std::vector<std::string> args;
  std::set<std::string> folders;
  for (const auto& m : libs) {
    std::string dir = dirname_of(m.container_path), file = basename_of(m.container_path);
    folders.insert(dir);
    for (const auto& [soname, target] : d.sonames) {
      if (target != file || soname == file) continue;
      args.push_back("--link");
      args.push_back(path_join(dir, soname) + "=" + target);
      // The development names some programs (and the toolkit) expect.
      if (soname == "libcuda.so.1" || soname == "libnvidia-opticalflow.so.1") {
        args.push_back("--link");
        args.push_back(path_join(dir, soname.substr(0, soname.size() - 2)) + "=" + soname);
      }
    }
    if (starts_with(file, "libGLX_nvidia.so.")) {
      args.push_back("--link");
      args.push_back(path_join(dir, "libGLX_indirect.so.0") + "=" + file);
    }
  }
  for (const auto& f : folders) {
    args.push_back("--folder");
    args.push_back(f);
  }
  return args;
}

Result<ContainerEdits> nvidia_edits(const DriverInfo& d, const GpuSelection& sel,
                                    const NvidiaOptions& o) {
  ContainerEdits e;
  // Device nodes, from the dev root; the runtime makes them and the cgroup rules from the
  // spec (never written on the side, so they survive a systemd daemon-reload).
  auto node = [&](const std::string& path, const std::string& why) -> Status {
    std::string host = path_join(o.roots.dev, path);
    if (!path_exists(host))
      return Error(ENOENT, host + " does not exist: " + why);
    e.device_nodes.push_back({.path = path, .host_path = host, .permissions = "rw"});
    return ok();
  };
  TRY(node("/dev/nvidiactl", "the NVIDIA control device is missing (run nvidia-modprobe, or "
                             "nvidia-smi once as root, to create it)"));
  for (const GpuInfo* g : sel.gpus)
    TRY(node("/dev/nvidia" + std::to_string(g->minor),
             "the device node of GPU " + std::to_string(g->index) + " (" + g->uuid + ") is missing"));
  if (o.capabilities & kCompute) {
    TRY(node("/dev/nvidia-uvm", "the nvidia-uvm module is not loaded or its node not made "
                                "(nvidia-modprobe -u -c=0); CUDA needs it"));
    if (path_exists(path_join(o.roots.dev, "/dev/nvidia-uvm-tools")))
      TRY(node("/dev/nvidia-uvm-tools", ""));
  }
  if (o.capabilities & kDisplay) TRY(node("/dev/nvidia-modeset", "needed for the display capability"));
  for (const auto& m : sel.migs) {
    for (int minor : {m.mig->gi_access_minor, m.mig->ci_access_minor}) {
      if (minor < 0) continue;
      TRY(node("/dev/nvidia-caps/nvidia-cap" + std::to_string(minor),
               "the MIG capability node of " + m.mig->uuid + " is missing"));
    }
  }

  // Driver libraries for the capabilities, at their host paths (less the driver root).
  std::vector<MountEdit> libs;
  for (const auto& prefix : libraries_for(o.capabilities)) {
    auto it = d.libraries.find(prefix);
    if (it == d.libraries.end()) continue;
    for (const auto& f : it->second)
      libs.push_back({.host_path = f.host_path, .container_path = f.container_path, .type = "bind",
                      .options = kBindOptions});
  }
  for (const auto& name : binaries_for(o.capabilities)) {
    auto it = d.binaries.find(name);
    if (it == d.binaries.end()) continue;
    e.mounts.push_back({.host_path = it->second.host_path, .container_path = "/usr/bin/" + name,
                        .type = "bind", .options = kBindOptions});
  }
  e.mounts.insert(e.mounts.end(), libs.begin(), libs.end());
  for (const auto& f : d.firmware)
    e.mounts.push_back({.host_path = f.host_path, .container_path = f.container_path,
                        .type = "bind", .options = kBindOptions});

  // IPC: persistenced and fabric manager sockets (utility), the MPS pipes (compute).
  std::vector<std::string> ipc;
  if (o.capabilities & kUtility)
    ipc = {"/run/nvidia-persistenced/socket", "/run/nvidia-fabricmanager/socket"};
  if (o.capabilities & kCompute) ipc.push_back("/tmp/nvidia-mps");
  for (const auto& p : ipc) {
    std::string host = path_join(o.roots.run, p);
    if (path_exists(host))
      e.mounts.push_back({.host_path = host, .container_path = p, .type = "bind",
                          .options = {"rbind", "nosuid", "nodev", "noexec", "rprivate"}});
  }

  // A /proc/driver/nvidia that shows only the selected GPUs, and params saying
  // ModifyDeviceFiles: 0 so NVML inside never makes nodes for the others.
  std::string pdir = path_join(o.roots.proc, "driver/nvidia");
  if (!o.params_copy.empty() && is_directory(pdir)) {
    // A fake proc root (tests, BERTH_NVIDIA_PROC_ROOT): the real procfs has no
    // driver/nvidia folder to mount on, so /proc/driver becomes a tmpfs first.
    if (clean_path(o.roots.proc) != "/proc")
      e.mounts.push_back({.host_path = "tmpfs", .container_path = "/proc/driver", .type = "tmpfs",
                          .options = {"nosuid", "nodev", "noexec", "mode=0755", "size=64k"}});
    e.mounts.push_back({.host_path = "tmpfs", .container_path = "/proc/driver/nvidia",
                        .type = "tmpfs",
                        .options = {"nosuid", "nodev", "noexec", "mode=0755", "size=64k"}});
    auto params = read_file(path_join(pdir, "params"), 1 << 20);
    if (params) {
      std::string text = *params;
      for (size_t at = text.find("ModifyDeviceFiles: 1"); at != std::string::npos;
           at = text.find("ModifyDeviceFiles: 1", at))
        text[at + 19] = '0';
      TRY(write_file_atomic(o.params_copy, text, 0444, Durability::volatile_ok));
      e.mounts.push_back({.host_path = o.params_copy, .container_path = "/proc/driver/nvidia/params",
                          .type = "bind", .options = kBindOptions});
    }
    for (const char* f : {"version", "registry"})
      if (path_exists(path_join(pdir, f)))
        e.mounts.push_back({.host_path = path_join(pdir, f),
                            .container_path = std::string("/proc/driver/nvidia/") + f,
                            .type = "bind", .options = kBindOptions});
    if (is_directory(path_join(pdir, "capabilities")))
      e.mounts.push_back({.host_path = path_join(pdir, "capabilities"),
                          .container_path = "/proc/driver/nvidia/capabilities", .type = "bind",
                          .options = kBindOptions});
    for (const GpuInfo* g : sel.gpus)
      e.mounts.push_back({.host_path = path_join(pdir, "gpus/" + g->bus_id),
                          .container_path = "/proc/driver/nvidia/gpus/" + g->bus_id,
                          .type = "bind", .options = kBindOptions});
  } else if (!o.params_copy.empty()) {
    for (const auto& g : d.gpus)
      if (std::find(sel.gpus.begin(), sel.gpus.end(), &g) == sel.gpus.end())
        e.masked_paths.push_back("/proc/driver/nvidia/gpus/" + g.bus_id);
  }

  e.env.push_back("NVIDIA_VISIBLE_DEVICES=" + o.visible_devices);
  e.env.push_back("NVIDIA_DRIVER_CAPABILITIES=" + capabilities_string(o.capabilities));

  // Soname links, libcuda.so and the loader cache: made inside the container by berth's
  // own binary. Its environment is its own, never the container's.
  if (!libs.empty() && !o.hook_exe.empty()) {
    HookEdit h{.hook_name = "createContainer", .path = o.hook_exe,
               .args = {"berth-runtime", "gpu-hook"},
               .env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, .timeout = 30};
    auto extra = hook_args(d, libs);
    h.args.insert(h.args.end(), extra.begin(), extra.end());
    e.hooks.push_back(std::move(h));
  }
  return e;
}

}  // namespace berth::gpu
