// security_test.cpp - names, set resolution, seccomp compilation and its cache (no root).
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <seccomp.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/file.h"
#include "security/caps.h"
#include "security/rlimit.h"
#include "security/seccomp.h"

namespace berth::security {
namespace {

// --- capabilities ---

TEST(Caps, NameTableMatchesKernelHeaders) {
  struct {
    const char* name;
    int value;
  } cases[] = {{"CAP_CHOWN", CAP_CHOWN},
               {"CAP_SETPCAP", CAP_SETPCAP},
               {"CAP_NET_ADMIN", CAP_NET_ADMIN},
               {"CAP_SYS_ADMIN", CAP_SYS_ADMIN},
               {"CAP_SYS_RESOURCE", CAP_SYS_RESOURCE},
               {"CAP_AUDIT_READ", CAP_AUDIT_READ},
               {"CAP_PERFMON", 38},
               {"CAP_BPF", 39},
               {"CAP_CHECKPOINT_RESTORE", 40}};
  for (const auto& c : cases) {
    auto r = cap_from_name(c.name);
    ASSERT_TRUE(r.ok()) << c.name;
    EXPECT_EQ(*r, c.value) << c.name;
  }
  for (int i = 0; i <= kCapMax; i++) {
    ASSERT_NE(cap_name(i), nullptr) << i;
    EXPECT_EQ(cap_from_name(cap_name(i)).value(), i);
  }
  EXPECT_EQ(cap_name(kCapMax + 1), nullptr);
}

TEST(Caps, UnknownNameIsNamed) {
  auto r = cap_from_name("CAP_FOO");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "unknown capability \"CAP_FOO\"");
  EXPECT_FALSE(cap_from_name("cap_chown").ok());  // names are exact, as in the spec
}

TEST(Caps, ResolveSets) {
  oci::Capabilities c;
  c.bounding = {"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  c.effective = {"CAP_KILL"};
  c.permitted = {"CAP_KILL", "CAP_CHOWN"};
  c.inheritable = {};
  c.ambient = {"CAP_CHECKPOINT_RESTORE"};
  auto s = resolve_caps(c);
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ(s->bounding, (1ull << CAP_CHOWN) | (1ull << CAP_KILL) | (1ull << CAP_NET_BIND_SERVICE));
  EXPECT_EQ(s->effective, 1ull << CAP_KILL);
  EXPECT_EQ(s->permitted, (1ull << CAP_KILL) | (1ull << CAP_CHOWN));
  EXPECT_EQ(s->inheritable, 0u);
  EXPECT_EQ(s->ambient, 1ull << 40);
}

TEST(Caps, ResolveErrorNamesField) {
  oci::Capabilities c;
  c.permitted = {"CAP_KILL", "CAP_CHOWN", "CAP_FOO"};
  auto s = resolve_caps(c);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(), "capabilities.permitted[2]: unknown capability \"CAP_FOO\"");
}

TEST(Caps, ToString) {
  EXPECT_EQ(caps_to_string(0), "");
  EXPECT_EQ(caps_to_string((1ull << CAP_CHOWN) | (1ull << CAP_KILL)), "CAP_CHOWN,CAP_KILL");
  EXPECT_EQ(caps_to_string(1ull << 41), "CAP_41");
}

TEST(Caps, KernelLastCapMatchesProc) {
  auto text = read_file("/proc/sys/kernel/cap_last_cap");
  if (!text.ok()) GTEST_SKIP() << "no /proc/sys/kernel/cap_last_cap: " << text.error().message();
  EXPECT_EQ(kernel_cap_last_cap(), std::atoi(text->c_str()));
  EXPECT_EQ(kernel_cap_mask(), (1ull << (kernel_cap_last_cap() + 1)) - 1);
}

// --- rlimits ---

TEST(Rlimit, NameTable) {
  struct {
    const char* name;
    int value;
  } cases[] = {{"RLIMIT_AS", RLIMIT_AS},
               {"RLIMIT_CORE", RLIMIT_CORE},
               {"RLIMIT_CPU", RLIMIT_CPU},
               {"RLIMIT_DATA", RLIMIT_DATA},
               {"RLIMIT_FSIZE", RLIMIT_FSIZE},
               {"RLIMIT_LOCKS", RLIMIT_LOCKS},
               {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
               {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
               {"RLIMIT_NICE", RLIMIT_NICE},
               {"RLIMIT_NOFILE", RLIMIT_NOFILE},
               {"RLIMIT_NPROC", RLIMIT_NPROC},
               {"RLIMIT_RSS", RLIMIT_RSS},
               {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
               {"RLIMIT_RTTIME", RLIMIT_RTTIME},
               {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
               {"RLIMIT_STACK", RLIMIT_STACK}};
  for (const auto& c : cases) EXPECT_EQ(rlimit_from_name(c.name).value(), c.value) << c.name;
  auto bad = rlimit_from_name("RLIMIT_FOO");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(), "unknown rlimit \"RLIMIT_FOO\"");
}

TEST(Rlimit, ValidateNamesEntry) {
  std::vector<oci::Rlimit> limits = {{"RLIMIT_NOFILE", 1024, 1024}, {"RLIMIT_NPROC", 10, 20}};
  auto s = validate_rlimits(limits);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(), "rlimits[1]: RLIMIT_NPROC soft limit 20 exceeds hard limit 10");
  limits[1] = {"RLIMIT_BOGUS", 1, 1};
  EXPECT_EQ(validate_rlimits(limits).error().message(),
            "rlimits[1]: unknown rlimit \"RLIMIT_BOGUS\"");
  EXPECT_TRUE(apply_rlimits({}).ok());
}

// --- seccomp ---

oci::SeccompSyscall rule(std::vector<std::string> names, std::string action,
                         std::vector<oci::SeccompArg> args = {}) {
  oci::SeccompSyscall s;
  s.names = std::move(names);
  s.action = std::move(action);
  s.args = std::move(args);
  return s;
}

oci::Seccomp small_profile() {
  oci::Seccomp p;
  p.default_action = "SCMP_ACT_ALLOW";
  p.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64"};
  p.syscalls.push_back(rule({"mkdir", "mkdirat"}, "SCMP_ACT_ERRNO"));
  p.syscalls.push_back(rule({"getppid"}, "SCMP_ACT_KILL_PROCESS"));
  p.syscalls.push_back(rule({"umask"}, "SCMP_ACT_ERRNO", {{0, 0700, 0700, "SCMP_CMP_MASKED_EQ"}}));
  return p;
}

// Every syscall name of the native arch, like docker's default allow-list (~350 names).
std::vector<std::string> native_syscall_names() {
  std::vector<std::string> names;
  for (int nr = 0; nr < 512; nr++) {
    char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
    if (name == nullptr) continue;
    names.emplace_back(name);
    std::free(name);
  }
  return names;
}

oci::Seccomp docker_like_profile() {
  oci::Seccomp p;
  p.default_action = "SCMP_ACT_ERRNO";
  p.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
  std::vector<std::string> names = native_syscall_names();
  // docker lists names of other arches and multiplexed ones too
  for (const char* n :
       {"_llseek", "socketcall", "ipc", "send", "recv", "chown32", "waitpid", "arm_fadvise64_64",
        "breakpoint", "set_tls", "s390_pci_mmio_read", "ugetrlimit", "no_such_syscall"}) {
    names.push_back(n);
  }
  p.syscalls.push_back(rule(names, "SCMP_ACT_ALLOW"));
  p.syscalls.push_back(
      rule({"personality"}, "SCMP_ACT_ALLOW", {{0, 0xffffffff, 0, "SCMP_CMP_EQ"}}));
  p.syscalls.push_back(
      rule({"clone"}, "SCMP_ACT_ALLOW", {{0, 0x7e020000, 0, "SCMP_CMP_MASKED_EQ"}}));
  return p;
}

size_t instructions(const std::string& bpf) {
  return bpf.size() / sizeof(sock_filter);
}

TEST(Seccomp, CompilesSmallProfile) {
  auto bpf = compile_seccomp(small_profile());
  ASSERT_TRUE(bpf.ok()) << bpf.error().message();
  ASSERT_FALSE(bpf->empty());
  EXPECT_EQ(bpf->size() % sizeof(sock_filter), 0u);
  sock_filter first;
  std::memcpy(&first, bpf->data(), sizeof first);
  EXPECT_EQ(first.code, BPF_LD | BPF_W | BPF_ABS);  // loads seccomp_data.arch
  EXPECT_EQ(first.k, 4u);
}

TEST(Seccomp, CompilesBigAllowList) {
  oci::Seccomp p = docker_like_profile();
  ASSERT_GT(p.syscalls[0].names.size(), 300u);
  auto bpf = compile_seccomp(p);
  ASSERT_TRUE(bpf.ok()) << bpf.error().message();
  EXPECT_GT(instructions(*bpf), 300u);
  EXPECT_LE(instructions(*bpf), static_cast<size_t>(BPF_MAXINSNS));
}

TEST(Seccomp, NativeArchOnlyProfile) {
  oci::Seccomp p = docker_like_profile();
  p.architectures.clear();
  auto bpf = compile_seccomp(p);
  ASSERT_TRUE(bpf.ok()) << bpf.error().message();
  EXPECT_LT(instructions(*bpf), instructions(compile_seccomp(docker_like_profile()).value()));
}

TEST(Seccomp, ErrorsNameTheField) {
  struct {
    const char* what;
    void (*edit)(oci::Seccomp&);
    const char* message;
  } cases[] = {
      {"action", [](oci::Seccomp& p) { p.syscalls[1].action = "SCMP_ACT_FOO"; },
       "seccomp: syscalls[1]: unknown action \"SCMP_ACT_FOO\""},
      {"default", [](oci::Seccomp& p) { p.default_action = "ALLOW"; },
       "seccomp: defaultAction: unknown action \"ALLOW\""},
      {"op", [](oci::Seccomp& p) { p.syscalls[2].args[0].op = "SCMP_CMP_FOO"; },
       "seccomp: syscalls[2]: unknown operator \"SCMP_CMP_FOO\""},
      {"index", [](oci::Seccomp& p) { p.syscalls[2].args[0].index = 6; },
       "seccomp: syscalls[2]: argument index out of range (0-5): 6"},
      {"arch", [](oci::Seccomp& p) { p.architectures[1] = "SCMP_ARCH_VAX"; },
       "seccomp: architectures[1]: unknown architecture \"SCMP_ARCH_VAX\""},
      {"flag",
       [](oci::Seccomp& p) {
         p.flags = {"SECCOMP_FILTER_FLAG_LOG", "FLAG_X"};
       },
       "seccomp: flags[1]: unknown flag \"FLAG_X\""},
      {"errnoRet", [](oci::Seccomp& p) { p.syscalls[1].errno_ret = 1; },
       "seccomp: syscalls[1]: errnoRet is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE"},
      {"names", [](oci::Seccomp& p) { p.syscalls[0].names.clear(); },
       "seccomp: syscalls[0]: names is empty"},
  };
  for (const auto& c : cases) {
    oci::Seccomp p = small_profile();
    c.edit(p);
    auto r = compile_seccomp(p);
    ASSERT_FALSE(r.ok()) << c.what;
    EXPECT_EQ(r.error().message(), c.message) << c.what;
  }
}

TEST(Seccomp, NotifyIsUnsupported) {
  oci::Seccomp p = small_profile();
  p.syscalls[0].action = "SCMP_ACT_NOTIFY";
  auto r = compile_seccomp(p);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ENOTSUP);
  EXPECT_NE(r.error().message().find("SCMP_ACT_NOTIFY"), std::string::npos);
}

TEST(Seccomp, UnknownNamesAndDefaultActionRulesAreSkipped) {
  oci::Seccomp base = small_profile();
  auto want = compile_seccomp(base);
  ASSERT_TRUE(want.ok());
  oci::Seccomp p = base;
  p.syscalls.push_back(rule({"no_such_syscall", "arm_fadvise64_64"}, "SCMP_ACT_TRAP"));
  p.syscalls.push_back(rule({"getpid", "read"}, "SCMP_ACT_ALLOW"));  // same as the default
  p.syscalls[0].names.push_back("bogus_name");
  auto got = compile_seccomp(p);
  ASSERT_TRUE(got.ok()) << got.error().message();
  EXPECT_EQ(*got, *want);
}

TEST(Seccomp, ErrnoRetChangesTheProgram) {
  oci::Seccomp p = small_profile();
  auto eperm = compile_seccomp(p).value();
  p.syscalls[0].errno_ret = EPERM;
  EXPECT_EQ(compile_seccomp(p).value(), eperm);  // EPERM is the default errnoRet
  p.syscalls[0].errno_ret = 42;
  EXPECT_NE(compile_seccomp(p).value(), eperm);
}

TEST(Seccomp, RepeatedArgumentIndexCompiles) {
  oci::Seccomp p = small_profile();
  p.syscalls.push_back(
      rule({"socket"}, "SCMP_ACT_ERRNO", {{0, 16, 0, "SCMP_CMP_EQ"}, {0, 17, 0, "SCMP_CMP_EQ"}}));
  auto r = compile_seccomp(p);
  EXPECT_TRUE(r.ok()) << r.error().message();
}

TEST(Seccomp, FilterFlags) {
  EXPECT_EQ(seccomp_filter_flags({}).value(), 0u);
  EXPECT_EQ(seccomp_filter_flags({"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                                  "SECCOMP_FILTER_FLAG_SPEC_ALLOW"})
                .value(),
            7u);
  EXPECT_FALSE(seccomp_filter_flags({"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"}).ok());
  auto s = load_seccomp("12345678", {"SECCOMP_FILTER_FLAG_BOGUS"});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(), "seccomp: flags[0]: unknown flag \"SECCOMP_FILTER_FLAG_BOGUS\"");
  EXPECT_EQ(load_seccomp_raw("", 0), EINVAL);
  EXPECT_EQ(load_seccomp_raw("1234567", 0), EINVAL);
}

// --- seccomp cache ---

double millis_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

TEST(SeccompCache, HitReturnsIdenticalBytes) {
  auto dir = TempDir::create();
  ASSERT_TRUE(dir.ok());
  std::string cache = dir->path() + "/seccomp";
  oci::Seccomp p = docker_like_profile();
  auto t0 = std::chrono::steady_clock::now();
  auto miss = compile_seccomp_cached(p, cache);
  double miss_ms = millis_since(t0);
  ASSERT_TRUE(miss.ok()) << miss.error().message();
  std::string file = cache + "/" + seccomp_cache_key(p) + ".bpf";
  ASSERT_TRUE(path_exists(file));
  t0 = std::chrono::steady_clock::now();
  auto hit = compile_seccomp_cached(p, cache);
  double hit_ms = millis_since(t0);
  ASSERT_TRUE(hit.ok());
  EXPECT_EQ(*hit, *miss);
  EXPECT_EQ(*hit, compile_seccomp(p).value());
  // Timing is reported, not asserted.
  std::printf("[   TIME   ] seccomp %zu names: compile %.3f ms, cache hit %.3f ms\n",
              p.syscalls[0].names.size(), miss_ms, hit_ms);
}

TEST(SeccompCache, KeyCoversEveryField) {
  oci::Seccomp p = small_profile();
  std::string key = seccomp_cache_key(p);
  EXPECT_EQ(key.size(), 16u);
  EXPECT_EQ(seccomp_cache_key(p), key);
  oci::Seccomp q = p;
  q.syscalls[2].args[0].value_two = 0600;
  EXPECT_NE(seccomp_cache_key(q), key);
  q = p;
  q.default_errno_ret = EPERM;  // same program, different input: a different key is fine
  EXPECT_NE(seccomp_cache_key(q), key);
  q = p;
  q.syscalls[0].names = {"mkdirmkdirat"};
  EXPECT_NE(seccomp_cache_key(q), key);
}

TEST(SeccompCache, BadFilesAreRecompiled) {
  auto dir = TempDir::create();
  ASSERT_TRUE(dir.ok());
  oci::Seccomp p = small_profile();
  std::string want = compile_seccomp(p).value();
  std::string file = dir->path() + "/" + seccomp_cache_key(p) + ".bpf";
  ASSERT_TRUE(compile_seccomp_cached(p, dir->path()).ok());
  std::string entry = read_file(file).value();
  ASSERT_GT(entry.size(), want.size());
  EXPECT_EQ(entry.substr(entry.size() - want.size()), want);  // the profile, then the program
  std::string head = entry.substr(0, entry.size() - want.size());
  // Junk, a torn program, and another profile's entry under this name (a hash collision):
  // each is compiled again and the entry rewritten.
  std::string other = head;
  other[other.size() / 2] ^= 1;
  for (std::string junk : {std::string(), std::string("12345"), entry + "x", head + want.substr(1),
                           other + want, std::string(want)}) {
    ASSERT_TRUE(write_file_atomic(file, junk, 0600).ok());
    auto got = compile_seccomp_cached(p, dir->path());
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(*got, want) << "junk of size " << junk.size();
    EXPECT_EQ(read_file(file).value(), entry);  // rewritten
  }
  // A well-formed file that others could have written is not trusted.
  ASSERT_TRUE(write_file_atomic(file, std::string(8, 'x'), 0600).ok());
  ASSERT_EQ(chmod(file.c_str(), 0666), 0);
  EXPECT_EQ(compile_seccomp_cached(p, dir->path()).value(), want);
}

TEST(SeccompCache, EmptyDirMeansNoCache) {
  auto r = compile_seccomp_cached(small_profile(), "");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, compile_seccomp(small_profile()).value());
}

TEST(SeccompCache, UnwritableCacheIsNotAnError) {
  auto r = compile_seccomp_cached(small_profile(), "/proc/berth-no-such-dir");
  EXPECT_TRUE(r.ok()) << r.error().message();
}

}  // namespace
}  // namespace berth::security
