// edits.cpp - see edits.h.
#include "gpu/edits.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cerrno>

#include "base/file.h"

namespace berth::gpu {
namespace {

template <class T>
void append_all(std::vector<T>& to, const std::vector<T>& from) {
  to.insert(to.end(), from.begin(), from.end());
}

template <class T>
void append_unique(std::vector<T>& to, const T& v) {
  if (std::find(to.begin(), to.end(), v) == to.end()) to.push_back(v);
}

std::string_view env_key(std::string_view kv) {
  return kv.substr(0, kv.find('='));
}

void set_env(std::vector<std::string>& env, const std::string& kv) {
  auto key = env_key(kv);
  for (auto& e : env) {
    if (env_key(e) == key) {
      e = kv;
      return;
    }
  }
  env.push_back(kv);
}

// The node's type letter for a host file, or "" when it is not a device node.
std::string type_of(mode_t mode) {
  if (S_ISCHR(mode)) return "c";
  if (S_ISBLK(mode)) return "b";
  if (S_ISFIFO(mode)) return "p";
  return "";
}

// "u" (unbuffered) is a character device as far as the host file and cgroups go.
std::string_view host_type(std::string_view t) {
  return t == "u" ? "c" : t;
}

bool fully_given(const DeviceNode& n) {
  if (n.type.empty()) return false;
  return n.type == "p" || (n.major && n.minor);
}

// Fills what the node leaves out from the host file; a node given in full needs no host
// file at all (a spec may describe a node that only exists in the container).
Result<DeviceNode> complete_node(DeviceNode n, const StatFn& stat) {
  if (n.host_path.empty()) n.host_path = n.path;
  if (fully_given(n)) return n;
  auto found = stat(n.host_path);
  if (!found.ok())
    return Error(found.error().code(), "CDI device node " + n.path + ": " + found.error().op(),
                 found.error().object());
  const struct stat& st = *found;
  std::string t = type_of(st.st_mode);
  if (t.empty())
    return Error::invalid("CDI device node " + n.path + ": host file " + n.host_path +
                          " is not a device node");
  if (n.type.empty()) {
    n.type = t;
  } else if (host_type(n.type) != t) {
    return Error::invalid("CDI device node " + n.path + ": type " + n.type + " but host file " +
                          n.host_path + " has type " + t);
  }
  if (n.type != "p") {
    if (!n.major) n.major = static_cast<int64_t>(major(st.st_rdev));
    if (!n.minor) n.minor = static_cast<int64_t>(minor(st.st_rdev));
  }
  if (!n.file_mode) n.file_mode = static_cast<uint32_t>(st.st_mode & 07777);
  return n;
}

oci::Device to_oci(const DeviceNode& n, const std::optional<oci::Process>& proc) {
  oci::Device d;
  d.type = n.type;
  d.path = n.path;
  d.major = n.major.value_or(0);
  d.minor = n.minor.value_or(0);
  d.file_mode = n.file_mode;
  d.uid = n.uid;
  d.gid = n.gid;
  if (!d.uid && proc && proc->user.uid > 0) d.uid = proc->user.uid;
  if (!d.gid && proc && proc->user.gid > 0) d.gid = proc->user.gid;
  return d;
}

void add_device(oci::Spec& spec, const DeviceNode& n) {
  auto& linux = spec.linux ? *spec.linux : spec.linux.emplace();
  std::erase_if(linux.devices, [&](const oci::Device& d) { return d.path == n.path; });
  linux.devices.push_back(to_oci(n, spec.process));
  if (n.type == "p" || n.permissions == "none") return;
  oci::DeviceCgroup rule;
  rule.allow = true;
  rule.type = std::string(host_type(n.type));
  rule.major = n.major;
  rule.minor = n.minor;
  rule.access = n.permissions.empty() ? "rwm" : n.permissions;
  auto& res = linux.resources ? *linux.resources : linux.resources.emplace();
  res.devices.push_back(std::move(rule));
}

size_t depth(const std::string& destination) {
  std::string c = clean_path(destination);
  return static_cast<size_t>(std::count(c.begin(), c.end(), '/'));
}

void add_mounts(oci::Spec& spec, const std::vector<MountEdit>& mounts) {
  if (mounts.empty()) return;
  for (const auto& m : mounts) {
    std::erase_if(spec.mounts,
                  [&](const oci::Mount& o) { return o.destination == m.container_path; });
    oci::Mount o;
    o.destination = m.container_path;
    o.source = m.host_path;
    o.type = m.type.empty() ? "bind" : m.type;
    o.options = m.options;
    spec.mounts.push_back(std::move(o));
  }
  // Parents before children, so a mount under another one is not hidden by it.
  std::stable_sort(spec.mounts.begin(), spec.mounts.end(),
                   [](const oci::Mount& a, const oci::Mount& b) {
                     return depth(a.destination) < depth(b.destination);
                   });
}

std::vector<oci::Hook>* hook_list(oci::Hooks& h, std::string_view name) {
  if (name == "prestart") return &h.prestart;
  if (name == "createRuntime") return &h.create_runtime;
  if (name == "createContainer") return &h.create_container;
  if (name == "startContainer") return &h.start_container;
  if (name == "poststart") return &h.poststart;
  if (name == "poststop") return &h.poststop;
  return nullptr;
}

Status add_hooks(oci::Spec& spec, const std::vector<HookEdit>& hooks) {
  for (const auto& h : hooks) {
    auto* list = hook_list(spec.hooks, h.hook_name);
    if (!list)
      return Error::invalid("CDI hook " + h.path + ": unknown hook name \"" + h.hook_name + "\"");
    list->push_back(oci::Hook{h.path, h.args, h.env, h.timeout});
  }
  return ok();
}

oci::Process& process_of(oci::Spec& spec) {
  return spec.process ? *spec.process : spec.process.emplace();
}

}  // namespace

void ContainerEdits::append(const ContainerEdits& other) {
  append_all(env, other.env);
  append_all(device_nodes, other.device_nodes);
  append_all(mounts, other.mounts);
  append_all(hooks, other.hooks);
  append_all(additional_gids, other.additional_gids);
  append_all(masked_paths, other.masked_paths);
}

bool ContainerEdits::empty() const {
  return env.empty() && device_nodes.empty() && mounts.empty() && hooks.empty() &&
         additional_gids.empty() && masked_paths.empty();
}

StatFn host_stat() {
  return [](const std::string& path) -> Result<struct stat> {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return sys_error("stat", path);
    return st;
  };
}

Status apply(const ContainerEdits& edits, oci::Spec& spec, const StatFn& stat, DeviceMode mode) {
  // Work on a copy: a failure halfway (a missing host node) leaves the caller's spec as it was.
  oci::Spec out = spec;
  for (const auto& kv : edits.env) set_env(process_of(out).env, kv);
  std::vector<MountEdit> mounts;
  for (const auto& n : edits.device_nodes) {
    DeviceNode full = TRY(complete_node(n, stat));
    if (mode == DeviceMode::create) {
      add_device(out, full);
    } else {
      std::string host = full.host_path.empty() ? full.path : full.host_path;
      mounts.push_back({.host_path = host, .container_path = full.path, .type = "bind",
                        .options = {"bind", "nosuid", "noexec"}});
    }
  }
  mounts.insert(mounts.end(), edits.mounts.begin(), edits.mounts.end());
  add_mounts(out, mounts);
  TRY(add_hooks(out, edits.hooks));
  for (uint32_t gid : edits.additional_gids)
    if (gid != 0) append_unique(process_of(out).user.additional_gids, gid);
  if (!edits.masked_paths.empty()) {
    auto& linux = out.linux ? *out.linux : out.linux.emplace();
    for (const auto& p : edits.masked_paths) append_unique(linux.masked_paths, p);
  }
  spec = std::move(out);
  return ok();
}

}  // namespace berth::gpu
