// gpus.cpp - a container's GPUs (--gpus) and CDI devices (--device vendor/class=name) as
// container edits, applied to its OCI spec at every start (docs/gpus.md). Discovery reads
// procfs and the driver's files only; the CUDA version is cached per driver version under
// RUNROOT/gpu.
#include <algorithm>
#include <set>

#include "base/file.h"
#include "base/strings.h"
#include "containers/spec_parts.h"
#include "gpu/cdi.h"
#include "gpu/nvidia.h"
#include "gpu/require.h"

namespace berth::containers {
namespace {

// The last NAME=value of env, or nullopt.
std::optional<std::string> env_value(const std::vector<std::string>& env, std::string_view name) {
  std::optional<std::string> v;
  for (const auto& e : env)
    if (e.size() > name.size() && e.compare(0, name.size(), name) == 0 && e[name.size()] == '=')
      v = e.substr(name.size() + 1);
  return v;
}

// Several --gpus flags add up, as docker's device requests do.
struct Combined {
  std::string visible;  // NVIDIA_VISIBLE_DEVICES value
  std::vector<std::string> capabilities;
};

Result<Combined> combine(const std::vector<std::string>& flags) {
  Combined c;
  std::vector<std::string> ids;
  bool all = false;
  for (const auto& f : flags) {
    auto parsed = gpu::parse_gpus_flag(f);
    if (!parsed) return Error::invalid("--gpus " + f + ": " + parsed.error().message());
    gpu::GpusFlag g = *parsed;
    std::string v = gpu::visible_devices_for(g);
    if (v == "all") all = true;
    else if (v != "void")
      for (auto& id : split(v, ','))
        if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(std::string(id));
    c.capabilities.insert(c.capabilities.end(), g.capabilities.begin(), g.capabilities.end());
  }
  c.visible = all ? "all" : ids.empty() ? "void" : join(ids, ",");
  return c;
}

}  // namespace

Result<gpu::ContainerEdits> gpu_edits(const EngineOptions& o, const ContainerSpec& s,
                                      const std::string& params_copy) {
  gpu::ContainerEdits out;
  if (!s.cdi_devices.empty()) {
    auto reg = gpu::cdi::Registry::load(o.cdi_spec_dirs);
    out.append(TRY(reg.resolve(s.cdi_devices)));
  }
  if (s.gpus.empty()) return out;
  Combined want = TRY(combine(s.gpus));
  if (want.visible == "void") return out;  // --gpus 0
  unsigned caps = 0;
  if (!want.capabilities.empty())
    caps = TRY(gpu::parse_capabilities(join(want.capabilities, ",")));
  else
    caps = TRY(gpu::parse_capabilities(env_value(s.env, "NVIDIA_DRIVER_CAPABILITIES").value_or("")));
  gpu::DriverInfo driver = TRY(gpu::discover(o.gpu_roots, path_join(o.runroot, "gpu")));
  gpu::GpuSelection sel = TRY(gpu::select_gpus(driver, gpu::parse_visible_devices(want.visible)));
  gpu::RequireFacts facts{.cuda = driver.cuda_version, .driver = driver.version, .gpus = {}};
  for (const gpu::GpuInfo* g : sel.gpus) facts.gpus.push_back({.arch = g->arch, .brand = g->brand});
  TRY(gpu::check_requirements(s.env, facts));
  gpu::NvidiaOptions no{.roots = o.gpu_roots,
                        .capabilities = caps,
                        .visible_devices = want.visible,
                        .hook_exe = o.runtime_exe,
                        .params_copy = params_copy};
  out.append(TRY(gpu::nvidia_edits(driver, sel, no)));
  return out;
}

}  // namespace berth::containers
