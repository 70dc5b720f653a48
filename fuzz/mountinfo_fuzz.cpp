// mountinfo_fuzz.cpp - libFuzzer target for cgroup::Layout::parse and normalize_cgroups_path.
//
// Input: mountinfo text, NUL, /proc/self/cgroup text, NUL, a linux.cgroupsPath, and
// optionally NUL and a container id (default "fuzz"). Missing parts are empty.
// Layout::parse reads cgroup.controllers under its root, so mount points are placed under a
// fixed per-process temp dir that holds a v2 root at sys/fs/cgroup and sys/fs/cgroup/unified.
// Checks beyond "no crash":
//  - a parsed layout answers mode(), find(), v2_controllers() and describe() consistently:
//    find() returns one of its hierarchies, v2_controllers() are those find() places in v2;
//  - normalize_cgroups_path returns a clean path ("/a/b" or "a/b": no "", "." or ".."
//    component) and is idempotent;
//  - an absolute normalized path stays below each hierarchy's mount point.
#include <string>

#include "base/file.h"
#include "base/strings.h"
#include "cgroup/layout.h"
#include "fuzz_util.h"

namespace {

using berth::cgroup::Hierarchy;
using berth::cgroup::Layout;
using berth::fuzz::fail;

constexpr const char* kTarget = "mountinfo_fuzz";

// The fake host root, created once and removed at exit.
const std::string& fake_root() {
  static const berth::TempDir dir = [] {
    berth::TempDir d = berth::fuzz::make_scratch_dir(kTarget);
    for (const char* rel : {"sys/fs/cgroup", "sys/fs/cgroup/unified"}) {
      std::string p = berth::path_join(d.path(), rel);
      if (!berth::mkdir_all(p).ok() ||
          !berth::write_file_atomic(p + "/cgroup.controllers",
                                    "cpuset cpu io memory hugetlb pids\n", 0644,
                                    berth::Durability::volatile_ok)
               .ok())
        fail(kTarget, "cannot populate the temp dir", p);
    }
    return d;
  }();
  return dir.path();
}

bool is_under(const std::string& path, const std::string& dir) {
  if (dir == "/") return true;
  return path == dir || (berth::starts_with(path, dir) && path[dir.size()] == '/');
}

void check_layout(const Layout& layout, const std::string& input) {
  (void)layout.mode();
  std::string description = layout.describe();
  for (const char* c : berth::cgroup::kControllers) {
    const Hierarchy* h = layout.find(c);
    if (h == nullptr) continue;
    bool ours = h == layout.unified();
    for (const auto& v1 : layout.v1()) ours = ours || h == &v1;
    if (!ours) fail(kTarget, "find() returned a hierarchy the layout does not hold", input);
  }
  for (const auto& c : layout.v2_controllers())
    if (layout.find(c) != layout.unified())
      fail(kTarget, "v2_controllers() lists one find() does not place in v2", description);
  if (layout.v1().empty() && layout.unified() == nullptr)
    fail(kTarget, "parse accepted a layout without hierarchies", input);
}

void check_path(const std::string& path, const std::string& shown) {
  if (path.empty()) fail(kTarget, "normalize_cgroups_path returned \"\"", shown);
  std::string_view rest = path;
  if (rest.front() == '/') rest.remove_prefix(1);
  for (const auto& part : berth::split(rest, '/'))
    if (part.empty() || part == "." || part == "..")
      fail(kTarget, "normalize_cgroups_path returned an unclean path", shown + " -> " + path);
}

void check_cgroups_path(const Layout* layout, std::string_view cgroups_path, std::string_view id) {
  auto norm = berth::cgroup::normalize_cgroups_path(cgroups_path, id);
  if (!norm.ok()) return;
  std::string shown(cgroups_path);
  check_path(*norm, shown);
  // Idempotent unless the default path took an id with ':' in it: "/berth/a:b:c" reads as the
  // systemd form. The runtime only passes ids that validate_container_id accepted (no ':').
  bool colon_id = cgroups_path.empty() && id.find(':') != std::string_view::npos;
  auto again = berth::cgroup::normalize_cgroups_path(*norm, id);
  if (!colon_id && (!again.ok() || *again != *norm))
    fail(kTarget, "normalize_cgroups_path is not idempotent", shown + " -> " + *norm);
  if (layout == nullptr) return;
  auto each = [&](const Hierarchy& h) {
    std::string dir = berth::cgroup::hierarchy_dir(h, *norm);
    if (norm->front() == '/' && !is_under(dir, berth::clean_path(h.mount_point)))
      fail(kTarget, "hierarchy_dir left the mount point",
           h.mount_point + " + " + *norm + " -> " + dir);
  };
  for (const auto& h : layout->v1()) each(h);
  if (const Hierarchy* u = layout->unified()) each(*u);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parts = berth::fuzz::split_at_nul(berth::fuzz::as_text(data, size), 4);
  std::string_view id = parts[3].empty() ? std::string_view("fuzz") : parts[3];
  auto layout = Layout::parse(parts[0], parts[1], fake_root());
  if (layout.ok()) check_layout(*layout, std::string(parts[0]));
  check_cgroups_path(layout.ok() ? &*layout : nullptr, parts[2], id);
  return 0;
}
