#include "runtime/launch.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include "base/file.h"
#include "base/log.h"
#include "sys/process.h"

namespace berth::runtime {
namespace {

std::string map_text(const std::vector<oci::IdMapping>& m) {
  std::string out;
  for (const auto& e : m)
    out += std::to_string(e.container_id) + " " + std::to_string(e.host_id) + " " +
           std::to_string(e.size) + "\n";
  return out;
}

bool only_own_id(const std::vector<oci::IdMapping>& m, uint32_t own) {
  return m.size() == 1 && m[0].size == 1 && m[0].host_id == own;
}

Status run_id_helper(const char* helper, pid_t pid, const std::vector<oci::IdMapping>& m) {
  std::vector<std::string> args = {helper, std::to_string(pid)};
  for (const auto& e : m) {
    args.push_back(std::to_string(e.container_id));
    args.push_back(std::to_string(e.host_id));
    args.push_back(std::to_string(e.size));
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t child = ::fork();
  if (child < 0) return sys_error("fork", helper);
  if (child == 0) {
    ::execvp(helper, argv.data());
    _exit(127);
  }
  int ws = TRY(sys::wait_for(child));
  if (sys::exit_status_of(ws) == 127)
    return Error(ENOENT, std::string(helper) +
                             " is needed to map more than your own id (install package uidmap)");
  if (ws != 0)
    return Error::invalid(std::string(helper) +
                          " failed (are the ranges in /etc/subuid and /etc/subgid?)");
  return ok();
}

}  // namespace

Status write_id_maps(pid_t pid, const oci::Linux& linux) {
  std::string proc = "/proc/" + std::to_string(pid);
  bool root = ::geteuid() == 0;
  if (!linux.uid_mappings.empty()) {
    if (root || only_own_id(linux.uid_mappings, ::geteuid())) {
      TRY_CTX(write_file(proc + "/uid_map", map_text(linux.uid_mappings)),
              "write linux.uidMappings");
    } else {
      TRY(run_id_helper("newuidmap", pid, linux.uid_mappings));
    }
  }
  if (!linux.gid_mappings.empty()) {
    if (root) {
      TRY_CTX(write_file(proc + "/gid_map", map_text(linux.gid_mappings)),
              "write linux.gidMappings");
    } else if (only_own_id(linux.gid_mappings, ::getegid())) {
      TRY(write_file(proc + "/setgroups", "deny"));
      TRY_CTX(write_file(proc + "/gid_map", map_text(linux.gid_mappings)),
              "write linux.gidMappings");
    } else {
      TRY(run_id_helper("newgidmap", pid, linux.gid_mappings));
    }
  }
  return ok();
}

namespace {

void kill_and_reap(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGKILL);
  (void)sys::wait_for(pid);
}

struct Driver {
  const InitConfig& cfg;
  const LaunchCallbacks& cb;
  sys::SyncSocket& sock;
  pid_t stage1 = 0;
  LaunchResult out;

  Status handle(const sys::Msg& m, int fd) {
    switch (m.type) {
      case sys::MsgType::kUserNsReady:
        TRY(write_id_maps(stage1, *cfg.spec->linux));
        return send(sys::MsgType::kContinue);
      case sys::MsgType::kInitPid: {
        out.pid = static_cast<pid_t>(m.value);
        int ws = TRY(sys::wait_for(stage1));
        stage1 = 0;
        if (ws != 0)
          return Error::invalid("container setup: stage 1 exited with status " +
                                std::to_string(sys::exit_status_of(ws)));
        return ok();
      }
      case sys::MsgType::kHooksPoint:
        if (cb.at_hooks_point) TRY(cb.at_hooks_point(out.pid));
        return send(sys::MsgType::kContinue, out.pid);
      case sys::MsgType::kConsole:
        out.console.reset(fd);
        return ok();
      case sys::MsgType::kError:
        return sys::error_from_msg(m);
      case sys::MsgType::kExecFailed:
        return Error(m.err, "exec", m.detail);
      default:
        return Error::invalid("unexpected message from the container init");
    }
  }

  Status send(sys::MsgType t, int64_t v = 0) {
    if (!sys::send_simple(sock, t, v)) return Error(EPIPE, "talk to the container init");
    return ok();
  }

  // Stage 1 sends the init's pid after its clone() returns, while the init (stage 2) is
  // already running and talking on the same socket: on a loaded machine the init's hooks
  // point or "ready" can come first. Both need the pid, so they wait for it here (the init
  // itself waits for our answer to its hooks point; "ready" needs none).
  Status drive() {
    TRY(cb.enter_cgroup ? cb.enter_cgroup(stage1) : ok());
    TRY(send(sys::MsgType::kContinue));
    bool ready = false, hooks_point = false;
    for (;;) {
      sys::Msg m;
      int fd = -1;
      if (!sock.recv(&m, &fd)) {
        return Error::invalid("container init exited during setup");
      }
      if (out.pid == 0 && m.type == sys::MsgType::kReady) {
        ready = true;
        continue;
      }
      if (out.pid == 0 && m.type == sys::MsgType::kHooksPoint) {
        hooks_point = true;
        continue;
      }
      if (m.type == sys::MsgType::kReady) return ok();
      TRY(handle(m, fd));
      if (m.type != sys::MsgType::kInitPid) continue;
      if (hooks_point) {
        sys::Msg h;
        h.type = sys::MsgType::kHooksPoint;
        TRY(handle(h, -1));
      }
      if (ready) return ok();
    }
  }
};

}  // namespace

Result<LaunchResult> launch_process(const InitConfig& cfg, const LaunchCallbacks& cb) {
  auto [parent, child] = TRY(sys::SyncSocket::pair());
  pid_t pid = ::fork();
  if (pid < 0) return sys_error("fork", "container init");
  if (pid == 0) {
    parent.close();
    run_stage1(cfg, child);
  }
  child.close();
  Driver d{cfg, cb, parent, pid, {}};
  Status st = d.drive();
  if (!st) {
    kill_and_reap(d.stage1);
    if (d.out.pid > 0) kill_and_reap(d.out.pid);
    return std::move(st).error();
  }
  d.out.sock = std::move(parent);
  return std::move(d.out);
}

}  // namespace berth::runtime
