// berth-runtime: the OCI runtime with runc's command line, for podman --runtime, containerd's
// runc shim (BinaryName), Slurm's oci.conf and anyone else who speaks to runc.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "base/log.h"
#include "cli/runtime/commands.h"
#include "gpu/hook.h"

namespace {

constexpr const char* kVersion = "berth-runtime version 0.1.0\nspec: 1.1.0\n";

int report(const berth::Error& e, bool debug, bool log_to_file) {
  berth::log::error(debug ? e.trail() : e.message());
  // As runc does, the error also goes to stderr when --log names a file: go-runc (containerd's
  // shim) and podman read the command's output to classify failures ("container not running",
  // "does not exist").
  if (log_to_file) std::fprintf(stderr, "%s\n", e.message().c_str());
  // The process could not be started: the shell's 127 (not found) or 126 (not executable).
  if (e.op() == "exec") return e.code() == ENOENT ? 127 : 126;
  return 1;
}

// `berth-runtime gpu-hook ARGS`: the createContainer hook of GPU containers (gpu/hook.h).
// Hidden: not one of runc's verbs. The container's state comes on stdin.
int gpu_hook(int argc, char** argv) {
  std::vector<std::string> args(argv + 2, argv + argc);
  auto req = berth::gpu::parse_hook_args(args);
  if (!req) {
    std::fprintf(stderr, "berth-runtime gpu-hook: %s\n", req.error().message().c_str());
    return 2;
  }
  std::string state;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(0, buf, sizeof buf)) > 0 && state.size() < (1u << 20))
    state.append(buf, static_cast<size_t>(n));
  auto rootfs = berth::gpu::rootfs_from_state(state);
  berth::Status st = rootfs ? berth::gpu::run_gpu_hook(*req, *rootfs) : berth::Status(rootfs.error());
  if (!st) {
    std::fprintf(stderr, "berth-runtime gpu-hook: %s\n", st.error().message().c_str());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace berth;
  if (argc >= 2 && std::string_view(argv[1]) == "gpu-hook") return gpu_hook(argc, argv);
  CLI::App app{"berth-runtime: an OCI runtime (runc's command line)", "berth-runtime"};
  app.require_subcommand(1);
  app.set_version_flag("-v,--version", kVersion);
  cli::Globals g;
  if (::geteuid() != 0) {
    // Like runc: an ordinary user's state lives in their runtime dir.
    const char* xdg = getenv("XDG_RUNTIME_DIR");
    g.root = xdg && *xdg ? std::string(xdg) + "/berth-runtime"
                         : "/tmp/berth-runtime-" + std::to_string(::geteuid());
  }
  app.add_option("--root", g.root,
                 "directory for the containers' state (default /run/berth-runtime; "
                 "$XDG_RUNTIME_DIR/berth-runtime for other users)");
  app.add_option("--log", g.log_file, "log file (default: stderr)");
  app.add_option("--log-format", g.log_format, "log format: text or json")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_flag("--debug", g.debug, "log debug messages and full error trails");
  app.add_flag("--systemd-cgroup", g.systemd_cgroup, "use systemd for cgroups (not supported)");
  app.add_option("--rootless", g.rootless, "ignored: berth-runtime detects rootless mode")
      ->default_str("auto");
  app.add_option("--criu", "ignored: checkpoint/restore is not supported");

  cli::Action action;
  cli::add_lifecycle_commands(app, action);
  cli::add_query_commands(app, action, g);
  cli::add_exec_command(app, action);
  cli::add_update_command(app, action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  bool log_to_file =
      log::set_output(g.log_file, g.log_format == "json" ? log::Format::json : log::Format::text) &&
      !g.log_file.empty();
  if (g.debug) log::set_level(log::Level::debug);
  if (g.systemd_cgroup) {
    log::error(
        "--systemd-cgroup is not supported: berth-runtime manages cgroups itself (cgroupfs); "
        "configure your engine with cgroup_manager = \"cgroupfs\"");
    return 1;
  }
  runtime::RuntimeOptions ro;
  ro.root = g.root;
  runtime::Runtime rt(ro);
  auto r = action(rt);
  if (!r) return report(r.error(), g.debug, log_to_file);
  return r.value();
}
