// apply.cpp - Cgroup::apply: sends each part of linux.resources to the hierarchy that holds
// its controller, v1 or v2.
#include "cgroup/cgroup.h"
#include "cgroup/devices.h"
#include "cgroup/resources.h"

namespace berth::cgroup {

namespace {

using Dir = Cgroup::Dir;

Result<const Dir*> need(const Cgroup& cg, std::string_view controller, std::string_view field) {
  if (const Dir* d = cg.dir_for(controller)) return d;
  return Error::invalid("apply linux.resources." + std::string(field) + ": no " +
                        std::string(controller) + " cgroup controller on this host");
}

Status apply_cpuset(const Cgroup& cg, const oci::Cpu& c) {
  if (c.cpus.empty() && c.mems.empty()) return ok();
  const Dir* d = TRY(need(cg, "cpuset", "cpu.cpus/mems"));
  return detail::cpuset(d->path, c);
}

Status apply_cpu(const Cgroup& cg, const oci::Cpu& c) {
  if (!detail::cpu_fields_set(c)) return ok();
  const Dir* d = TRY(need(cg, "cpu", "cpu"));
  return d->v2 ? detail::v2_cpu(d->path, c) : detail::v1_cpu(d->path, c);
}

Status apply_memory(const Cgroup& cg, const oci::Memory& m) {
  const Dir* d = TRY(need(cg, "memory", "memory"));
  return d->v2 ? detail::v2_memory(d->path, m) : detail::v1_memory(d->path, m);
}

Status apply_pids(const Cgroup& cg, const oci::Pids& p) {
  const Dir* d = TRY(need(cg, "pids", "pids"));
  return detail::pids_max(d->path, p);
}

Status apply_block_io(const Cgroup& cg, const oci::BlockIo& b) {
  const Dir* d = TRY(need(cg, "blkio", "blockIO"));
  return d->v2 ? detail::v2_io(d->path, b) : detail::v1_blkio(d->path, b);
}

Status apply_hugetlb(const Cgroup& cg, const std::vector<oci::HugepageLimit>& limits) {
  if (limits.empty()) return ok();
  const Dir* d = TRY(need(cg, "hugetlb", "hugepageLimits"));
  return d->v2 ? detail::v2_hugetlb(d->path, limits) : detail::v1_hugetlb(d->path, limits);
}

Status apply_devices(const Cgroup& cg, const std::vector<oci::DeviceCgroup>& rules) {
  if (rules.empty()) return ok();
  const Dir* d = TRY(need(cg, "devices", "devices"));
  return d->v2 ? cg.apply_device_bpf(rules) : detail::v1_devices(d->path, rules);
}

Status apply_unified(const Cgroup& cg, const std::map<std::string, std::string>& files) {
  if (files.empty()) return ok();
  const Dir* d = cg.v2_dir();
  if (d == nullptr)
    return Error::invalid("apply linux.resources.unified: this host has no cgroup v2 hierarchy");
  return detail::v2_unified(d->path, files);
}

}  // namespace

// The order of runc's v1 subsystems; unified last so that it overrides the typed fields.
Status Cgroup::apply(const oci::Resources& r) const {
  std::string ctx = "apply resources to cgroup " + path_;
  if (r.cpu) TRY_CTX(apply_cpuset(*this, *r.cpu), ctx);
  TRY_CTX(apply_devices(*this, r.devices), ctx);
  if (r.memory) TRY_CTX(apply_memory(*this, *r.memory), ctx);
  if (r.cpu) TRY_CTX(apply_cpu(*this, *r.cpu), ctx);
  if (r.pids) TRY_CTX(apply_pids(*this, *r.pids), ctx);
  if (r.block_io) TRY_CTX(apply_block_io(*this, *r.block_io), ctx);
  TRY_CTX(apply_hugetlb(*this, r.hugepage_limits), ctx);
  TRY_CTX(apply_unified(*this, r.unified), ctx);
  return ok();
}

Status Cgroup::apply_device_bpf(const std::vector<oci::DeviceCgroup>& rules) const {
  const Dir* d = v2_dir();
  if (d == nullptr)
    return Error::invalid("install the eBPF device filter: this host has no cgroup v2 hierarchy");
  auto insns = TRY(detail::build_device_program(rules));
  return detail::attach_device_program(d->path, insns);
}

}  // namespace berth::cgroup
