// spec_default.cpp - the config.json that `berth spec` writes: runc's example spec.
#include <unistd.h>

#include <algorithm>

#include "base/strings.h"
#include "oci/spec_json.h"

namespace berth::oci {
namespace {

constexpr const char* kOciVersion = "1.1.0";

Process default_process() {
  Process p;
  p.terminal = true;
  p.args = {"sh"};
  p.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"};
  p.cwd = "/";
  std::vector<std::string> caps = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  p.capabilities = Capabilities{.bounding = caps, .effective = caps, .permitted = caps};
  p.rlimits = {Rlimit{.type = "RLIMIT_NOFILE", .hard = 1024, .soft = 1024}};
  p.no_new_privileges = true;
  return p;
}

Mount mount(std::string destination, std::string type, std::string source,
            std::vector<std::string> options) {
  return Mount{.destination = std::move(destination),
               .type = std::move(type),
               .source = std::move(source),
               .options = std::move(options)};
}

std::vector<Mount> default_mounts() {
  return {
      mount("/proc", "proc", "proc", {}),
      mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      mount("/dev/pts", "devpts", "devpts",
            {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
      mount("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
      mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
      mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
      mount("/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}),
  };
}

Linux default_linux() {
  Linux l;
  l.masked_paths = {"/proc/acpi",        "/proc/asound",        "/proc/kcore",
                    "/proc/keys",        "/proc/latency_stats", "/proc/timer_list",
                    "/proc/timer_stats", "/proc/sched_debug",   "/sys/firmware",
                    "/proc/scsi"};
  l.readonly_paths = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
  l.resources = Resources{.devices = {DeviceCgroup{.allow = false, .access = "rwm"}}};
  for (const char* type : {"pid", "network", "ipc", "uts", "mount", "cgroup"})
    l.namespaces.push_back(Namespace{.type = type});
  return l;
}

// runc's ToRootless: a user namespace mapping root to the caller, no network or cgroup
// namespace, /sys bind-mounted from the host, no uid=/gid= mount options, no cgroup limits.
void make_rootless(Spec& spec, uint32_t host_uid, uint32_t host_gid) {
  auto& ns = spec.linux->namespaces;
  std::erase_if(ns, [](const Namespace& n) {
    return n.type == "network" || n.type == "cgroup" || n.type == "user";
  });
  ns.push_back(Namespace{.type = "user"});
  spec.linux->uid_mappings = {IdMapping{.container_id = 0, .host_id = host_uid, .size = 1}};
  spec.linux->gid_mappings = {IdMapping{.container_id = 0, .host_id = host_gid, .size = 1}};
  spec.linux->resources.reset();
  for (Mount& m : spec.mounts) {
    if (m.destination == "/sys") {
      m = mount("/sys", "none", "/sys", {"rbind", "nosuid", "noexec", "nodev", "ro"});
      continue;
    }
    std::erase_if(m.options, [](const std::string& o) {
      return starts_with(o, "uid=") || starts_with(o, "gid=");
    });
  }
}

}  // namespace

Spec default_spec(bool rootless) {
  if (rootless) return default_rootless_spec(geteuid(), getegid());
  Spec spec;
  spec.oci_version = kOciVersion;
  spec.process = default_process();
  spec.root = Root{.path = "rootfs", .readonly = true};
  spec.hostname = "berth";
  spec.mounts = default_mounts();
  spec.linux = default_linux();
  return spec;
}

Spec default_rootless_spec(uint32_t host_uid, uint32_t host_gid) {
  Spec spec = default_spec(false);
  make_rootless(spec, host_uid, host_gid);
  return spec;
}

}  // namespace berth::oci
