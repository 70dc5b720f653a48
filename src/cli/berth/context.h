// context.h - what every berth command gets: the global options, the image store (opened on
// first use), registry client options with the user's credentials, and one way to report an
// error. Each command group lives in its own file and registers its verbs here.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/error.h"
#include "containers/engine.h"
#include "gpu/discover.h"
#include "cli/berth/globals.h"
#include "images/store.h"
#include "registry/client.h"
#include "registry/credentials.h"

namespace berth::cli {

class Context {
 public:
  // g: bound to the command line's options; read when a command runs.
  explicit Context(GlobalOptions& g) : g_(g) {}

  const GlobalOptions& globals() const { return g_; }

  // The store at --root, opened once.
  Result<images::Store*> store();
  // docker's config dir (--config): credentials read leniently (a broken config.json is
  // reported only when credentials are needed).
  Result<registry::CredentialStore*> credentials(
      registry::CredentialStore::Mode mode = registry::CredentialStore::Mode::soft);
  // Client options for pulls and pushes: credentials, certs.d under /etc/docker and --config,
  // BERTH_INSECURE_REGISTRIES (comma-separated host[:port]) as docker's insecure-registries.
  Result<registry::ClientOptions> client_options();

  // The containers engine over the store, opened once.
  Result<containers::Engine*> engine();

  // GPUs (docs/gpus.md): where discovery looks (BERTH_NVIDIA_* variables over the config
  // file's keys), the CDI spec folders (--cdi-spec-dir, else the config's, else /etc/cdi and
  // /var/run/cdi), and berth-runtime beside berth (the GPU hook).
  const gpu::HostRoots& gpu_roots();
  const std::vector<std::string>& cdi_spec_dirs();
  Result<std::string> runtime_exe();
  // berth-monitor beside berth (BERTH_MONITOR overrides): detached containers' monitor, and
  // the pause process of rootless mode.
  std::string monitor_exe() const;

  // Runs a command body: an error is printed as "Error: <message>" (the full trail with
  // --debug) and the exit status becomes 125; a body may set another status itself.
  void run(const std::function<Status()>& body);
  int exit_code() const { return exit_code_; }
  void set_exit_code(int code) { exit_code_ = code; }

 private:
  GlobalOptions& g_;
  std::unique_ptr<images::Store> store_;
  std::unique_ptr<containers::Engine> engine_;
  void load_gpu_config();
  std::optional<gpu::HostRoots> gpu_roots_;
  std::vector<std::string> cdi_dirs_;
  std::optional<registry::CredentialStore> creds_;
  registry::CredentialStore::Mode creds_mode_ = registry::CredentialStore::Mode::soft;
  int exit_code_ = 0;
};

// Command groups (one file each).
void add_pull_commands(CLI::App& app, Context& ctx);     // pull.cpp: pull
void add_push_commands(CLI::App& app, Context& ctx);     // push.cpp: push, login, logout
void add_image_commands(CLI::App& app, Context& ctx);    // images.cpp: images, image ..., tag,
                                                         // rmi, inspect, history, system df
void add_archive_commands(CLI::App& app, Context& ctx);  // archive.cpp: save, load, import
void add_run_commands(CLI::App& app, Context& ctx);      // run.cpp: run, create
void add_container_commands(CLI::App& app, Context& ctx);  // container_cmds.cpp: start, stop,
                                                           // kill, rm, exec, attach, logs, ...
void add_container_show_commands(CLI::App& app, Context& ctx);  // container_show.cpp: ps,
                                                                // inspect, top, port
void add_commit_cp_commands(CLI::App& app, Context& ctx);  // commit_cp.cpp: commit, export, cp
void add_volume_network_commands(CLI::App& app, Context& ctx);  // volumes_networks.cpp:
                                                                // volume ..., network ...,
                                                                // system reset
void add_build_commands(CLI::App& app, Context& ctx);  // build.cpp: build, image build
void add_gpu_commands(CLI::App& app, Context& ctx);  // gpu.cpp: gpu ls, gpu cdi generate|ls
void print_gpu_info(Context& ctx);                   // gpu.cpp: the GPU lines of `info`

// docker's repeated options take one value each time (-e A=1 -e B=2): a vector option must
// not swallow the arguments that follow it (the image and its command).
inline void one_value_per_option(CLI::App* cmd) {
  for (CLI::Option* o : cmd->get_options())
    if (!o->get_positional() && o->get_expected_max() > 1) o->allow_extra_args(false);
}

// The command line as given (main sets it): prefix_command verbs use it to tell an unknown
// flag before IMAGE (an error) from the container's own flags after it.
std::vector<std::string>& command_line();
// Err when the first of `rest` came before `anchor` on the command line.
Status check_no_unknown_flags(const std::string& anchor, const std::vector<std::string>& rest);

// docker's prompt before a prune: the warning, "Are you sure you want to continue? [y/N]";
// true for y/yes.
bool confirm(const std::string& warning);

// pull.cpp: what `berth pull NAME` does, for run/create --pull.
Status pull_image(Context& ctx, const std::string& name, const std::string& platform, bool quiet);
// container_show.cpp: a container's docker inspect JSON (nullopt: no such container), for
// `inspect`.
Result<std::optional<nlohmann::ordered_json>> inspect_container(Context& ctx, const std::string& name);
// volumes_networks.cpp: the same for volumes and networks.
Result<std::optional<nlohmann::ordered_json>> inspect_volume(Context& ctx, const std::string& name);
Result<std::optional<nlohmann::ordered_json>> inspect_network(Context& ctx, const std::string& name);

}  // namespace berth::cli
