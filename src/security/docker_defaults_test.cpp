// docker_defaults_test.cpp - docker's capability rules, paths, and seccomp profile evaluation.
#include "security/docker_defaults.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "security/seccomp.h"

namespace berth::security {
namespace {

using Caps = std::vector<std::string>;

Caps with(Caps caps, const std::string& extra) {
  caps.push_back(extra);
  return caps;
}

// --- capabilities ---

TEST(DockerCaps, DefaultsAreDockers) {
  Caps want = {"CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
               "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
               "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
               "CAP_KILL",    "CAP_AUDIT_WRITE"};
  EXPECT_EQ(docker_default_capabilities(), want);
}

TEST(DockerCaps, AllIsEveryCapabilityTheKernelHas) {
  Caps all = all_capabilities();
  ASSERT_GE(all.size(), 38u);  // CAP_CHOWN..CAP_AUDIT_READ at least (Linux 3.16)
  EXPECT_EQ(all.front(), "CAP_CHOWN");
  EXPECT_NE(std::find(all.begin(), all.end(), "CAP_SYS_ADMIN"), all.end());
  EXPECT_LE(all.size(), 41u);
}

TEST(DockerCaps, Changes) {
  const Caps base = {"CAP_CHOWN", "CAP_KILL", "CAP_SETUID"};
  Caps all = all_capabilities();
  Caps all_but_admin;
  for (const auto& c : all)
    if (c != "CAP_SYS_ADMIN") all_but_admin.push_back(c);
  struct Case {
    const char* what;
    Caps add, drop, want;
  } cases[] = {
      {"no changes", {}, {}, base},
      {"add, lower case, no prefix", {"net_admin"}, {}, with(base, "CAP_NET_ADMIN")},
      {"add, mixed case with prefix", {"Cap_Sys_Admin"}, {}, with(base, "CAP_SYS_ADMIN")},
      {"drop", {}, {"kill", "CAP_SETUID"}, {"CAP_CHOWN"}},
      {"add what is there", {"CHOWN"}, {}, base},
      {"drop and add back", {"kill"}, {"kill"}, {"CAP_CHOWN", "CAP_SETUID", "CAP_KILL"}},
      {"drop ALL", {}, {"ALL"}, {}},
      {"drop all, add one", {"net_raw"}, {"all"}, {"CAP_NET_RAW"}},
      {"add ALL", {"ALL"}, {}, all},
      {"add ALL, drop one", {"all"}, {"sys_admin"}, all_but_admin},
      {"add ALL wins over drop ALL", {"ALL"}, {"ALL"}, all},
  };
  for (const auto& c : cases) {
    auto r = apply_cap_changes(base, c.add, c.drop);
    ASSERT_TRUE(r.ok()) << c.what << ": " << r.error().message();
    EXPECT_EQ(*r, c.want) << c.what;
  }
}

TEST(DockerCaps, BadNamesAreNamed) {
  struct Case {
    Caps add, drop;
    const char* want;
  } cases[] = {
      {{"FOO"}, {}, "invalid capability: FOO"},
      {{}, {"cap_foo"}, "invalid capability: cap_foo"},
      {{"CAP_CHOWN", "CAP_"}, {}, "invalid capability: CAP_"},
      {{"ALL_CAPS"}, {}, "invalid capability: ALL_CAPS"},
  };
  for (const auto& c : cases) {
    auto r = apply_cap_changes(docker_default_capabilities(), c.add, c.drop);
    ASSERT_FALSE(r.ok()) << c.want;
    EXPECT_EQ(r.error().message(), c.want);
  }
}

// --- paths ---

TEST(DockerPaths, MaskedAndReadonly) {
  for (const auto& list : {docker_masked_paths(), docker_readonly_paths()}) {
    std::set<std::string> seen;
    for (const auto& p : list) {
      EXPECT_EQ(p.front(), '/') << p;
      EXPECT_TRUE(seen.insert(p).second) << "duplicate " << p;
    }
  }
  auto masked = docker_masked_paths();
  for (const char* p : {"/proc/kcore", "/proc/keys", "/sys/firmware", "/proc/timer_list"})
    EXPECT_NE(std::find(masked.begin(), masked.end(), p), masked.end()) << p;
  EXPECT_EQ(docker_readonly_paths(),
            (Caps{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}));
}

// --- kernel versions and architectures ---

TEST(DockerSeccomp, KernelVersions) {
  struct Case {
    const char* in;
    bool ok;
    KernelVersion want;
  } cases[] = {{"4.8", true, {4, 8}},
               {"5.10.0-28-amd64", true, {5, 10}},
               {"3.12-1-amd64", true, {3, 12}},
               {"6.1", true, {6, 1}},
               {"6", false, {}},
               {"a.b", false, {}},
               {"", false, {}},
               {"4.", false, {}},
               {".8", false, {}}};
  for (const auto& c : cases) {
    auto r = parse_kernel_version(c.in);
    EXPECT_EQ(r.ok(), c.ok) << c.in;
    if (r.ok() && c.ok) {
      EXPECT_EQ(*r, c.want) << c.in;
    }
  }
  EXPECT_EQ(parse_kernel_version("x").error().message(), "invalid kernel version \"x\"");
  EXPECT_LT((KernelVersion{4, 20}), (KernelVersion{5, 0}));
  EXPECT_GT(running_kernel_version(), (KernelVersion{3, 0}));
}

TEST(DockerSeccomp, ArchNames) {
  struct Case {
    const char* in;
    const char* want;
  } cases[] = {{"amd64", "amd64"},
               {"x86_64", "amd64"},
               {"SCMP_ARCH_X86_64", "amd64"},
               {"aarch64", "arm64"},
               {"arm64", "arm64"},
               {"SCMP_ARCH_AARCH64", "arm64"},
               {"386", "x86"},
               {"SCMP_ARCH_S390X", "s390x"},
               {"ppc64le", "ppc64le"},
               {"riscv64", "riscv64"},
               {"foo", ""},
               {"", ""}};
  for (const auto& c : cases) EXPECT_EQ(docker_arch_name(c.in), c.want) << c.in;
  EXPECT_FALSE(docker_arch_name(native_seccomp_arch()).empty());
}

// --- the default profile, evaluated ---

// The rules naming `name`, as "ACTION[/errno][ args]" strings, in profile order.
std::vector<std::string> rules_for(const oci::Seccomp& s, const std::string& name) {
  std::vector<std::string> out;
  for (const auto& sc : s.syscalls) {
    if (std::find(sc.names.begin(), sc.names.end(), name) == sc.names.end()) continue;
    std::string r = sc.action;
    if (sc.errno_ret) r += "/" + std::to_string(*sc.errno_ret);
    for (const auto& a : sc.args)
      r += " " + std::to_string(a.index) + ":" + a.op + ":" + std::to_string(a.value);
    out.push_back(r);
  }
  return out;
}

oci::Seccomp default_for(const Caps& caps, const char* arch, KernelVersion kernel = {6, 1}) {
  auto r = seccomp_from_docker_profile(docker_default_seccomp_profile(), caps, arch, kernel);
  EXPECT_TRUE(r.ok()) << r.error().message();
  return r.ok() ? *r : oci::Seccomp{};
}

TEST(DockerSeccomp, DefaultProfileTopLevel) {
  oci::Seccomp s = default_for(docker_default_capabilities(), "amd64");
  EXPECT_EQ(s.default_action, "SCMP_ACT_ERRNO");
  EXPECT_EQ(s.default_errno_ret, 1u);
  EXPECT_EQ(s.architectures, (Caps{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
  EXPECT_TRUE(s.flags.empty());
  EXPECT_GT(s.syscalls.size(), 10u);
  EXPECT_EQ(rules_for(s, "getpid"), (Caps{"SCMP_ACT_ALLOW"}));
  EXPECT_TRUE(rules_for(s, "add_key").empty());
  EXPECT_TRUE(rules_for(s, "keyctl").empty());
  EXPECT_EQ(rules_for(s, "socket"), (Caps{"SCMP_ACT_ALLOW 0:SCMP_CMP_NE:40"}));
}

TEST(DockerSeccomp, CapabilitiesDecide) {
  const Caps base = docker_default_capabilities();
  struct Case {
    Caps caps;
    const char* name;
    std::vector<std::string> want;
  } cases[] = {
      {base, "mount", {}},
      {base, "unshare", {}},
      {base, "setns", {}},
      {base, "clone", {"SCMP_ACT_ALLOW 0:SCMP_CMP_MASKED_EQ:2114060288"}},
      {base, "clone3", {"SCMP_ACT_ERRNO/38"}},
      {base, "chroot", {"SCMP_ACT_ALLOW"}},  // CAP_SYS_CHROOT is a default
      {base, "reboot", {}},
      {base, "open_by_handle_at", {}},
      {with(base, "CAP_SYS_ADMIN"), "mount", {"SCMP_ACT_ALLOW"}},
      {with(base, "CAP_SYS_ADMIN"), "unshare", {"SCMP_ACT_ALLOW"}},
      {with(base, "CAP_SYS_ADMIN"), "setns", {"SCMP_ACT_ALLOW"}},
      {with(base, "CAP_SYS_ADMIN"), "clone", {"SCMP_ACT_ALLOW"}},
      {with(base, "CAP_SYS_ADMIN"), "clone3", {"SCMP_ACT_ALLOW"}},
      {with(base, "CAP_SYS_BOOT"), "reboot", {"SCMP_ACT_ALLOW"}},
      {with(base, "CAP_SYS_PTRACE"), "kcmp", {"SCMP_ACT_ALLOW"}},
      {with(base, "CAP_SYS_TIME"), "clock_settime", {"SCMP_ACT_ALLOW"}},
      {with(base, "CAP_BPF"), "bpf", {"SCMP_ACT_ALLOW"}},
      {{}, "chroot", {}},
  };
  for (const auto& c : cases) {
    oci::Seccomp s = default_for(c.caps, "amd64");
    EXPECT_EQ(rules_for(s, c.name), c.want) << c.name << " with " << c.caps.size() << " caps";
  }
}

TEST(DockerSeccomp, KernelDecides) {
  const Caps base = docker_default_capabilities();
  EXPECT_EQ(rules_for(default_for(base, "amd64", {4, 8}), "ptrace"), (Caps{"SCMP_ACT_ALLOW"}));
  EXPECT_TRUE(rules_for(default_for(base, "amd64", {4, 7}), "ptrace").empty());
  EXPECT_EQ(rules_for(default_for(with(base, "CAP_SYS_PTRACE"), "amd64", {4, 4}), "ptrace"),
            (Caps{"SCMP_ACT_ALLOW"}));
}

TEST(DockerSeccomp, ArchitectureDecides) {
  const Caps base = docker_default_capabilities();
  struct Case {
    const char* arch;
    Caps arches;
    const char* name;
    std::vector<std::string> want;
  } cases[] = {
      {"x86_64",
       {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"},
       "arch_prctl",
       {"SCMP_ACT_ALLOW"}},
      {"SCMP_ARCH_AARCH64", {"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"}, "arch_prctl", {}},
      {"arm64", {"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"}, "arm_fadvise64_64", {"SCMP_ACT_ALLOW"}},
      {"s390x",
       {"SCMP_ARCH_S390X", "SCMP_ARCH_S390"},
       "clone",
       {"SCMP_ACT_ALLOW 1:SCMP_CMP_MASKED_EQ:2114060288"}},
      {"ppc64le", {}, "sync_file_range2", {"SCMP_ACT_ALLOW"}},  // not in archMap: native only
      {"riscv64", {"SCMP_ARCH_RISCV64"}, "riscv_flush_icache", {"SCMP_ACT_ALLOW"}},
      {"amd64",
       {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"},
       "modify_ldt",
       {"SCMP_ACT_ALLOW"}},
  };
  for (const auto& c : cases) {
    oci::Seccomp s = default_for(base, c.arch);
    EXPECT_EQ(s.architectures, c.arches) << c.arch;
    EXPECT_EQ(rules_for(s, c.name), c.want) << c.arch << " " << c.name;
  }
}

TEST(DockerSeccomp, EmbeddedProfileIsTheDataFile) {
  std::ifstream in(BERTH_SECCOMP_PROFILE_PATH, std::ios::binary);
  ASSERT_TRUE(in) << BERTH_SECCOMP_PROFILE_PATH;
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(docker_default_seccomp_profile(), text.str());
}

TEST(DockerSeccomp, DefaultForThisMachineCompiles) {
  for (const Caps& caps : {docker_default_capabilities(), all_capabilities(), Caps{}}) {
    auto s = docker_default_seccomp(caps);
    ASSERT_TRUE(s.ok()) << s.error().trail();
    auto again = docker_default_seccomp(caps);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(seccomp_cache_key(*s), seccomp_cache_key(*again));  // cacheable: deterministic
    auto bpf = compile_seccomp(*s);
    ASSERT_TRUE(bpf.ok()) << bpf.error().message();
    EXPECT_FALSE(bpf->empty());
    EXPECT_EQ(bpf->size() % 8, 0u);
  }
  auto plain = docker_default_seccomp(docker_default_capabilities());
  auto admin = docker_default_seccomp(with(docker_default_capabilities(), "CAP_SYS_ADMIN"));
  ASSERT_TRUE(plain.ok() && admin.ok());
  EXPECT_NE(seccomp_cache_key(*plain), seccomp_cache_key(*admin));
}

// --- small profiles: both formats, include/exclude rules ---

Result<oci::Seccomp> eval(const std::string& json, const Caps& caps = {},
                          const char* arch = "amd64", KernelVersion kernel = {5, 10}) {
  return seccomp_from_docker_profile(json, caps, arch, kernel);
}

TEST(DockerSeccomp, AcceptsOciForm) {
  auto r = eval(R"({"defaultAction":"SCMP_ACT_ALLOW","defaultErrnoRet":5,
      "architectures":["SCMP_ARCH_X86_64"],"flags":["SECCOMP_FILTER_FLAG_LOG"],
      "syscalls":[{"names":["mkdir","rmdir"],"action":"SCMP_ACT_ERRNO","errnoRet":13,
        "args":[{"index":1,"value":448,"valueTwo":7,"op":"SCMP_CMP_MASKED_EQ"}]}]})");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->default_action, "SCMP_ACT_ALLOW");
  EXPECT_EQ(r->default_errno_ret, 5u);
  EXPECT_EQ(r->architectures, (Caps{"SCMP_ARCH_X86_64"}));
  EXPECT_EQ(r->flags, (Caps{"SECCOMP_FILTER_FLAG_LOG"}));
  ASSERT_EQ(r->syscalls.size(), 1u);
  const auto& sc = r->syscalls[0];
  EXPECT_EQ(sc.names, (Caps{"mkdir", "rmdir"}));
  EXPECT_EQ(sc.errno_ret, 13u);
  ASSERT_EQ(sc.args.size(), 1u);
  EXPECT_EQ(sc.args[0].index, 1u);
  EXPECT_EQ(sc.args[0].value, 448u);
  EXPECT_EQ(sc.args[0].value_two, 7u);
  EXPECT_EQ(sc.args[0].op, "SCMP_CMP_MASKED_EQ");
}

TEST(DockerSeccomp, IncludesAndExcludes) {
  auto profile = [](const std::string& filters) {
    return R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"name":"x","action":"SCMP_ACT_ALLOW",)" +
           filters + "}]}";
  };
  struct Case {
    const char* filters;
    Caps caps;
    const char* arch;
    KernelVersion kernel;
    bool kept;
  } cases[] = {
      {R"("includes":{})", {}, "amd64", {5, 10}, true},
      {R"("includes":{"caps":["CAP_A","CAP_B"]})", {"CAP_A"}, "amd64", {5, 10}, false},
      {R"("includes":{"caps":["CAP_A","CAP_B"]})", {"CAP_B", "CAP_A"}, "amd64", {5, 10}, true},
      {R"("excludes":{"caps":["CAP_A","CAP_B"]})", {"CAP_B"}, "amd64", {5, 10}, false},
      {R"("excludes":{"caps":["CAP_A"]})", {"CAP_B"}, "amd64", {5, 10}, true},
      {R"("includes":{"arches":["arm64","amd64"]})", {}, "x86_64", {5, 10}, true},
      {R"("includes":{"arches":["arm64"]})", {}, "amd64", {5, 10}, false},
      {R"("excludes":{"arches":["amd64"]})", {}, "SCMP_ARCH_X86_64", {5, 10}, false},
      {R"("includes":{"minKernel":"5.10"})", {}, "amd64", {5, 10}, true},
      {R"("includes":{"minKernel":"5.11"})", {}, "amd64", {5, 10}, false},
      {R"("excludes":{"minKernel":"5.10"})", {}, "amd64", {5, 10}, false},
      {R"("excludes":{"minKernel":"6.0"})", {}, "amd64", {5, 10}, true},
      {R"("includes":{"caps":["CAP_A"]},"excludes":{"arches":["amd64"]})",
       {"CAP_A"},
       "amd64",
       {5, 10},
       false},
  };
  for (const auto& c : cases) {
    auto r = eval(profile(c.filters), c.caps, c.arch, c.kernel);
    ASSERT_TRUE(r.ok()) << c.filters << ": " << r.error().message();
    EXPECT_EQ(r->syscalls.size(), c.kept ? 1u : 0u) << c.filters;
    if (c.kept) {
      EXPECT_EQ(r->syscalls[0].names, (Caps{"x"}));
    }
  }
}

TEST(DockerSeccomp, ErrorsNameTheJsonPath) {
  const std::string ok_entry = R"({"names":["a"],"action":"SCMP_ACT_ALLOW"},)";
  struct Case {
    std::string json;
    std::string want;
  } cases[] = {
      {R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[)" + ok_entry + ok_entry + ok_entry +
           R"({"names":["d"],"action":"SCMP_ACT_FOO"}]})",
       R"(seccomp profile: syscalls[3].action: unknown action "SCMP_ACT_FOO")"},
      {"[]", "seccomp profile: expected object, got array"},
      {"{}", "seccomp profile: defaultAction must be set"},
      {R"({"defaultAction":1})", "seccomp profile: defaultAction: expected string, got number"},
      {R"({"defaultAction":"SCMP_ACT_NOTIFY","listenerPath":"/x"})",
       "seccomp profile: defaultAction: SCMP_ACT_NOTIFY cannot be the default"},
      {R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["a"],"action":"SCMP_ACT_NOTIFY"}]})",
       "seccomp profile: syscalls[0].action: SCMP_ACT_NOTIFY needs listenerPath"},
      {R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["a"],"action":"SCMP_ACT_ALLOW",
          "args":[{"index":0,"value":1,"op":"SCMP_CMP_FOO"}]}]})",
       R"(seccomp profile: syscalls[0].args[0].op: unknown operator "SCMP_CMP_FOO")"},
      {R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["a"],"action":"SCMP_ACT_ALLOW",
          "args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]})",
       "seccomp profile: syscalls[0].args[0].index: 6 is outside 0..5"},
      {R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["a"],"action":"SCMP_ACT_ALLOW",
          "args":[{"index":0,"value":-1,"op":"SCMP_CMP_EQ"}]}]})",
       "seccomp profile: syscalls[0].args[0].value: -1 is out of range for uint64"},
      {R"({"defaultAction":"SCMP_ACT_ERRNO","archMap":[{"architecture":"SCMP_ARCH_FOO"}]})",
       R"(seccomp profile: archMap[0].architecture: unknown architecture "SCMP_ARCH_FOO")"},
      {R"({"defaultAction":"SCMP_ACT_ERRNO","archMap":[{"architecture":"SCMP_ARCH_X86_64",
          "subArchitectures":["SCMP_ARCH_X86","x32"]}]})",
       R"(seccomp profile: archMap[0].subArchitectures[1]: unknown architecture "x32")"},
      {R"({"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86"],
          "archMap":[{"architecture":"SCMP_ARCH_X86_64"}]})",
       "seccomp profile: architectures and archMap are both set; use one"},
      {R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"name":"a","names":["b"],"action":"SCMP_ACT_ALLOW"}]})",
       "seccomp profile: syscalls[0]: name and names are both set; use names"},
      {R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"action":"SCMP_ACT_ALLOW"}]})",
       "seccomp profile: syscalls[0]: names must not be empty"},
      {R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["a"],"action":"SCMP_ACT_ALLOW",
          "includes":{"minKernel":"x"}}]})",
       R"(seccomp profile: syscalls[0].includes.minKernel: invalid kernel version "x")"},
      {R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["a"],"action":"SCMP_ACT_ALLOW",
          "excludes":{"caps":"CAP_SYS_ADMIN"}}]})",
       "seccomp profile: syscalls[0].excludes.caps: expected array, got string"},
      {R"({"defaultAction":"SCMP_ACT_ERRNO","flags":["FOO"]})",
       R"(seccomp profile: flags[0]: unknown flag "FOO")"},
  };
  for (const auto& c : cases) {
    auto r = eval(c.json);
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.error().message(), c.want) << c.json;
  }
  auto bad_json = eval("{");
  ASSERT_FALSE(bad_json.ok());
  EXPECT_EQ(bad_json.error().message().rfind("seccomp profile: not valid JSON at byte", 0), 0u)
      << bad_json.error().message();
  auto bad_arch = eval(R"({"defaultAction":"SCMP_ACT_ERRNO"})", {}, "vax");
  ASSERT_FALSE(bad_arch.ok());
  EXPECT_EQ(bad_arch.error().message(), "seccomp profile: unknown native architecture \"vax\"");
}

}  // namespace
}  // namespace berth::security
