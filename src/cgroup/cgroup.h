// cgroup.h - putting a container in cgroups and applying linux.resources (cgroupfs driver).
//
// Layouts (detected from /proc/self/mountinfo, see layout.h):
//   v1      one hierarchy per controller (or group: "cpu,cpuacct") under /sys/fs/cgroup/<name>,
//           plus named ones ("name=systemd") that only group processes.
//   v2      one unified hierarchy (cgroup2, usually /sys/fs/cgroup); its cgroup.controllers
//           lists the controllers; devices (eBPF), freezer (cgroup.freeze) and cpu usage
//           (cpu.stat) are core features of every v2 cgroup.
//   hybrid  v1 hierarchies plus a cgroup2 mount (usually /sys/fs/cgroup/unified) that holds
//           the controllers not bound to v1 (often none, sometimes hugetlb). A controller lives
//           in the v1 hierarchy that has it, else in the unified one when listed there.
//           The container is put in a unified cgroup too, so a cgroup namespace, the eBPF
//           device filter (apply_device_bpf) and cgroup.kill work there.
//
// cgroupsPath (linux.cgroupsPath), as runc's cgroupfs driver reads it:
//   "/a/b"   relative to the root of each hierarchy: /sys/fs/cgroup/memory/a/b, ...
//   "a/b"    relative to this process's own cgroup in each hierarchy (/proc/self/cgroup);
//            on the unified hierarchy relative to its parent, as runc does, because the own
//            cgroup holds processes and so cannot enable controllers for children.
//   ""       "/berth/<container-id>".
//   Paths with ".." are rejected, and so is the systemd driver's "slice:prefix:name".
//
// A Cgroup is a handle without RAII: create() and destroy() run in different processes
// (berth create / berth delete), so the handle is plain data that round-trips through
// to_json()/from_json(). Call apply() before add_process() where realtime CPU limits are set.
// Errors name the file and value: "write 1000 to /sys/fs/cgroup/memory/berth/x/
// memory.limit_in_bytes: Device or resource busy".
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "cgroup/layout.h"
#include "oci/spec.h"

namespace berth::cgroup {

// Enough for a `stats` command. Values the host does not provide stay 0 / nullopt.
struct Stats {
  uint64_t memory_usage = 0;             // bytes
  std::optional<uint64_t> memory_limit;  // nullopt: no limit
  uint64_t memory_max_usage = 0;         // v1 max_usage_in_bytes, v2 memory.peak
  uint64_t swap_usage = 0;               // v2 memory.swap.current, v1 memsw usage - usage
  uint64_t cpu_usage_ns = 0;
  uint64_t cpu_user_ns = 0;
  uint64_t cpu_system_ns = 0;
  uint64_t pids_current = 0;
  std::optional<uint64_t> pids_limit;  // nullopt: no limit
  // Block I/O bytes read and written, all devices (v1 blkio.throttle.io_service_bytes,
  // v2 io.stat rbytes/wbytes): docker's BLOCK I/O.
  uint64_t io_read_bytes = 0;
  uint64_t io_write_bytes = 0;
};

class Cgroup {
 public:
  // One directory the container lives in: a v1 hierarchy's or the unified one's.
  struct Dir {
    std::string path;  // "/sys/fs/cgroup/memory/berth/abc"
    bool v2 = false;
    std::vector<std::string> controllers;  // v1 names placed here ("memory", "name=systemd")
  };

  // Computes the directories without touching the filesystem.
  static Result<Cgroup> resolve(const std::string& cgroups_path, const std::string& id,
                                const Layout& layout);
  // resolve() + mkdir in every hierarchy. v1 cpuset: copies cpuset.cpus/mems from the parent
  // into each empty level; v2: enables the parent's controllers in each ancestor's
  // cgroup.subtree_control (failures to enable one are ignored, as runc does).
  // v2 controllers are enabled along the unified path by default. On a hybrid host pass
  // V2Controllers::leave unless a limit needs one (hugetlb): an enabled controller can no
  // longer be mounted as v1, which is what crun asks hybrid hosts to do.
  enum class V2Controllers { enable, leave };
  static Result<Cgroup> create(const std::string& cgroups_path, const std::string& id,
                               const Layout& layout, V2Controllers v2 = V2Controllers::enable);
  static Result<Cgroup> from_json(std::string_view json);
  std::string to_json() const;

  // Writes pid to cgroup.procs in every directory.
  Status add_process(pid_t pid) const;
  // Applies the set fields of r; unset fields are left alone. Devices are applied only when
  // r.devices is not empty (the caller passes the full list, default devices included):
  // v1 writes "a" to devices.deny then each rule; v2 installs an eBPF program.
  Status apply(const oci::Resources& r) const;
  // Installs the eBPF device filter on the unified cgroup (for hybrid hosts, where apply()
  // uses v1 devices); replaces berth's previous program there. Last matching rule wins;
  // no match denies.
  Status apply_device_bpf(const std::vector<oci::DeviceCgroup>& rules) const;

  Status freeze() const;  // returns once every task is frozen
  Status thaw() const;
  Result<std::string> freezer_state() const;  // "paused" or "running"
  // Every pid in the primary directory and its descendants.
  Result<std::vector<pid_t>> pids() const;
  // SIGKILL with a unified cgroup (v2 or hybrid): cgroup.kill. Else freeze, signal each pid,
  // thaw. A paused container is thawed after SIGKILL (so it dies) and stays paused otherwise.
  Status kill_all(int sig) const;
  // rmdir in every hierarchy (children first), retrying briefly on EBUSY; ENOENT is fine.
  Status destroy() const;
  Result<Stats> stats() const;

  const std::string& path() const { return path_; }  // the normalized cgroupsPath
  const std::vector<Dir>& dirs() const { return dirs_; }
  // The directory holding a controller (v1 name), or nullptr.
  const Dir* dir_for(std::string_view controller) const;
  const Dir* v2_dir() const;
  // The unified directory when there is one, else the v1 pids/freezer/memory/... one.
  const Dir& primary() const;

 private:
  Cgroup() = default;
  Status signal_each(int sig) const;
  std::string path_;
  std::vector<Dir> dirs_;
};

// cpu.weight from cpu.shares, as runc converts: 1 + ((shares - 2) * 9999) / 262142, with
// shares clamped to [2, 262144]; 0 stays 0 (unset).
uint64_t shares_to_weight(uint64_t shares);
// io.weight from blkio.weight: 1 + (weight - 10) * 9999 / 990; 0 stays 0.
uint64_t blkio_weight_to_io_weight(uint64_t weight);
// memory.swap.max from OCI memory.swap (memory+swap) and memory.limit, as runc converts:
// -1 = "max", 0 = unset (empty string), else swap - limit. Errors on swap < limit and on a
// swap limit without a memory limit.
Result<std::string> swap_to_v2(int64_t swap, int64_t limit);

}  // namespace berth::cgroup
