// layout.cpp - parsing /proc/self/mountinfo and /proc/self/cgroup into a Layout.
#include "cgroup/layout.h"

#include <algorithm>
#include <map>

#include "base/file.h"
#include "base/strings.h"

namespace berth::cgroup {

const char* const kControllers[14] = {"cpu",      "cpuacct",    "cpuset", "memory",  "devices",
                                      "freezer",  "blkio",      "pids",   "hugetlb", "net_cls",
                                      "net_prio", "perf_event", "rdma",   "misc"};

namespace {

// Features every v2 cgroup has without a controller: cpu.stat, the eBPF device hook,
// cgroup.freeze.
bool is_v2_core(std::string_view controller) {
  return controller == "cpuacct" || controller == "devices" || controller == "freezer";
}

bool is_known_controller(std::string_view c) {
  return std::find(std::begin(kControllers), std::end(kControllers), c) != std::end(kControllers);
}

// Undoes mountinfo's octal escapes ("\040" for a space).
std::string unescape_mountinfo(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      auto a = s[i + 1], b = s[i + 2], c = s[i + 3];
      if (a >= '0' && a <= '3' && b >= '0' && b <= '7' && c >= '0' && c <= '7') {
        out += static_cast<char>((a - '0') * 64 + (b - '0') * 8 + (c - '0'));
        i += 3;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

struct MountLine {
  std::string root, mount_point, fstype;
  std::vector<std::string> super_options;
};

// Splits one mountinfo line: "id parent maj:min root mountpoint opts [optional...] - fstype
// source superopts". Returns false for lines that do not have that shape.
bool parse_mount_line(std::string_view line, MountLine* out) {
  std::vector<std::string> f;
  for (auto& p : split(trim(line), ' '))
    if (!p.empty()) f.push_back(p);
  auto dash = std::find(f.begin(), f.end(), "-");
  if (f.size() < 5 || dash == f.end() || f.end() - dash < 4) return false;
  out->root = unescape_mountinfo(f[3]);
  out->mount_point = unescape_mountinfo(f[4]);
  out->fstype = *(dash + 1);
  out->super_options = split(*(dash + 3), ',');
  return true;
}

// The v1 controllers (and "name=..." tags) among a cgroup mount's super options.
std::vector<std::string> v1_controllers(const std::vector<std::string>& options) {
  std::vector<std::string> out;
  for (const auto& o : options)
    if (is_known_controller(o) || starts_with(o, "name=")) out.push_back(o);
  return out;
}

// /proc/self/cgroup: "hierarchy-id:controllers:path"; key "" is the v2 line.
std::map<std::string, std::string> parse_self_cgroup(std::string_view text) {
  std::map<std::string, std::string> out;
  for (const auto& line : split(text, '\n')) {
    auto first = line.find(':');
    if (first == std::string::npos) continue;
    auto second = line.find(':', first + 1);
    if (second == std::string::npos) continue;
    std::string path = line.substr(second + 1);
    std::string names = line.substr(first + 1, second - first - 1);
    if (names.empty()) {
      out[""] = path;
      continue;
    }
    for (const auto& n : split(names, ',')) out[n] = path;
  }
  return out;
}

std::string own_path_of(const Hierarchy& h, const std::map<std::string, std::string>& self) {
  if (h.v2) {
    auto it = self.find("");
    return it == self.end() ? "/" : it->second;
  }
  for (const auto& c : h.controllers) {
    auto it = self.find(c);
    if (it != self.end()) return it->second;
  }
  return "/";
}

std::vector<std::string> read_v2_controllers(const std::string& mount_point) {
  auto text = read_file(path_join(mount_point, "cgroup.controllers"));
  if (!text.ok()) return {};
  std::vector<std::string> out;
  for (auto& c : split(trim(*text), ' '))
    if (!c.empty()) out.push_back(c);
  return out;
}

bool same_controllers(const Hierarchy& a, const std::vector<std::string>& b) {
  auto x = a.controllers, y = b;
  std::sort(x.begin(), x.end());
  std::sort(y.begin(), y.end());
  return x == y;
}

}  // namespace

std::string_view mode_name(Mode m) {
  switch (m) {
    case Mode::v1:
      return "v1";
    case Mode::hybrid:
      return "hybrid";
    case Mode::v2:
      return "v2";
  }
  return "?";
}

std::string_view v2_name(std::string_view controller) {
  if (controller == "blkio") return "io";
  if (controller == "net_cls" || controller == "net_prio") return {};
  return controller;
}

bool Hierarchy::has(std::string_view controller) const {
  return std::find(controllers.begin(), controllers.end(), controller) != controllers.end();
}

Result<Layout> Layout::detect(const LayoutSource& source) {
  std::string mountinfo = TRY_CTX(read_file(source.mountinfo), "detect the cgroup layout");
  std::string self = TRY_CTX(read_file(source.self_cgroup), "detect the cgroup layout");
  return parse(mountinfo, self, source.root);
}

Result<Layout> Layout::parse(std::string_view mountinfo, std::string_view self_cgroup,
                             const std::string& root) {
  Layout layout;
  auto self = parse_self_cgroup(self_cgroup);
  for (const auto& line : split(mountinfo, '\n')) {
    MountLine m;
    if (!parse_mount_line(line, &m)) continue;
    Hierarchy h;
    h.mount_point = root.empty() ? m.mount_point : path_join(root, m.mount_point);
    h.mount_root = m.root;
    if (m.fstype == "cgroup2") {
      if (layout.has_unified_) continue;  // the first mount wins
      h.v2 = true;
      h.controllers = read_v2_controllers(h.mount_point);
      h.own_path = own_path_of(h, self);
      layout.unified_ = std::move(h);
      layout.has_unified_ = true;
    } else if (m.fstype == "cgroup") {
      auto controllers = v1_controllers(m.super_options);
      if (controllers.empty()) continue;
      bool dup = std::any_of(layout.v1_.begin(), layout.v1_.end(),
                             [&](const Hierarchy& o) { return same_controllers(o, controllers); });
      if (dup) continue;
      h.controllers = std::move(controllers);
      h.own_path = own_path_of(h, self);
      layout.v1_.push_back(std::move(h));
    }
  }
  if (layout.v1_.empty() && !layout.has_unified_)
    return Error(ENOENT, "find a mounted cgroup hierarchy in mountinfo");
  return layout;
}

Mode Layout::mode() const {
  bool v1_controllers = std::any_of(v1_.begin(), v1_.end(), [](const Hierarchy& h) {
    return std::any_of(h.controllers.begin(), h.controllers.end(), is_known_controller);
  });
  if (!has_unified_) return Mode::v1;
  return v1_controllers ? Mode::hybrid : Mode::v2;
}

const Hierarchy* Layout::find(std::string_view controller) const {
  for (const auto& h : v1_)
    if (h.has(controller)) return &h;
  if (!has_unified_) return nullptr;
  if (is_v2_core(controller)) return &unified_;
  std::string_view v2 = v2_name(controller);
  if (!v2.empty() && unified_.has(v2)) return &unified_;
  return nullptr;
}

std::vector<std::string> Layout::v2_controllers() const {
  std::vector<std::string> out;
  if (!has_unified_) return out;
  for (const char* c : kControllers)
    if (find(c) == &unified_) out.emplace_back(c);
  return out;
}

std::string Layout::describe() const {
  std::string out = "cgroup mode " + std::string(mode_name(mode())) + "\n";
  for (const auto& h : v1_)
    out +=
        "  v1 " + join(h.controllers, ",") + " at " + h.mount_point + " (own " + h.own_path + ")\n";
  if (has_unified_)
    out += "  v2 [" + join(unified_.controllers, " ") + "] at " + unified_.mount_point + " (own " +
           unified_.own_path + ")\n";
  return out;
}

}  // namespace berth::cgroup
