// spec_build.cpp - a container's OCI spec, built from what create recorded, docker's
// defaults (capabilities, seccomp, masked paths, /dev, /sys) and berth's deep-learning
// defaults (a large /dev/shm). Also the user lookup in the image's /etc/passwd and the
// files docker writes for each container (/etc/hostname, /etc/hosts, /etc/resolv.conf).
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>

#include "base/file.h"
#include "base/strings.h"
#include "containers/engine.h"
#include "containers/spec_parts.h"
#include "security/caps.h"
#include "security/docker_defaults.h"
#include "sys/path_resolve.h"

namespace berth::containers {
namespace {

oci::Mount mount(std::string dest, std::string type, std::string source,
                 std::vector<std::string> options) {
  return oci::Mount{.destination = std::move(dest),
                    .type = std::move(type),
                    .source = std::move(source),
                    .options = std::move(options)};
}

std::vector<oci::Mount> base_mounts(const ContainerSpec& s, const SpecInputs& in, int64_t shm_bytes) {
  std::vector<oci::Mount> m = {
      mount("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}),
      mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      mount("/dev/pts", "devpts", "devpts",
            {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
      mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", s.privileged ? "rw" : "ro"}),
      mount("/sys/fs/cgroup", "cgroup", "cgroup",
            {"nosuid", "noexec", "nodev", "relatime", s.privileged ? "rw" : "ro"}),
      mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
  };
  if (s.ipc == "host")
    m.push_back(mount("/dev/shm", "bind", "/dev/shm", {"rbind", "nosuid", "noexec", "nodev"}));
  else if (!in.shm_host_dir.empty())
    m.push_back(mount("/dev/shm", "bind", in.shm_host_dir, {"rbind", "nosuid", "noexec", "nodev"}));
  else if (s.ipc != "none")
    m.push_back(mount("/dev/shm", "tmpfs", "shm",
                      {"nosuid", "noexec", "nodev", "mode=1777",
                       "size=" + std::to_string(shm_bytes)}));
  return m;
}

void add_cap_namespaces(oci::Linux& l, const ContainerSpec& s, const std::string& netns,
                        const std::string& ipc_ns) {
  l.namespaces.push_back({"mount", ""});
  if (s.pid_mode != "host") l.namespaces.push_back({"pid", ""});
  if (s.ipc != "host") l.namespaces.push_back({"ipc", ipc_ns});
  if (s.uts_mode != "host") l.namespaces.push_back({"uts", ""});
  if (s.network != "host") l.namespaces.push_back({"network", netns});
}

oci::Resources resources(const ContainerSpec& s) {
  oci::Resources r;
  if (s.memory > 0) {
    r.memory = oci::Memory{};
    r.memory->limit = s.memory;
    if (s.memory_swap != 0) r.memory->swap = s.memory_swap;
  }
  if (s.nano_cpus > 0 || !s.cpuset_cpus.empty()) {
    r.cpu = oci::Cpu{};
    if (s.nano_cpus > 0) {
      r.cpu->period = 100000;
      r.cpu->quota = s.nano_cpus * 100000 / 1000000000;
    }
    r.cpu->cpus = s.cpuset_cpus;
  }
  if (s.pids_limit != 0) r.pids = oci::Pids{.limit = s.pids_limit};
  return r;
}

Result<oci::Device> host_device(const DeviceSpec& d) {
  struct stat st;
  if (::stat(d.host_path.c_str(), &st) < 0)
    return sys_error("error gathering device information while adding custom device", d.host_path);
  if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
    return Error::invalid("not a device node", d.host_path);
  return oci::Device{.type = S_ISCHR(st.st_mode) ? "c" : "b",
                     .path = d.container_path,
                     .major = static_cast<int64_t>(major(st.st_rdev)),
                     .minor = static_cast<int64_t>(minor(st.st_rdev)),
                     .file_mode = st.st_mode & 07777,
                     .uid = st.st_uid,
                     .gid = st.st_gid};
}

// --device /dev/infiniband: a directory passes every device node under it.
Status add_devices(const DeviceSpec& d, oci::Linux& l, oci::Resources& r) {
  if (is_directory(d.host_path)) {
    for (const auto& name : TRY(list_dir(d.host_path))) {
      DeviceSpec sub{path_join(d.host_path, name), path_join(d.container_path, name), d.permissions};
      struct stat st;
      if (::stat(sub.host_path.c_str(), &st) == 0 && (S_ISDIR(st.st_mode) || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)))
        TRY(add_devices(sub, l, r));
    }
    return ok();
  }
  oci::Device dev = TRY(host_device(d));
  r.devices.push_back({.allow = true, .type = dev.type, .major = dev.major, .minor = dev.minor,
                       .access = d.permissions});
  l.devices.push_back(std::move(dev));
  return ok();
}

Result<std::vector<oci::Rlimit>> rlimits(const ContainerSpec& s) {
  std::vector<oci::Rlimit> out;
  for (const auto& u : s.ulimits) {
    std::string type = "RLIMIT_" + u.name;
    for (auto& ch : type) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    auto lim = [](int64_t v) { return v < 0 ? ~uint64_t{0} : static_cast<uint64_t>(v); };
    out.push_back({.type = type, .hard = lim(u.hard), .soft = lim(u.soft)});
  }
  return out;
}

Status apply_security(const ContainerSpec& s, oci::Process& p, oci::Linux& l) {
  std::vector<std::string> caps;
  if (s.privileged) {
    caps = TRY(security::apply_cap_changes({}, {"ALL"}, {}));
  } else {
    caps = TRY(security::apply_cap_changes(security::docker_default_capabilities(), s.cap_add,
                                           s.cap_drop));
  }
  // A container cannot have what berth itself lacks (here: CAP_SYS_RESOURCE is often
  // missing from the bounding set): "ALL" means all berth has; naming one is an error.
  bool all = s.privileged || std::find(s.cap_add.begin(), s.cap_add.end(), "ALL") != s.cap_add.end() ||
             std::find(s.cap_add.begin(), s.cap_add.end(), "all") != s.cap_add.end();
  std::vector<std::string> usable;
  for (const auto& cap : caps) {
    auto n = security::cap_from_name(cap);
    if (n && ::prctl(PR_CAPBSET_READ, *n, 0, 0, 0) == 1) usable.push_back(cap);
    else if (!all) return Error::invalid("cannot add " + cap + ": berth does not hold it (not in its bounding set)");
  }
  caps = std::move(usable);
  p.capabilities = oci::Capabilities{.bounding = caps, .effective = caps, .permitted = caps};
  bool seccomp = !s.privileged;
  std::string profile_file;
  for (const auto& opt : s.security_opt) {
    auto eq = opt.find_first_of("=:");
    std::string key = opt.substr(0, eq), val = eq == std::string::npos ? "" : opt.substr(eq + 1);
    if (key == "no-new-privileges") p.no_new_privileges = val.empty() || val == "true";
    else if (key == "seccomp" && val == "unconfined") seccomp = false;
    else if (key == "seccomp") profile_file = val;
    else if (key == "apparmor" || key == "label") {
    } else return Error::invalid("invalid --security-opt: " + opt);
  }
  if (!profile_file.empty()) {
    std::string text = TRY_CTX(read_file(profile_file, 8 << 20), "opening seccomp profile");
    l.seccomp = TRY_CTX(security::seccomp_from_docker_profile(text, caps, security::native_seccomp_arch(), security::running_kernel_version()),
                        "seccomp profile " + profile_file);
  } else if (seccomp) {
    l.seccomp = TRY(security::docker_default_seccomp(caps));
  }
  if (!s.privileged) {
    l.masked_paths = security::docker_masked_paths();
    l.readonly_paths = security::docker_readonly_paths();
  }
  return ok();
}

}  // namespace

std::string cgroup_dir(const ContainerSpec& s) {
  return s.cgroup_parent.empty() ? "/berth" : s.cgroup_parent;
}

int64_t default_shm_size() {
  long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  int64_t half = pages > 0 && page > 0 ? static_cast<int64_t>(pages) * page / 2 : (int64_t{1} << 30);
  return half;
}

Result<oci::Spec> build_oci_spec(const Container& c, const SpecInputs& in) {
  const ContainerSpec& s = c.spec;
  oci::Spec spec;
  spec.oci_version = "1.1.0";
  spec.root = {.path = in.rootfs, .readonly = s.read_only};
  spec.hostname = s.uts_mode == "host" ? "" : s.hostname;
  spec.domainname = s.domainname;
  oci::Process p;
  p.terminal = s.tty;
  if (s.init) p.args = {"/sbin/docker-init", "--"};
  p.args.insert(p.args.end(), s.entrypoint.begin(), s.entrypoint.end());
  p.args.insert(p.args.end(), s.cmd.begin(), s.cmd.end());
  p.env = s.env;
  p.env.insert(p.env.begin() + (p.env.empty() ? 0 : 1), "HOSTNAME=" + s.hostname);
  if (s.tty) p.env.push_back("TERM=xterm");
  p.cwd = s.working_dir.empty() ? "/" : s.working_dir;
  p.user = in.user;
  p.rlimits = TRY(rlimits(s));
  oci::Linux l;
  TRY(apply_security(s, p, l));
  spec.process = std::move(p);
  spec.mounts = base_mounts(s, in, s.shm_size > 0 ? s.shm_size : default_shm_size());
  for (const auto& m : in.extra_mounts) spec.mounts.push_back(m);
  add_cap_namespaces(l, s, in.netns_path, in.ipc_ns_path);
  if (!in.uid_mappings.empty()) {
    l.namespaces.insert(l.namespaces.begin(), {"user", ""});
    l.uid_mappings = in.uid_mappings;
    l.gid_mappings = in.gid_mappings;
  }
  l.cgroups_path = cgroup_dir(s) + "/" + c.id;
  oci::Resources r = resources(s);
  for (const auto& d : s.devices) TRY(add_devices(d, l, r));
  l.resources = std::move(r);
  for (const auto& kv : s.sysctls) {
    auto eq = kv.find('=');
    l.sysctl[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
  }
  l.rootfs_propagation = "rprivate";
  spec.linux = std::move(l);
  return spec;
}

}  // namespace berth::containers
