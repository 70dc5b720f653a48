// create start run kill delete pause resume
#include <cerrno>

#include "cli/runtime/commands.h"
#include "sys/process.h"

namespace berth::cli {
namespace {

struct CreateFlags {
  runtime::CreateOptions o;
  bool detach = false;
  bool keep = false;
  int preserve_fds = 0;
  bool no_new_keyring = false;
  bool no_subreaper = false;
};

void add_create_flags(CLI::App* c, CreateFlags& f) {
  c->add_option("-b,--bundle", f.o.bundle, "path to the bundle (default: current directory)");
  c->add_option("--console-socket", f.o.console_socket, "unix socket that receives the pty master");
  c->add_option("--pid-file", f.o.pid_file, "write the container's pid to this file");
  c->add_flag("--no-pivot", f.o.no_pivot, "use MS_MOVE and chroot instead of pivot_root");
  c->add_flag("--no-new-keyring", f.no_new_keyring, "accepted for runc compatibility");
  c->add_option("--preserve-fds", f.preserve_fds, "accepted for runc compatibility (must be 0)");
  c->add_option("id", f.o.id, "container id")->required();
}

}  // namespace

void add_lifecycle_commands(CLI::App& app, Action& action) {
  static CreateFlags cf;
  auto* create = app.add_subcommand("create", "create a container (its process waits for start)");
  add_create_flags(create, cf);
  create->callback([&] {
    action = [](runtime::Runtime& rt) -> Result<int> {
      if (cf.preserve_fds != 0) return Error::invalid("--preserve-fds is not supported");
      TRY(rt.create(cf.o));
      return 0;
    };
  });

  static CreateFlags rf;
  auto* run =
      app.add_subcommand("run", "create and start a container, wait for it unless --detach");
  add_create_flags(run, rf);
  run->add_flag("-d,--detach", rf.detach, "return once the process runs");
  run->add_flag("--keep", rf.keep, "accepted for runc compatibility");
  run->callback([&] {
    action = [](runtime::Runtime& rt) -> Result<int> {
      if (rf.preserve_fds != 0) return Error::invalid("--preserve-fds is not supported");
      return rt.run(rf.o, {rf.detach});
    };
  });

  static std::string id;
  auto* start = app.add_subcommand("start", "start a created container");
  start->add_option("id", id, "container id")->required();
  start->callback([&] {
    action = [](runtime::Runtime& rt) -> Result<int> {
      TRY(rt.start(id));
      return 0;
    };
  });

  static std::string kill_sig = "SIGTERM";
  static bool kill_all = false;
  auto* kill = app.add_subcommand("kill", "send a signal (default SIGTERM) to the container");
  kill->add_flag("-a,--all", kill_all, "signal every process in the container");
  kill->add_option("id", id, "container id")->required();
  kill->add_option("signal", kill_sig, "signal name or number");
  kill->callback([&] {
    action = [](runtime::Runtime& rt) -> Result<int> {
      int sig = TRY(sys::parse_signal(kill_sig));
      TRY(rt.kill(id, sig, kill_all));
      return 0;
    };
  });

  static bool force = false;
  auto* del = app.add_subcommand("delete", "delete a container and what it holds");
  del->add_flag("-f,--force", force, "kill it first when it still runs");
  del->add_option("id", id, "container id")->required();
  del->callback([&] {
    action = [](runtime::Runtime& rt) -> Result<int> {
      Status s = rt.remove(id, force);
      // runc: delete --force of a container that does not exist is not an error.
      if (!s && force && s.error().op() == "container does not exist:") return 0;
      TRY(s);
      return 0;
    };
  });

  auto* pause = app.add_subcommand("pause", "freeze every process of the container");
  pause->add_option("id", id, "container id")->required();
  pause->callback([&] {
    action = [](runtime::Runtime& rt) -> Result<int> {
      TRY(rt.pause(id));
      return 0;
    };
  });
  auto* resume = app.add_subcommand("resume", "thaw a paused container");
  resume->add_option("id", id, "container id")->required();
  resume->callback([&] {
    action = [](runtime::Runtime& rt) -> Result<int> {
      TRY(rt.resume(id));
      return 0;
    };
  });
}

}  // namespace berth::cli
