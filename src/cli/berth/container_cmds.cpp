// container_cmds.cpp - the verbs that act on existing containers: start, stop, kill,
// restart, rm, pause, unpause, rename, wait, exec, attach, logs, container prune, and the
// hidden `container _exited ID` the monitor runs when a container's process exits.
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
#include "cli/berth/logs.h"
#include "containers/options.h"
#include "monitor/attach_client.h"
#include "sys/process.h"

namespace berth::cli {
namespace {

using containers::Container;
using containers::Engine;

void print_err(Context& ctx, const Error& e, int code = kExitBerthError) {
  std::fprintf(stderr, "Error: %s\n", (ctx.globals().debug ? e.trail() : e.message()).c_str());
  ctx.set_exit_code(code);
}

// Runs fn for each named container; docker prints each name that worked, errors on stderr.
void for_each(Context& ctx, const std::vector<std::string>& names,
              const std::function<Status(Engine&, Container&)>& fn, bool echo = true) {
  auto e = ctx.engine();
  if (!e) return print_err(ctx, e.error());
  for (const auto& name : names) {
    auto c = (*e)->get(name);
    if (!c) {
      print_err(ctx, c.error(), c.error().code() == ENOENT ? 1 : kExitBerthError);
      continue;
    }
    Status s = fn(**e, *c);
    if (!s) {
      print_err(ctx, s.error());
      continue;
    }
    if (echo) std::printf("%s\n", name.c_str());
  }
}

Result<int> attach_to(Engine& e, Container& c, bool with_stdin, const std::string& keys,
                      bool sig_proxy, std::function<Status()> on_connected = nullptr) {
  monitor::AttachOptions ao;
  ao.socket_path = e.attach_socket(c.id);
  ao.attach_stdin = with_stdin && c.spec.open_stdin;
  ao.tty = c.spec.tty;
  ao.detach_keys = keys;
  int pid = c.state.pid;
  if (sig_proxy && !c.spec.tty) ao.on_signal = [pid](int sig) { ::kill(pid, sig); };
  if (on_connected) ao.on_connected = std::move(on_connected);
  auto r = TRY(monitor::attach(ao));
  if (r.detached) return 0;
  return r.exit_status;
}

void add_start(CLI::App* parent, Context& ctx) {
  auto names = std::make_shared<std::vector<std::string>>();
  auto attach = std::make_shared<bool>(false), interactive = std::make_shared<bool>(false);
  auto keys = std::make_shared<std::string>("ctrl-p,ctrl-q");
  auto* c = parent->add_subcommand("start", "Start one or more stopped containers");
  c->add_flag("-a,--attach", *attach, "Attach STDOUT/STDERR and forward signals");
  c->add_flag("-i,--interactive", *interactive, "Attach container's STDIN");
  c->add_option("--detach-keys", *keys, "Override the key sequence for detaching a container");
  c->add_option("CONTAINER", *names, "containers")->required();
  c->callback([=, &ctx] {
    if (!*attach && !*interactive) {
      for_each(ctx, *names, [](Engine& e, Container& k) { return e.start(k); });
      return;
    }
    for_each(ctx, {names->front()}, [&](Engine& e, Container& k) -> Status {
      if (k.state.status == "running") {
        int code = TRY(attach_to(e, k, *interactive, *keys, true));
        ctx.set_exit_code(code);
        return ok();
      }
      TRY(e.start(k, {.hold = true}));
      int code = TRY(attach_to(e, k, *interactive, *keys, true, [&] { return e.resume_start(k); }));
      ctx.set_exit_code(code);
      return ok();
    }, false);
  });
}

void add_stop_kill(CLI::App* parent, Context& ctx) {
  auto names = std::make_shared<std::vector<std::string>>();
  auto timeout = std::make_shared<int>(-1);
  auto* stop = parent->add_subcommand("stop", "Stop one or more running containers");
  stop->add_option("-t,--time,--timeout", *timeout, "Seconds to wait before killing the container");
  stop->add_option("CONTAINER", *names, "containers")->required();
  stop->callback([=, &ctx] {
    for_each(ctx, *names, [=](Engine& e, Container& k) { return e.stop(k, *timeout); });
  });
  auto rnames = std::make_shared<std::vector<std::string>>();
  auto rtimeout = std::make_shared<int>(-1);
  auto* restart = parent->add_subcommand("restart", "Restart one or more containers");
  restart->add_option("-t,--time,--timeout", *rtimeout, "Seconds to wait before killing the container");
  restart->add_option("CONTAINER", *rnames, "containers")->required();
  restart->callback([=, &ctx] {
    for_each(ctx, *rnames, [=](Engine& e, Container& k) -> Status {
      TRY(e.stop(k, *rtimeout));
      Container again = TRY(e.get(k.id));
      return e.start(again);
    });
  });
  auto knames = std::make_shared<std::vector<std::string>>();
  auto sig = std::make_shared<std::string>("KILL");
  auto* kill = parent->add_subcommand("kill", "Kill one or more running containers");
  kill->add_option("-s,--signal", *sig, "Signal to send to the container");
  kill->add_option("CONTAINER", *knames, "containers")->required();
  kill->callback([=, &ctx] {
    auto s = sys::parse_signal(*sig);
    if (!s) return print_err(ctx, Error::invalid("invalid signal: " + *sig));
    int signo = s.value();
    for_each(ctx, *knames, [=](Engine& e, Container& k) { return e.kill(k, signo); });
  });
}

void add_rm(CLI::App* parent, Context& ctx, const char* name) {
  auto names = std::make_shared<std::vector<std::string>>();
  auto force = std::make_shared<bool>(false), volumes = std::make_shared<bool>(false);
  auto* c = parent->add_subcommand(name, "Remove one or more containers");
  c->add_flag("-f,--force", *force, "Force the removal of a running container (uses SIGKILL)");
  c->add_flag("-v,--volumes", *volumes, "Remove anonymous volumes associated with the container");
  c->add_option("CONTAINER", *names, "containers")->required();
  c->callback([=, &ctx] {
    for_each(ctx, *names, [=](Engine& e, Container& k) { return e.remove(k, *force, *volumes); });
  });
}

void add_pause_rename_wait(CLI::App* parent, Context& ctx) {
  auto pnames = std::make_shared<std::vector<std::string>>();
  auto* pause = parent->add_subcommand("pause", "Pause all processes within one or more containers");
  pause->add_option("CONTAINER", *pnames, "containers")->required();
  pause->callback([=, &ctx] { for_each(ctx, *pnames, [](Engine& e, Container& k) { return e.pause(k); }); });
  auto unames = std::make_shared<std::vector<std::string>>();
  auto* unpause = parent->add_subcommand("unpause", "Unpause all processes within one or more containers");
  unpause->add_option("CONTAINER", *unames, "containers")->required();
  unpause->callback([=, &ctx] { for_each(ctx, *unames, [](Engine& e, Container& k) { return e.unpause(k); }); });

  auto from = std::make_shared<std::string>(), to = std::make_shared<std::string>();
  auto* rename = parent->add_subcommand("rename", "Rename a container");
  rename->add_option("CONTAINER", *from, "container")->required();
  rename->add_option("NEW_NAME", *to, "new name")->required();
  rename->callback([=, &ctx] {
    for_each(ctx, {*from}, [=](Engine& e, Container& k) -> Status {
      std::string n = TRY(containers::validate_name(*to));
      return e.rename(k, n);
    }, false);
  });

  auto wnames = std::make_shared<std::vector<std::string>>();
  auto* wait = parent->add_subcommand("wait", "Block until one or more containers stop, then print their exit codes");
  wait->add_option("CONTAINER", *wnames, "containers")->required();
  wait->callback([=, &ctx] {
    for_each(ctx, *wnames, [&](Engine& e, Container& k) -> Status {
      if (k.state.status == "running" || k.state.status == "paused" || k.state.status == "restarting") {
        auto code = monitor::wait_exit(e.attach_socket(k.id));
        if (code) {
          std::printf("%d\n", *code);
          return ok();
        }
        Container now = TRY(e.get(k.id));  // the monitor is gone: what is recorded
        std::printf("%d\n", now.state.exit_code);
        return ok();
      }
      std::printf("%d\n", k.state.exit_code);
      return ok();
    }, false);
  });
}

void add_exec(CLI::App* parent, Context& ctx) {
  struct ExecFlags {
    bool interactive = false, tty = false, detach = false, privileged = false;
    std::string user, workdir;
    std::vector<std::string> env, env_file, args;
  };
  auto f = std::make_shared<ExecFlags>();
  auto* c = parent->add_subcommand("exec", "Execute a command in a running container");
  c->add_flag("-i,--interactive", f->interactive, "Keep STDIN open even if not attached");
  c->add_flag("-t,--tty", f->tty, "Allocate a pseudo-TTY");
  c->add_flag("-d,--detach", f->detach, "Detached mode: run command in the background");
  c->add_flag("--privileged", f->privileged, "Give extended privileges to the command");
  c->add_option("-u,--user", f->user, "Username or UID (format: <name|uid>[:<group|gid>])");
  c->add_option("-w,--workdir", f->workdir, "Working directory inside the container");
  c->add_option("-e,--env", f->env, "Set environment variables");
  c->add_option("--env-file", f->env_file, "Read in a file of environment variables");
  auto name = std::make_shared<std::string>();
  c->add_option("CONTAINER", *name, "CONTAINER COMMAND [ARG...]")->required();
  c->prefix_command();
  one_value_per_option(c);
  c->callback([=, &ctx] {
    f->args = c->remaining();
    f->args.insert(f->args.begin(), *name);
    for_each(ctx, {f->args.front()}, [&](Engine& e, Container& k) -> Status {
      Engine::ExecRequest r{.args = {f->args.begin() + 1, f->args.end()},
                            .tty = f->tty,
                            .detach = f->detach,
                            .interactive = f->interactive,
                            .user = f->user,
                            .workdir = f->workdir,
                            .privileged = f->privileged};
      if (r.args.empty()) return Error::invalid("exec needs a command to run");
      for (const auto& path : f->env_file) {
        std::string text = TRY(read_file(path, 16 << 20));
        for (auto& v : TRY(containers::parse_env_file(text, path))) r.env.push_back(v);
      }
      for (const auto& v : f->env)
        if (auto x = containers::resolve_env(v)) r.env.push_back(*x);
      auto code = e.exec(k, r);
      if (!code) {
        int ec = code.error().code() == ENOENT ? 127 : code.error().code() == EACCES ? 126 : kExitBerthError;
        print_err(ctx, code.error(), ec);
        return ok();
      }
      ctx.set_exit_code(*code);
      return ok();
    }, false);
  });
}

void add_attach(CLI::App* parent, Context& ctx) {
  auto name = std::make_shared<std::string>();
  auto keys = std::make_shared<std::string>("ctrl-p,ctrl-q");
  auto no_stdin = std::make_shared<bool>(false), sig_proxy = std::make_shared<bool>(true);
  auto* c = parent->add_subcommand("attach", "Attach local standard input, output, and error streams to a running container");
  c->add_option("--detach-keys", *keys, "Override the key sequence for detaching a container");
  c->add_flag("--no-stdin", *no_stdin, "Do not attach STDIN");
  c->add_option("--sig-proxy", *sig_proxy, "Proxy all received signals to the process");
  c->add_option("CONTAINER", *name, "container")->required();
  c->callback([=, &ctx] {
    for_each(ctx, {*name}, [&](Engine& e, Container& k) -> Status {
      if (k.state.status != "running" && k.state.status != "paused")
        return Error::invalid("You cannot attach to a stopped container, start it first");
      int code = TRY(attach_to(e, k, !*no_stdin, *keys, *sig_proxy));
      ctx.set_exit_code(code);
      return ok();
    }, false);
  });
}

void add_prune(CLI::App* parent, Context& ctx) {
  auto force = std::make_shared<bool>(false);
  auto* c = parent->add_subcommand("prune", "Remove all stopped containers");
  c->add_flag("-f,--force", *force, "Do not prompt for confirmation");
  c->callback([=, &ctx] {
    ctx.run([&]() -> Status {
      Engine* e = TRY(ctx.engine());
      std::printf("Deleted Containers:\n");
      for (auto& k : TRY(e->list()))
        if (k.state.status == "exited" || k.state.status == "created" || k.state.status == "dead") {
          TRY(e->remove(k, false, false));
          std::printf("%s\n", k.id.c_str());
        }
      std::printf("\nTotal reclaimed space: 0B\n");
      return ok();
    });
  });
}

void add_exited_hook(CLI::App* parent, Context& ctx) {
  auto id = std::make_shared<std::string>();
  auto* c = parent->add_subcommand("_exited", "(internal) run by a container's monitor when it exits");
  c->group("");
  c->add_option("ID", *id, "container id")->required();
  c->callback([=, &ctx] {
    ctx.run([&]() -> Status {
      Engine* e = TRY(ctx.engine());
      return e->on_exited(*id, 3);
    });
  });
}

}  // namespace

void add_container_commands(CLI::App& app, Context& ctx) {
  CLI::App* container = subcommand(app, "container", "Manage containers");
  for (CLI::App* p : {&app, container}) {
    add_start(p, ctx);
    add_stop_kill(p, ctx);
    add_pause_rename_wait(p, ctx);
    add_exec(p, ctx);
    add_attach(p, ctx);
    add_logs(p, ctx);
  }
  add_rm(&app, ctx, "rm");
  add_rm(container, ctx, "rm");
  add_prune(container, ctx);
  add_exited_hook(container, ctx);
}

}  // namespace berth::cli
