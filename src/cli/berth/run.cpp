// run.cpp - `berth run` and `berth create`: docker's flags mapped onto a container spec;
// run then starts it, detached (-d: prints the id) or attached to the terminal until it
// exits (its exit status becomes berth's).
#include <sys/syscall.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "base/file.h"
#include "base/strings.h"
#include "cli/berth/context.h"
#include "cli/berth/images_cmds.h"
#include "containers/options.h"
#include "gpu/cdi.h"
#include "gpu/request.h"
#include "monitor/attach_client.h"
#include "network/ipam.h"
#include "sys/ns.h"
#include "sys/process.h"

namespace berth::cli {
namespace {

using containers::ContainerSpec;

struct RunFlags {
  bool interactive = false, tty = false, detach = false, rm = false, publish_all = false;
  bool privileged = false, read_only = false, init = false, quiet = false;
  bool sig_proxy = true;
  std::string name, network = "bridge", ip, ip6, ipc, pid, uts, shm_size, user, userns, workdir, cgroup_parent;
  std::string hostname, domainname, memory, memory_swap, cpus, cpuset, restart = "no";
  std::string pull = "missing", platform, stop_signal, detach_keys = "ctrl-p,ctrl-q";
  std::optional<std::string> entrypoint;
  int stop_timeout = -1;
  int64_t pids_limit = 0;
  std::vector<std::string> env, env_file, volumes, mounts, tmpfs, publish, expose, ulimits;
  std::vector<std::string> group_add, add_host, dns, dns_search, dns_option, cap_add, cap_drop;
  std::vector<std::string> security_opt, devices, gpus, labels, sysctls, log_opts, attach;
  std::string image;
  std::vector<std::string> args;  // IMAGE [COMMAND] [ARG...], filled when the command runs
};

void add_run_flags(CLI::App* c, RunFlags& f) {
  c->set_help_flag("--help", "Print usage");
  c->add_flag("-i,--interactive", f.interactive, "Keep STDIN open even if not attached");
  c->add_flag("-t,--tty", f.tty, "Allocate a pseudo-TTY");
  c->add_option("--name", f.name, "Assign a name to the container");
  c->add_option("-e,--env", f.env, "Set environment variables");
  c->add_option("--env-file", f.env_file, "Read in a file of environment variables");
  c->add_option("-v,--volume", f.volumes, "Bind mount a volume");
  c->add_option("--mount", f.mounts, "Attach a filesystem mount to the container");
  c->add_option("--tmpfs", f.tmpfs, "Mount a tmpfs directory");
  c->add_option("-p,--publish", f.publish, "Publish a container's port(s) to the host");
  c->add_flag("-P,--publish-all", f.publish_all, "Publish all exposed ports to random ports");
  c->add_option("--expose", f.expose, "Expose a port or a range of ports");
  c->add_option("--network,--net", f.network, "Connect a container to a network");
  c->add_option("--ip", f.ip, "IPv4 address (e.g., 172.30.100.104) on a user-defined network");
  c->add_option("--ip6", f.ip6, "IPv6 address (e.g., 2001:db8::33) on a user-defined IPv6 network");
  c->add_option("--ipc", f.ipc, "IPC mode to use (private, shareable, host, none, container:NAME)");
  c->add_option("--pid", f.pid, "PID namespace to use (host)");
  c->add_option("--uts", f.uts, "UTS namespace to use (host)");
  c->add_option("--cgroup-parent", f.cgroup_parent,
                "Cgroup the container's cgroup is made in (default /berth; without root: one "
                "delegated to you)");
  c->add_option("--shm-size", f.shm_size, "Size of /dev/shm (default: half the memory)");
  c->add_option("--ulimit", f.ulimits, "Ulimit options");
  c->add_option("-u,--user", f.user, "Username or UID (format: <name|uid>[:<group|gid>])");
  c->add_option("--group-add", f.group_add, "Add additional groups to join");
  c->add_option("--userns", f.userns, "User namespace to use (host; keep-id: without root, your uid and gid inside)");
  c->add_option("-w,--workdir", f.workdir, "Working directory inside the container");
  c->add_option("--entrypoint", f.entrypoint, "Overwrite the default ENTRYPOINT of the image");
  c->add_option("-h,--hostname", f.hostname, "Container host name");
  c->add_option("--domainname", f.domainname, "Container NIS domain name");
  c->add_option("--add-host", f.add_host, "Add a custom host-to-IP mapping (host:ip)");
  c->add_option("--dns", f.dns, "Set custom DNS servers");
  c->add_option("--dns-search", f.dns_search, "Set custom DNS search domains");
  c->add_option("--dns-option,--dns-opt", f.dns_option, "Set DNS options");
  c->add_flag("--privileged", f.privileged, "Give extended privileges to this container");
  c->add_option("--cap-add", f.cap_add, "Add Linux capabilities");
  c->add_option("--cap-drop", f.cap_drop, "Drop Linux capabilities");
  c->add_option("--security-opt", f.security_opt, "Security options");
  c->add_flag("--read-only", f.read_only, "Mount the container's root filesystem as read only");
  c->add_option("-m,--memory", f.memory, "Memory limit");
  c->add_option("--memory-swap", f.memory_swap, "Swap limit equal to memory plus swap: -1 unlimited");
  c->add_option("--cpus", f.cpus, "Number of CPUs");
  c->add_option("--cpuset-cpus", f.cpuset, "CPUs in which to allow execution (0-3, 0,1)");
  c->add_option("--pids-limit", f.pids_limit, "Tune container pids limit (-1 for unlimited)");
  c->add_option("--device", f.devices, "Add a host device to the container");
  c->add_option("--gpus", f.gpus, "GPU devices to add to the container ('all' to pass all GPUs)");
  c->add_flag("--init", f.init, "Run an init inside the container");
  c->add_option("--restart", f.restart, "Restart policy to apply when a container exits");
  c->add_option("-l,--label", f.labels, "Set meta data on a container");
  c->add_option("--pull", f.pull, "Pull image before running (always, missing, never)");
  c->add_option("--platform", f.platform, "Set platform if server is multi-platform capable");
  c->add_option("--stop-signal", f.stop_signal, "Signal to stop the container");
  c->add_option("--stop-timeout", f.stop_timeout, "Timeout (in seconds) to stop a container");
  c->add_option("--sysctl", f.sysctls, "Sysctl options");
  c->add_option("--log-opt", f.log_opts, "Log driver options (max-size, max-file)");
  c->add_option("--log-driver", [](const std::vector<std::string>& v) {
    return v.size() == 1 && (v[0] == "json-file" || v[0] == "local");
  }, "Logging driver for the container (json-file)");
  c->add_option("--detach-keys", f.detach_keys, "Override the key sequence for detaching a container");
  c->add_option("-a,--attach", f.attach, "Attach to STDIN, STDOUT or STDERR");
  c->add_option("--sig-proxy", f.sig_proxy, "Proxy received signals to the process");
  c->add_flag("-q,--quiet", f.quiet, "Suppress the pull output");
  c->add_option("IMAGE", f.image, "IMAGE [COMMAND] [ARG...]")->required();
  c->prefix_command();  // after IMAGE, everything is the container's command line
  one_value_per_option(c);
}

Status apply_env(const RunFlags& f, ContainerSpec& s) {
  for (const auto& path : f.env_file) {
    std::string text = TRY_CTX(read_file(path, 16 << 20), "open env file");
    for (auto& e : TRY(containers::parse_env_file(text, path))) s.env.push_back(std::move(e));
  }
  for (const auto& e : f.env)
    if (auto v = containers::resolve_env(e)) s.env.push_back(*v);
  return ok();
}

Status apply_mounts(const RunFlags& f, ContainerSpec& s) {
  for (const auto& v : f.volumes) s.mounts.push_back(TRY(containers::parse_volume(v)));
  for (const auto& m : f.mounts) s.mounts.push_back(TRY(containers::parse_mount(m)));
  for (const auto& t : f.tmpfs) s.mounts.push_back(TRY(containers::parse_tmpfs(t)));
  std::set<std::string> seen;
  for (const auto& m : s.mounts)
    if (!seen.insert(m.target).second) return Error::invalid("Duplicate mount point: " + m.target);
  return ok();
}

Status apply_resources(const RunFlags& f, ContainerSpec& s) {
  if (!f.memory.empty()) s.memory = TRY(containers::parse_bytes(f.memory));
  if (s.memory > 0 && s.memory < 6 * 1024 * 1024)
    return Error::invalid("Minimum memory limit allowed is 6MB");
  if (f.memory_swap == "-1") s.memory_swap = -1;
  else if (!f.memory_swap.empty()) s.memory_swap = TRY(containers::parse_bytes(f.memory_swap));
  if (!f.cpus.empty()) s.nano_cpus = TRY(containers::parse_cpus(f.cpus));
  s.cpuset_cpus = f.cpuset;
  s.pids_limit = f.pids_limit;
  if (!f.shm_size.empty()) {
    s.shm_size = TRY(containers::parse_bytes(f.shm_size));
    if (s.shm_size <= 0) return Error::invalid("invalid --shm-size: " + f.shm_size);
  }
  for (const auto& u : f.ulimits) s.ulimits.push_back(TRY(containers::parse_ulimit(u)));
  for (const auto& d : f.devices) {
    if (gpu::cdi::is_qualified_name(d)) {  // --device nvidia.com/gpu=0: a CDI device
      if (auto r = gpu::cdi::parse_qualified_name(d); !r)
        return Error::invalid("invalid CDI device name " + d + ": " + r.error().message());
      s.cdi_devices.push_back(d);
    } else {
      s.devices.push_back(TRY(containers::parse_device(d)));
    }
  }
  return ok();
}

Status apply_network(const RunFlags& f, ContainerSpec& s) {
  s.network = f.network == "default" ? "bridge" : f.network;
  if (s.network.empty()) return Error::invalid("invalid --network: empty");
  for (const auto& p : f.publish)
    for (auto& b : TRY(containers::parse_publish(p))) {
      s.exposed_ports.insert(containers::port_key(b.container_port, b.proto));
      s.ports.push_back(b);
    }
  for (const auto& e : f.expose)
    for (auto& k : TRY(containers::parse_expose(e))) s.exposed_ports.insert(k);
  s.publish_all = f.publish_all;
  if (!f.ip.empty() || !f.ip6.empty()) {
    bool user_network = s.network != "bridge" && s.network != "host" && s.network != "none" &&
                        s.network.rfind("container:", 0) != 0;
    if (!user_network)
      return Error::invalid("user specified IP address is supported on user defined networks only");
    if (!f.ip.empty()) s.ip = TRY(network::parse_ipv4(f.ip)).str();
    if (!f.ip6.empty()) s.ip6 = TRY(network::parse_ipv6(f.ip6)).str();
  }
  for (const auto& h : f.add_host) s.extra_hosts.push_back(TRY(containers::parse_add_host(h)));
  s.dns = f.dns;
  s.dns_search = f.dns_search;
  s.dns_options = f.dns_option;
  if ((s.network == "host" || s.network == "none") && !f.hostname.empty() && s.network == "host")
    return Error::invalid("conflicting options: hostname and the network mode");
  if (s.network.rfind("container:", 0) == 0) {  // docker's errors for what cannot apply
    if (s.network.size() == 10) return Error::invalid("invalid --network: container: needs a name");
    if (!f.hostname.empty()) return Error::invalid("conflicting options: hostname and the network mode");
    if (!s.ports.empty() || s.publish_all)
      return Error::invalid("conflicting options: port publishing and the container type network mode");
    if (!s.extra_hosts.empty())
      return Error::invalid("conflicting options: custom host-to-IP mapping and the network mode");
    if (!s.dns.empty() || !s.dns_search.empty() || !s.dns_options.empty())
      return Error::invalid("conflicting options: dns and the network mode");
  }
  return ok();
}

Status apply_modes(const RunFlags& f, ContainerSpec& s) {
  s.ipc = f.ipc.empty() ? "private" : f.ipc;
  bool join = s.ipc.rfind("container:", 0) == 0 && s.ipc.size() > 10;
  if (s.ipc != "private" && s.ipc != "host" && s.ipc != "shareable" && s.ipc != "none" && !join)
    return Error::invalid("--ipc: invalid IPC mode: " + f.ipc);
  if (!f.pid.empty() && f.pid != "host") return Error::invalid("--pid: invalid PID mode: " + f.pid);
  s.pid_mode = f.pid;
  if (!f.uts.empty() && f.uts != "host") return Error::invalid("--uts: invalid UTS mode: " + f.uts);
  s.uts_mode = f.uts;
  if (!f.userns.empty() && f.userns != "host" && f.userns != "keep-id")
    return Error::invalid("--userns: invalid user namespace mode: " + f.userns +
                          " (host, or keep-id without root)");
  if (f.userns == "keep-id" && !sys::rootless())
    return Error::invalid("--userns=keep-id is for berth without root: as root, files written "
                          "to bind mounts already keep the ids of the user inside");
  s.userns_mode = f.userns;
  if (!f.cgroup_parent.empty()) {
    std::string p = clean_path("/" + f.cgroup_parent);
    if (p == "/" || f.cgroup_parent.find("..") != std::string::npos)
      return Error::invalid("--cgroup-parent: invalid cgroup path: " + f.cgroup_parent);
    s.cgroup_parent = p;
  }
  return ok();
}

Result<containers::CreateRequest> to_request(const RunFlags& f) {
  containers::CreateRequest req;
  if (!f.name.empty()) req.name = TRY(containers::validate_name(f.name));
  ContainerSpec& s = req.spec;
  s.image = f.args.at(0);
  s.cmd.assign(f.args.begin() + 1, f.args.end());
  if (f.entrypoint) {
    req.entrypoint_set = true;
    if (!f.entrypoint->empty()) s.entrypoint = {*f.entrypoint};
  }
  s.tty = f.tty;
  s.open_stdin = f.interactive;
  s.stdin_once = f.interactive && !f.detach;
  s.hostname = f.hostname;
  s.domainname = f.domainname;
  s.user = f.user;
  s.group_add = f.group_add;
  s.working_dir = f.workdir;
  if (!s.working_dir.empty() && s.working_dir[0] != '/')
    return Error::invalid("the working directory '" + s.working_dir + "' is invalid, it needs to be an absolute path");
  s.privileged = f.privileged;
  s.read_only = f.read_only;
  s.init = f.init;
  s.auto_remove = f.rm;
  s.cap_add = f.cap_add;
  s.cap_drop = f.cap_drop;
  s.security_opt = f.security_opt;
  s.gpus = f.gpus;
  s.sysctls = f.sysctls;
  s.platform = f.platform;
  s.stop_signal = f.stop_signal;
  if (f.stop_timeout >= 0) s.stop_timeout = f.stop_timeout;
  for (const auto& l : f.labels) {
    auto eq = l.find('=');
    s.labels[l.substr(0, eq)] = eq == std::string::npos ? "" : l.substr(eq + 1);
  }
  for (const auto& o : f.log_opts) {
    auto eq = o.find('=');
    std::string k = o.substr(0, eq), v = eq == std::string::npos ? "" : o.substr(eq + 1);
    if (k == "max-size") s.log_max_size = std::to_string(TRY(containers::parse_bytes(v)));
    else if (k == "max-file" && parse_int(v).value_or(0) > 0) s.log_max_file = static_cast<int>(parse_int(v).value_or(1));
    else return Error::invalid("unknown log opt '" + o + "' for json-file log driver");
  }
  s.restart = TRY(containers::parse_restart(f.restart));
  if (f.rm && s.restart.name != "no")
    return Error::invalid("Conflicting options: --restart and --rm");
  for (const auto& g : f.gpus)
    if (auto r = gpu::parse_gpus_flag(g); !r)
      return Error::invalid("invalid argument \"" + g + "\" for \"--gpus\" flag: " + r.error().message());
  TRY(apply_env(f, s));
  TRY(apply_mounts(f, s));
  TRY(apply_resources(f, s));
  TRY(apply_network(f, s));
  TRY(apply_modes(f, s));
  return req;
}

// The image is there, or pulled as --pull says.
Status ensure_image(Context& ctx, const RunFlags& f) {
  images::Store* store = TRY(ctx.store());
  const std::string& name = f.args.at(0);
  if (f.pull == "always") return pull_image(ctx, name, f.platform, f.quiet);
  if (f.pull != "missing" && f.pull != "never")
    return Error::invalid("invalid pull option: '" + f.pull + "': must be one of \"always\", \"missing\" or \"never\"");
  if (TRY(store->lookup(name))) return ok();
  if (f.pull == "never") return Error::invalid("No such image: " + name);
  std::fprintf(stderr, "Unable to find image '%s' locally\n", name.c_str());
  std::fflush(stderr);
  return pull_image(ctx, name, f.platform, f.quiet);
}

int exit_code_for(const Error& e) {
  if (e.code() == ENOENT) return 127;
  if (e.code() == EACCES || e.code() == ENOEXEC || e.code() == EISDIR) return 126;
  return kExitBerthError;
}

// run without -d: attached until the container exits; returns its exit status.
Result<int> run_attached(Context& ctx, containers::Engine& e, containers::Container& c,
                         const RunFlags& f) {
  TRY(e.start(c, {.hold = true}));
  monitor::AttachOptions ao;
  ao.socket_path = e.attach_socket(c.id);
  ao.attach_stdin = f.interactive;
  ao.tty = f.tty;
  ao.detach_keys = f.detach_keys;
  int pid = c.state.pid;
  if (f.sig_proxy && !f.tty) ao.on_signal = [pid](int sig) { ::kill(pid, sig); };
  ao.on_connected = [&]() -> Status { return e.resume_start(c); };
  // Without a restart policy this process cleans up after the exit itself (no exec of the
  // monitor's hook: that is most of a short run's time).
  ao.owns_exit = c.spec.restart.name == "no";
  monitor::AttachResult r = TRY(monitor::attach(ao));
  if (r.detached) return 0;
  if (ao.owns_exit) {
    containers::wait_process_gone(c.state.monitor_pid, c.state.monitor_start, std::chrono::seconds(30));  // it has written exit.json and is done
    TRY(e.on_exited(c.id, -1));
  } else {
    containers::wait_process_gone(c.state.monitor_pid, c.state.monitor_start, std::chrono::seconds(30));  // its hook has released (or removed) the container
  }
  (void)ctx;
  return r.exit_status;
}

void do_run(Context& ctx, const RunFlags& f, bool create_only) {
  if (!create_only) containers::warm_cgroup_moves();
  containers::Engine* e = nullptr;
  std::optional<containers::Container> created;
  Status st = [&]() -> Status {
    TRY(check_no_unknown_flags(f.image, {f.args.begin() + 1, f.args.end()}));
    containers::CreateRequest req = TRY(to_request(f));
    TRY(ensure_image(ctx, f));
    e = TRY(ctx.engine());
    created = TRY(e->create(std::move(req)));
    return ok();
  }();
  if (!st) {
    std::fprintf(stderr, "Error: %s\n", (ctx.globals().debug ? st.error().trail() : st.error().message()).c_str());
    ctx.set_exit_code(kExitBerthError);
    return;
  }
  containers::Container& c = *created;
  if (create_only) {
    std::printf("%s\n", c.id.c_str());
    return;
  }
  if (f.detach) {
    Status s = e->start(c);
    if (!s) {
      std::fprintf(stderr, "Error: %s\n", s.error().message().c_str());
      ctx.set_exit_code(exit_code_for(s.error()));
      if (c.spec.auto_remove) (void)e->remove(c, true, true);
      return;
    }
    std::printf("%s\n", c.id.c_str());
    return;
  }
  auto code = run_attached(ctx, *e, c, f);
  if (!code) {
    std::fprintf(stderr, "Error: %s\n", code.error().message().c_str());
    ctx.set_exit_code(exit_code_for(code.error()));
    if (c.spec.auto_remove) {
      auto now = e->get(c.id);
      if (now) (void)e->remove(*now, true, true);
    }
    return;
  }
  ctx.set_exit_code(*code);
}

}  // namespace

void add_run_commands(CLI::App& app, Context& ctx) {
  for (CLI::App* parent : {&app, subcommand(app, "container", "Manage containers")}) {
    auto rf = std::make_shared<RunFlags>();
    auto* run = parent->add_subcommand("run", "Create and run a new container from an image");
    add_run_flags(run, *rf);
    run->add_flag("-d,--detach", rf->detach, "Run container in background and print container ID");
    run->add_flag("--rm", rf->rm, "Automatically remove the container when it exits");
    run->callback([&ctx, rf, run] {
      rf->args = run->remaining();
      rf->args.insert(rf->args.begin(), rf->image);
      do_run(ctx, *rf, false);
    });
    auto cf = std::make_shared<RunFlags>();
    auto* create = parent->add_subcommand("create", "Create a new container");
    add_run_flags(create, *cf);
    create->add_flag("--rm", cf->rm, "Automatically remove the container when it exits");
    create->callback([&ctx, cf, create] {
      cf->args = create->remaining();
      cf->args.insert(cf->args.begin(), cf->image);
      do_run(ctx, *cf, true);
    });
  }
}

}  // namespace berth::cli
