// exec: run another process in a running container.
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "base/strings.h"
#include "cli/runtime/commands.h"
#include "oci/spec_json.h"

namespace berth::cli {
namespace {

struct ExecFlags {
  runtime::ExecOptions o;
  std::string id;
  std::string process_file;
  std::string cwd;
  std::vector<std::string> env;
  std::string user;
  std::vector<uint32_t> additional_gids;
  std::vector<std::string> caps;
  bool tty = false;
  bool no_new_privs = false;
  std::vector<std::string> args;
  int preserve_fds = 0;
};

Status apply_user(oci::Process& p, const std::string& user) {
  auto parts = split(user, ':');
  auto uid = parse_uint(parts[0]);
  if (!uid || *uid > UINT32_MAX) return Error::invalid("--user must be UID[:GID]:", user);
  p.user.uid = static_cast<uint32_t>(*uid);
  if (parts.size() > 1) {
    auto gid = parse_uint(parts[1]);
    if (!gid || *gid > UINT32_MAX || parts.size() > 2)
      return Error::invalid("--user must be UID[:GID]:", user);
    p.user.gid = static_cast<uint32_t>(*gid);
  }
  return ok();
}

// The process to run: --process FILE, else the container's own process with the flags on top.
Result<oci::Process> build_process(runtime::Runtime& rt, ExecFlags& f) {
  if (!f.process_file.empty()) {
    std::string text = TRY(read_file(f.process_file));
    // Validate it as the process of a config.json, so errors name the same fields.
    auto spec = oci::parse_spec(R"({"ociVersion":"1.1.0","root":{"path":"rootfs"},"process":)" +
                                text + "}");
    if (!spec) return Error::invalid("--process " + f.process_file + ": " + spec.error().message());
    return *spec->process;
  }
  if (f.args.empty()) return Error::invalid("exec needs a command (or --process FILE)");
  oci::Spec spec = TRY(rt.spec_of(f.id));
  oci::Process p = spec.process ? *spec.process : oci::Process{};
  p.args = f.args;
  p.terminal = f.tty;
  p.console_size.reset();
  if (!f.cwd.empty()) p.cwd = f.cwd;
  for (const auto& e : f.env) p.env.push_back(e);
  if (!f.user.empty()) TRY(apply_user(p, f.user));
  if (!f.additional_gids.empty()) p.user.additional_gids = f.additional_gids;
  if (f.no_new_privs) p.no_new_privileges = true;
  if (!f.caps.empty()) {
    if (!p.capabilities) p.capabilities.emplace();
    for (const auto& c : f.caps)
      for (auto* set :
           {&p.capabilities->bounding, &p.capabilities->effective, &p.capabilities->permitted})
        set->push_back(c);
  }
  return p;
}

}  // namespace

void add_exec_command(CLI::App& app, Action& action) {
  static ExecFlags f;
  auto* c = app.add_subcommand("exec", "run a process in a running container");
  c->add_option("--console-socket", f.o.console_socket, "unix socket that receives the pty master");
  c->add_option("--cwd", f.cwd, "working directory in the container");
  c->add_option("-e,--env", f.env, "set an environment variable (KEY=VALUE)");
  c->add_flag("-t,--tty", f.tty, "allocate a pseudo-terminal");
  c->add_option("-u,--user", f.user, "UID[:GID]");
  c->add_option("-g,--additional-gids", f.additional_gids, "additional group ids");
  c->add_option("-p,--process", f.process_file, "process.json to run (the OCI process object)");
  c->add_flag("-d,--detach", f.o.detach, "do not wait for the process");
  c->add_option("--pid-file", f.o.pid_file, "write the process's pid to this file");
  c->add_option("--process-label", "accepted for runc compatibility (SELinux is not supported)");
  c->add_option("--apparmor", "accepted for runc compatibility (AppArmor is not supported)");
  c->add_flag("--no-new-privs", f.no_new_privs, "set no_new_privs for the process");
  c->add_option("-c,--cap", f.caps, "add a capability");
  c->add_option("--preserve-fds", f.preserve_fds, "accepted for runc compatibility (must be 0)");
  static bool ignore_paused = false;
  c->add_flag("--ignore-paused", ignore_paused, "accepted for runc compatibility");
  c->add_option("id", f.id, "container id")->required();
  c->add_option("command", f.args, "command and arguments");
  c->positionals_at_end();
  c->prefix_command();
  c->callback([&] {
    action = [](runtime::Runtime& rt) -> Result<int> {
      if (f.preserve_fds != 0) return Error::invalid("--preserve-fds is not supported");
      f.o.process = TRY(build_process(rt, f));
      return rt.exec(f.id, f.o);
    };
  });
}

}  // namespace berth::cli
