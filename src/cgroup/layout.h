// layout.h - where each cgroup controller lives on this host, read from mountinfo.
//
// See cgroup.h for the layouts (v1, hybrid, v2) and the cgroupsPath rules. A Layout is plain
// data: detect() reads the real host, parse() builds one from text so tests can point it at a
// fake tree in a temp dir (every mount point gets `root` prepended).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace berth::cgroup {

enum class Mode { v1, hybrid, v2 };
std::string_view mode_name(Mode m);  // "v1", "hybrid", "v2"

// The controllers berth knows, by their v1 names ("blkio" is "io" on v2; "cpuacct",
// "devices" and "freezer" are core features of every v2 cgroup).
extern const char* const kControllers[14];

// One mounted cgroup hierarchy.
struct Hierarchy {
  std::string mount_point;       // host path, root prefix included ("/sys/fs/cgroup/memory")
  std::string mount_root = "/";  // the mount's root inside the hierarchy (mountinfo field 4)
  // v1: the controllers bound to it ("cpu", "cpuacct") and "name=systemd" for named ones.
  // v2: the contents of the root's cgroup.controllers ("cpu", "io", "memory", ...).
  std::vector<std::string> controllers;
  std::string own_path = "/";  // this process's cgroup in the hierarchy (/proc/self/cgroup)
  bool v2 = false;

  bool has(std::string_view controller) const;
};

// Where detect() reads from. The defaults read the real host.
struct LayoutSource {
  std::string mountinfo = "/proc/self/mountinfo";
  std::string self_cgroup = "/proc/self/cgroup";
  std::string root;  // prepended to every mount point and file read under it; "" = the host
};

class Layout {
 public:
  static Result<Layout> detect(const LayoutSource& source = {});
  // mountinfo and self_cgroup are file contents; root as in LayoutSource. Reads the unified
  // hierarchy's cgroup.controllers (under root) when there is one.
  static Result<Layout> parse(std::string_view mountinfo, std::string_view self_cgroup,
                              const std::string& root = {});

  Mode mode() const;
  bool has_v2() const { return has_unified_; }
  const std::vector<Hierarchy>& v1() const { return v1_; }
  const Hierarchy* unified() const { return has_unified_ ? &unified_ : nullptr; }
  // The hierarchy a controller (v1 name) lives in: a v1 mount that has it, else the unified
  // hierarchy when it lists it (or it is a v2 core feature); nullptr when it is nowhere.
  const Hierarchy* find(std::string_view controller) const;
  // Controllers (v1 names) placed in the unified hierarchy by find().
  std::vector<std::string> v2_controllers() const;
  // One line per hierarchy, for --debug and test failures.
  std::string describe() const;

 private:
  std::vector<Hierarchy> v1_;
  Hierarchy unified_;
  bool has_unified_ = false;
};

// The v2 name of a controller ("blkio" -> "io"); empty for v1-only ones (net_cls, net_prio).
std::string_view v2_name(std::string_view controller);

// Validates linux.cgroupsPath and applies the default: returns "/a/b" (absolute) or "a/b"
// (relative), lexically clean. Empty -> "/berth/<id>". Errors on "..", on the root cgroup,
// and on the systemd "slice:prefix:name" form.
Result<std::string> normalize_cgroups_path(std::string_view cgroups_path, std::string_view id);

// The directory of a normalized path in hierarchy h: absolute paths start at the mount
// point; relative ones at this process's own cgroup (on v2 at its parent, as runc does: the
// own cgroup holds processes, so controllers cannot be enabled below it).
std::string hierarchy_dir(const Hierarchy& h, std::string_view normalized_path);

}  // namespace berth::cgroup
