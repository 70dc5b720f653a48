// security_priv_test.cpp - loads filters, applies capabilities and rlimits for real (root).
//
// Every change happens in a forked child, which reports one line of text over a pipe and
// _exits; the parent reaps it and checks the line, so the test process keeps its own
// filters, capabilities and limits whatever happens.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <functional>
#include <string>

#include "base/file.h"
#include "security/caps.h"
#include "security/rlimit.h"
#include "security/seccomp.h"

namespace berth::security {
namespace {

#define NEED_ROOT(why) \
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: " << why

struct ChildResult {
  std::string out;  // what the child reported
  int status = 0;   // from waitpid
};

// Runs fn in a forked child; fn fills `out` and returns the exit code. The child always
// _exits and the parent always reaps it.
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

// The hex value of a "CapEff:\t000..." line of /proc/self/status.
uint64_t status_caps(const std::string& status, const std::string& field) {
  size_t at = status.find(field + ":\t");
  if (at == std::string::npos) return ~uint64_t{0};
  return std::strtoull(status.c_str() + at + field.size() + 2, nullptr, 16);
}

std::string errno_of(long rc) {
  return rc < 0 ? std::to_string(errno) : "ok";
}

// --- seccomp ---

oci::SeccompSyscall rule(std::vector<std::string> names, std::string action,
                         std::optional<uint32_t> errno_ret = std::nullopt,
                         std::vector<oci::SeccompArg> args = {}) {
  oci::SeccompSyscall s;
  s.names = std::move(names);
  s.action = std::move(action);
  s.errno_ret = errno_ret;
  s.args = std::move(args);
  return s;
}

// Sets no_new_privs and loads bpf; "" on success, else the error.
std::string enter_filter(const std::string& bpf, const std::vector<std::string>& flags) {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return "prctl(PR_SET_NO_NEW_PRIVS) failed";
  Status s = load_seccomp(bpf, flags);
  return s.ok() ? "" : s.error().message();
}

TEST(SeccompPriv, ErrnoActionsAndArgumentMatch) {
  NEED_ROOT("loads a seccomp filter in a child, checked like the container init does it");
  oci::Seccomp p;
  p.default_action = "SCMP_ACT_ALLOW";
  p.flags = {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG"};
  p.syscalls.push_back(rule({"mkdir", "mkdirat"}, "SCMP_ACT_ERRNO"));
  p.syscalls.push_back(rule({"getpid"}, "SCMP_ACT_ERRNO", 42));
  p.syscalls.push_back(
      rule({"umask"}, "SCMP_ACT_ERRNO", EACCES, {{0, 0700, 0700, "SCMP_CMP_MASKED_EQ"}}));
  auto bpf = compile_seccomp(p);
  ASSERT_TRUE(bpf.ok()) << bpf.error().message();
  auto r = run_in_child([&](std::string& out) {
    out = enter_filter(*bpf, p.flags);
    if (!out.empty()) return 1;
    out += "mkdir=" + errno_of(::mkdir("/tmp/berth-seccomp-test-dir", 0700));
    out += " getpid=" + errno_of(::syscall(SYS_getpid));
    out += " umask0777=" + errno_of(::syscall(SYS_umask, 0777));
    out += " umask0022=" + errno_of(::syscall(SYS_umask, 0022));
    return 0;
  });
  ::rmdir("/tmp/berth-seccomp-test-dir");  // only there if the filter failed
  ASSERT_TRUE(exited_ok(r)) << r.out;
  EXPECT_EQ(r.out, "mkdir=" + std::to_string(EPERM) +
                       " getpid=42 umask0777=" + std::to_string(EACCES) + " umask0022=ok");
}

TEST(SeccompPriv, KillProcessAction) {
  NEED_ROOT("loads a seccomp filter in a child");
  oci::Seccomp p;
  p.default_action = "SCMP_ACT_ALLOW";
  p.syscalls.push_back(rule({"getppid"}, "SCMP_ACT_KILL_PROCESS"));
  auto bpf = compile_seccomp(p);
  ASSERT_TRUE(bpf.ok()) << bpf.error().message();
  auto r = run_in_child([&](std::string& out) {
    out = enter_filter(*bpf, {});
    if (!out.empty()) return 1;
    ::syscall(SYS_getppid);
    return 0;
  });
  ASSERT_TRUE(WIFSIGNALED(r.status)) << "status " << r.status << " " << r.out;
  EXPECT_EQ(WTERMSIG(r.status), SIGSYS);
}

std::vector<std::string> native_syscall_names() {
  std::vector<std::string> names;
  for (int nr = 0; nr < 512; nr++) {
    char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
    if (name == nullptr) continue;
    if (std::string(name) != "getppid") names.emplace_back(name);
    std::free(name);
  }
  return names;
}

TEST(SeccompPriv, CachedDockerLikeAllowList) {
  NEED_ROOT("loads a seccomp filter in a child");
  oci::Seccomp p;
  p.default_action = "SCMP_ACT_ERRNO";
  p.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
  p.syscalls.push_back(rule(native_syscall_names(), "SCMP_ACT_ALLOW"));
  auto dir = TempDir::create();
  ASSERT_TRUE(dir.ok());
  ASSERT_TRUE(compile_seccomp_cached(p, dir->path()).ok());
  auto bpf = compile_seccomp_cached(p, dir->path());  // the cache hit is what gets loaded
  ASSERT_TRUE(bpf.ok()) << bpf.error().message();
  auto r = run_in_child([&](std::string& out) {
    out = enter_filter(*bpf, {});
    if (!out.empty()) return 1;
    out += "getppid=" + errno_of(::syscall(SYS_getppid));
    out += " getpid=" + errno_of(::syscall(SYS_getpid));
    return 0;
  });
  ASSERT_TRUE(exited_ok(r)) << r.out;
  EXPECT_EQ(r.out, "getppid=" + std::to_string(EPERM) + " getpid=ok");
}

// --- capabilities ---

constexpr uint64_t bit(int cap) {
  return uint64_t{1} << cap;
}

// Reports CapBnd/CapEff/CapPrm/CapInh/CapAmb of the child after its steps.
std::string caps_report() {
  auto st = read_file("/proc/self/status");
  if (!st.ok()) return st.error().message();
  std::string out;
  for (const char* f : {"CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb"}) {
    out += std::string(f) + "=" + caps_to_string(status_caps(*st, f)) + " ";
  }
  return out;
}

CapSets small_sets() {
  CapSets s;
  s.bounding = bit(CAP_CHOWN) | bit(CAP_KILL) | bit(CAP_NET_BIND_SERVICE) | bit(CAP_SETPCAP);
  s.effective = bit(CAP_CHOWN) | bit(CAP_KILL);
  s.permitted = bit(CAP_CHOWN) | bit(CAP_KILL) | bit(CAP_NET_BIND_SERVICE);
  s.inheritable = bit(CAP_NET_BIND_SERVICE);
  s.ambient = bit(CAP_NET_BIND_SERVICE);
  return s;
}

const char* kSmallReport =
    "CapBnd=CAP_CHOWN,CAP_KILL,CAP_SETPCAP,CAP_NET_BIND_SERVICE CapEff=CAP_CHOWN,CAP_KILL "
    "CapPrm=CAP_CHOWN,CAP_KILL,CAP_NET_BIND_SERVICE CapInh=CAP_NET_BIND_SERVICE "
    "CapAmb=CAP_NET_BIND_SERVICE ";

TEST(CapsPriv, ApplyAsRoot) {
  NEED_ROOT("drops capabilities from the bounding set in a child");
  CapSets s = small_sets();
  s.bounding |= bit(63);  // a cap this kernel does not know is left out, not an error
  s.permitted |= bit(63);
  auto r = run_in_child([&](std::string& out) {
    Status st = apply_caps(s);
    out = st.ok() ? caps_report() : st.error().trail();
    return st.ok() ? 0 : 1;
  });
  ASSERT_TRUE(exited_ok(r)) << r.out;
  EXPECT_EQ(r.out, kSmallReport);
}

TEST(CapsPriv, DropBoundingThenSetuidThenApply) {
  NEED_ROOT("changes uid and capabilities in a child");
  CapSets s = small_sets();
  auto r = run_in_child([&](std::string& out) {
    Status st = drop_bounding(s.bounding);
    if (!st.ok()) return out = "drop: " + st.error().message(), 1;
    if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) return out = "keepcaps", 1;
    if (::setresgid(65534, 65534, 65534) < 0 || ::setresuid(65534, 65534, 65534) < 0) {
      return out = "setresuid failed", 1;
    }
    st = apply_caps(s);
    out = st.ok() ? caps_report() + "uid=" + std::to_string(::geteuid()) : st.error().trail();
    return st.ok() ? 0 : 1;
  });
  ASSERT_TRUE(exited_ok(r)) << r.out;
  EXPECT_EQ(r.out, std::string(kSmallReport) + "uid=65534");
}

TEST(CapsPriv, AmbientNeedsInheritable) {
  NEED_ROOT("changes capabilities in a child");
  CapSets s = small_sets();
  s.ambient |= bit(CAP_KILL);  // permitted but not inheritable
  auto r = run_in_child([&](std::string& out) {
    Status st = apply_caps(s);
    out = st.ok() ? "applied" : st.error().message();
    return 0;
  });
  ASSERT_TRUE(exited_ok(r)) << r.out;
  EXPECT_EQ(r.out, "raise ambient capability CAP_KILL: Operation not permitted");
}

// --- rlimits ---

TEST(RlimitPriv, LowerNofile) {
  NEED_ROOT("kept with the other process-attribute tests; runs in a child");
  auto r = run_in_child([&](std::string& out) {
    Status st = apply_rlimits({{"RLIMIT_NOFILE", 512, 256}, {"RLIMIT_CORE", 0, 0}});
    if (!st.ok()) return out = st.error().message(), 1;
    struct rlimit lim {};
    ::getrlimit(RLIMIT_NOFILE, &lim);
    out = std::to_string(lim.rlim_cur) + "/" + std::to_string(lim.rlim_max);
    return 0;
  });
  ASSERT_TRUE(exited_ok(r)) << r.out;
  EXPECT_EQ(r.out, "256/512");
}

TEST(RlimitPriv, RaiseAboveHardExplainsWhy) {
  NEED_ROOT("drops CAP_SYS_RESOURCE in a child so raising a hard limit must fail");
  auto r = run_in_child([&](std::string& out) {
    Status st = apply_rlimits({{"RLIMIT_NOFILE", 1000, 1000}});
    if (!st.ok()) return out = st.error().message(), 1;
    auto status = read_file("/proc/self/status");
    if (!status.ok()) return out = status.error().message(), 1;
    uint64_t off = ~bit(CAP_SYS_RESOURCE);
    CapSets s{status_caps(*status, "CapBnd") & off, status_caps(*status, "CapEff") & off, 0,
              status_caps(*status, "CapPrm") & off, 0};
    st = apply_caps(s);
    if (!st.ok()) return out = st.error().trail(), 1;
    st = apply_rlimits({{"RLIMIT_NOFILE", 1048576, 1048576}});
    out = st.ok() ? "raised" : st.error().message();
    return 0;
  });
  ASSERT_TRUE(exited_ok(r)) << r.out;
  EXPECT_EQ(r.out,
            "setrlimit RLIMIT_NOFILE to 1048576/1048576: Operation not permitted (the hard limit "
            "here is 1000 and raising it needs CAP_SYS_RESOURCE)");
}

}  // namespace
}  // namespace berth::security
