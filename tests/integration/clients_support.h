// clients_support.h - what the client tests (podman, containerd, Slurm driving berth-runtime)
// stand on: a private mount namespace with its own /run, this process as the reaper of the
// daemons they start, and temp dirs, mounts and cgroup trees that go away even when a test
// fails. Commands run through fixture.h's run_cmd/spawn_cmd (argv, never a shell string).
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "fixture.h"

namespace berth::test {

// Once per test process: a private mount namespace (what the clients mount vanishes with
// it), a tmpfs on /run (their sockets and fifos, /run/berth-runtime, /run/containerd/s), and
// a cgroup of its own that every process it starts is born in, so daemons that double-fork
// are found and killed (kill_children; at exit the cgroup is removed). Returns "" or why it
// failed; the caller skips with that reason.
std::string isolate_host();

// Mounts an overlay on dir whose upper layer is in scratch: the clients see dir as it is,
// and what they write there lands in scratch. Needs isolate_host() first. "" or the error.
std::string divert_writes(const std::string& dir, const std::string& scratch);

// Why the test cannot run ("" when it can): not root, or one of the programs not in $PATH.
std::string missing_requirements(const std::vector<std::string>& programs);

// A directory under /tmp; on destruction everything mounted under it is unmounted and the
// tree removed.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix, mode_t mode = 0700);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A background process with its output in a log file; stop() (and the destructor) sends
// SIGTERM, then SIGKILL after timeout_ms, and reaps it.
class Daemon {
 public:
  Daemon(const std::vector<std::string>& argv, const std::string& log_file);
  ~Daemon() { stop(); }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;
  pid_t pid() const { return pid_; }
  bool running();
  void stop(int timeout_ms = 5000);
  std::string log() const;  // the last lines of its output, for failure messages

 private:
  pid_t pid_ = -1;
  std::string log_file_;
};

// SIGKILLs every process left in this test's own cgroup but itself (containerd shims,
// conmon, slurmstepd once their daemon is gone) and reaps its children.
void kill_children();

// Runs argv with a new pty as its controlling terminal and stdin/stdout/stderr; out is
// everything it wrote there.
Output run_in_pty(const std::vector<std::string>& argv, int timeout_s = 30);

// Kills the processes of the cgroup /name (and below) in every hierarchy, then removes it.
void remove_cgroup_tree(const std::string& name);
// The pids in /name and below, over all hierarchies.
std::vector<pid_t> cgroup_tree_pids(const std::string& name);

// A local TCP port nobody listens on.
int free_port();

// Polls pred every 20 ms until it holds or timeout_ms passes; returns its last value.
bool wait_until(const std::function<bool()>& pred, int timeout_ms);

// Whether pid runs (and is not a zombie).
bool process_alive(pid_t pid);

// The values of key in probe's key=value output.
std::vector<std::string> probe_values(const std::string& out, const std::string& key);
std::string probe_value(const std::string& out, const std::string& key);

// A docker-archive (what `docker save` writes) at out: one layer made from rootfs, tagged
// tag, running cmd. containerd and podman import it without a registry. "" or the error.
std::string write_docker_archive(const std::string& rootfs, const std::string& tag,
                                 const std::vector<std::string>& cmd, const std::string& out);

// tar of dir's content (numeric owners) at out. "" or the error.
std::string tar_dir(const std::string& dir, const std::string& out);

}  // namespace berth::test
