// gpu.cpp - `berth gpu ls` and `berth gpu cdi generate` (docs/gpus.md), and the GPU lines
// of `berth info`.
#include <cstdio>

#include "base/file.h"
#include "base/strings.h"
#include "cli/berth/context.h"
#include "cli/berth/format.h"
#include "gpu/cdi.h"
#include "gpu/nvidia.h"

namespace berth::cli {
namespace {

Result<gpu::DriverInfo> discover(Context& ctx) {
  return gpu::discover(ctx.gpu_roots(), path_join(ctx.globals().runroot, "gpu"));
}

// A CDI spec naming every GPU by index and UUID, every MIG device by "GPU:MIG" and UUID, and
// "all": the control nodes, libraries, binaries, firmware, sockets and berth's hook are
// common edits; each device adds its own nodes.
Result<gpu::cdi::Spec> generate(Context& ctx, const gpu::DriverInfo& d) {
  unsigned caps = gpu::kUtility | gpu::kCompute | gpu::kVideo | gpu::kGraphics | gpu::kNgx;
  if (path_exists(path_join(ctx.gpu_roots().dev, "/dev/nvidia-modeset"))) caps |= gpu::kDisplay;
  gpu::NvidiaOptions o{.roots = ctx.gpu_roots(), .capabilities = caps, .visible_devices = "void",
                       .hook_exe = TRY(ctx.runtime_exe()), .params_copy = ""};
  gpu::cdi::Spec spec;
  spec.cdi_version = "0.5.0";
  spec.kind = "nvidia.com/gpu";
  spec.edits = TRY(gpu::nvidia_edits(d, gpu::GpuSelection{}, o));
  // A legacy NVIDIA hook, if one is installed too, must not act a second time.
  spec.edits.env = {"NVIDIA_VISIBLE_DEVICES=void"};
  auto node = [&](const std::string& path) {
    std::string host = path_join(ctx.gpu_roots().dev, path);
    return gpu::DeviceNode{.path = path, .host_path = host == path ? "" : host};
  };
  gpu::cdi::Device all{.name = "all", .annotations = {}, .edits = {}};
  for (const auto& g : d.gpus) {
    gpu::ContainerEdits e;
    e.device_nodes.push_back(node("/dev/nvidia" + std::to_string(g.minor)));
    all.edits.device_nodes.push_back(e.device_nodes.back());
    spec.devices.push_back({.name = std::to_string(g.index), .annotations = {}, .edits = e});
    if (g.uuid.find('?') == std::string::npos)
      spec.devices.push_back({.name = g.uuid, .annotations = {}, .edits = e});
    for (const auto& m : g.migs) {
      gpu::ContainerEdits me = e;
      for (int minor : {m.gi_access_minor, m.ci_access_minor})
        if (minor >= 0) me.device_nodes.push_back(node("/dev/nvidia-caps/nvidia-cap" + std::to_string(minor)));
      spec.devices.push_back({.name = std::to_string(g.index) + ":" + std::to_string(m.index),
                              .annotations = {}, .edits = me});
      if (!m.uuid.empty()) spec.devices.push_back({.name = m.uuid, .annotations = {}, .edits = me});
    }
  }
  if (d.gpus.empty()) return Error(ENODEV, "no NVIDIA GPU found: nothing to put in a CDI spec");
  spec.devices.push_back(std::move(all));
  return spec;
}

void add_gpu_ls(CLI::App* gpu, Context& ctx) {
  auto* ls = gpu->add_subcommand("ls", "List the host's NVIDIA GPUs");
  ls->alias("list");
  auto quiet = std::make_shared<bool>(false);
  ls->add_flag("-q,--quiet", *quiet, "Only display UUIDs");
  ls->callback([&ctx, quiet] {
    ctx.run([&]() -> Status {
      gpu::DriverInfo d = TRY(discover(ctx));
      if (*quiet) {
        for (const auto& g : d.gpus) std::printf("%s\n", g.uuid.c_str());
        return ok();
      }
      TabWriter t;
      t.write("INDEX\tUUID\tBUS ID\tMODEL\tMINOR\tMIG DEVICES\n");
      for (const auto& g : d.gpus) {
        std::vector<std::string> migs;
        for (const auto& m : g.migs) migs.push_back(std::to_string(g.index) + ":" + std::to_string(m.index));
        t.write(join({std::to_string(g.index), g.uuid, g.bus_id, g.model, std::to_string(g.minor),
                      migs.empty() ? "-" : join(migs, ",")}, "\t") + "\n");
      }
      for (const auto& w : d.warnings) std::fprintf(stderr, "WARNING: %s\n", w.c_str());
      std::string text = t.flush();
      std::fwrite(text.data(), 1, text.size(), stdout);
      return ok();
    });
  });
}

void add_gpu_cdi(CLI::App* gpu, Context& ctx) {
  auto* cdi = gpu->add_subcommand("cdi", "Container Device Interface specs");
  cdi->require_subcommand(1);
  auto* gen = cdi->add_subcommand("generate", "Write a CDI spec for the host's NVIDIA GPUs");
  auto out = std::make_shared<std::string>();
  auto format = std::make_shared<std::string>("yaml");
  gen->add_option("-o,--output", *out, "Write to this file (default: standard output)");
  gen->add_option("--format", *format, "yaml or json")->check(CLI::IsMember({"yaml", "json"}));
  gen->callback([&ctx, out, format] {
    ctx.run([&]() -> Status {
      gpu::DriverInfo d = TRY(discover(ctx));
      gpu::cdi::Spec spec = TRY(generate(ctx, d));
      bool json = *format == "json" || (out->size() > 5 && out->substr(out->size() - 5) == ".json");
      std::string text = json ? gpu::cdi::to_json(spec) : gpu::cdi::to_yaml(spec);
      if (out->empty()) {
        std::fwrite(text.data(), 1, text.size(), stdout);
        return ok();
      }
      TRY(mkdir_all(dirname_of(*out)));
      TRY(write_file_atomic(*out, text, 0644));
      std::fprintf(stderr, "Wrote %s: %zu devices of kind %s\n", out->c_str(), spec.devices.size(),
                   spec.kind.c_str());
      return ok();
    });
  });
  auto* ls = cdi->add_subcommand("ls", "List the CDI devices the spec folders define");
  ls->alias("list");
  ls->callback([&ctx] {
    ctx.run([&]() -> Status {
      auto reg = gpu::cdi::Registry::load(ctx.cdi_spec_dirs());
      for (const auto& n : reg.device_names()) std::printf("%s\n", n.c_str());
      for (const auto& e : reg.errors()) std::fprintf(stderr, "WARNING: %s\n", e.c_str());
      return ok();
    });
  });
}

}  // namespace

void add_gpu_commands(CLI::App& app, Context& ctx) {
  auto* gpu = app.add_subcommand("gpu", "Manage GPUs: list them, write CDI specs");
  gpu->require_subcommand(1);
  add_gpu_ls(gpu, ctx);
  add_gpu_cdi(gpu, ctx);
}

void print_gpu_info(Context& ctx) {
  auto d = discover(ctx);
  if (!d) {
    std::printf(" GPUs: none (%s)\n", d.error().message().c_str());
    return;
  }
  std::printf(" NVIDIA Driver Version: %s\n CUDA Version: %s\n GPUs: %zu\n", d->version.c_str(),
              d->cuda_version.empty() ? "unknown" : d->cuda_version.c_str(), d->gpus.size());
  for (const auto& g : d->gpus)
    std::printf("  %d: %s (%s, %s)\n", g.index, g.model.c_str(), g.uuid.c_str(), g.bus_id.c_str());
  auto reg = gpu::cdi::Registry::load(ctx.cdi_spec_dirs());
  std::printf(" CDI Spec Dirs: %s\n CDI Devices: %zu\n", join(ctx.cdi_spec_dirs(), ", ").c_str(),
              reg.device_names().size());
}

}  // namespace berth::cli
