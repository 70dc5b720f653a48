// init.h - the container side of create and exec: the code that runs between fork and exec.
//
// Process model (docs/runtime.md):
//   runtime ──fork──> stage 1: joins namespaces by path, unshares the user namespace (the
//                      runtime writes the id maps), unshares the others, then clones
//                      stage 2 with CLONE_PARENT (so the runtime is its parent), reports
//                      its pid and exits.
//                     stage 2 (the container's pid 1): rootfs, devices, pivot_root, hooks,
//                      console, rlimits, then waits for start (exec.fifo or the sync
//                      socket), then user, capabilities, seccomp and execve.
// Every failure in the child is sent to the runtime as {step, errno, object} over the sync
// socket and ends the child; the runtime turns it into one error line.
#pragma once

#include <string>
#include <vector>

#include "oci/spec.h"
#include "security/caps.h"
#include "sys/sync.h"

namespace berth::runtime {

struct JoinNs {
  std::string type;
  int fd = -1;  // an open namespace file
};

// Everything the child needs, prepared (and validated) by the runtime before fork.
struct InitConfig {
  const oci::Spec* spec = nullptr;
  const oci::Process* process = nullptr;  // spec->process, or the exec'd process
  std::string id;
  std::string rootfs;
  std::string bundle;
  std::vector<JoinNs> join;  // in the order they must be joined (user first)
  int new_ns_flags = 0;      // CLONE_NEW* to unshare (user handled apart)
  bool new_userns = false;
  bool exec_mode = false;  // joining a running container: no rootfs work
  bool no_pivot = false;
  int fifo_fd = -1;               // O_PATH fd of exec.fifo; -1: wait on the sync socket
  bool wait_for_start = true;     // false: exec right after setup
  bool want_hooks_point = false;  // stop for prestart/createRuntime hooks and the pid
  bool die_with_parent = false;   // PR_SET_PDEATHSIG: foreground run (Slurm cancels)
  std::string seccomp_bpf;        // compiled by the runtime; empty = none
  std::vector<std::string> seccomp_flags;
  security::CapSets caps;
  bool has_caps = false;
  std::vector<std::string> exec_env;  // KEY=VALUE, from process.env
};

// Runs stage 1 in the forked child; never returns.
[[noreturn]] void run_stage1(const InitConfig& cfg, const sys::SyncSocket& sock);

}  // namespace berth::runtime
