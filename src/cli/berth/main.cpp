// berth: the container engine's command line (docker's verbs). Thin: each verb group maps
// options onto the libraries and prints. Images and containers arrive with their issues.
#include <sys/utsname.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "base/log.h"
#include "cgroup/layout.h"
#include "cli/berth/commands.h"
#include "cli/berth/context.h"
#include "cli/berth/globals.h"
#include "runtime/rootless.h"

namespace {

using berth::cli::GlobalOptions;

void print_info(const GlobalOptions& g, berth::cli::Context& ctx) {
  struct utsname u;
  ::uname(&u);
  std::printf("Client: berth 0.1.0\n\n");
  std::printf("Server: none (berth runs without a daemon)\n");
  std::printf(" Mode: %s\n", g.rootless ? "rootless" : "rootful");
  if (g.rootless) {
    // The mapping is the one of berth's namespace: join it (the store's first use does).
    if (auto s = ctx.store(); s)
      std::printf(" ID Mapping: %s\n", berth::runtime::describe_id_maps().c_str());
    else
      std::printf(" ID Mapping: %s\n", s.error().message().c_str());
  }
  std::printf(" Storage Driver: overlay%s\n", g.rootless ? " (in a user namespace, userxattr)" : "");
  std::printf(" Network: %s\n", g.rootless ? "pasta (user-mode; host and none too)"
                                            : "bridge (netlink, nftables; host, none, user-defined)");
  std::printf(" Root Dir: %s\n Run Root: %s\n Config Dir: %s\n", g.root.c_str(), g.runroot.c_str(),
              g.config.c_str());
  auto layout = berth::cgroup::Layout::detect();
  if (layout) {
    std::printf(" Cgroup Driver: cgroupfs\n Cgroup Version: %s\n",
                std::string(berth::cgroup::mode_name(layout->mode())).c_str());
  } else {
    std::printf(" Cgroup: %s\n", layout.error().message().c_str());
  }
  std::printf(" Runtime: berth-runtime (in process), OCI runtime-spec 1.1\n");
  std::printf(" Kernel Version: %s\n Operating System: %s %s\n", u.release, u.sysname, u.machine);
  berth::cli::print_gpu_info(ctx);
}

}  // namespace

int main(int argc, char** argv) {
  GlobalOptions g = berth::cli::default_globals();
  CLI::App app{"berth: containers for deep learning, without a daemon", "berth"};
  app.require_subcommand(1);
  app.set_version_flag("-v,--version", "berth version 0.1.0");
  app.add_option("--root", g.root, "store directory (images, layers, containers)")
      ->capture_default_str();
  app.add_option("--runroot", g.runroot, "runtime state directory")->capture_default_str();
  app.add_option("--config", g.config, "client config directory (credentials)")
      ->capture_default_str();
  app.add_flag("-D,--debug", g.debug, "debug output and full error trails");
  app.add_option("--cdi-spec-dir", g.cdi_spec_dirs,
                 "a folder of CDI specs (repeatable; default /etc/cdi then /var/run/cdi)")
      ->allow_extra_args(false);

  auto* version = app.add_subcommand("version", "show the berth version");
  version->callback([] { std::printf("berth version 0.1.0\nOCI runtime-spec 1.1.0\n"); });
  // Command groups get the context; it reads the globals when a command runs.
  berth::cli::Context ctx(g);
  auto* info = app.add_subcommand("info", "show how berth runs on this machine");
  info->callback([&] { print_info(g, ctx); });
  app.parse_complete_callback([&] {
    if (g.debug) berth::log::set_level(berth::log::Level::debug);
  });
  // Only the groups this command line needs (all of them for help and unknown commands).
  berth::cli::add_commands(app, ctx, berth::cli::command_word(argc, argv));

  berth::cli::command_line().assign(argv, argv + argc);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (auto rest = app.remaining(); !rest.empty() && e.get_exit_code() != 0) {
      std::fprintf(stderr, "berth: '%s' is not a berth command.\nSee 'berth --help'\n",
                   rest.front().c_str());
      return berth::cli::kExitBerthError;
    }
    int rc = app.exit(e);
    return rc == 0 ? 0 : berth::cli::kExitBerthError;
  }
  return ctx.exit_code();
}
