// bpf_devices.cpp - loading, attaching and replacing the eBPF device filter with bpf(2).
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "base/fd.h"
#include "base/file.h"
#include "base/strings.h"
#include "cgroup/devices.h"

namespace berth::cgroup::detail {

namespace {

constexpr size_t kMaxPrograms = 64;

long sys_bpf(int cmd, bpf_attr* attr) {
  return ::syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

uint64_t ptr(const void* p) {
  return reinterpret_cast<uintptr_t>(p);
}

// The last non-empty lines of the verifier log, for the error's context.
std::string log_tail(const char* log) {
  auto lines = split(trim(log), '\n');
  size_t from = lines.size() > 3 ? lines.size() - 3 : 0;
  std::vector<std::string> tail(lines.begin() + static_cast<long>(from), lines.end());
  return join(tail, " | ");
}

Result<UniqueFd> load_program(const std::vector<bpf_insn>& insns) {
  bpf_attr attr{};
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = ptr(insns.data());
  attr.insn_cnt = static_cast<uint32_t>(insns.size());
  attr.license = ptr("GPL");
  std::strncpy(attr.prog_name, kBpfProgName, sizeof(attr.prog_name) - 1);
  long fd = sys_bpf(BPF_PROG_LOAD, &attr);
  if (fd >= 0) return UniqueFd(static_cast<int>(fd));
  int err = errno;
  if (err != EINVAL && err != EACCES) return Error(err, "load the eBPF device program");
  // Load again with the verifier log so the error says why.
  std::vector<char> log(65536, '\0');
  attr.log_buf = ptr(log.data());
  attr.log_size = static_cast<uint32_t>(log.size());
  attr.log_level = 1;
  fd = sys_bpf(BPF_PROG_LOAD, &attr);
  if (fd >= 0) return UniqueFd(static_cast<int>(fd));
  log.back() = '\0';
  return Error(err, "load the eBPF device program").context("verifier: " + log_tail(log.data()));
}

Result<UniqueFd> program_fd(uint32_t id) {
  bpf_attr attr{};
  attr.prog_id = id;
  long fd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
  if (fd < 0) return sys_error("open eBPF program id", std::to_string(id));
  return UniqueFd(static_cast<int>(fd));
}

Result<std::string> program_name(int fd) {
  bpf_prog_info info{};
  bpf_attr attr{};
  attr.info.bpf_fd = static_cast<uint32_t>(fd);
  attr.info.info_len = sizeof(info);
  attr.info.info = ptr(&info);
  if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr) < 0) return sys_error("get eBPF program info");
  return std::string(info.name, strnlen(info.name, sizeof(info.name)));
}

// Our earlier programs on the cgroup (by name), opened so they can be detached.
Result<std::vector<UniqueFd>> our_programs(const std::string& dir) {
  std::vector<UniqueFd> out;
  for (uint32_t id : TRY(query_device_programs(dir))) {
    auto fd = program_fd(id);
    if (!fd.ok()) continue;  // detached meanwhile
    std::string name = TRY(program_name(fd->get()));
    if (name == kBpfProgName) out.push_back(std::move(*fd));
  }
  return out;
}

Status attach(int cgroup_fd, int prog_fd, const std::string& dir) {
  bpf_attr attr{};
  attr.target_fd = static_cast<uint32_t>(cgroup_fd);
  attr.attach_bpf_fd = static_cast<uint32_t>(prog_fd);
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (sys_bpf(BPF_PROG_ATTACH, &attr) < 0)
    return sys_error("attach the eBPF device program to", dir);
  return ok();
}

Status detach(int cgroup_fd, int prog_fd, const std::string& dir) {
  bpf_attr attr{};
  attr.target_fd = static_cast<uint32_t>(cgroup_fd);
  attr.attach_bpf_fd = static_cast<uint32_t>(prog_fd);
  attr.attach_type = BPF_CGROUP_DEVICE;
  if (sys_bpf(BPF_PROG_DETACH, &attr) < 0 && errno != ENOENT)
    return sys_error("detach the old eBPF device program from", dir);
  return ok();
}

}  // namespace

Result<std::vector<uint32_t>> query_device_programs(const std::string& dir) {
  UniqueFd cg = TRY(open_fd(dir, O_RDONLY | O_DIRECTORY));
  uint32_t ids[kMaxPrograms] = {};
  bpf_attr attr{};
  attr.query.target_fd = static_cast<uint32_t>(cg.get());
  attr.query.attach_type = BPF_CGROUP_DEVICE;
  attr.query.prog_ids = ptr(ids);
  attr.query.prog_cnt = kMaxPrograms;
  if (sys_bpf(BPF_PROG_QUERY, &attr) < 0) return sys_error("query eBPF device programs of", dir);
  return std::vector<uint32_t>(ids, ids + std::min<size_t>(attr.query.prog_cnt, kMaxPrograms));
}

// Attach first, detach after: while both run, access needs both to allow, so the container
// never gets more than either rule set grants.
Status attach_device_program(const std::string& dir, const std::vector<bpf_insn>& insns) {
  UniqueFd prog = TRY(load_program(insns));
  UniqueFd cg = TRY(open_fd(dir, O_RDONLY | O_DIRECTORY));
  std::vector<UniqueFd> old = TRY(our_programs(dir));
  TRY(attach(cg.get(), prog.get(), dir));
  for (const auto& fd : old) TRY(detach(cg.get(), fd.get(), dir));
  return ok();
}

}  // namespace berth::cgroup::detail
