// path.cpp - linux.cgroupsPath validation and its directory in each hierarchy.
#include <algorithm>

#include "base/file.h"
#include "base/strings.h"
#include "cgroup/layout.h"

namespace berth::cgroup {

namespace {

Status validate_id(std::string_view id) {
  if (id.empty() || id == "." || id == ".." || id.find('/') != std::string_view::npos)
    return Error::invalid("invalid container id for a cgroup name", std::string(id));
  return ok();
}

bool is_systemd_form(std::string_view path) {
  return std::count(path.begin(), path.end(), ':') == 2;
}

// Joins the non-empty, non-"." components with '/'; errors on "..".
Result<std::string> clean_components(std::string_view path, std::string_view shown) {
  std::vector<std::string> parts;
  for (auto& p : split(path, '/')) {
    if (p == "..")
      return Error::invalid("invalid cgroupsPath \"" + std::string(shown) +
                            "\": must not contain \"..\"");
    if (!p.empty() && p != ".") parts.push_back(p);
  }
  return join(parts, "/");
}

// The part of own_path below the mount's root; own_path itself when the mount shows a
// namespace root (cgroupns) or a root that does not contain it.
std::string relative_to_mount(const Hierarchy& h) {
  std::string_view own = h.own_path;
  std::string_view root = h.mount_root;
  if (root == "/" || root.empty()) return std::string(own);
  if (own == root) return "/";
  if (starts_with(own, root) && own.size() > root.size() && own[root.size()] == '/')
    return std::string(own.substr(root.size()));
  return std::string(own);
}

}  // namespace

Result<std::string> normalize_cgroups_path(std::string_view cgroups_path, std::string_view id) {
  if (cgroups_path.empty()) {
    TRY(validate_id(id));
    return "/berth/" + std::string(id);
  }
  if (is_systemd_form(cgroups_path))
    return Error::invalid("systemd cgroup driver is not supported (cgroupsPath \"" +
                          std::string(cgroups_path) +
                          "\" has the slice:prefix:name form); use a path such as /berth/<id>");
  std::string cleaned = TRY(clean_components(cgroups_path, cgroups_path));
  bool absolute = cgroups_path.front() == '/';
  if (cleaned.empty()) {
    return Error::invalid("invalid cgroupsPath \"" + std::string(cgroups_path) +
                          "\": refers to the parent's own cgroup, not a new one");
  }
  return absolute ? "/" + cleaned : cleaned;
}

std::string hierarchy_dir(const Hierarchy& h, std::string_view normalized_path) {
  if (!normalized_path.empty() && normalized_path.front() == '/')
    return clean_path(path_join(h.mount_point, normalized_path));
  std::string base = relative_to_mount(h);
  if (h.v2 && base != "/") base = dirname_of(base);
  return clean_path(path_join(path_join(h.mount_point, base), normalized_path));
}

}  // namespace berth::cgroup
