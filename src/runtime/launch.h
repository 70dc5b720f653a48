// launch.h - the runtime side of starting a process in a container: fork stage 1, put it in
// the cgroup, write id maps, run the runtime-namespace hooks, collect the pty master and
// the init's pid, turn child errors into one Error. Shared by create and exec.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>

#include "base/error.h"
#include "base/fd.h"
#include "runtime/init.h"
#include "sys/sync.h"

namespace berth::runtime {

struct LaunchCallbacks {
  std::function<Status(pid_t stage1)> enter_cgroup;  // before stage 1 goes on
  std::function<Status(pid_t init)> at_hooks_point;  // mounts are ready (create only)
};

struct LaunchResult {
  pid_t pid = 0;         // the container process (stage 2)
  UniqueFd console;      // pty master, when process.terminal
  sys::SyncSocket sock;  // still open: the socket start gate, EOF at execve
};

// Forks and drives the child until it reports ready (or fails: then every process it made
// is killed and reaped before the error returns).
Result<LaunchResult> launch_process(const InitConfig& cfg, const LaunchCallbacks& cb);

// Writes uid_map/gid_map of pid from the spec (newuidmap/newgidmap when not root and the
// mapping is more than the caller's own id).
Status write_id_maps(pid_t pid, const oci::Linux& linux);

}  // namespace berth::runtime
