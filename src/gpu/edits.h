// edits.h - container edits in the shape of CDI's containerEdits, and applying them to an
// OCI spec. Both CDI devices (cdi.h) and berth's own NVIDIA injection (nvidia.h) produce
// these, so there is one applier with CDI's semantics.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "oci/spec.h"

namespace berth::gpu {

struct DeviceNode {
  std::string path;       // in the container
  std::string host_path;  // empty: same as path
  std::string type;       // "c" "b" "p"; empty: from a stat of the host path
  std::optional<int64_t> major, minor;
  std::optional<uint32_t> file_mode;
  std::string permissions;  // cgroup access, "rwm" when empty; "none": no cgroup rule
  std::optional<uint32_t> uid, gid;
  bool operator==(const DeviceNode&) const = default;
};

struct MountEdit {
  std::string host_path;
  std::string container_path;
  std::string type;  // empty: bind
  std::vector<std::string> options;
  bool operator==(const MountEdit&) const = default;
};

struct HookEdit {
  std::string
      hook_name;  // prestart createRuntime createContainer startContainer poststart poststop
  std::string path;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::optional<int> timeout;
  bool operator==(const HookEdit&) const = default;
};

struct ContainerEdits {
  std::vector<std::string> env;  // K=V
  std::vector<DeviceNode> device_nodes;
  std::vector<MountEdit> mounts;
  std::vector<HookEdit> hooks;
  std::vector<uint32_t> additional_gids;
  // berth's extension (not in CDI): paths added to linux.maskedPaths, e.g. the
  // /proc/driver/nvidia/gpus/<bus> folders of GPUs not selected.
  std::vector<std::string> masked_paths;

  void append(const ContainerEdits& other);
  bool empty() const;
  bool operator==(const ContainerEdits&) const = default;
};

// stat(2) of a host path (following symlinks); injectable for tests.
using StatFn = std::function<Result<struct stat>(const std::string& host_path)>;
StatFn host_stat();

// Applies edits to spec with CDI's rules:
//  - env: appended; an entry replaces an earlier one with the same key;
//  - device nodes: missing type/major/minor/fileMode filled from stat(host_path or path)
//    (an error naming the path when it is missing and the node is not fully given, or
//    when it is not a device); a node replaces any linux.devices entry at the same path;
//    a linux.resources.devices allow rule "type major:minor permissions" is added unless
//    permissions is "none" or the node is a fifo ("u" nodes get a "c" rule); a node given in
//    full (type, and major and minor unless a fifo) is not stat'ed at all; uid/gid default
//    to the process's uid/gid when those are > 0;
//  - mounts: a mount replaces any spec mount with the same destination; type as given
//    ("bind" when empty), options as given; mounts are then stably sorted by destination depth (/
//    count);
//  - hooks: appended to the spec's list for hook_name (unknown name: error);
//  - additional_gids: appended to process.user.additionalGids (0 ignored, no duplicates);
//  - masked_paths: appended to linux.maskedPaths (no duplicates).
// On error spec is left unchanged.
// DeviceMode::bind (berth without root: no device node can be made in a user namespace and
// there is no device cgroup): each device node becomes a bind mount of its host path at its
// container path instead (after the same checks), with no cgroup rule.
enum class DeviceMode { create, bind };
Status apply(const ContainerEdits& edits, oci::Spec& spec, const StatFn& stat = host_stat(),
             DeviceMode mode = DeviceMode::create);

}  // namespace berth::gpu
