// cgroup.cpp - creating, joining, listing and removing a container's cgroups; persistence.
#include "cgroup/cgroup.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/file.h"
#include "base/json_read.h"
#include "base/strings.h"
#include "cgroup/fs.h"

namespace berth::cgroup {

using detail::read_value;
using detail::write_value;

namespace {

// The directories from below mount_point down to dir, outermost first.
Result<std::vector<std::string>> levels(const std::string& mount_point, const std::string& dir) {
  std::string_view rest = dir;
  if (!starts_with(rest, mount_point) || dir.size() <= mount_point.size())
    return Error::invalid("cgroup directory " + dir + " is not below", mount_point);
  rest.remove_prefix(mount_point.size());
  std::vector<std::string> out;
  std::string cur = mount_point;
  for (auto& part : split(rest, '/')) {
    if (part.empty()) continue;
    cur = path_join(cur, part);
    out.push_back(cur);
  }
  return out;
}

// mkdir that records what it created, so a failed create() can undo it.
Status make_dir(const std::string& path, std::vector<std::string>* created) {
  if (::mkdir(path.c_str(), 0755) == 0) {
    created->push_back(path);
    return ok();
  }
  if (errno == EEXIST && is_directory(path)) return ok();
  return sys_error("mkdir", path);
}

// A new v1 cpuset has empty cpus/mems and accepts no task until they are set: copy the
// parent's (runc's cpusetCopyIfNeeded).
Status copy_cpuset_if_empty(const std::string& parent, const std::string& dir) {
  for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
    std::string mine = TRY(read_value(dir, file));
    if (!mine.empty()) continue;
    std::string theirs = TRY(read_value(parent, file));
    TRY(write_value(dir, file, theirs));
  }
  return ok();
}

// Turns on in dir's cgroup.subtree_control every controller dir has and has not enabled
// yet; all at once, else one by one, ignoring refusals (as runc does: a controller that
// cannot be enabled shows up later as a missing file).
void enable_controllers(const std::string& dir) {
  auto available = read_value(dir, "cgroup.controllers");
  if (!available.ok()) return;
  auto subtree = read_value(dir, "cgroup.subtree_control");
  auto enabled = split(subtree.ok() ? *subtree : std::string(), ' ');
  std::vector<std::string> wanted;
  for (auto& c : split(*available, ' '))
    if (!c.empty() && std::find(enabled.begin(), enabled.end(), c) == enabled.end())
      wanted.push_back("+" + c);
  if (wanted.empty()) return;
  if (write_value(dir, "cgroup.subtree_control", join(wanted, " ")).ok()) return;
  for (const auto& c : wanted) (void)write_value(dir, "cgroup.subtree_control", c);
}

Status make_v1_dir(const Hierarchy& h, const std::string& dir, std::vector<std::string>* created) {
  std::string parent = h.mount_point;
  for (const auto& level : TRY(levels(h.mount_point, dir))) {
    TRY(make_dir(level, created));
    if (h.has("cpuset")) TRY(copy_cpuset_if_empty(parent, level));
    parent = level;
  }
  return ok();
}

Status make_v2_dir(const Hierarchy& h, const std::string& dir, bool enable,
                   std::vector<std::string>* created) {
  std::string parent = h.mount_point;
  for (const auto& level : TRY(levels(h.mount_point, dir))) {
    if (enable) enable_controllers(parent);
    TRY(make_dir(level, created));
    parent = level;
  }
  return ok();
}

// rmdir, retrying on EBUSY for about a second while exiting tasks leave.
Status rmdir_retry(const std::string& path) {
  auto delay = std::chrono::milliseconds(5);
  for (int attempt = 0;; ++attempt) {
    if (::rmdir(path.c_str()) == 0 || errno == ENOENT) return ok();
    if (errno != EBUSY || attempt == 8) return sys_error("rmdir", path);
    std::this_thread::sleep_for(delay);
    delay *= 2;
  }
}

// Child cgroups first: the container may have made its own below ours.
Status remove_tree(const std::string& dir) {
  // Fast path: a leaf cgroup whose processes are gone.
  if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return ok();
  auto children = list_subdirs(dir);
  if (!children.ok()) return children.error().code() == ENOENT ? ok() : Status(children.error());
  for (const auto& name : *children) TRY(remove_tree(path_join(dir, name)));
  return rmdir_retry(dir);
}

Status collect_pids(const std::string& dir, std::vector<pid_t>* out) {
  std::string procs = TRY(read_file(path_join(dir, "cgroup.procs")));
  for (const auto& line : split(procs, '\n'))
    if (auto pid = parse_int(trim(line))) out->push_back(static_cast<pid_t>(*pid));
  for (const auto& name : TRY(list_subdirs(dir))) TRY(collect_pids(path_join(dir, name), out));
  return ok();
}

Status check_dir_path(const std::string& path) {
  if (path.empty() || path.front() != '/' || clean_path(path) != path)
    return Error::invalid("invalid cgroup directory in saved state", "\"" + path + "\"");
  return ok();
}

}  // namespace

Result<Cgroup> Cgroup::resolve(const std::string& cgroups_path, const std::string& id,
                               const Layout& layout) {
  Cgroup cg;
  cg.path_ = TRY(normalize_cgroups_path(cgroups_path, id));
  for (const auto& h : layout.v1())
    cg.dirs_.push_back(Dir{hierarchy_dir(h, cg.path_), false, h.controllers});
  if (const Hierarchy* u = layout.unified())
    cg.dirs_.push_back(Dir{hierarchy_dir(*u, cg.path_), true, layout.v2_controllers()});
  return cg;
}

Result<Cgroup> Cgroup::create(const std::string& cgroups_path, const std::string& id,
                              const Layout& layout, V2Controllers v2) {
  Cgroup cg = TRY(resolve(cgroups_path, id, layout));
  std::vector<std::string> created;
  Status s;
  size_t i = 0;
  for (const auto& h : layout.v1()) {
    if (s.ok()) s = make_v1_dir(h, cg.dirs_[i].path, &created);
    ++i;
  }
  if (const Hierarchy* u = layout.unified(); u && s.ok())
    s = make_v2_dir(*u, cg.dirs_[i].path, v2 == V2Controllers::enable, &created);
  if (s.ok()) return cg;
  for (auto it = created.rbegin(); it != created.rend(); ++it) ::rmdir(it->c_str());
  return std::move(s).error().context("create cgroup " + cg.path_);
}

Status Cgroup::add_process(pid_t pid) const {
  for (const auto& d : dirs_)
    TRY_CTX(write_value(d.path, "cgroup.procs", std::to_string(pid)),
            "add process " + std::to_string(pid) + " to cgroup " + path_);
  return ok();
}

Result<std::vector<pid_t>> Cgroup::pids() const {
  std::vector<pid_t> out;
  TRY_CTX(collect_pids(primary().path, &out), "list the processes of cgroup " + path_);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Status Cgroup::destroy() const {
  Status first;
  for (const auto& d : dirs_) {
    Status s = remove_tree(d.path);
    if (!s && first.ok()) first = std::move(s).error().context("remove cgroup " + path_);
  }
  return first;
}

const Cgroup::Dir* Cgroup::dir_for(std::string_view controller) const {
  for (const auto& d : dirs_)
    if (std::find(d.controllers.begin(), d.controllers.end(), controller) != d.controllers.end())
      return &d;
  return nullptr;
}

const Cgroup::Dir* Cgroup::v2_dir() const {
  for (const auto& d : dirs_)
    if (d.v2) return &d;
  return nullptr;
}

const Cgroup::Dir& Cgroup::primary() const {
  if (const Dir* d = v2_dir()) return *d;
  for (const char* c : {"pids", "freezer", "memory", "devices", "cpu"})
    if (const Dir* d = dir_for(c)) return *d;
  return dirs_.front();
}

std::string Cgroup::to_json() const {
  nlohmann::json dirs = nlohmann::json::array();
  for (const auto& d : dirs_)
    dirs.push_back({{"path", d.path}, {"v2", d.v2}, {"controllers", d.controllers}});
  return nlohmann::json{{"path", path_}, {"dirs", dirs}}.dump();
}

Result<Cgroup> Cgroup::from_json(std::string_view json) {
  auto j = nlohmann::json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  const char* what = "parse saved cgroup state";
  if (j.is_discarded() || !j.is_object() || !j.contains("dirs") || !j["dirs"].is_array())
    return Error::invalid(what, "(not an object with \"dirs\")");
  Cgroup cg;
  if (!json_read::string(j, "path", &cg.path_))
    return Error::invalid(what, "(\"path\" is not a string)");
  for (const auto& d : j["dirs"]) {
    if (!d.is_object() || !d.contains("path") || !d["path"].is_string())
      return Error::invalid(what, "(a directory without \"path\")");
    Dir dir{d["path"].get<std::string>(), false, {}};
    if (!json_read::boolean(d, "v2", &dir.v2))
      return Error::invalid(what, "(\"v2\" is not a boolean)");
    TRY(check_dir_path(dir.path));
    if (d.contains("controllers") && d["controllers"].is_array())
      for (const auto& c : d["controllers"])
        if (c.is_string()) dir.controllers.push_back(c.get<std::string>());
    cg.dirs_.push_back(std::move(dir));
  }
  if (cg.dirs_.empty()) return Error::invalid(what, "(no directories)");
  return cg;
}

}  // namespace berth::cgroup
