#include "runtime/init.h"

#include <algorithm>
#include <fcntl.h>
#include <grp.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>

#include "base/file.h"
#include "base/strings.h"
#include "oci/state.h"
#include "runtime/hooks.h"
#include "runtime/rootfs.h"
#include "security/rlimit.h"
#include "security/seccomp.h"
#include "sys/ns.h"

namespace berth::runtime {
namespace {

// Set once the child said ready, when it was created to be started later (create + start,
// as berth's monitor does): later failures (startContainer hooks, user, capabilities, cwd,
// exec) have no runtime listening, so they are also written to the process's stderr, where
// the container's log sees them.
bool g_after_ready = false;

// Sends the error to the runtime and ends the child.
[[noreturn]] void fail(const sys::SyncSocket& s, const Error& e) {
  sys::send_error(s, e.op().c_str(), e.code(), e.object().c_str());
  if (g_after_ready) {
    char line[512];
    int n = snprintf(line, sizeof line, "berth: %s\n", e.message().c_str());
    if (n > 0) (void)!::write(2, line, static_cast<size_t>(std::min(n, static_cast<int>(sizeof line) - 1)));
  }
  _exit(1);
}

#define CHILD_TRY(sock, expr)                         \
  do {                                                \
    auto&& child_r_ = (expr);                         \
    if (!child_r_.ok()) fail(sock, child_r_.error()); \
  } while (0)

Status expect_continue(const sys::SyncSocket& s, int64_t* value = nullptr) {
  sys::Msg m;
  if (!s.recv(&m)) return Error(EPIPE, "wait for the runtime", "(it went away)");
  if (m.type != sys::MsgType::kContinue)
    return Error::invalid("unexpected message from the runtime");
  if (value != nullptr) *value = m.value;
  return ok();
}

// Which namespaces given by path a step joins: the user namespace alone, or the others
// before or after it. One owned by the user namespace being joined is joined after it (an
// ordinary user has no privilege over it before); every other one before, while the
// privileges over it are still ours (runc's order: a container of a rootless berth with
// --userns=keep-id joins a network namespace owned by berth's user namespace).
enum class JoinStep { user, before_user, after_user };

bool owned_by(int ns_fd, const struct stat& userns) {
  int owner = ::ioctl(ns_fd, NS_GET_USERNS);
  if (owner < 0) return true;  // cannot tell: the order of old
  struct stat st;
  bool same = ::fstat(owner, &st) == 0 && st.st_ino == userns.st_ino && st.st_dev == userns.st_dev;
  ::close(owner);
  return same;
}

// The step at which each of cfg.join is joined, decided before any of them is (once inside
// the user namespace, the owner of a namespace from outside it can no longer be asked).
std::vector<JoinStep> plan_joins(const InitConfig& cfg) {
  struct stat userns = {};
  bool joins_user = false;
  for (const auto& j : cfg.join)
    if (j.type == "user") joins_user = ::fstat(j.fd, &userns) == 0;
  std::vector<JoinStep> plan;
  for (const auto& j : cfg.join)
    plan.push_back(j.type == "user"                            ? JoinStep::user
                   : joins_user && owned_by(j.fd, userns)      ? JoinStep::after_user
                                                               : JoinStep::before_user);
  return plan;
}

Status join_namespaces(const InitConfig& cfg, const std::vector<JoinStep>& plan, JoinStep step) {
  for (size_t i = 0; i < cfg.join.size(); ++i) {
    if (plan[i] != step) continue;
    if (::setns(cfg.join[i].fd, 0) < 0) return sys_error("join " + cfg.join[i].type + " namespace");
  }
  return ok();
}

Status become_root_in_userns() {
  if (::setresgid(0, 0, 0) < 0) return sys_error("setresgid", "0 in the user namespace");
  if (::setresuid(0, 0, 0) < 0) return sys_error("setresuid", "0 in the user namespace");
  return ok();
}

Status enter_user_namespace(const InitConfig& cfg, const std::vector<JoinStep>& plan,
                            const sys::SyncSocket& s) {
  TRY(join_namespaces(cfg, plan, JoinStep::user));
  if (!cfg.new_userns) return ok();
  if (::unshare(CLONE_NEWUSER) < 0) return sys_error("unshare", "user namespace");
  if (!sys::send_simple(s, sys::MsgType::kUserNsReady)) return Error(EPIPE, "ask for id maps");
  TRY(expect_continue(s));
  return become_root_in_userns();
}

[[noreturn]] void run_stage2(const InitConfig& cfg, const sys::SyncSocket& s);

// The runtime may have blocked or ignored signals (it forwards them): the container starts clean.
void reset_signals() {
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig = 1; sig < NSIG; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP) ::signal(sig, SIG_DFL);
}

}  // namespace

void run_stage1(const InitConfig& cfg, const sys::SyncSocket& s) {
  reset_signals();
  CHILD_TRY(s, expect_continue(s));  // the runtime put us in the cgroup
  const std::vector<JoinStep> plan = plan_joins(cfg);
  CHILD_TRY(s, join_namespaces(cfg, plan, JoinStep::before_user));
  CHILD_TRY(s, enter_user_namespace(cfg, plan, s));
  CHILD_TRY(s, join_namespaces(cfg, plan, JoinStep::after_user));
  if (cfg.new_ns_flags != 0 && ::unshare(cfg.new_ns_flags) < 0)
    fail(s, sys_error("unshare", "namespaces"));
  long pid = ::syscall(SYS_clone, CLONE_PARENT | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
  if (pid < 0) fail(s, sys_error("clone", "container init"));
  if (pid == 0) run_stage2(cfg, s);
  sys::send_simple(s, sys::MsgType::kInitPid, pid);
  _exit(0);
}

namespace {

std::string env_value(const std::vector<std::string>& env, const std::string& key) {
  for (const auto& e : env)
    if (e.size() > key.size() && e.compare(0, key.size(), key) == 0 && e[key.size()] == '=')
      return e.substr(key.size() + 1);
  return {};
}

// Finds args[0] the way execvp would, with the container's PATH. Returns 127/126 errors.
Result<std::string> find_executable(const oci::Process& p) {
  const std::string& name = p.args.front();
  auto check = [](const std::string& path) -> int {
    struct stat st;
    if (::stat(path.c_str(), &st) < 0) return ENOENT;
    if (S_ISDIR(st.st_mode) || ::access(path.c_str(), X_OK) < 0) return EACCES;
    return 0;
  };
  if (name.find('/') != std::string::npos) {
    int e = check(name);
    if (e != 0) return Error(e, "exec", name);
    return name;
  }
  std::string path = env_value(p.env, "PATH");
  if (path.empty()) path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  int last = ENOENT;
  for (const auto& dir : split(path, ':')) {
    std::string cand = (dir.empty() ? "." : dir) + "/" + name;
    int e = check(cand);
    if (e == 0) return cand;
    if (e == EACCES) last = EACCES;
  }
  return Error(last, "exec", name + (last == ENOENT ? " (not found in $PATH)" : ""));
}

Status setup_terminal(const sys::SyncSocket& s, bool mount_console) {
  int master = ::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return sys_error("open", "/dev/ptmx");
  UniqueFd m(master);
  if (::unlockpt(master) < 0) return sys_error("unlockpt", "/dev/ptmx");
  char name[128];
  if (::ptsname_r(master, name, sizeof name) != 0) return sys_error("ptsname", "/dev/ptmx");
  int slave = ::open(name, O_RDWR | O_NOCTTY);
  if (slave < 0) return sys_error("open pty", name);
  if (mount_console) TRY(setup_console(name));
  sys::Msg msg;
  msg.type = sys::MsgType::kConsole;
  if (!s.send(msg, master)) return Error(EPIPE, "send the pty master to the runtime");
  if (::ioctl(slave, TIOCSCTTY, 0) < 0) return sys_error("set controlling terminal", name);
  for (int fd = 0; fd < 3; ++fd)
    if (::dup2(slave, fd) < 0) return sys_error("dup pty", name);
  if (slave > 2) ::close(slave);
  return ok();
}

Status set_console_size(const oci::Process& p) {
  if (!p.console_size) return ok();
  struct winsize ws = {};
  ws.ws_row = static_cast<unsigned short>(p.console_size->height);
  ws.ws_col = static_cast<unsigned short>(p.console_size->width);
  if (::ioctl(0, TIOCSWINSZ, &ws) < 0) return sys_error("set console size");
  return ok();
}

Status write_sysctls(const oci::Spec& spec) {
  if (!spec.linux) return ok();
  for (const auto& [key, value] : spec.linux->sysctl) {
    std::string path = "/proc/sys/" + key;
    for (size_t i = 10; i < path.size(); ++i)
      if (path[i] == '.') path[i] = '/';
    if (key.find("..") != std::string::npos || key.find('/') != std::string::npos)
      return Error::invalid("invalid sysctl name", key);
    Status st = write_file(path, value);
    if (!st) return std::move(st).error().context("set sysctl " + key);
  }
  return ok();
}

Status set_names(const InitConfig& cfg) {
  const oci::Spec& spec = *cfg.spec;
  bool uts = (cfg.new_ns_flags & CLONE_NEWUTS) != 0;
  for (const auto& j : cfg.join) uts |= j.type == "uts";
  if ((!spec.hostname.empty() || !spec.domainname.empty()) && !uts)
    return Error::invalid(
        "hostname and domainname need a private UTS namespace (add linux.namespaces uts)");
  if (!spec.hostname.empty() && ::sethostname(spec.hostname.data(), spec.hostname.size()) < 0)
    return sys_error("sethostname", spec.hostname);
  if (!spec.domainname.empty() &&
      ::setdomainname(spec.domainname.data(), spec.domainname.size()) < 0)
    return sys_error("setdomainname", spec.domainname);
  return ok();
}

Status set_oom_score_adj(const oci::Process& p) {
  if (!p.oom_score_adj) return ok();
  return write_file("/proc/self/oom_score_adj", std::to_string(*p.oom_score_adj));
}

// user, groups, capabilities, no_new_privileges, seccomp: the last steps before execve.
Status finalize_process(const InitConfig& cfg) {
  const oci::Process& p = *cfg.process;
  bool nnp = p.no_new_privileges;
  if (!cfg.seccomp_bpf.empty() && !nnp)
    TRY(security::load_seccomp(cfg.seccomp_bpf, cfg.seccomp_flags));
  if (cfg.has_caps) TRY(security::drop_bounding(cfg.caps.bounding));
  std::vector<gid_t> groups(p.user.additional_gids.begin(), p.user.additional_gids.end());
  if (::setgroups(groups.size(), groups.data()) < 0 && errno != EPERM)
    return sys_error("setgroups", "process.user.additionalGids");
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) return sys_error("prctl", "PR_SET_KEEPCAPS");
  if (::setresgid(p.user.gid, p.user.gid, p.user.gid) < 0)
    return sys_error("setresgid",
                     std::to_string(p.user.gid) + " (is it mapped in the user namespace?)");
  if (::setresuid(p.user.uid, p.user.uid, p.user.uid) < 0)
    return sys_error("setresuid",
                     std::to_string(p.user.uid) + " (is it mapped in the user namespace?)");
  if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) return sys_error("prctl", "PR_SET_KEEPCAPS");
  if (cfg.has_caps) TRY(security::apply_caps(cfg.caps));
  if (p.user.umask) ::umask(*p.user.umask);
  if (::chdir(p.cwd.c_str()) < 0) return sys_error("chdir to process.cwd", p.cwd);
  if (nnp && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return sys_error("prctl", "PR_SET_NO_NEW_PRIVS");
  if (!cfg.seccomp_bpf.empty() && nnp)
    TRY(security::load_seccomp(cfg.seccomp_bpf, cfg.seccomp_flags));
  return ok();
}

Status wait_for_start(const InitConfig& cfg, const sys::SyncSocket& s) {
  if (!cfg.wait_for_start) return ok();
  if (cfg.fifo_fd < 0) return expect_continue(s);
  // Blocks until `start` opens the fifo for reading.
  std::string path = "/proc/self/fd/" + std::to_string(cfg.fifo_fd);
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return sys_error("open exec fifo");
  char zero = '0';
  ssize_t n = ::write(fd, &zero, 1);
  ::close(fd);
  if (n != 1) return sys_error("write exec fifo");
  return ok();
}

std::string hook_state(const InitConfig& cfg, int64_t pid, const char* status) {
  oci::State st;
  st.oci_version = cfg.spec->oci_version;
  st.id = cfg.id;
  st.status = status;
  st.pid = static_cast<int>(pid);
  st.bundle = cfg.bundle;
  st.annotations = cfg.spec->annotations;
  return oci::state_to_json(st);
}

Status setup_container(const InitConfig& cfg, const sys::SyncSocket& s, int64_t* host_pid) {
  RootfsContext rc{cfg.spec,
                   cfg.rootfs,
                   cfg.bundle,
                   cfg.new_userns || (!cfg.join.empty() && cfg.join.front().type == "user") ||
                       sys::in_user_namespace(),
                   (cfg.new_ns_flags & CLONE_NEWCGROUP) != 0,
                   cfg.no_pivot};
  if (!(cfg.new_ns_flags & CLONE_NEWNS))
    return Error::invalid(
        "a new mount namespace is required (add {\"type\": \"mount\"} to linux.namespaces)");
  TRY(prepare_rootfs(rc));
  if (cfg.want_hooks_point) {
    if (!sys::send_simple(s, sys::MsgType::kHooksPoint)) return Error(EPIPE, "signal hooks point");
    TRY(expect_continue(s, host_pid));
    TRY(run_create_container_hooks(cfg.spec->hooks.create_container,
                                   hook_state(cfg, *host_pid, "created"), cfg.rootfs));
  }
  TRY(switch_root(rc));
  if (cfg.process->terminal) TRY(setup_terminal(s, true));
  TRY(finish_rootfs(rc));
  TRY(write_sysctls(*cfg.spec));
  TRY(set_names(cfg));
  return ok();
}

void run_stage2(const InitConfig& cfg, const sys::SyncSocket& s) {
  if (cfg.die_with_parent) ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (::setsid() < 0 && !cfg.exec_mode) fail(s, sys_error("setsid"));
  int64_t host_pid = 0;
  if (cfg.exec_mode) {
    if (cfg.process->terminal) CHILD_TRY(s, setup_terminal(s, false));
  } else {
    CHILD_TRY(s, setup_container(cfg, s, &host_pid));
  }
  const oci::Process& p = *cfg.process;
  if (p.terminal) CHILD_TRY(s, set_console_size(p));
  CHILD_TRY(s, set_oom_score_adj(p));
  CHILD_TRY(s, security::apply_rlimits(p.rlimits));
  auto exe = find_executable(p);
  if (!exe) {
    int status = exe.error().code() == ENOENT ? 127 : 126;
    sys::Msg m;
    m.type = sys::MsgType::kExecFailed;
    m.value = status;
    m.err = exe.error().code();
    snprintf(m.detail, sizeof m.detail, "%s", exe.error().object().c_str());
    s.send(m);
    _exit(status);
  }
  if (!sys::send_simple(s, sys::MsgType::kReady)) _exit(1);
  // Only create + start (the fifo gate) has nobody listening after ready; run and exec
  // read the error from the socket and print it themselves.
  g_after_ready = cfg.fifo_fd >= 0;
  CHILD_TRY(s, wait_for_start(cfg, s));
  if (!cfg.exec_mode)
    CHILD_TRY(s, run_hooks(cfg.spec->hooks.start_container, hook_state(cfg, host_pid, "running"),
                           "startContainer"));
  CHILD_TRY(s, finalize_process(cfg));
  std::vector<char*> argv, envp;
  for (const auto& a : p.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : p.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  ::execve(exe->c_str(), argv.data(), envp.data());
  fail(s, sys_error("exec", p.args.front()));
}

}  // namespace
}  // namespace berth::runtime
