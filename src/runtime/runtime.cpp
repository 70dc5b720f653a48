#include "runtime/runtime.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <optional>
#include <thread>

#include "base/file.h"
#include "base/log.h"
#include "base/time.h"
#include "cgroup/cgroup.h"
#include "oci/spec_json.h"
#include "runtime/foreground.h"
#include "runtime/hooks.h"
#include "runtime/launch.h"
#include "security/caps.h"
#include "security/seccomp.h"
#include "sys/ns.h"
#include "sys/process.h"

namespace berth::runtime {

struct Runtime::Launched {
  ContainerRecord rec;
  LaunchResult lr;
  oci::Spec spec;
};

namespace {

Result<std::string> real_path(const std::string& p) {
  char buf[PATH_MAX];
  if (::realpath(p.c_str(), buf) == nullptr) return sys_error("resolve path", p);
  return std::string(buf);
}

Result<std::string> read_config(const std::string& path) {
  auto text = read_file(path, 16u << 20);
  if (!text) return std::move(text).error().context("read the bundle's config.json");
  return text;
}

// A bundle written for root still runs for an ordinary user: give it a user namespace
// mapping the caller's ids to 0, as crun does.
void adapt_for_caller(oci::Spec& spec) {
  if (::geteuid() == 0) return;
  if (!spec.linux) spec.linux.emplace();
  oci::Linux& l = *spec.linux;
  if (spec.find_namespace("user") == nullptr)
    l.namespaces.insert(l.namespaces.begin(), {"user", ""});
  const oci::Namespace* user = spec.find_namespace("user");
  if (user->path.empty() && l.uid_mappings.empty()) l.uid_mappings.push_back({0, ::geteuid(), 1});
  if (user->path.empty() && l.gid_mappings.empty()) l.gid_mappings.push_back({0, ::getegid(), 1});
}

// Whether resources ask for more than device rules. A bundle written for root carries
// "deny all devices"; for an ordinary user (Slurm runs RunTimeRun as the job's user) that rule
// is moot: in a user namespace no device node can be made, and bind-mounted ones keep their
// host permissions. So such a bundle still runs without a cgroup, as with crun.
bool sets_limits(const oci::Resources& r) {
  return r.memory || r.cpu || r.pids || r.block_io || !r.hugepage_limits.empty() ||
         !r.unified.empty();
}

Status check_mount_sources(const oci::Spec& spec, const std::string& bundle) {
  for (const auto& m : spec.mounts) {
    bool bind = m.type == "bind";
    for (const auto& o : m.options) bind |= o == "bind" || o == "rbind";
    if (!bind) continue;
    std::string src =
        m.source.empty() || m.source[0] == '/' ? m.source : path_join(bundle, m.source);
    if (!path_exists(src)) return Error(ENOENT, "mount source for " + m.destination, src);
  }
  return ok();
}

oci::State make_state(const ContainerRecord& r, const std::string& status,
                      const std::string& version) {
  oci::State s;
  s.oci_version = version.empty() ? "1.1.0" : version;
  s.id = r.id;
  s.status = status;
  s.pid = status == "stopped" ? 0 : r.pid;
  s.bundle = r.bundle;
  s.annotations = r.annotations;
  return s;
}

bool alive(const ContainerRecord& r) {
  auto st = sys::process_start_time(r.pid);
  return r.pid > 0 && st && *st == r.pid_start;
}

// Waits (up to timeout) for a process that is not our child to go away.
bool wait_gone(const ContainerRecord& r, int timeout_ms) {
  for (int waited = 0; waited < timeout_ms; waited += 5) {
    if (!alive(r)) return true;
    ::usleep(5000);
  }
  return !alive(r);
}

// Who owns the resources a create makes until it succeeds: on failure they are undone.
struct CreateGuard {
  const StateStore& store;
  std::string id;
  std::optional<cgroup::Cgroup> cg;
  bool reserved = false;
  pid_t pid = 0;
  ~CreateGuard() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      (void)sys::wait_for(pid);
    }
    if (cg) (void)cg->destroy();
    if (reserved) (void)store.remove(id);
  }
  void release() {
    pid = 0;
    cg.reset();
    reserved = false;
  }
};

Result<std::vector<JoinNs>> open_joined(const oci::Spec& spec, std::vector<UniqueFd>& keep) {
  std::vector<JoinNs> out;
  if (!spec.linux) return out;
  for (const char* type : oci::kNamespaceTypes) {
    const oci::Namespace* ns = spec.find_namespace(type);
    if (ns == nullptr || ns->path.empty()) continue;
    UniqueFd fd =
        TRY_CTX(sys::open_namespace(ns->path, type), "join linux.namespaces " + std::string(type));
    out.push_back({type, fd.get()});
    keep.push_back(std::move(fd));
  }
  return out;
}

int new_namespace_flags(const oci::Spec& spec) {
  int flags = 0;
  if (!spec.linux) return flags;
  for (const auto& ns : spec.linux->namespaces)
    if (ns.path.empty() && ns.type != "user") flags |= sys::ns_clone_flag(ns.type);
  return flags;
}

oci::DeviceCgroup allow_rule(const char* type, std::optional<int64_t> major,
                             std::optional<int64_t> minor, const char* access) {
  oci::DeviceCgroup d;
  d.allow = true;
  d.type = type;
  d.major = major;
  d.minor = minor;
  d.access = access;
  return d;
}

// The device cgroup rules, as runc builds them: the spec's rules, then access to each
// linux.devices node, then the devices every container gets (mknod of anything, the
// default nodes, ptys).
std::vector<oci::DeviceCgroup> device_rules(const oci::Spec& spec) {
  std::vector<oci::DeviceCgroup> rules = spec.linux->resources->devices;
  for (const auto& d : spec.linux->devices)
    rules.push_back(allow_rule(d.type == "b" ? "b" : "c", d.major, d.minor, "rwm"));
  const std::pair<int64_t, int64_t> defaults[] = {{1, 3}, {1, 5}, {1, 7}, {1, 8},
                                                  {1, 9}, {5, 0}, {5, 1}, {5, 2}};
  rules.push_back(allow_rule("c", std::nullopt, std::nullopt, "m"));
  rules.push_back(allow_rule("b", std::nullopt, std::nullopt, "m"));
  for (auto [maj, min] : defaults) rules.push_back(allow_rule("c", maj, min, "rwm"));
  rules.push_back(allow_rule("c", 136, std::nullopt, "rwm"));  // /dev/pts/*
  return rules;
}

Status write_pid_file(const std::string& path, pid_t pid) {
  if (path.empty()) return ok();
  return write_file_atomic(path, std::to_string(pid), 0644, Durability::volatile_ok);
}

}  // namespace

Runtime::Runtime(RuntimeOptions opts) : opts_(std::move(opts)), store_(opts_.root) {
  if (opts_.seccomp_cache.empty()) opts_.seccomp_cache = opts_.root + "/.seccomp-cache";
}

Result<oci::Spec> Runtime::spec_of(const std::string& id) {
  std::string text = TRY(read_config(store_.config_path(id)));
  oci::Spec spec = TRY(oci::parse_spec(text));
  adapt_for_caller(spec);
  return spec;
}

Result<Runtime::Launched> Runtime::launch(const CreateOptions& o, StartGate gate,
                                          bool die_with_parent) {
  Launched L;
  std::string bundle = o.bundle.empty() ? "." : o.bundle;
  if (!is_directory(bundle)) return Error(ENOENT, "bundle", bundle);
  bundle = TRY(real_path(bundle));
  std::string config_text =
      TRY_CTX(read_config(bundle + "/config.json"), "load " + bundle + "/config.json");
  L.spec = TRY(oci::parse_spec(config_text));
  oci::Spec& spec = L.spec;
  if (!spec.process) return Error::invalid("config.json has no process to run");
  adapt_for_caller(spec);
  std::string rootfs =
      spec.root.path[0] == '/' ? spec.root.path : path_join(bundle, spec.root.path);
  if (!is_directory(rootfs)) return Error(ENOENT, "rootfs", rootfs);
  rootfs = TRY(real_path(rootfs));
  TRY(check_mount_sources(spec, bundle));
  std::vector<UniqueFd> ns_fds;
  InitConfig cfg;
  cfg.join = TRY(open_joined(spec, ns_fds));

  CreateGuard guard{store_, o.id};
  TRY(store_.reserve(o.id));
  guard.reserved = true;
  TRY(write_file_atomic(store_.config_path(o.id), config_text, 0600, Durability::volatile_ok));

  if (spec.linux && spec.linux->seccomp) {
    cfg.seccomp_bpf =
        TRY(security::compile_seccomp_cached(*spec.linux->seccomp, opts_.seccomp_cache));
    cfg.seccomp_flags = spec.linux->seccomp->flags;
  }
  if (spec.process->capabilities) {
    cfg.caps = TRY(security::resolve_caps(*spec.process->capabilities));
    cfg.has_caps = true;
  }
  auto layout = TRY(cgroup::Layout::detect());
  std::string cg_path = spec.linux ? spec.linux->cgroups_path : "";
  bool need_v2 =
      layout.mode() == cgroup::Mode::v2 ||
      (spec.linux && spec.linux->resources && !spec.linux->resources->hugepage_limits.empty());
  auto cg = cgroup::Cgroup::create(
      cg_path, o.id, layout,
      need_v2 ? cgroup::Cgroup::V2Controllers::enable : cgroup::Cgroup::V2Controllers::leave);
  if (!cg) {
    if (!sys::rootless()) return std::move(cg).error().context("create the container's cgroup");
    if (spec.linux && spec.linux->resources && sets_limits(*spec.linux->resources))
      return Error::invalid("resource limits without root need a cgroup this user may write: give "
                            "--cgroup-parent a cgroup delegated to you (docs/rootless.md): " +
                            cg.error().message());
    log::debug("no cgroup for rootless container: " + cg.error().message());
  } else {
    guard.cg = *cg;
    if (spec.linux && spec.linux->resources) {
      oci::Resources res = *spec.linux->resources;
      // Without root, device rules are moot (no node can be made in a user namespace) and
      // the devices controller refuses them to anyone but real root.
      if (sys::rootless()) res.devices.clear();
      else if (!res.devices.empty() || !spec.linux->devices.empty()) res.devices = device_rules(spec);
      TRY_CTX(cg->apply(res), "apply linux.resources");
    }
  }

  UniqueFd fifo;
  if (gate == StartGate::fifo) {
    if (::mkfifo(store_.fifo_path(o.id).c_str(), 0600) < 0)
      return sys_error("mkfifo", store_.fifo_path(o.id));
    fifo = TRY(open_fd(store_.fifo_path(o.id), O_PATH));
  }

  cfg.spec = &spec;
  cfg.process = &*spec.process;
  cfg.id = o.id;
  cfg.rootfs = rootfs;
  cfg.bundle = bundle;
  const oci::Namespace* user = spec.find_namespace("user");
  cfg.new_userns = user != nullptr && user->path.empty();
  cfg.new_ns_flags = new_namespace_flags(spec);
  cfg.no_pivot = o.no_pivot;
  cfg.fifo_fd = fifo.get();
  cfg.die_with_parent = die_with_parent;
  const oci::Hooks& h = spec.hooks;
  cfg.want_hooks_point = !h.prestart.empty() || !h.create_runtime.empty() ||
                         !h.create_container.empty() || !h.start_container.empty();

  ContainerRecord& rec = L.rec;
  rec.id = o.id;
  rec.bundle = bundle;
  rec.rootfs = rootfs;
  rec.created = now_rfc3339();
  rec.annotations = spec.annotations;
  rec.cgroup = guard.cg ? guard.cg->to_json() : "";

  LaunchCallbacks cb;
  cb.enter_cgroup = [&](pid_t pid) -> Status {
    return guard.cg ? guard.cg->add_process(pid) : ok();
  };
  cb.at_hooks_point = [&](pid_t pid) -> Status {
    rec.pid = pid;
    std::string st = oci::state_to_json(make_state(rec, "creating", spec.oci_version));
    TRY(run_hooks(h.prestart, st, "prestart"));
    return run_hooks(h.create_runtime, st, "createRuntime");
  };
  L.lr = TRY_CTX(launch_process(cfg, cb), "create container " + o.id);
  guard.pid = L.lr.pid;
  rec.pid = L.lr.pid;
  rec.pid_start = sys::process_start_time(rec.pid).value_or(0);
  TRY(store_.save(rec));
  TRY(write_pid_file(o.pid_file, rec.pid));
  if (L.lr.console && o.console_out) {
    *o.console_out = std::move(L.lr.console);
  } else if (L.lr.console && !o.console_socket.empty()) {
    TRY(send_console(o.console_socket, L.lr.console.get()));
    L.lr.console.reset();
  } else if (spec.process->terminal && o.console_socket.empty() && gate == StartGate::fifo) {
    return Error::invalid(
        "process.terminal is true: --console-socket is required to receive the pty");
  }
  guard.release();
  return L;
}

Status Runtime::create(const CreateOptions& o) {
  auto l = TRY(launch(o, StartGate::fifo, false));
  return ok();
}

Result<std::string> Runtime::status_of(const ContainerRecord& r) {
  if (!alive(r)) return std::string("stopped");
  if (path_exists(store_.fifo_path(r.id))) return std::string("created");
  if (!r.cgroup.empty()) {
    auto cg = cgroup::Cgroup::from_json(r.cgroup);
    if (cg) {
      auto fs = cg->freezer_state();
      if (fs && *fs == "paused") return std::string("paused");
    }
  }
  return std::string("running");
}

Result<oci::State> Runtime::state(const std::string& id) {
  ContainerRecord r = TRY(store_.load(id));
  std::string status = TRY(status_of(r));
  return make_state(r, status, "1.1.0");
}

Result<std::vector<oci::State>> Runtime::list() {
  std::vector<oci::State> out;
  for (const auto& id : TRY(store_.ids())) {
    auto s = state(id);
    if (s) out.push_back(std::move(*s));
  }
  return out;
}

Status Runtime::run_poststart(const std::string& id) {
  auto spec = spec_of(id);
  if (!spec || spec->hooks.poststart.empty()) return ok();
  auto st = state(id);
  if (!st) return ok();
  Status s = run_hooks(spec->hooks.poststart, oci::state_to_json(*st), "poststart");
  if (!s) log::warning(s.error().message());  // the spec: a failing poststart hook is only logged
  return ok();
}

Status Runtime::start(const std::string& id) {
  ContainerRecord r = TRY(store_.load(id));
  std::string status = TRY(status_of(r));
  if (status != "created")
    return Error::invalid("cannot start container " + id + ": it is " + status + ", not created");
  int fd = ::open(store_.fifo_path(id).c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return sys_error("open exec fifo", store_.fifo_path(id));
  UniqueFd fifo(fd);
  for (;;) {
    struct pollfd p = {fd, POLLIN, 0};
    int n = ::poll(&p, 1, 100);
    if (n > 0 && (p.revents & POLLIN)) break;
    if (!alive(r))
      return Error::invalid("cannot start container " + id + ": its init process exited");
  }
  char c;
  if (::read(fd, &c, 1) != 1) return sys_error("read exec fifo", store_.fifo_path(id));
  ::unlink(store_.fifo_path(id).c_str());
  return run_poststart(id);
}

Status Runtime::kill(const std::string& id, int sig, bool all) {
  ContainerRecord r = TRY(store_.load(id));
  std::string status = TRY(status_of(r));
  // "container not running" is runc's wording: containerd's shim matches it to tell "already
  // exited" from a failure. --all still reaches what is left in the cgroup of a stopped
  // container (without a pid namespace, processes outlive the init), as with runc.
  if (status == "stopped" && !all)
    return Error::invalid("cannot kill container " + id + ": container not running");
  if (all && !r.cgroup.empty()) {
    auto cg = TRY(cgroup::Cgroup::from_json(r.cgroup));
    return cg.kill_all(sig);
  }
  if (status == "stopped") return ok();
  if (::kill(r.pid, sig) < 0) return sys_error("kill", "container " + id);
  return ok();
}

Status Runtime::remove(const std::string& id, bool force) {
  ContainerRecord r = TRY(store_.load(id));
  std::string status = TRY(status_of(r));
  std::optional<cgroup::Cgroup> cg;
  if (!r.cgroup.empty()) cg = TRY(cgroup::Cgroup::from_json(r.cgroup));
  if (status != "stopped") {
    if (status != "created" && !force)
      return Error::invalid("cannot delete container " + id + ": it is " + status +
                            " (stop it or use --force)");
    if (cg) {
      if (status == "paused") (void)cg->thaw();
      (void)cg->kill_all(SIGKILL);
    }
    ::kill(r.pid, SIGKILL);
    if (!wait_gone(r, 10000)) return Error(EBUSY, "kill container", id);
  }
  if (cg) {
    (void)cg->kill_all(SIGKILL);  // leftovers when there was no pid namespace
    Status d = cg->destroy();
    if (!d) log::warning(d.error().message());
  }
  auto spec = spec_of(id);
  if (spec && !spec->hooks.poststop.empty()) {
    Status s =
        run_hooks(spec->hooks.poststop,
                  oci::state_to_json(make_state(r, "stopped", spec->oci_version)), "poststop");
    if (!s) log::warning(s.error().message());
  }
  return store_.remove(id);
}

Status Runtime::pause(const std::string& id) {
  ContainerRecord r = TRY(store_.load(id));
  std::string status = TRY(status_of(r));
  if (status != "running")
    return Error::invalid("cannot pause container " + id + ": it is " + status);
  if (r.cgroup.empty())
    return Error::invalid("cannot pause container " + id + ": it has no cgroup");
  return TRY(cgroup::Cgroup::from_json(r.cgroup)).freeze();
}

Status Runtime::resume(const std::string& id) {
  ContainerRecord r = TRY(store_.load(id));
  std::string status = TRY(status_of(r));
  if (status != "paused")
    return Error::invalid("cannot resume container " + id + ": it is " + status + ", not paused");
  return TRY(cgroup::Cgroup::from_json(r.cgroup)).thaw();
}

Status Runtime::update(const std::string& id, const oci::Resources& res) {
  ContainerRecord r = TRY(store_.load(id));
  std::string status = TRY(status_of(r));
  if (status == "stopped") return Error::invalid("cannot update container " + id + ": it is stopped");
  if (r.cgroup.empty()) return Error::invalid("cannot update container " + id + ": it has no cgroup");
  auto cg = TRY(cgroup::Cgroup::from_json(r.cgroup));
  return cg.apply(res);
}

Result<std::vector<pid_t>> Runtime::pids(const std::string& id) {
  ContainerRecord r = TRY(store_.load(id));
  if (r.cgroup.empty()) return std::vector<pid_t>{r.pid};
  return TRY(cgroup::Cgroup::from_json(r.cgroup)).pids();
}

Result<cgroup::Stats> Runtime::stats(const std::string& id) {
  ContainerRecord r = TRY(store_.load(id));
  if (r.cgroup.empty()) return Error::invalid("container " + id + " has no cgroup");
  return TRY(cgroup::Cgroup::from_json(r.cgroup)).stats();
}

Result<int> Runtime::run(const CreateOptions& o, const RunOptions& ro) {
  std::optional<SignalForwarding> fwd;
  if (!ro.detach) fwd.emplace();
  Launched L = TRY(launch(o, StartGate::socket, !ro.detach));
  bool proxy = L.lr.console.valid();
  if (proxy && ro.detach) {
    (void)remove(o.id, true);
    return Error::invalid("process.terminal is true: a detached run needs --console-socket");
  }
  if (!sys::send_simple(L.lr.sock, sys::MsgType::kContinue)) {
    (void)remove(o.id, true);
    return Error(EPIPE, "start container", o.id);
  }
  // The socket closes at execve (CLOEXEC) or carries a startContainer hook failure.
  sys::Msg m;
  if (L.lr.sock.recv(&m) && m.type == sys::MsgType::kError) {
    Error e = sys::error_from_msg(m);
    (void)sys::wait_for(L.rec.pid);
    (void)remove(o.id, true);
    return e.context("start container " + o.id);
  }
  L.lr.sock.close();
  (void)run_poststart(o.id);
  if (ro.detach) return 0;
  auto status = fwd->wait(L.rec.pid, proxy ? L.lr.console.get() : -1);
  (void)remove(o.id, true);
  return status;
}

Result<int> Runtime::exec(const std::string& id, const ExecOptions& o) {
  ContainerRecord r = TRY(store_.load(id));
  std::string status = TRY(status_of(r));
  if (status != "running" && status != "created")
    return Error::invalid("cannot exec in container " + id + ": it is " + status);
  oci::Spec spec = TRY(spec_of(id));
  InitConfig cfg;
  std::vector<UniqueFd> ns_fds;
  for (const char* type : oci::kNamespaceTypes) {
    std::string name = sys::ns_proc_name(type);
    struct stat mine, theirs;
    std::string path = "/proc/" + std::to_string(r.pid) + "/ns/" + name;
    if (::stat(path.c_str(), &theirs) < 0) continue;
    if (::stat(("/proc/self/ns/" + name).c_str(), &mine) == 0 && mine.st_ino == theirs.st_ino)
      continue;
    UniqueFd fd = TRY(sys::open_namespace(path, type));
    cfg.join.push_back({type, fd.get()});
    ns_fds.push_back(std::move(fd));
  }
  if (spec.linux && spec.linux->seccomp) {
    cfg.seccomp_bpf =
        TRY(security::compile_seccomp_cached(*spec.linux->seccomp, opts_.seccomp_cache));
    cfg.seccomp_flags = spec.linux->seccomp->flags;
  }
  if (o.process.capabilities) {
    cfg.caps = TRY(security::resolve_caps(*o.process.capabilities));
    cfg.has_caps = true;
  }
  cfg.spec = &spec;
  cfg.process = &o.process;
  cfg.id = id;
  cfg.exec_mode = true;
  cfg.wait_for_start = false;
  cfg.die_with_parent = !o.detach;
  std::optional<cgroup::Cgroup> cg;
  if (!r.cgroup.empty()) cg = TRY(cgroup::Cgroup::from_json(r.cgroup));
  LaunchCallbacks cb;
  cb.enter_cgroup = [&](pid_t pid) -> Status { return cg ? cg->add_process(pid) : ok(); };
  std::optional<SignalForwarding> fwd;
  if (!o.detach) fwd.emplace();
  LaunchResult lr = TRY_CTX(launch_process(cfg, cb), "exec in container " + id);
  TRY(write_pid_file(o.pid_file, lr.pid));
  if (lr.console && !o.console_socket.empty()) {
    TRY(send_console(o.console_socket, lr.console.get()));
    lr.console.reset();
  }
  if (o.detach) return 0;
  return fwd->wait(lr.pid, lr.console.get());
}

}  // namespace berth::runtime
