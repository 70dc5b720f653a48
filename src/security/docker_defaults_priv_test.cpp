// docker_defaults_priv_test.cpp - runs processes under docker's default seccomp profile as
// berth compiles it for this machine (root: loading a filter is harmless, but the test keeps
// to the way the container init does it: no_new_privs, then the filter).
//
// Every filter is loaded in a forked child, which reports one line over a pipe and _exits;
// the test process keeps no filter whatever happens.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <string>

#include "security/docker_defaults.h"
#include "security/seccomp.h"

namespace berth::security {
namespace {

#define NEED_ROOT(why) \
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: " << why

struct ChildResult {
  std::string out;
  int status = 0;
};

// Runs fn in a forked child that reports `out` over a pipe; the parent always reaps it.
ChildResult run_in_child(const std::function<int(std::string& out)>& fn) {
  ChildResult r;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) < 0) return {"pipe2 failed", -1};
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return {"fork failed", -1};
  }
  if (pid == 0) {
    ::close(fds[0]);
    std::string out;
    int code = fn(out);
    for (size_t done = 0; done < out.size();) {
      ssize_t n = ::write(fds[1], out.data() + done, out.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    ::_exit(code);
  }
  ::close(fds[1]);
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) r.out.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  while (::waitpid(pid, &r.status, 0) < 0 && errno == EINTR) {
  }
  return r;
}

bool exited_ok(const ChildResult& r) {
  return WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0;
}

// "ok" or the errno a raw syscall result left.
std::string result_of(long rc) {
  return rc < 0 ? std::to_string(errno) : "ok";
}

// Compiles docker's default profile for `caps` and this machine.
std::string default_bpf(const std::vector<std::string>& caps) {
  auto profile = docker_default_seccomp(caps);
  EXPECT_TRUE(profile.ok()) << profile.error().trail();
  if (!profile.ok()) return {};
  auto bpf = compile_seccomp(*profile);
  EXPECT_TRUE(bpf.ok()) << bpf.error().message();
  return bpf.ok() ? *bpf : std::string();
}

// In the child: no_new_privs and the filter; false (with `out` set) when that fails.
bool enter_filter(const std::string& bpf, std::string& out) {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
    out = "prctl(PR_SET_NO_NEW_PRIVS) failed";
    return false;
  }
  Status s = load_seccomp(bpf, {});
  if (!s.ok()) out = s.error().message();
  return s.ok();
}

// fork() works under the filter (glibc forks with clone, no namespace flags).
std::string fork_result() {
  pid_t pid = ::fork();
  if (pid < 0) return std::to_string(errno);
  if (pid == 0) ::_exit(7);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 7 ? "ok" : "bad-status";
}

std::string socket_result(int family) {
  int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno == EPERM ? "EPERM" : "other";  // AF_VSOCK may be missing: EAFNOSUPPORT
  ::close(fd);
  return "ok";
}

TEST(DockerSeccompPriv, DefaultProfileDeniesWhatDockerDenies) {
  NEED_ROOT("loads docker's default seccomp filter in a child");
  std::string bpf = default_bpf(docker_default_capabilities());
  ASSERT_FALSE(bpf.empty());
  auto r = run_in_child([&](std::string& out) {
    if (!enter_filter(bpf, out)) return 1;
    out += "getpid=" + result_of(::syscall(SYS_getpid));
    out += " add_key=" + result_of(::syscall(SYS_add_key, "user", "berth-test", "x", 1, -2));
    out += " keyctl=" + result_of(::syscall(SYS_keyctl, 0 /*KEYCTL_GET_KEYRING_ID*/, -2, 0));
    out += " unshare=" + result_of(::unshare(CLONE_NEWUSER));
    out += " setns=" + result_of(::setns(-1, 0));
#ifdef SYS_clone3
    out += " clone3=" + result_of(::syscall(SYS_clone3, nullptr, 0));
#endif
    out += " fork=" + fork_result();
    out += " unix=" + socket_result(AF_UNIX);
    out += " vsock=" + socket_result(AF_VSOCK);
    out += " personality_query=" + result_of(::syscall(SYS_personality, 0xffffffffUL));
    return 0;
  });
  ASSERT_TRUE(exited_ok(r)) << r.out;
  std::string eperm = std::to_string(EPERM);
  std::string want =
      "getpid=ok add_key=" + eperm + " keyctl=" + eperm + " unshare=" + eperm + " setns=" + eperm;
#ifdef SYS_clone3
  want += " clone3=" + std::to_string(ENOSYS);
#endif
  want += " fork=ok unix=ok vsock=EPERM personality_query=ok";
  EXPECT_EQ(r.out, want);
}

TEST(DockerSeccompPriv, SysAdminOpensNamespaceCalls) {
  NEED_ROOT("loads docker's default seccomp filter in a child");
  auto caps = docker_default_capabilities();
  caps.push_back("CAP_SYS_ADMIN");
  std::string bpf = default_bpf(caps);
  ASSERT_FALSE(bpf.empty());
  auto r = run_in_child([&](std::string& out) {
    if (!enter_filter(bpf, out)) return 1;
    out += "unshare0=" + result_of(::unshare(0));
    out += " setns=" + result_of(::setns(-1, 0));  // reaches the kernel: EBADF
    out += " add_key=" + result_of(::syscall(SYS_add_key, "user", "berth-test", "x", 1, -2));
    return 0;
  });
  ASSERT_TRUE(exited_ok(r)) << r.out;
  EXPECT_EQ(r.out,
            "unshare0=ok setns=" + std::to_string(EBADF) + " add_key=" + std::to_string(EPERM));
}

}  // namespace
}  // namespace berth::security
