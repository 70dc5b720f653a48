// runtime.h - the OCI runtime as a library: what `berth-runtime` (runc's command line) and
// berth itself (in process, no exec of a runtime binary) call.
//
//   create  -> the container exists, its init waits on exec.fifo ("created")
//   start   -> the init execs the user's process ("running")
//   run     -> create + start + wait, returning the process's exit status
//   kill, delete, state, list, exec, pause, resume, ps
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "cgroup/cgroup.h"
#include "oci/spec.h"
#include "oci/state.h"
#include "runtime/state_store.h"

namespace berth::runtime {

struct RuntimeOptions {
  std::string root = "/run/berth-runtime";  // state of every container
  std::string seccomp_cache;                // compiled filters; empty: <root>/.seccomp-cache
};

struct CreateOptions {
  std::string id;
  std::string bundle;          // directory with config.json
  std::string console_socket;  // unix socket that receives the pty master (process.terminal)
  std::string pid_file;        // written with the init's pid
  bool no_pivot = false;
  // In process: receives the pty master instead of a console socket (process.terminal).
  UniqueFd* console_out = nullptr;
};

struct ExecOptions {
  oci::Process process;
  std::string console_socket;
  std::string pid_file;
  bool detach = false;
};

struct RunOptions {
  bool detach = false;
};

class Runtime {
 public:
  explicit Runtime(RuntimeOptions opts);

  Status create(const CreateOptions& o);
  Status start(const std::string& id);
  // Foreground (detach false): returns the exit status of the container's process, forwards
  // signals, proxies the terminal when there is no console socket, and deletes the container
  // when it exits. Detached: returns 0 once the process runs.
  Result<int> run(const CreateOptions& o, const RunOptions& r);
  Result<oci::State> state(const std::string& id);
  Result<std::vector<oci::State>> list();
  Status kill(const std::string& id, int sig, bool all);
  Status remove(const std::string& id, bool force);
  Result<int> exec(const std::string& id, const ExecOptions& o);
  Status pause(const std::string& id);
  Status resume(const std::string& id);
  Result<std::vector<pid_t>> pids(const std::string& id);
  // The cgroup's usage (memory, cpu, pids): docker stats.
  Result<cgroup::Stats> stats(const std::string& id);
  // Changes the cgroup limits of a created, running or paused container (runc update).
  Status update(const std::string& id, const oci::Resources& r);

  // The container's config.json as copied at create.
  Result<oci::Spec> spec_of(const std::string& id);

 private:
  struct Launched;
  enum class StartGate { fifo, socket };
  Result<Launched> launch(const CreateOptions& o, StartGate gate, bool die_with_parent);
  Result<std::string> status_of(const ContainerRecord& r);
  Status run_poststart(const std::string& id);

  RuntimeOptions opts_;
  StateStore store_;
};

}  // namespace berth::runtime
