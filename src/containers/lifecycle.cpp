// lifecycle.cpp - starting a container (rootfs, network, /etc files, OCI spec, then a
// forked process that creates it with the runtime and becomes its monitor), stopping,
// killing and removing it, and what happens when it exits.
//
// Process model (docs/monitor.md): berth forks M; M becomes a session leader and a child
// subreaper, creates the container with the in-process runtime (the container's init is
// M's child), then execs berth-monitor, which holds the pipes or the pty, writes the log and
// the exit record, serves attach, and runs `berth container _exited ID` when the process
// exits. That hook releases the mounts and the network, and restarts (handing the new
// process's fds back to the monitor) or removes the container.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "base/file.h"
#include "base/strings.h"
#include "base/log.h"
#include "base/time.h"
#include "containers/engine.h"
#include "containers/network_setup.h"
#include "containers/networks.h"
#include "containers/options.h"
#include "containers/rootfs_parts.h"
#include "containers/spec_parts.h"
#include "oci/spec_json.h"
#include "runtime/rootless.h"
#include "sys/ns.h"
#include "sys/process.h"

namespace berth::containers {
namespace {

// The monitor's ends of the container's stdio, and the container's.
struct Stdio {
  UniqueFd stdin_w, stdout_r, stderr_r;  // monitor side (pipes)
  UniqueFd in, out, err;                 // container side
};

Result<Stdio> make_pipes(const ContainerSpec& s) {
  Stdio io;
  int p[2];
  if (s.open_stdin && !s.tty) {  // with a pty, stdin is the pty too
    if (::pipe2(p, O_CLOEXEC) < 0) return sys_error("pipe");
    io.in.reset(p[0]);
    io.stdin_w.reset(p[1]);
  } else {
    io.in = TRY(open_fd("/dev/null", O_RDONLY | O_CLOEXEC));
  }
  if (s.tty) {  // the pty carries the output; stdout/stderr of the init are the pty too
    io.out = TRY(open_fd("/dev/null", O_WRONLY | O_CLOEXEC));
    io.err = TRY(open_fd("/dev/null", O_WRONLY | O_CLOEXEC));
    return io;
  }
  if (::pipe2(p, O_CLOEXEC) < 0) return sys_error("pipe");
  io.stdout_r.reset(p[0]);
  io.out.reset(p[1]);
  if (::pipe2(p, O_CLOEXEC) < 0) return sys_error("pipe");
  io.stderr_r.reset(p[0]);
  io.err.reset(p[1]);
  return io;
}

Status point_stdio(int in, int out, int err) {
  if (::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) return sys_error("dup2 stdio");
  return ok();
}

void clear_cloexec(int fd) {
  if (fd >= 0) ::fcntl(fd, F_SETFD, 0);
}

bool pid_alive(int pid, uint64_t start) {
  if (pid <= 0) return false;
  auto st = sys::process_start_time(pid);
  return st && (start == 0 || *st == start);
}

}  // namespace

bool wait_process_gone(int pid, uint64_t start, std::chrono::milliseconds timeout) {
  int pfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pfd >= 0) {
    UniqueFd guard(pfd);
    if (!pid_alive(pid, start)) return true;
    struct pollfd p = {pfd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
    return r > 0 || !pid_alive(pid, start);
  }
  auto end = std::chrono::steady_clock::now() + timeout;
  while (pid_alive(pid, start)) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

namespace {

int stop_signal_of(const ContainerSpec& s) {
  if (s.stop_signal.empty()) return SIGTERM;
  auto sig = sys::parse_signal(s.stop_signal);
  return sig ? *sig : SIGTERM;
}

}  // namespace

// The mounts docker adds: the /etc files, then volumes, binds and tmpfs in the order given,
// then the image's VOLUMEs nothing else covers (anonymous volumes).
static Result<std::vector<oci::Mount>> assemble_mounts(Engine& e, Container& c, bool* changed,
                                                      const std::string& etc_dir) {
  std::vector<oci::Mount> out;
  const std::string& dir = etc_dir;
  for (const char* f : {"hostname", "hosts", "resolv.conf"})
    out.push_back({.destination = std::string("/etc/") + f,
                   .type = "bind",
                   .source = path_join(dir, f),
                   .options = {"rbind", "rprivate"}});
  if (c.spec.init) {  // docker's --init: its init at /sbin/docker-init runs the command
    if (!path_exists(e.init_exe()))
      return Error::invalid("--init: " + e.init_exe() + " is missing (it is built beside berth)");
    out.push_back({.destination = "/sbin/docker-init",
                   .type = "bind",
                   .source = e.init_exe(),
                   .options = {"rbind", "rprivate", "ro"}});
  }
  std::set<std::string> covered;
  for (const auto& m : c.spec.mounts) covered.insert(clean_path(m.target));
  for (const auto& v : c.spec.volumes)
    if (!covered.count(clean_path(v))) {
      c.spec.mounts.push_back({.type = "volume", .target = v});
      *changed = true;
    }
  for (auto& m : c.spec.mounts) {
    oci::Mount om{.destination = m.target};
    if (m.type == "tmpfs") {
      om.type = "tmpfs";
      om.source = "tmpfs";
      om.options = {"nosuid", "nodev", "noexec"};
      for (const auto& o : m.options) om.options.push_back(o);
    } else {
      if (m.type == "volume") {
        bool created = false;
        std::string name = TRY(ensure_volume(e.store().db(), e.root(), m.source, &created));
        if (m.source != name) {
          m.source = name;
          *changed = true;
        }
        om.source = volume_data_dir(e.root(), name);
        if (created) TRY(copy_up_volume(e.rootfs_path(c.id), m.target, om.source));
      } else {
        om.source = m.source;
        if (!path_exists(om.source)) {  // docker's -v makes a missing host directory
          if (Status s = mkdir_all(om.source, 0755); !s)
            return std::move(s).error().context("create the bind mount source");
        }
      }
      om.type = "bind";
      om.options = {"rbind", m.propagation.empty() ? "rprivate" : m.propagation};
    }
    if (m.read_only) om.options.push_back("ro");
    out.push_back(std::move(om));
  }
  return out;
}

// docker's --ipc shareable (a host tmpfs as /dev/shm that others may join) and
// --ipc container:NAME (that container's IPC namespace and /dev/shm; it must be shareable).
static Status prepare_ipc(Engine& e, const Container& c, SpecInputs& in) {
  if (c.spec.ipc == "shareable") {
    in.shm_host_dir = path_join(e.run_dir(c.id), "shm");
    return mount_shareable_shm(in.shm_host_dir, c.spec.shm_size > 0 ? c.spec.shm_size : default_shm_size());
  }
  if (c.spec.ipc.rfind("container:", 0) != 0) return ok();
  Container other = TRY(e.get(std::string_view(c.spec.ipc).substr(10)));
  if (other.id == c.id) return Error::invalid("cannot join own IPC namespace");
  if (other.state.status != "running" || other.state.pid <= 0)
    return Error::invalid("cannot join IPC of a non running container: " + other.name);
  if (other.spec.ipc != "shareable")
    return Error::invalid("cannot join IPC of container " + other.name +
                          ": non-shareable IPC (hint: use --ipc shareable for the donor container)");
  in.ipc_ns_path = "/proc/" + std::to_string(other.state.pid) + "/ns/ipc";
  in.shm_host_dir = path_join(e.run_dir(other.id), "shm");
  return ok();
}

// The container's GPU and CDI edits, made first: the mount points of their files are a layer
// of its rootfs, mounted here (only berth's own gpu-hook's links go into that layer).
static Result<gpu::ContainerEdits> prepare_devices_and_rootfs(Engine& e, Container& c) {
  gpu::ContainerEdits devices =
      TRY(gpu_edits(e.options(), c.spec, path_join(e.run_dir(c.id), "nvidia-params")));
  const std::string& ours = e.options().runtime_exe;
  gpu::MountLayer layer = gpu::MountLayer::of(devices, is_directory, [&](const gpu::HookEdit& h) {
    return h.path == ours;
  });
  TRY(e.prepare_rootfs(c, &layer));
  return devices;
}

// Everything up to the runtime: volumes, network, /etc files, config.json.
static Status prepare_bundle(Engine& e, Container& c, NetworkAttachment& net,
                             const gpu::ContainerEdits& devices) {
  bool changed = false;
  std::string etc_dir = net.shared_etc_dir.empty() ? e.container_dir(c.id) : net.shared_etc_dir;
  std::vector<oci::Mount> mounts = TRY(assemble_mounts(e, c, &changed, etc_dir));
  if (changed) TRY(e.store().db().set_container_config(c.id, spec_to_json(c.spec).dump()));
  // --userns=keep-id: the user's own ids inside, and by default the process runs as them.
  runtime::OuterIds outer;
  bool keep_id = c.spec.userns_mode == "keep-id";
  if (keep_id) outer = runtime::outer_ids();
  std::string user_spec = c.spec.user;
  if (keep_id && user_spec.empty())
    user_spec = std::to_string(outer.uid) + ":" + std::to_string(outer.gid);
  ResolvedUser user = TRY(resolve_user(e.rootfs_path(c.id), user_spec, c.spec.group_add));
  EtcInputs etc{.hostname = c.spec.hostname,
                .domainname = c.spec.domainname,
                .ip = net.ip,
                .ip6 = net.ip6,
                .extra_hosts = c.spec.extra_hosts,
                .dns = c.spec.dns,
                .dns_search = c.spec.dns_search,
                .dns_options = c.spec.dns_options,
                .host_network = c.spec.network == "host",
                .peers = net.peers};
  for (auto& h : etc.extra_hosts)
    if (h.size() > 13 && h.compare(h.size() - 13, 13, ":host-gateway") == 0)
      h = h.substr(0, h.size() - 12) + (net.gateway.empty() ? "127.0.0.1" : net.gateway);
  if (net.shared_etc_dir.empty()) TRY(write_etc_files(e.container_dir(c.id), etc));
  SpecInputs in{.rootfs = e.rootfs_path(c.id), .user = user.user, .netns_path = net.netns_path,
                .extra_mounts = std::move(mounts)};
  TRY(prepare_ipc(e, c, in));
  if (keep_id) {
    in.uid_mappings = runtime::keep_id_mapping(outer.uid, outer.uid_span);
    in.gid_mappings = runtime::keep_id_mapping(outer.gid, outer.gid_span);
  }
  ContainerSpec& s = c.spec;
  bool has_home = false;
  for (const auto& env : s.env) has_home = has_home || env.rfind("HOME=", 0) == 0;
  Container with_home = c;
  if (!has_home) with_home.spec.env.push_back("HOME=" + user.home);
  if (!net.shared_etc_dir.empty()) {  // the other container's hostname, as docker does
    auto h = read_file(path_join(net.shared_etc_dir, "hostname"), 4096);
    if (h) with_home.spec.hostname = std::string(trim(*h));
  }
  oci::Spec spec = TRY(build_oci_spec(with_home, in));
  if (!devices.empty())
    TRY(gpu::apply(devices, spec, gpu::host_stat(),
                   sys::rootless() ? gpu::DeviceMode::bind : gpu::DeviceMode::create));
  // Rewritten at every start, so no fsync: a crash loses nothing that is needed later.
  return write_file_atomic(path_join(e.run_dir(c.id), "config.json"), oci::to_json(spec), 0644,
                           Durability::volatile_ok);
}

// In M (the forked child) or in the restart hook: the container created with the runtime,
// its stdio being io's container side. Returns the pty master when there is one.
static Result<UniqueFd> create_process(Engine& e, const Container& c, Stdio& io) {
  TRY(point_stdio(io.in.get(), io.out.get(), io.err.get()));
  io.in.reset();
  io.out.reset();
  io.err.reset();
  UniqueFd console;
  runtime::CreateOptions co{.id = c.id, .bundle = e.run_dir(c.id), .console_out = &console};
  (void)e.runtime().remove(c.id, true);  // a stopped leftover of the last run
  TRY(e.runtime().create(co));
  UniqueFd null = TRY(open_fd("/dev/null", O_RDWR | O_CLOEXEC));
  TRY(point_stdio(null.get(), null.get(), null.get()));
  return console;
}

static std::string oom_file_of(Engine& e, const Container& c) {
  for (const std::string& p :
       {"/sys/fs/cgroup/memory" + cgroup_dir(c.spec) + "/" + c.id + "/memory.oom_control",
        "/sys/fs/cgroup" + cgroup_dir(c.spec) + "/" + c.id + "/memory.events"})
    if (path_exists(p)) return p;
  (void)e;
  return "";
}

[[noreturn]] static void run_monitor_child(Engine& e, const Container& c, Stdio& io, int ready_fd,
                                           bool start_now, const EngineOptions& opts) {
  ::setsid();
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  auto fail = [&](const Error& err) {
    std::string msg = "error:" + std::to_string(err.code()) + ":" + err.message() + "\n";
    (void)!::write(ready_fd, msg.data(), msg.size());
    ::_exit(1);
  };
  auto console = create_process(e, c, io);
  if (!console) fail(console.error());
  // The pid before the start: a container that exits at once is "stopped" (pid 0) by then.
  auto st = e.runtime().state(c.id);
  if (!st) fail(st.error());
  std::string pid_line = "pid " + std::to_string(st->pid) + "\n";  // the starter records it
  (void)!::write(ready_fd, pid_line.data(), pid_line.size());
  if (start_now)
    if (Status s = e.runtime().start(c.id); !s) fail(s.error());
  std::vector<std::string> args = {opts.monitor_exe,
                                   "--pid", std::to_string(st->pid),
                                   "--exit-file", path_join(e.run_dir(c.id), "exit.json"),
                                   "--attach-socket", e.attach_socket(c.id),
                                   "--log", e.log_path(c.id),
                                   "--ready-fd", std::to_string(ready_fd)};
  if (console->valid()) {
    args.insert(args.end(), {"--pty-fd", std::to_string(console->get())});
    clear_cloexec(console->get());
  } else {
    args.insert(args.end(), {"--stdout-fd", std::to_string(io.stdout_r.get()), "--stderr-fd",
                             std::to_string(io.stderr_r.get())});
    clear_cloexec(io.stdout_r.get());
    clear_cloexec(io.stderr_r.get());
  }
  if (io.stdin_w) {
    args.insert(args.end(), {"--stdin-fd", std::to_string(io.stdin_w.get())});
    clear_cloexec(io.stdin_w.get());
    if (c.spec.stdin_once) args.push_back("--stdin-once");
  }
  if (!c.spec.log_max_size.empty()) {
    int64_t bytes = parse_bytes(c.spec.log_max_size).value_or(0);
    args.insert(args.end(), {"--log-max-size", std::to_string(bytes), "--log-max-files",
                             std::to_string(c.spec.log_max_file)});
  }
  if (std::string oom = oom_file_of(e, c); !oom.empty()) args.insert(args.end(), {"--oom-file", oom});
  args.push_back("--");
  args.push_back(opts.berth_exe);
  args.insert(args.end(), opts.berth_global_args.begin(), opts.berth_global_args.end());
  args.insert(args.end(), {"container", "_exited", c.id});
  clear_cloexec(ready_fd);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execv(opts.monitor_exe.c_str(), argv.data());
  fail(sys_error("exec", opts.monitor_exe));
  ::_exit(1);  // fail() does not return; the compiler cannot tell through the lambda
}

Status Engine::spawn_monitor(Container& c, bool start_now) {
  (void)::unlink(path_join(run_dir(c.id), "exit.json").c_str());
  Stdio io = TRY(make_pipes(c.spec));
  int rp[2];
  if (::pipe2(rp, O_CLOEXEC) < 0) return sys_error("pipe");
  UniqueFd ready_r(rp[0]), ready_w(rp[1]);
  std::fflush(nullptr);
  pid_t m = ::fork();
  if (m < 0) return sys_error("fork");
  if (m == 0) {
    ready_r.reset();
    run_monitor_child(*this, c, io, ready_w.get(), start_now, opts_);
  }
  ready_w.reset();
  io = Stdio{};
  std::string reply, got;
  char buf[512];
  ssize_t n;
  int container_pid = 0;
  // "pid N" from M (the container's pid, read before its start), then one line: "ok" from the
  // monitor, or an error from M or the monitor. (Not EOF: the container's init, created but
  // not started, still holds the pipe until its exec.)
  for (;;) {
    size_t nl = got.find('\n');
    if (nl != std::string::npos) {
      std::string line = got.substr(0, nl + 1);
      got.erase(0, nl + 1);
      if (line.rfind("pid ", 0) == 0) {
        container_pid = parse_int(std::string_view(line).substr(4, line.size() - 5)).value_or(0);
        continue;
      }
      reply = line;
      break;
    }
    n = ::read(ready_r.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      reply = got;
      break;
    }
    got.append(buf, static_cast<size_t>(n));
  }
  if (reply.rfind("ok", 0) != 0) {
    int st = 0;
    pid_t reaped = ::waitpid(m, &st, WNOHANG);
    for (int i = 0; i < 100 && reaped == 0; ++i) {  // it closed the pipe: it is exiting
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      reaped = ::waitpid(m, &st, WNOHANG);
    }
    // "error:ERRNO:message" from M, or "error: message" from the monitor.
    int code = 0;
    std::string msg = reply;
    if (msg.rfind("error:", 0) == 0) {
      msg = msg.substr(6);
      size_t colon = msg.find(':');
      if (colon != std::string::npos && colon > 0 && msg.find_first_not_of("0123456789") == colon) {
        code = std::stoi(msg.substr(0, colon));
        msg = msg.substr(colon + 1);
      }
      while (!msg.empty() && msg.front() == ' ') msg.erase(0, 1);
    }
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    if (msg.empty()) {
      // Say how it ended: a signal here points at whoever killed it.
      msg = "the container's monitor exited before it was ready";
      if (reaped == m && WIFSIGNALED(st)) msg += " (killed by signal " + std::to_string(WTERMSIG(st)) + ")";
      else if (reaped == m && WIFEXITED(st)) msg += " (exit status " + std::to_string(WEXITSTATUS(st)) + ")";
    }
    std::string suffix = code ? std::string(": ") + std::strerror(code) : "";
    if (code && msg.size() > suffix.size() && msg.compare(msg.size() - suffix.size(), suffix.size(), suffix) == 0)
      return Error(code, msg.substr(0, msg.size() - suffix.size()));
    return Error(code == 0 ? 0 : code, code ? msg : msg);
  }
  c.state.pid = container_pid;
  if (c.state.pid <= 0) c.state.pid = TRY(runtime_.state(c.id)).pid;
  c.state.pid_start = sys::process_start_time(c.state.pid).value_or(0);
  c.state.monitor_pid = m;
  c.state.monitor_start = sys::process_start_time(m).value_or(0);
  return ok();
}

Result<UniqueFd> Engine::lock_state(const std::string& id) {
  TRY(mkdir_all(run_dir(id), 0700));
  std::string path = path_join(run_dir(id), "lock");
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return sys_error("open", path);
  struct flock l = {};
  l.l_type = F_WRLCK;
  l.l_whence = SEEK_SET;
  while (::fcntl(fd.get(), F_SETLKW, &l) < 0)
    if (errno != EINTR) return sys_error("lock", path);
  return fd;
}

namespace {

// The first move of a process between cgroups after a quiet spell waits for an RCU grace
// period (the kernel's cgroup_threadgroup_rwsem leaves its fast mode): 6-15 ms here, a
// quarter of a `run --rm`, and the container's stage 1 is moved right after the monitor
// forks. A move of berth itself into the cgroup it is already in, made by a thread from the
// moment the command starts, pays that wait off the critical path; the kernel then stays in
// the slow mode for about another grace period, in which any move is as cheap as any other
// (0.2 ms). The thread repeats its no-op move every few milliseconds to hold that mode until
// the container's moves are done (end_cgroup_warmup), so neither an early start nor a slow
// preparation lets the mode lapse. Errors are ignored: it only saves time.
//
// The thread is detached and its state never freed: a fork (the monitor) or exit while it
// runs needs no join; it only opens, writes and closes a file.
struct WarmupState {
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
};

WarmupState* warmup_state = nullptr;

// cgroup.procs of this process's own cgroup: the v1 pids hierarchy, else the v2 one.
std::string own_procs_file() {
  auto text = read_file("/proc/self/cgroup", 16384);
  if (!text) return "";
  std::string v2;
  for (const auto& line : split(*text, '\n')) {
    auto f = split(line, ':');
    if (f.size() < 3) continue;
    std::string path = line.substr(f[0].size() + f[1].size() + 2);
    if (f[1] == "pids") return "/sys/fs/cgroup/pids" + path + "/cgroup.procs";
    if (f[0] == "0" && f[1].empty())
      v2 = (is_directory("/sys/fs/cgroup/unified") ? "/sys/fs/cgroup/unified" : "/sys/fs/cgroup") +
           path + "/cgroup.procs";
  }
  return v2;
}

void warm(WarmupState* st) {
  std::string procs = own_procs_file();
  if (procs.empty()) return;
  std::string pid = std::to_string(::getpid());
  auto move = [&] {
    int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    bool ok = ::write(fd, pid.data(), pid.size()) == static_cast<ssize_t>(pid.size());
    ::close(fd);
    return ok;
  };
  if (!move()) return;
  std::unique_lock lock(st->mu);
  // Bounded: a start that never ends the warm-up (an error path) stops it after 2 s.
  for (int i = 0; i < 500 && !st->stop; ++i) {
    if (st->cv.wait_for(lock, std::chrono::milliseconds(4), [&] { return st->stop; })) break;
    lock.unlock();
    bool ok = move();
    lock.lock();
    if (!ok) break;
  }
}

void end_cgroup_warmup() {
  if (!warmup_state) return;
  {
    std::lock_guard lock(warmup_state->mu);
    warmup_state->stop = true;
  }
  warmup_state->cv.notify_all();
}

}  // namespace

void warm_cgroup_moves() {
  if (warmup_state || sys::rootless()) return;
  warmup_state = new WarmupState;
  std::thread(warm, warmup_state).detach();
}

Status Engine::start(Container& c, const StartOptions& o) {
  if (c.state.status == "running" || c.state.status == "paused") return ok();
  if (c.state.status == "restarting")
    return Error::invalid("cannot start container " + c.name + ": it is restarting");
  UniqueFd lock = TRY(lock_state(c.id));
  c = TRY(get(c.id));  // as the last exit hook left it
  if (c.state.status == "running" || c.state.status == "paused") return ok();
  if (c.state.status == "restarting")
    return Error::invalid("cannot start container " + c.name + ": it is restarting");
  TRY(mkdir_all(path_join(opts_.runroot, "sock"), 0700));
  auto undo = [&](Error err) {
    (void)teardown_network(*this, c);
    (void)release_rootfs(c);
    return err.context("start container " + c.name);
  };
  warm_cgroup_moves();
  auto devices = prepare_devices_and_rootfs(*this, c);
  if (!devices) return undo(std::move(devices).error());
  auto net = setup_network(*this, c);
  if (!net) return undo(std::move(net).error());
  if (Status s = prepare_bundle(*this, c, *net, *devices); !s) return undo(std::move(s).error());
  Status spawned = spawn_monitor(c, !o.hold);
  end_cgroup_warmup();
  if (!spawned) return undo(std::move(spawned).error());
  c.state.status = "running";
  c.state.started_at = now_rfc3339();
  c.state.finished_at.clear();
  c.state.exit_code = 0;
  c.state.error.clear();
  c.state.oom_killed = false;
  c.state.stopped_by_user = false;
  c.state.ip_address = net->ip;
  c.state.gateway = net->gateway;
  c.state.mac_address = net->mac;
  c.state.prefix_len = net->prefix_len;
  c.state.ipv6_address = net->ip6;
  c.state.ipv6_gateway = net->gateway6;
  c.state.ipv6_prefix_len = net->prefix_len6;
  c.state.ports = net->ports;
  c.state.more_endpoints = net->more;
  return save_state(c);
}

Status Engine::connect(Container& c, const std::string& network) {
  NetworkConfig n = TRY(find_network(store_.db(), network));
  const std::string& mode = c.spec.network;
  if (mode == "host" || mode == "none" || mode.rfind("container:", 0) == 0)
    return Error::invalid("container sharing network namespace with another container or host cannot be "
                          "connected to any other network");
  bool already = network_mode_is(n, mode);
  for (const auto& m : c.spec.more_networks) already = already || network_mode_is(n, m);
  if (already) return Error::invalid("endpoint with name " + c.name + " already exists in network " + n.name);
  UniqueFd lock = TRY(lock_state(c.id));
  c = TRY(get(c.id));
  if (c.state.status == "running" || c.state.status == "paused") {
    TRY(connect_network(*this, c, n));
    TRY(save_state(c));
  }
  c.spec.more_networks.push_back(n.name);
  return store_.db().set_container_config(c.id, spec_to_json(c.spec).dump());
}

Status Engine::disconnect(Container& c, const std::string& network) {
  NetworkConfig n = TRY(find_network(store_.db(), network));
  if (network_mode_is(n, c.spec.network))
    return Error::invalid("container " + c.name + " was created on network " + n.name +
                          ": berth cannot disconnect it from that one (connect others, or recreate it with "
                          "another --network)");
  UniqueFd lock = TRY(lock_state(c.id));
  c = TRY(get(c.id));
  auto it = std::find_if(c.spec.more_networks.begin(), c.spec.more_networks.end(),
                         [&](const std::string& m) { return network_mode_is(n, m); });
  if (it == c.spec.more_networks.end())
    return Error::invalid("container " + c.id + " is not connected to network " + n.name);
  Status down = ok();
  if (c.state.status == "running" || c.state.status == "paused") down = disconnect_network(*this, c, n.name);
  c.spec.more_networks.erase(it);
  TRY(save_state(c));
  TRY(store_.db().set_container_config(c.id, spec_to_json(c.spec).dump()));
  return down;
}

Status Engine::resume_start(Container& c) {
  return runtime_.start(c.id);
}

Status Engine::kill(Container& c, int sig) {
  if (c.state.status != "running" && c.state.status != "paused")
    return Error::invalid("Cannot kill container: " + c.name + ": Container " + c.id +
                          " is not running");
  c.state.stopped_by_user = true;
  TRY(save_state(c));
  if (::kill(c.state.pid, sig) < 0 && errno != ESRCH) return sys_error("kill", c.name);
  if (c.state.status == "paused" && (sig == SIGKILL || sig == SIGTERM)) (void)runtime_.resume(c.id);
  return ok();
}

// Waits for the monitor to record the exit and run its hook (mounts released, --rm done).
static void wait_monitor_done(const Container& c, std::chrono::milliseconds timeout) {
  if (c.state.monitor_pid > 0) wait_process_gone(c.state.monitor_pid, c.state.monitor_start, timeout);
}

Status Engine::stop(Container& c, int timeout) {
  if (c.state.status != "running" && c.state.status != "paused") return ok();
  if (timeout < 0) timeout = c.spec.stop_timeout.value_or(10);
  c.state.stopped_by_user = true;
  TRY(save_state(c));
  if (c.state.status == "paused") (void)runtime_.resume(c.id);
  ::kill(c.state.pid, stop_signal_of(c.spec));
  if (!wait_process_gone(c.state.pid, c.state.pid_start, std::chrono::seconds(timeout)))
    ::kill(c.state.pid, SIGKILL);
  wait_process_gone(c.state.pid, c.state.pid_start, std::chrono::seconds(10));
  wait_monitor_done(c, std::chrono::seconds(10));
  TRY(refresh(c));
  if (c.state.monitor_pid == 0 || !pid_alive(c.state.monitor_pid, c.state.monitor_start)) {
    // The monitor is gone (killed, or done): make sure the mounts and network are released.
    (void)release(c);
  }
  return ok();
}

Status Engine::pause(Container& c) {
  if (c.state.status != "running")
    return Error::invalid("Container " + c.id + " is not running");
  TRY(runtime_.pause(c.id));
  c.state.status = "paused";
  return save_state(c);
}

Status Engine::unpause(Container& c) {
  if (c.state.status != "paused")
    return Error::invalid("Container " + c.id + " is not paused");
  TRY(runtime_.resume(c.id));
  c.state.status = "running";
  return save_state(c);
}

Status Engine::release(Container& c) {
  (void)runtime_.remove(c.id, true);
  Status net = teardown_network(*this, c);
  Status fs = release_rootfs(c);
  if (!net) return net;
  return fs;
}

Status Engine::remove(Container& c, bool force, bool volumes) {
  if (c.state.status == "running" || c.state.status == "paused" || c.state.status == "restarting") {
    if (!force)
      return Error::invalid("You cannot remove a running container " + c.id +
                            ". Stop the container before attempting removal or force remove");
    c.state.stopped_by_user = true;
    c.state.removal = false;  // this rm removes it, not the monitor's hook
    TRY(save_state(c));
    if (c.state.status == "paused") (void)runtime_.resume(c.id);
    if (c.state.pid > 0) ::kill(c.state.pid, SIGKILL);
    wait_process_gone(c.state.pid, c.state.pid_start, std::chrono::seconds(10));
    wait_monitor_done(c, std::chrono::seconds(10));
  }
  if (c.state.monitor_pid > 0 && pid_alive(c.state.monitor_pid, c.state.monitor_start))
    ::kill(c.state.monitor_pid, SIGKILL);  // e.g. the hook hung
  TRY(release(c));
  TRY(store_.db().remove_container(c.id));
  (void)remove_all(run_dir(c.id));
  (void)::unlink(attach_socket(c.id).c_str());
  (void)remove_all(container_dir(c.id));
  if (volumes)
    for (const auto& m : c.spec.mounts)
      if (m.type == "volume" && !m.source.empty()) {
        auto v = store_.db().find_volume(m.source);
        if (v && *v && (*v)->anonymous) {
          (void)store_.db().remove_volume(m.source);
          (void)remove_all(path_join(path_join(root(), "volumes"), m.source));
        }
      }
  return ok();
}

namespace {

bool should_restart(const Container& c) {
  const RestartPolicy& p = c.spec.restart;
  if (c.state.stopped_by_user || p.name == "no" || p.name.empty()) return false;
  if (p.name == "on-failure")
    return c.state.exit_code != 0 && (p.max_retries == 0 || c.state.restart_count < p.max_retries);
  return true;  // always, unless-stopped
}

// Sends "restart PID" and the new process's fds to the monitor.
Status send_restart(int hook_fd, int pid, const std::vector<int>& fds) {
  std::string msg = "restart " + std::to_string(pid);
  struct iovec iov = {msg.data(), msg.size()};
  char cbuf[CMSG_SPACE(sizeof(int) * 4)] = {};
  struct msghdr mh = {};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = cbuf;
  mh.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
  struct cmsghdr* cm = CMSG_FIRSTHDR(&mh);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
  std::memcpy(CMSG_DATA(cm), fds.data(), sizeof(int) * fds.size());
  if (::sendmsg(hook_fd, &mh, MSG_NOSIGNAL) < 0) return sys_error("send fds to the monitor");
  return ok();
}

}  // namespace

Status Engine::on_exited(const std::string& id, int hook_fd) {
  UniqueFd lock = TRY(lock_state(id));  // waits for the start that launched it to finish
  Container c = TRY(get(id));
  if (c.state.status == "running") {  // the exit record is not readable: say so
    c.state.status = "exited";
    c.state.pid = 0;
  }
  Status rel = release(c);
  if (!rel) log::warning(rel.error().message());
  if (should_restart(c)) {
    int delay_ms = 100 << std::min(c.state.restart_count, 9);
    c.state.status = "restarting";
    TRY(save_state(c));
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(delay_ms, 60000)));
    Container now = TRY(get(id));
    if (now.state.stopped_by_user) {
      now.state.status = "exited";
      return save_state(now);
    }
    c.state.restart_count++;
    Status s = restart_in_hook(c, hook_fd);
    if (s) return ok();
    c.state.status = "exited";
    c.state.error = s.error().message();
    (void)release(c);
    (void)save_state(c);
    return s;
  }
  c.state.monitor_pid = 0;
  if (c.state.removal) return remove(c, true, true);
  return save_state(c);
}

Status Engine::restart_in_hook(Container& c, int hook_fd) {
  gpu::ContainerEdits devices = TRY(prepare_devices_and_rootfs(*this, c));
  NetworkAttachment net = TRY(setup_network(*this, c));
  TRY(prepare_bundle(*this, c, net, devices));
  Stdio io = TRY(make_pipes(c.spec));
  UniqueFd console = TRY(create_process(*this, c, io));
  auto st = TRY(runtime_.state(c.id));  // before the start: see run_monitor_child
  TRY(runtime_.start(c.id));
  std::vector<int> fds;
  if (console) fds.push_back(console.get());
  else fds = {io.stdout_r.get(), io.stderr_r.get()};
  if (io.stdin_w) fds.push_back(io.stdin_w.get());
  (void)::unlink(path_join(run_dir(c.id), "exit.json").c_str());
  c.state.status = "running";
  c.state.pid = st.pid;
  c.state.pid_start = sys::process_start_time(st.pid).value_or(0);
  c.state.started_at = now_rfc3339();
  c.state.ip_address = net.ip;
  c.state.ipv6_address = net.ip6;
  c.state.ipv6_gateway = net.gateway6;
  c.state.ipv6_prefix_len = net.prefix_len6;
  c.state.ports = net.ports;
  c.state.more_endpoints = net.more;
  TRY(save_state(c));
  return send_restart(hook_fd, st.pid, fds);
}

}  // namespace berth::containers
