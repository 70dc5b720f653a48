// seccomp.cpp - OCI profile -> libseccomp filter -> BPF bytes; loading with seccomp(2).
#include "security/seccomp.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <memory>
#include <optional>

#include "base/fd.h"

namespace berth::security {
namespace {

constexpr uint32_t kMaxErrnoRet = 0xffff;  // SCMP_ACT_ERRNO/TRACE keep 16 bits
constexpr uint32_t kMaxArgs = 6;

struct CtxRelease {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using ScmpCtx = std::unique_ptr<void, CtxRelease>;

struct NamedValue {
  std::string_view name;
  uint32_t value;
};

// Action names; the errno/trace data is or'ed in by parse_action.
constexpr std::array<NamedValue, 9> kActions = {{
    {"SCMP_ACT_KILL", SCMP_ACT_KILL},
    {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD},
    {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS},
    {"SCMP_ACT_TRAP", SCMP_ACT_TRAP},
    {"SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0)},
    {"SCMP_ACT_TRACE", SCMP_ACT_TRACE(0)},
    {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW},
    {"SCMP_ACT_LOG", SCMP_ACT_LOG},
    {"SCMP_ACT_NOTIFY", SCMP_ACT_NOTIFY},
}};

constexpr std::array<NamedValue, 19> kArches = {{
    {"SCMP_ARCH_X86", SCMP_ARCH_X86},
    {"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64},
    {"SCMP_ARCH_X32", SCMP_ARCH_X32},
    {"SCMP_ARCH_ARM", SCMP_ARCH_ARM},
    {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64},
    {"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS},
    {"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64},
    {"SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32},
    {"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL},
    {"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64},
    {"SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32},
    {"SCMP_ARCH_PPC", SCMP_ARCH_PPC},
    {"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64},
    {"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE},
    {"SCMP_ARCH_S390", SCMP_ARCH_S390},
    {"SCMP_ARCH_S390X", SCMP_ARCH_S390X},
    {"SCMP_ARCH_PARISC", SCMP_ARCH_PARISC},
    {"SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64},
    {"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64},
}};

constexpr std::array<NamedValue, 7> kOps = {{
    {"SCMP_CMP_NE", SCMP_CMP_NE},
    {"SCMP_CMP_LT", SCMP_CMP_LT},
    {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_EQ", SCMP_CMP_EQ},
    {"SCMP_CMP_GE", SCMP_CMP_GE},
    {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
}};

constexpr std::array<NamedValue, 3> kFlags = {{
    {"SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC},
    {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
}};

template <size_t N>
const NamedValue* find_named(const std::array<NamedValue, N>& table, std::string_view name) {
  for (const auto& e : table) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

std::string quoted(std::string_view s) {
  std::string q;  // not "\"" + std::string(s) + ...: g++ 12 warns (-Wrestrict) on that
  q += '"';
  q += s;
  q += '"';
  return q;
}

std::string syscall_where(size_t i) {
  return "seccomp: syscalls[" + std::to_string(i) + "]:";
}

// Turns an action name and its optional errnoRet into a libseccomp action value.
Result<uint32_t> parse_action(std::string_view name, std::optional<uint32_t> errno_ret,
                              const std::string& where) {
  const NamedValue* a = find_named(kActions, name);
  if (a == nullptr) return Error::invalid(where + " unknown action", quoted(name));
  if (a->value == SCMP_ACT_NOTIFY) {
    return Error(ENOTSUP, where + " action",
                 "SCMP_ACT_NOTIFY (seccomp listeners are not supported yet)");
  }
  bool takes_data = a->value == SCMP_ACT_ERRNO(0) || a->value == SCMP_ACT_TRACE(0);
  if (!takes_data) {
    if (errno_ret) {
      return Error::invalid(where + " errnoRet is only valid with",
                            "SCMP_ACT_ERRNO or SCMP_ACT_TRACE");
    }
    return a->value;
  }
  uint32_t data = errno_ret.value_or(EPERM);
  if (data > kMaxErrnoRet) {
    return Error::invalid(where + " errnoRet out of range (0-65535):", std::to_string(data));
  }
  return a->value | data;
}

Result<ScmpCtx> init_filter(uint32_t def, const std::string& def_name) {
  ScmpCtx ctx(seccomp_init(def));
  if (!ctx) return Error(EINVAL, "seccomp: seccomp_init with default action", def_name);
  // Our filters are exported, never loaded by libseccomp; keep it from touching NNP anyway.
  seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0);
  return ctx;
}

Status add_arches(scmp_filter_ctx ctx, const std::vector<std::string>& arches) {
  for (size_t i = 0; i < arches.size(); i++) {
    std::string where = "seccomp: architectures[" + std::to_string(i) + "]:";
    const NamedValue* a = find_named(kArches, arches[i]);
    if (a == nullptr) return Error::invalid(where + " unknown architecture", quoted(arches[i]));
    int rc = seccomp_arch_add(ctx, a->value);
    if (rc < 0 && rc != -EEXIST) return Error(-rc, where + " add architecture", arches[i]);
  }
  return ok();
}

Result<scmp_arg_cmp> parse_condition(const oci::SeccompArg& arg, const std::string& where) {
  const NamedValue* op = find_named(kOps, arg.op);
  if (op == nullptr) return Error::invalid(where + " unknown operator", quoted(arg.op));
  if (arg.index >= kMaxArgs) {
    return Error::invalid(where + " argument index out of range (0-5):", std::to_string(arg.index));
  }
  scmp_arg_cmp c{};
  c.arg = arg.index;
  c.op = static_cast<scmp_compare>(op->value);
  c.datum_a = arg.value;  // the mask for SCMP_CMP_MASKED_EQ
  c.datum_b = op->value == SCMP_CMP_MASKED_EQ ? arg.value_two : 0;
  return c;
}

// True when two conditions test the same argument: runc then ORs them (one rule each).
bool has_repeated_index(const std::vector<scmp_arg_cmp>& conds) {
  std::array<int, kMaxArgs> seen{};
  for (const auto& c : conds) {
    if (++seen[c.arg] > 1) return true;
  }
  return false;
}

Status add_rule(scmp_filter_ctx ctx, int nr, uint32_t action,
                const std::vector<scmp_arg_cmp>& conds, const std::string& where,
                const std::string& name) {
  int rc = seccomp_rule_add_array(ctx, action, nr, static_cast<unsigned>(conds.size()),
                                  conds.empty() ? nullptr : conds.data());
  if (rc < 0) return Error(-rc, where + " add rule for", name);
  return ok();
}

Status add_name(scmp_filter_ctx ctx, const std::string& name, uint32_t action,
                const std::vector<scmp_arg_cmp>& conds, const std::string& where) {
  int nr = seccomp_syscall_resolve_name(name.c_str());
  if (nr == __NR_SCMP_ERROR) return ok();  // unknown here: skipped, like runc and crun
  if (!has_repeated_index(conds)) return add_rule(ctx, nr, action, conds, where, name);
  for (const auto& c : conds) {
    TRY(add_rule(ctx, nr, action, {c}, where, name));
  }
  return ok();
}

Status add_syscall(scmp_filter_ctx ctx, const oci::SeccompSyscall& s, size_t i, uint32_t def) {
  std::string where = syscall_where(i);
  if (s.names.empty()) return Error::invalid(where + " names is empty");
  uint32_t action = TRY(parse_action(s.action, s.errno_ret, where));
  std::vector<scmp_arg_cmp> conds;
  for (const auto& a : s.args) conds.push_back(TRY(parse_condition(a, where)));
  if (action == def) return ok();  // libseccomp refuses rules that repeat the default
  for (const auto& name : s.names) TRY(add_name(ctx, name, action, conds, where));
  return ok();
}

Result<std::string> read_all(int fd) {
  struct stat st;
  if (::fstat(fd, &st) < 0) return sys_error("seccomp: fstat exported filter");
  std::string out(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_error("seccomp: read exported filter");
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  out.resize(done);
  return out;
}

// libseccomp 2.5 has no seccomp_export_bpf_mem; export into a memfd and read it back.
Result<std::string> export_bpf(scmp_filter_ctx ctx) {
  UniqueFd fd(::memfd_create("berth-seccomp", MFD_CLOEXEC));
  if (!fd) return sys_error("seccomp: memfd_create");
  int rc = seccomp_export_bpf(ctx, fd.get());
  if (rc < 0) return Error(-rc, "seccomp: export BPF program");
  std::string bpf = TRY(read_all(fd.get()));
  if (bpf.empty() || bpf.size() % sizeof(sock_filter) != 0) {
    return Error::invalid("seccomp: exported BPF program has a bad size:",
                          std::to_string(bpf.size()));
  }
  return bpf;
}

}  // namespace

Result<std::string> compile_seccomp(const oci::Seccomp& p) {
  TRY(seccomp_filter_flags(p.flags));
  if (!p.listener_path.empty()) {
    return Error(ENOTSUP, "seccomp: listenerPath",
                 quoted(p.listener_path) + " (seccomp listeners are not supported yet)");
  }
  uint32_t def =
      TRY(parse_action(p.default_action, p.default_errno_ret, "seccomp: defaultAction:"));
  ScmpCtx ctx = TRY(init_filter(def, p.default_action));
  TRY(add_arches(ctx.get(), p.architectures));
  for (size_t i = 0; i < p.syscalls.size(); i++) TRY(add_syscall(ctx.get(), p.syscalls[i], i, def));
  return export_bpf(ctx.get());
}

Result<unsigned> seccomp_filter_flags(const std::vector<std::string>& flags) {
  unsigned out = 0;
  for (size_t i = 0; i < flags.size(); i++) {
    std::string where = "seccomp: flags[" + std::to_string(i) + "]:";
    if (flags[i] == "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") {
      return Error(ENOTSUP, where,
                   flags[i] + " needs a seccomp listener, which is not supported yet");
    }
    const NamedValue* f = find_named(kFlags, flags[i]);
    if (f == nullptr) return Error::invalid(where + " unknown flag", quoted(flags[i]));
    out |= f->value;
  }
  return out;
}

int load_seccomp_raw(std::string_view bpf, unsigned flags) noexcept {
  size_t n = bpf.size() / sizeof(sock_filter);
  if (n == 0 || n > BPF_MAXINSNS || bpf.size() % sizeof(sock_filter) != 0) return EINVAL;
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(n);
  // The kernel copies the program; it only reads through this pointer.
  prog.filter = reinterpret_cast<sock_filter*>(const_cast<char*>(bpf.data()));
  long rc = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  if (rc < 0) return errno;
  if (rc > 0) return ESRCH;  // TSYNC: rc is the thread that could not be synchronized
  return 0;
}

Status load_seccomp(const std::string& bpf, const std::vector<std::string>& flags) {
  // Flag names are matched without allocating; only the error path builds strings.
  unsigned bits = 0;
  for (const auto& f : flags) {
    const NamedValue* v = find_named(kFlags, f);
    if (v == nullptr) return seccomp_filter_flags(flags).error();
    bits |= v->value;
  }
  int err = load_seccomp_raw(bpf, bits);
  if (err == 0) return ok();
  if (err == ESRCH && (bits & SECCOMP_FILTER_FLAG_TSYNC) != 0) {
    return Error(err, "seccomp: load filter", "(TSYNC could not synchronize another thread)");
  }
  return Error(err, "seccomp: load filter");
}

}  // namespace berth::security
