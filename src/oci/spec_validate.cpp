// spec_validate.cpp - validate_spec: the rules of config.json that JSON types cannot express.
// Each check names the offending field by its JSON path.
#include <set>
#include <string>
#include <utility>

#include "base/file.h"
#include "base/strings.h"
#include "oci/json_codec.h"
#include "oci/names.h"
#include "oci/spec_json.h"

namespace berth::oci {
namespace {

using codec::index_path;
using codec::key_path;
using codec::path_error;
using codec::quote;

constexpr size_t kSeccompArgs = 6;  // a syscall has at most six arguments

bool is_absolute(std::string_view p) {
  return !p.empty() && p[0] == '/' && p.find('\0') == std::string_view::npos;
}

Status check_absolute(const std::string& path, std::string_view value) {
  if (is_absolute(value)) return ok();
  return path_error(path, quote(value) + " is not an absolute path");
}

Status check_absolute_list(const std::string& path, const std::vector<std::string>& values) {
  for (size_t i = 0; i < values.size(); ++i) TRY(check_absolute(index_path(path, i), values[i]));
  return ok();
}

// ---- top level ----------------------------------------------------------------------------

Status check_version(const std::string& version) {
  if (version.empty()) return Error::invalid("ociVersion must be set");
  auto major = parse_uint(std::string_view(version).substr(0, version.find('.')));
  if (major != 1u)
    return path_error("ociVersion", "unsupported version " + quote(version) + " (need 1.x)");
  return ok();
}

Status check_root(const Root& root) {
  if (root.path.empty()) return Error::invalid("root.path must not be empty");
  if (root.path.find('\0') != std::string::npos) return path_error("root.path", "contains NUL");
  return ok();
}

Status check_id_mappings(const std::string& path, const std::vector<IdMapping>& maps) {
  constexpr uint64_t kIdSpace = uint64_t{1} << 32;
  for (size_t i = 0; i < maps.size(); ++i) {
    const IdMapping& m = maps[i];
    if (m.size == 0)
      return path_error(key_path(index_path(path, i), "size"), "must be greater than 0");
    if (uint64_t{m.container_id} + m.size > kIdSpace || uint64_t{m.host_id} + m.size > kIdSpace)
      return path_error(index_path(path, i), "id range goes past 2^32");
  }
  return ok();
}

Status check_mounts(const std::vector<Mount>& mounts) {
  for (size_t i = 0; i < mounts.size(); ++i) {
    std::string path = index_path("mounts", i);
    TRY(check_absolute(key_path(path, "destination"), mounts[i].destination));
    TRY(check_id_mappings(key_path(path, "uidMappings"), mounts[i].uid_mappings));
    TRY(check_id_mappings(key_path(path, "gidMappings"), mounts[i].gid_mappings));
  }
  return ok();
}

Status check_hook_list(const std::string& path, const std::vector<Hook>& hooks) {
  for (size_t i = 0; i < hooks.size(); ++i) {
    std::string hook = index_path(path, i);
    TRY(check_absolute(key_path(hook, "path"), hooks[i].path));
    const auto& timeout = hooks[i].timeout;
    if (timeout && *timeout <= 0)
      return path_error(key_path(hook, "timeout"),
                        "must be greater than 0, got " + std::to_string(*timeout));
  }
  return ok();
}

Status check_hooks(const Hooks& h) {
  TRY(check_hook_list("hooks.prestart", h.prestart));
  TRY(check_hook_list("hooks.createRuntime", h.create_runtime));
  TRY(check_hook_list("hooks.createContainer", h.create_container));
  TRY(check_hook_list("hooks.startContainer", h.start_container));
  TRY(check_hook_list("hooks.poststart", h.poststart));
  return check_hook_list("hooks.poststop", h.poststop);
}

// ---- process ------------------------------------------------------------------------------

Status check_env(const std::vector<std::string>& env) {
  for (size_t i = 0; i < env.size(); ++i) {
    size_t eq = env[i].find('=');
    if (eq == 0 || eq == std::string::npos || env[i].find('\0') != std::string::npos)
      return path_error(index_path("process.env", i), quote(env[i]) + " is not KEY=VALUE");
  }
  return ok();
}

Status check_capability_set(const std::string& path, const std::vector<std::string>& caps) {
  for (size_t i = 0; i < caps.size(); ++i)
    if (!capability_number(caps[i]))
      return path_error(index_path(path, i), "unknown capability " + quote(caps[i]));
  return ok();
}

Status check_capabilities(const Capabilities& c) {
  TRY(check_capability_set("process.capabilities.bounding", c.bounding));
  TRY(check_capability_set("process.capabilities.effective", c.effective));
  TRY(check_capability_set("process.capabilities.inheritable", c.inheritable));
  TRY(check_capability_set("process.capabilities.permitted", c.permitted));
  return check_capability_set("process.capabilities.ambient", c.ambient);
}

Status check_rlimits(const std::vector<Rlimit>& rlimits) {
  std::set<std::string> seen;
  for (size_t i = 0; i < rlimits.size(); ++i) {
    const Rlimit& r = rlimits[i];
    std::string path = index_path("process.rlimits", i);
    if (!rlimit_resource(r.type))
      return path_error(key_path(path, "type"), "unknown rlimit " + quote(r.type));
    if (!seen.insert(r.type).second)
      return path_error(key_path(path, "type"), "duplicate rlimit " + quote(r.type));
    if (r.soft > r.hard)
      return path_error(path, "soft limit " + std::to_string(r.soft) + " exceeds hard limit " +
                                  std::to_string(r.hard));
  }
  return ok();
}

Status check_io_priority(const Process& p) {
  if (!p.io_priority_class) return ok();
  const std::string& c = *p.io_priority_class;
  if (c != "IOPRIO_CLASS_RT" && c != "IOPRIO_CLASS_BE" && c != "IOPRIO_CLASS_IDLE")
    return path_error("process.ioPriority.class", "unknown class " + quote(c));
  if (p.io_priority < 0 || p.io_priority > 7)
    return path_error("process.ioPriority.priority",
                      std::to_string(p.io_priority) + " is outside 0..7");
  return ok();
}

Status check_process(const Process& p) {
  if (p.args.empty()) return Error::invalid("process.args must not be empty");
  TRY(check_absolute("process.cwd", p.cwd));
  TRY(check_env(p.env));
  if (p.capabilities) TRY(check_capabilities(*p.capabilities));
  TRY(check_rlimits(p.rlimits));
  if (p.oom_score_adj && (*p.oom_score_adj < -1000 || *p.oom_score_adj > 1000))
    return path_error("process.oomScoreAdj",
                      std::to_string(*p.oom_score_adj) + " is outside -1000..1000");
  return check_io_priority(p);
}

// ---- linux --------------------------------------------------------------------------------

Status check_namespaces(const std::vector<Namespace>& namespaces) {
  std::set<std::string> seen;
  for (size_t i = 0; i < namespaces.size(); ++i) {
    const Namespace& ns = namespaces[i];
    std::string path = index_path("linux.namespaces", i);
    if (!is_namespace_type(ns.type))
      return path_error(key_path(path, "type"), "unknown namespace type " + quote(ns.type));
    if (!seen.insert(ns.type).second)
      return path_error(key_path(path, "type"), "duplicate namespace type " + quote(ns.type));
    if (!ns.path.empty()) TRY(check_absolute(key_path(path, "path"), ns.path));
  }
  return ok();
}

// A new user namespace without mappings is allowed: the runtime maps the caller (as crun
// does), so only mappings without any user namespace are an error here.
Status check_user_namespace(const Spec& spec) {
  const Linux& l = *spec.linux;
  const Namespace* user = spec.find_namespace("user");
  if (!user && !l.uid_mappings.empty())
    return path_error("linux.uidMappings", "needs a user namespace in linux.namespaces");
  if (!user && !l.gid_mappings.empty())
    return path_error("linux.gidMappings", "needs a user namespace in linux.namespaces");
  TRY(check_id_mappings("linux.uidMappings", l.uid_mappings));
  return check_id_mappings("linux.gidMappings", l.gid_mappings);
}

Status check_hostname(const Spec& spec) {
  if (spec.hostname.empty() && spec.domainname.empty()) return ok();
  if (spec.find_namespace("uts")) return ok();
  return path_error(spec.hostname.empty() ? "domainname" : "hostname",
                    "needs a uts namespace in linux.namespaces");
}

// Sysctl names become paths under /proc/sys ('.' and '/' both separate): no way out of it.
Status check_sysctl(const std::map<std::string, std::string>& sysctl) {
  for (const auto& [key, value] : sysctl) {
    if (key.empty()) return Error::invalid("linux.sysctl: empty key");
    if (key.find("..") != std::string::npos || key.find('\0') != std::string::npos ||
        key.front() == '/' || key.front() == '.')
      return path_error(codec::map_path("linux.sysctl", key), "not a valid sysctl name");
  }
  return ok();
}

Status check_devices(const std::vector<Device>& devices) {
  for (size_t i = 0; i < devices.size(); ++i) {
    const Device& d = devices[i];
    std::string path = index_path("linux.devices", i);
    if (d.type != "c" && d.type != "b" && d.type != "u" && d.type != "p")
      return path_error(key_path(path, "type"),
                        "unknown device type " + quote(d.type) + " (want c, b, u or p)");
    if (!is_absolute(d.path) || !starts_with(d.path, "/dev/") || clean_path(d.path) != d.path)
      return path_error(key_path(path, "path"), quote(d.path) + " is not a path under /dev");
    if (d.file_mode && (*d.file_mode & ~07777u) != 0)
      return path_error(key_path(path, "fileMode"),
                        std::to_string(*d.file_mode) + " has bits outside 07777");
  }
  return ok();
}

Status check_device_rules(const std::vector<DeviceCgroup>& rules) {
  for (size_t i = 0; i < rules.size(); ++i) {
    const DeviceCgroup& r = rules[i];
    std::string path = index_path("linux.resources.devices", i);
    if (r.type != "" && r.type != "a" && r.type != "c" && r.type != "b")
      return path_error(key_path(path, "type"),
                        "unknown device type " + quote(r.type) + " (want a, c or b)");
    if (r.access.find_first_not_of("rwm") != std::string::npos)
      return path_error(key_path(path, "access"), quote(r.access) + " may only hold r, w and m");
  }
  return ok();
}

// unified keys are cgroup file names: one path component.
Status check_unified(const std::map<std::string, std::string>& unified) {
  for (const auto& [key, value] : unified) {
    if (key.empty() || key == "." || key == ".." || key.find('/') != std::string::npos ||
        key.find('\0') != std::string::npos)
      return path_error(codec::map_path("linux.resources.unified", key), "not a cgroup file name");
  }
  return ok();
}

Status check_resources(const Resources& r) {
  TRY(check_device_rules(r.devices));
  if (r.memory && r.memory->swappiness && *r.memory->swappiness > 100)
    return path_error("linux.resources.memory.swappiness",
                      std::to_string(*r.memory->swappiness) + " is outside 0..100");
  for (size_t i = 0; i < r.hugepage_limits.size(); ++i)
    if (r.hugepage_limits[i].page_size.empty())
      return Error::invalid(index_path("linux.resources.hugepageLimits", i) +
                            ".pageSize must not be empty");
  return check_unified(r.unified);
}

Status check_seccomp_action(const std::string& path, const std::string& action, const Seccomp& s) {
  if (!is_seccomp_action(action)) return path_error(path, "unknown action " + quote(action));
  if (action == "SCMP_ACT_NOTIFY" && s.listener_path.empty())
    return path_error(path, "SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath");
  return ok();
}

Status check_seccomp_syscall(const std::string& path, const SeccompSyscall& sc, const Seccomp& s) {
  if (sc.names.empty()) return Error::invalid(path + ".names must not be empty");
  for (size_t i = 0; i < sc.names.size(); ++i)
    if (sc.names[i].empty())
      return path_error(index_path(key_path(path, "names"), i), "empty name");
  TRY(check_seccomp_action(key_path(path, "action"), sc.action, s));
  for (size_t i = 0; i < sc.args.size(); ++i) {
    std::string arg = index_path(key_path(path, "args"), i);
    if (sc.args[i].index >= kSeccompArgs)
      return path_error(key_path(arg, "index"),
                        std::to_string(sc.args[i].index) + " is outside 0..5");
    if (!is_seccomp_operator(sc.args[i].op))
      return path_error(key_path(arg, "op"), "unknown operator " + quote(sc.args[i].op));
  }
  return ok();
}

Status check_seccomp(const Seccomp& s) {
  if (s.default_action.empty()) return Error::invalid("linux.seccomp.defaultAction must be set");
  if (s.default_action == "SCMP_ACT_NOTIFY")
    return path_error("linux.seccomp.defaultAction", "SCMP_ACT_NOTIFY cannot be the default");
  TRY(check_seccomp_action("linux.seccomp.defaultAction", s.default_action, s));
  for (size_t i = 0; i < s.architectures.size(); ++i)
    if (!is_seccomp_arch(s.architectures[i]))
      return path_error(index_path("linux.seccomp.architectures", i),
                        "unknown architecture " + quote(s.architectures[i]));
  for (size_t i = 0; i < s.flags.size(); ++i)
    if (!is_seccomp_flag(s.flags[i]))
      return path_error(index_path("linux.seccomp.flags", i), "unknown flag " + quote(s.flags[i]));
  for (size_t i = 0; i < s.syscalls.size(); ++i)
    TRY(check_seccomp_syscall(index_path("linux.seccomp.syscalls", i), s.syscalls[i], s));
  return ok();
}

Status check_linux(const Spec& spec) {
  const Linux& l = *spec.linux;
  TRY(check_namespaces(l.namespaces));
  TRY(check_user_namespace(spec));
  TRY(check_sysctl(l.sysctl));
  TRY(check_devices(l.devices));
  if (l.resources) TRY(check_resources(*l.resources));
  if (l.seccomp) TRY(check_seccomp(*l.seccomp));
  if (!l.rootfs_propagation.empty() && !is_rootfs_propagation(l.rootfs_propagation))
    return path_error("linux.rootfsPropagation",
                      "unknown propagation " + quote(l.rootfs_propagation));
  TRY(check_absolute_list("linux.maskedPaths", l.masked_paths));
  return check_absolute_list("linux.readonlyPaths", l.readonly_paths);
}

}  // namespace

Status validate_spec(const Spec& spec) {
  TRY(check_version(spec.oci_version));
  TRY(check_root(spec.root));
  if (spec.process) TRY(check_process(*spec.process));
  TRY(check_mounts(spec.mounts));
  TRY(check_hooks(spec.hooks));
  TRY(check_hostname(spec));
  if (spec.linux) TRY(check_linux(spec));
  return ok();
}

}  // namespace berth::oci
