// engine.h - berth's containers: create, start (with a monitor process per container),
// stop, kill, remove, list and inspect them. The runtime (src/runtime) runs them in
// process; the monitor (src/monitor, `berth-monitor`) stays with each one, writes its logs
// and exit status, and serves attach. ARCHITECTURE.md "Running a container" tells the story.
//
// On disk (docs/containers.md):
//   ROOT/containers/<id>/        upper/ work/ (overlay), <id>-json.log, hostname, hosts,
//                                resolv.conf
//   RUNROOT/containers/<id>/     config.json (the OCI bundle), rootfs/ (the overlay mount),
//                                attach (the monitor's socket), exit.json (its record)
//   RUNROOT/runtime/             the OCI runtime's state
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "containers/container.h"
#include "gpu/discover.h"
#include "gpu/mount_layer.h"
#include "images/store.h"
#include "oci/spec.h"
#include "runtime/runtime.h"

namespace berth::containers {

struct EngineOptions {
  std::string runroot;  // RUNROOT; the store's root is ROOT
  // How the monitor calls berth back when the container exits (cleanup, --rm, restart):
  // berth's own path and its global options (--root, --runroot, --config).
  std::string berth_exe;
  std::vector<std::string> berth_global_args;
  std::string monitor_exe;  // berth-monitor (beside berth by default)
  std::string init_exe;     // berth-init, for --init (beside berth by default)
  // GPUs (docs/gpus.md): where the NVIDIA driver's files are, the CDI spec folders (lowest
  // priority first), and berth-runtime, whose `gpu-hook` is the GPU createContainer hook.
  gpu::HostRoots gpu_roots;
  std::vector<std::string> cdi_spec_dirs;
  std::string runtime_exe;
};

struct CreateRequest {
  std::string name;  // "" = generated
  ContainerSpec spec;
  bool entrypoint_set = false;  // --entrypoint given (even ""): the image's is replaced
};

struct StartOptions {
  // The monitor is started and the container created, but its process does not run until
  // the caller has attached and calls resume_start(): no output can be missed.
  bool hold = false;
};

// Starts paying the kernel's one-off cost of the first cgroup move (an RCU grace period) on a
// thread, so the container's own moves are quick; call as early as a command knows it will
// start a container. Engine::start calls it too and ends it; a no-op without root.
void warm_cgroup_moves();

class Engine {
 public:
  Engine(images::Store& store, EngineOptions opts);
  ~Engine();

  const std::string& root() const;
  const std::string& runroot() const { return opts_.runroot; }
  const EngineOptions& options() const { return opts_; }

  // Resolves the image (it must be in the store), applies its config (Cmd, Entrypoint, Env,
  // WorkingDir, User, ExposedPorts, Volumes, StopSignal) under the request, records the
  // container and makes its directories. The name must be free.
  Result<Container> create(CreateRequest req);
  // docker's lookup (id, name, unique id prefix) with the state brought up to date from
  // the monitor's record and the processes. "No such container: REF" when none.
  Result<Container> get(std::string_view ref);
  Result<std::vector<Container>> list();

  // Mounts the rootfs, sets up the network, starts the monitor which creates the container.
  Status start(Container& c, const StartOptions& o = {});
  Status resume_start(Container& c);  // after start(hold)
  // SIGTERM (or StopSignal), then SIGKILL after timeout seconds (-1: the container's
  // StopTimeout or 10). No restart policy applies afterwards.
  Status stop(Container& c, int timeout);
  Status kill(Container& c, int sig);
  Status pause(Container& c);
  Status unpause(Container& c);
  // force: kill it first when running. volumes: remove its anonymous volumes too.
  Status remove(Container& c, bool force, bool volumes);
  Status rename(Container& c, const std::string& new_name);
  // `network connect|disconnect`: a running container gets (loses) an interface on the
  // network at once; a stopped one at its next start. The network it was created with
  // cannot be disconnected.
  Status connect(Container& c, const std::string& network);
  Status disconnect(Container& c, const std::string& network);

  // Called (as `berth container _exited ID`) by the monitor when the process exited:
  // releases the mounts and network, then either restarts the container (returning the new
  // process's fds to the monitor over hook_fd) or, with --rm, removes it.
  Status on_exited(const std::string& id, int hook_fd);
  // After a foreground run: the same cleanup, done by the attached caller.
  Status release(Container& c);

  // Paths.
  std::string container_dir(const std::string& id) const;  // ROOT/containers/<id>
  std::string run_dir(const std::string& id) const;        // RUNROOT/containers/<id>
  std::string log_path(const std::string& id) const;
  std::string attach_socket(const std::string& id) const;
  std::string rootfs_path(const std::string& id) const;

  runtime::Runtime& runtime() { return runtime_; }
  const std::string& init_exe() const { return opts_.init_exe; }
  images::Store& store() { return store_; }

  // Exec in a running container: the process built from the container's spec and the
  // options (user, env, cwd, tty), in the foreground of the caller. Returns its exit
  // status (126/127 when it cannot be executed).
  struct ExecRequest {
    std::vector<std::string> args;
    bool tty = false;
    bool detach = false;
    bool interactive = false;
    std::string user;
    std::vector<std::string> env;
    std::string workdir;
    bool privileged = false;
  };
  Result<int> exec(Container& c, const ExecRequest& r);

  // Persist a changed state.
  Status save_state(const Container& c);

  // The rootfs overlay at rootfs_path(id) (commit, cp and export of a stopped container
  // mount it; a running one has it mounted). release_rootfs unmounts it.
  // gpu_layer: the mount points of its GPU files as one more read-only layer on top, when
  // it fits the image (gpu/mount_layer.h).
  Status prepare_rootfs(Container& c, const gpu::MountLayer* gpu_layer = nullptr);
  Status release_rootfs(const Container& c);

 private:
  Status restart_in_hook(Container& c, int hook_fd);
  // A POSIX record lock on RUNROOT/containers/<id>/lock, held while a start saves the new
  // state and while the exit hook runs, so a container that exits at once cannot have its
  // hook act on the state before the starter recorded it. Not inherited by forked children
  // (the monitor, the container), released when the fd closes.
  Result<UniqueFd> lock_state(const std::string& id);
  Status spawn_monitor(Container& c, bool start_now);
  Status refresh(Container& c);

  images::Store& store_;
  EngineOptions opts_;
  runtime::Runtime runtime_;
};

// Waits until process pid (with /proc start time `start`, 0 = any) is gone or the timeout
// passes (pidfd + poll; it need not be our child). True when gone.
bool wait_process_gone(int pid, uint64_t start, std::chrono::milliseconds timeout);

// A docker-like random name: "adjective_noun".
std::string generate_name(unsigned seed);

}  // namespace berth::containers
