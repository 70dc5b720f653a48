#include "runtime/hooks.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <ctime>

#include "base/fd.h"
#include "gpu/hook.h"
#include "sys/process.h"

namespace berth::runtime {
namespace {

std::vector<char*> to_argv(const std::vector<std::string>& v) {
  std::vector<char*> out;
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

Status feed_state(int fd, const std::string& state) {
  size_t off = 0;
  while (off < state.size()) {
    ssize_t n = ::write(fd, state.data() + off, state.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return errno == EPIPE ? ok() : sys_error("write state to hook");  // hook may ignore stdin
    off += static_cast<size_t>(n);
  }
  return ok();
}

// Waits for pid; kills it after timeout_s seconds (0 = no limit). Returns the wait status.
Result<int> wait_with_timeout(pid_t pid, int timeout_s, bool* timed_out) {
  *timed_out = false;
  int pfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pfd < 0) return sys::wait_for(pid);
  UniqueFd owned(pfd);
  struct pollfd p = {pfd, POLLIN, 0};
  int r;
  do {
    r = ::poll(&p, 1, timeout_s > 0 ? timeout_s * 1000 : -1);
  } while (r < 0 && errno == EINTR);
  if (r == 0) {
    *timed_out = true;
    ::kill(pid, SIGKILL);
  }
  return sys::wait_for(pid);
}

}  // namespace

Status run_hook(const oci::Hook& hook, const std::string& state_json, const char* kind) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) < 0) return sys_error("pipe for hook", hook.path);
  UniqueFd rd(pipefd[0]), wr(pipefd[1]);
  std::vector<std::string> args =
      hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
  auto argv = to_argv(args);
  auto envp = to_argv(hook.env);
  pid_t pid = ::fork();
  if (pid < 0) return sys_error("fork hook", hook.path);
  if (pid == 0) {
    ::dup2(rd.get(), 0);
    sigset_t none;  // the runtime may be blocking signals it forwards
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::execve(hook.path.c_str(), argv.data(), envp.data());
    _exit(errno == ENOENT ? 127 : 126);
  }
  rd.reset();
  Status fed = feed_state(wr.get(), state_json);
  wr.reset();
  bool timed_out = false;
  int ws = TRY(wait_with_timeout(pid, hook.timeout.value_or(0), &timed_out));
  std::string what = std::string(kind) + " hook " + hook.path;
  if (timed_out)
    return Error(ETIMEDOUT, what, "timed out after " + std::to_string(*hook.timeout) + "s");
  if (ws != 0) {
    int st = sys::exit_status_of(ws);
    if (st == 127) return Error(ENOENT, what, "could not be executed");
    return Error::invalid(what + " failed with exit status " + std::to_string(st));
  }
  return fed;
}

Status run_hooks(const std::vector<oci::Hook>& hooks, const std::string& state_json,
                 const char* kind) {
  for (const auto& h : hooks) TRY(run_hook(h, state_json, kind));
  return ok();
}

bool is_own_gpu_hook(const oci::Hook& hook) {
  if (hook.args.size() < 2 || hook.args[1] != "gpu-hook") return false;
  auto ours = sys::sibling_exe("berth-runtime");
  struct stat a, b;
  return ours && ::stat(hook.path.c_str(), &a) == 0 && ::stat(ours->c_str(), &b) == 0 &&
         a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

Status run_create_container_hooks(const std::vector<oci::Hook>& hooks,
                                  const std::string& state_json, const std::string& rootfs) {
  for (const auto& h : hooks) {
    if (!is_own_gpu_hook(h)) {
      TRY(run_hook(h, state_json, "createContainer"));
      continue;
    }
    std::string what = "createContainer hook " + h.path + " gpu-hook";
    auto req = gpu::parse_hook_args({h.args.begin() + 2, h.args.end()});
    if (!req) return std::move(req).error().context(what);
    Status st = gpu::run_gpu_hook(*req, rootfs);
    if (!st) return std::move(st).error().context(what);
  }
  return ok();
}

}  // namespace berth::runtime
