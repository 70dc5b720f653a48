// docker_seccomp.cpp - docker's seccomp profile format: parse, check, and evaluate for one
// container into an OCI linux.seccomp (see docker_defaults.h).
//
// The profile is read into a model of docker's format with field tables (oci/json_codec.h),
// so type errors name their JSON path; then every entry is checked, whether or not it applies
// to this machine, so a profile is accepted or rejected the same way everywhere; then the
// includes/excludes decide which entries the OCI profile keeps.
#include <sys/utsname.h>

#include <algorithm>
#include <optional>
#include <tuple>

#include "oci/json_codec.h"
#include "oci/names.h"
#include "security/docker_defaults.h"

namespace berth::security {
namespace {

// ---- docker's profile format ----------------------------------------------------------------

struct DArg {
  uint32_t index = 0;
  uint64_t value = 0;
  uint64_t value_two = 0;
  std::string op;
};

struct DFilter {
  std::vector<std::string> caps;
  std::vector<std::string> arches;
  std::string min_kernel;
};

struct DSyscall {
  std::string name;  // the older single-name form
  std::vector<std::string> names;
  std::string action;
  std::optional<uint32_t> errno_ret;
  std::vector<DArg> args;
  DFilter includes;
  DFilter excludes;
};

struct DArchMap {
  std::string architecture;
  std::vector<std::string> sub_architectures;
};

struct DProfile {
  std::string default_action;
  std::optional<uint32_t> default_errno_ret;
  std::vector<std::string> architectures;
  std::vector<DArchMap> arch_map;
  std::vector<std::string> flags;
  std::string listener_path;
  std::string listener_metadata;
  std::vector<DSyscall> syscalls;
};

}  // namespace
}  // namespace berth::security

namespace berth::oci::codec {

using security::DArchMap;
using security::DArg;
using security::DFilter;
using security::DProfile;
using security::DSyscall;

template <>
struct Schema<DArg> {
  static constexpr auto fields =
      std::tuple{field("index", &DArg::index), field("value", &DArg::value),
                 field("valueTwo", &DArg::value_two), field("op", &DArg::op)};
};

template <>
struct Schema<DFilter> {
  static constexpr auto fields =
      std::tuple{field("caps", &DFilter::caps), field("arches", &DFilter::arches),
                 field("minKernel", &DFilter::min_kernel)};
};

template <>
struct Schema<DSyscall> {
  static constexpr auto fields =
      std::tuple{field("name", &DSyscall::name),        field("names", &DSyscall::names),
                 field("action", &DSyscall::action),    field("errnoRet", &DSyscall::errno_ret),
                 field("args", &DSyscall::args),        field("includes", &DSyscall::includes),
                 field("excludes", &DSyscall::excludes)};
};

template <>
struct Schema<DArchMap> {
  static constexpr auto fields =
      std::tuple{field("architecture", &DArchMap::architecture),
                 field("subArchitectures", &DArchMap::sub_architectures)};
};

template <>
struct Schema<DProfile> {
  static constexpr auto fields = std::tuple{field("defaultAction", &DProfile::default_action),
                                            field("defaultErrnoRet", &DProfile::default_errno_ret),
                                            field("architectures", &DProfile::architectures),
                                            field("archMap", &DProfile::arch_map),
                                            field("flags", &DProfile::flags),
                                            field("listenerPath", &DProfile::listener_path),
                                            field("listenerMetadata", &DProfile::listener_metadata),
                                            field("syscalls", &DProfile::syscalls)};
};

}  // namespace berth::oci::codec

namespace berth::security {
namespace {

using oci::codec::index_path;
using oci::codec::key_path;
using oci::codec::path_error;
using oci::codec::quote;

constexpr uint32_t kSeccompArgs = 6;  // a syscall has at most six arguments

// Docker's architecture names (libseccomp-golang's) and libseccomp's constants.
struct ArchName {
  std::string_view docker;
  std::string_view scmp;
};
constexpr ArchName kArches[] = {
    {"x86", "SCMP_ARCH_X86"},
    {"amd64", "SCMP_ARCH_X86_64"},
    {"x32", "SCMP_ARCH_X32"},
    {"arm", "SCMP_ARCH_ARM"},
    {"arm64", "SCMP_ARCH_AARCH64"},
    {"mips", "SCMP_ARCH_MIPS"},
    {"mips64", "SCMP_ARCH_MIPS64"},
    {"mips64n32", "SCMP_ARCH_MIPS64N32"},
    {"mipsel", "SCMP_ARCH_MIPSEL"},
    {"mipsel64", "SCMP_ARCH_MIPSEL64"},
    {"mipsel64n32", "SCMP_ARCH_MIPSEL64N32"},
    {"ppc", "SCMP_ARCH_PPC"},
    {"ppc64", "SCMP_ARCH_PPC64"},
    {"ppc64le", "SCMP_ARCH_PPC64LE"},
    {"s390", "SCMP_ARCH_S390"},
    {"s390x", "SCMP_ARCH_S390X"},
    {"riscv64", "SCMP_ARCH_RISCV64"},
    {"loong64", "SCMP_ARCH_LOONGARCH64"},
};
// Other spellings of the same architectures: GOARCH and uname -m.
constexpr ArchName kArchAliases[] = {
    {"386", "x86"},
    {"i386", "x86"},
    {"i686", "x86"},
    {"x86_64", "amd64"},
    {"aarch64", "arm64"},
    {"armv7l", "arm"},
    {"mipsle", "mipsel"},
    {"mips64le", "mipsel64"},
    {"mips64p32", "mips64n32"},
    {"mips64p32le", "mipsel64n32"},
    {"loongarch64", "loong64"},
};

std::string_view scmp_arch_of(std::string_view docker) {
  for (const auto& a : kArches)
    if (a.docker == docker) return a.scmp;
  return {};
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// ---- checks ---------------------------------------------------------------------------------

Status check_action(const std::string& path, const std::string& action, const DProfile& p) {
  if (!oci::is_seccomp_action(action)) return path_error(path, "unknown action " + quote(action));
  if (action == "SCMP_ACT_NOTIFY" && p.listener_path.empty())
    return path_error(path, "SCMP_ACT_NOTIFY needs listenerPath");
  return ok();
}

Status check_filter(const std::string& path, const DFilter& f) {
  if (f.min_kernel.empty()) return ok();
  if (!parse_kernel_version(f.min_kernel).ok())
    return path_error(key_path(path, "minKernel"), "invalid kernel version " + quote(f.min_kernel));
  return ok();
}

Status check_names(const std::string& path, const DSyscall& sc) {
  if (!sc.name.empty() && !sc.names.empty())
    return path_error(path, "name and names are both set; use names");
  if (sc.name.empty() && sc.names.empty()) return path_error(path, "names must not be empty");
  for (size_t i = 0; i < sc.names.size(); ++i)
    if (sc.names[i].empty())
      return path_error(index_path(key_path(path, "names"), i), "empty name");
  return ok();
}

Status check_args(const std::string& path, const std::vector<DArg>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = index_path(path, i);
    if (args[i].index >= kSeccompArgs)
      return path_error(key_path(arg, "index"), std::to_string(args[i].index) + " is outside 0..5");
    if (!oci::is_seccomp_operator(args[i].op))
      return path_error(key_path(arg, "op"), "unknown operator " + quote(args[i].op));
  }
  return ok();
}

Status check_syscall(const std::string& path, const DSyscall& sc, const DProfile& p) {
  TRY(check_names(path, sc));
  TRY(check_action(key_path(path, "action"), sc.action, p));
  TRY(check_args(key_path(path, "args"), sc.args));
  TRY(check_filter(key_path(path, "includes"), sc.includes));
  return check_filter(key_path(path, "excludes"), sc.excludes);
}

Status check_arch_list(const std::string& path, const std::vector<std::string>& arches) {
  for (size_t i = 0; i < arches.size(); ++i)
    if (!oci::is_seccomp_arch(arches[i]))
      return path_error(index_path(path, i), "unknown architecture " + quote(arches[i]));
  return ok();
}

Status check_arches(const DProfile& p) {
  if (!p.architectures.empty() && !p.arch_map.empty())
    return Error::invalid("architectures and archMap are both set; use one");
  TRY(check_arch_list("architectures", p.architectures));
  for (size_t i = 0; i < p.arch_map.size(); ++i) {
    std::string entry = index_path("archMap", i);
    const DArchMap& m = p.arch_map[i];
    if (!oci::is_seccomp_arch(m.architecture))
      return path_error(key_path(entry, "architecture"),
                        "unknown architecture " + quote(m.architecture));
    TRY(check_arch_list(key_path(entry, "subArchitectures"), m.sub_architectures));
  }
  return ok();
}

Status check_profile(const DProfile& p) {
  if (p.default_action.empty()) return Error::invalid("defaultAction must be set");
  if (p.default_action == "SCMP_ACT_NOTIFY")
    return path_error("defaultAction", "SCMP_ACT_NOTIFY cannot be the default");
  TRY(check_action("defaultAction", p.default_action, p));
  TRY(check_arches(p));
  for (size_t i = 0; i < p.flags.size(); ++i)
    if (!oci::is_seccomp_flag(p.flags[i]))
      return path_error(index_path("flags", i), "unknown flag " + quote(p.flags[i]));
  for (size_t i = 0; i < p.syscalls.size(); ++i)
    TRY(check_syscall(index_path("syscalls", i), p.syscalls[i], p));
  return ok();
}

// ---- evaluation -----------------------------------------------------------------------------

struct Target {
  std::string_view arch;  // docker's name
  const std::vector<std::string>& caps;
  KernelVersion kernel;
};

bool kernel_at_least(const Target& t, const std::string& min_kernel) {
  return t.kernel >= parse_kernel_version(min_kernel).value();  // checked before
}

bool excluded(const DFilter& f, const Target& t) {
  if (contains(f.arches, t.arch)) return true;
  for (const auto& c : f.caps)
    if (contains(t.caps, c)) return true;
  return !f.min_kernel.empty() && kernel_at_least(t, f.min_kernel);
}

bool included(const DFilter& f, const Target& t) {
  if (!f.arches.empty() && !contains(f.arches, t.arch)) return false;
  for (const auto& c : f.caps)
    if (!contains(t.caps, c)) return false;
  return f.min_kernel.empty() || kernel_at_least(t, f.min_kernel);
}

oci::SeccompSyscall to_oci(const DSyscall& sc) {
  oci::SeccompSyscall out;
  out.names = sc.names.empty() ? std::vector<std::string>{sc.name} : sc.names;
  out.action = sc.action;
  out.errno_ret = sc.errno_ret;
  for (const auto& a : sc.args) out.args.push_back({a.index, a.value, a.value_two, a.op});
  return out;
}

std::vector<std::string> select_arches(const DProfile& p, std::string_view arch) {
  if (!p.architectures.empty()) return p.architectures;
  std::string_view scmp = scmp_arch_of(arch);
  for (const auto& m : p.arch_map) {
    if (m.architecture != scmp) continue;
    std::vector<std::string> out{m.architecture};
    out.insert(out.end(), m.sub_architectures.begin(), m.sub_architectures.end());
    return out;
  }
  return {};
}

oci::Seccomp evaluate(const DProfile& p, const Target& t) {
  oci::Seccomp out;
  out.default_action = p.default_action;
  out.default_errno_ret = p.default_errno_ret;
  out.architectures = select_arches(p, t.arch);
  out.flags = p.flags;
  out.listener_path = p.listener_path;
  out.listener_metadata = p.listener_metadata;
  for (const auto& sc : p.syscalls)
    if (!excluded(sc.excludes, t) && included(sc.includes, t)) out.syscalls.push_back(to_oci(sc));
  return out;
}

Error profile_error(const Error& e) {
  return Error::invalid("seccomp profile: " + e.message());
}

}  // namespace

// data/seccomp-default.json, defined in the source the build generates from it
// (embed_data.cmake).
namespace embedded {
extern const char kDockerSeccompProfile[];
extern const size_t kDockerSeccompProfileSize;
}  // namespace embedded

Result<KernelVersion> parse_kernel_version(std::string_view release) {
  auto number = [&](size_t& at) -> std::optional<uint32_t> {
    size_t start = at;
    uint64_t v = 0;
    while (at < release.size() && release[at] >= '0' && release[at] <= '9' && at - start < 9)
      v = v * 10 + static_cast<uint64_t>(release[at++] - '0');
    if (at == start) return std::nullopt;
    return static_cast<uint32_t>(v);
  };
  size_t at = 0;
  auto major = number(at);
  if (major && at < release.size() && release[at] == '.') {
    ++at;
    if (auto minor = number(at)) return KernelVersion{*major, *minor};
  }
  return Error::invalid("invalid kernel version " + quote(release));
}

KernelVersion running_kernel_version() {
  struct utsname u {};
  if (::uname(&u) != 0) return {};
  return parse_kernel_version(u.release).value_or(KernelVersion{});
}

std::string native_seccomp_arch() {
#if defined(__x86_64__) && defined(__ILP32__)
  return "x32";
#elif defined(__x86_64__)
  return "amd64";
#elif defined(__i386__)
  return "x86";
#elif defined(__aarch64__)
  return "arm64";
#elif defined(__arm__)
  return "arm";
#elif defined(__powerpc64__) && defined(__LITTLE_ENDIAN__)
  return "ppc64le";
#elif defined(__powerpc64__)
  return "ppc64";
#elif defined(__s390x__)
  return "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
  return "riscv64";
#elif defined(__loongarch64)
  return "loong64";
#else
  return "";
#endif
}

std::string docker_arch_name(std::string_view arch) {
  for (const auto& a : kArches)
    if (a.docker == arch || a.scmp == arch) return std::string(a.docker);
  for (const auto& a : kArchAliases)
    if (a.docker == arch) return std::string(a.scmp);
  return {};
}

Result<oci::Seccomp> seccomp_from_docker_profile(std::string_view profile_json,
                                                 const std::vector<std::string>& effective_caps,
                                                 std::string_view native_arch,
                                                 KernelVersion kernel) {
  std::string arch = docker_arch_name(native_arch);
  if (arch.empty())
    return Error::invalid("seccomp profile: unknown native architecture " + quote(native_arch));
  auto doc = oci::codec::parse_document(profile_json);
  if (!doc.ok()) return profile_error(doc.error());
  DProfile p;
  if (Status st = oci::codec::read_value(*doc, "", p); !st.ok()) return profile_error(st.error());
  if (Status st = check_profile(p); !st.ok()) return profile_error(st.error());
  return evaluate(p, Target{arch, effective_caps, kernel});
}

std::string_view docker_default_seccomp_profile() {
  return {embedded::kDockerSeccompProfile, embedded::kDockerSeccompProfileSize};
}

Result<oci::Seccomp> docker_default_seccomp(const std::vector<std::string>& effective_caps) {
  return TRY_CTX(seccomp_from_docker_profile(docker_default_seccomp_profile(), effective_caps,
                                             native_seccomp_arch(), running_kernel_version()),
                 "evaluate docker's default seccomp profile");
}

}  // namespace berth::security
