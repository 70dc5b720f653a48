// v1.cpp - linux.resources on cgroup v1 hierarchies (memory, cpu, blkio, hugetlb).
#include <string>

#include "cgroup/devices.h"
#include "cgroup/fs.h"
#include "cgroup/resources.h"

namespace berth::cgroup::detail {

namespace {

constexpr const char* kMemLimit = "memory.limit_in_bytes";
constexpr const char* kMemswLimit = "memory.memsw.limit_in_bytes";

std::string str(int64_t v) {
  return std::to_string(v);
}

Status set_memory_limit(const std::string& dir, int64_t limit) {
  if (limit == 0) return ok();
  return write_value(dir, kMemLimit, str(limit));
}

// memory.memsw.limit_in_bytes exists only with swap accounting; without it a swap limit
// cannot be enforced and is skipped.
Status set_swap_limit(const std::string& dir, int64_t swap) {
  if (swap == 0 || !has_file(dir, kMemswLimit)) return ok();
  return write_value(dir, kMemswLimit, str(swap));
}

// The kernel wants memory <= memsw at every moment, so the order of the two writes depends
// on whether the limits grow or shrink (runc's setMemoryAndSwap).
Status set_memory_and_swap(const std::string& dir, int64_t limit, int64_t swap) {
  if (limit == -1 && swap == 0 && has_file(dir, kMemswLimit)) swap = -1;
  if (limit != 0 && swap != 0) {
    uint64_t current = TRY(read_uint(dir, kMemLimit));
    if (swap == -1 || current < static_cast<uint64_t>(swap)) {
      TRY(set_swap_limit(dir, swap));
      return set_memory_limit(dir, limit);
    }
  }
  TRY(set_memory_limit(dir, limit));
  return set_swap_limit(dir, swap);
}

Status set_cpu_period_and_quota(const std::string& dir, const oci::Cpu& c) {
  int64_t quota = c.quota.value_or(0);
  uint64_t period = c.period.value_or(0);
  bool retry_period = false;
  if (period != 0) {
    Status s = write_value(dir, "cpu.cfs_period_us", std::to_string(period));
    // A smaller period can be refused (EINVAL) while the old quota is still in place; it is
    // written again after the quota.
    if (!s) {
      if (s.error().code() != EINVAL || quota == 0) return s;
      retry_period = true;
    }
  }
  if (c.burst) TRY(write_value(dir, "cpu.cfs_burst_us", str(*c.burst)));
  if (quota != 0) {
    TRY(write_value(dir, "cpu.cfs_quota_us", str(quota)));
    if (retry_period) TRY(write_value(dir, "cpu.cfs_period_us", std::to_string(period)));
  }
  return ok();
}

// The kernel clamps cpu.shares silently; read it back so a clamped value is an error.
Status set_cpu_shares(const std::string& dir, uint64_t shares) {
  TRY(write_value(dir, "cpu.shares", std::to_string(shares)));
  uint64_t got = TRY(read_uint(dir, "cpu.shares"));
  if (shares > got)
    return Error::invalid("set cpu.shares to " + std::to_string(shares) +
                          ": the maximum allowed cpu-shares is " + std::to_string(got));
  if (shares < got)
    return Error::invalid("set cpu.shares to " + std::to_string(shares) +
                          ": the minimum allowed cpu-shares is " + std::to_string(got));
  return ok();
}

std::string device_value(int64_t major, int64_t minor, uint64_t v) {
  return std::to_string(major) + ":" + std::to_string(minor) + " " + std::to_string(v);
}

Status write_throttle(const std::string& dir, const char* file,
                      const std::vector<oci::BlockIoThrottleDevice>& devs) {
  for (const auto& d : devs) TRY(write_value(dir, file, device_value(d.major, d.minor, d.rate)));
  return ok();
}

}  // namespace

Status v1_memory(const std::string& dir, const oci::Memory& m) {
  if (m.swappiness && *m.swappiness > 100)
    return Error::invalid("invalid memory.swappiness " + std::to_string(*m.swappiness) +
                          ": the valid range is 0-100");
  TRY(set_memory_and_swap(dir, m.limit.value_or(0), m.swap.value_or(0)));
  if (m.reservation && *m.reservation != 0)
    TRY(write_value(dir, "memory.soft_limit_in_bytes", str(*m.reservation)));
  if (m.kernel_tcp && *m.kernel_tcp != 0)
    TRY(write_value(dir, "memory.kmem.tcp.limit_in_bytes", str(*m.kernel_tcp)));
  if (m.swappiness) TRY(write_value(dir, "memory.swappiness", std::to_string(*m.swappiness)));
  if (m.disable_oom_killer)
    TRY(write_value(dir, "memory.oom_control", *m.disable_oom_killer ? "1" : "0"));
  // memory.kernel is deprecated (and refused by kernels >= 6.x); it is ignored, as in runc.
  return ok();
}

Status v1_cpu(const std::string& dir, const oci::Cpu& c) {
  // Realtime first: a SCHED_RR task cannot join a group without RT bandwidth.
  if (c.realtime_period && *c.realtime_period != 0)
    TRY(write_value(dir, "cpu.rt_period_us", std::to_string(*c.realtime_period)));
  if (c.realtime_runtime && *c.realtime_runtime != 0)
    TRY(write_value(dir, "cpu.rt_runtime_us", str(*c.realtime_runtime)));
  if (c.shares && *c.shares != 0) TRY(set_cpu_shares(dir, *c.shares));
  TRY(set_cpu_period_and_quota(dir, c));
  if (c.idle) TRY(write_value(dir, "cpu.idle", str(*c.idle)));
  return ok();
}

Status v1_blkio(const std::string& dir, const oci::BlockIo& b) {
  // With the BFQ scheduler the weight files carry a "bfq." prefix.
  bool bfq = has_file(dir, "blkio.bfq.weight");
  const char* weight = bfq ? "blkio.bfq.weight" : "blkio.weight";
  const char* weight_device = bfq ? "blkio.bfq.weight_device" : "blkio.weight_device";
  if (b.weight && *b.weight != 0) TRY(write_value(dir, weight, std::to_string(*b.weight)));
  if (b.leaf_weight && *b.leaf_weight != 0)
    TRY(write_value(dir, "blkio.leaf_weight", std::to_string(*b.leaf_weight)));
  for (const auto& d : b.weight_device) {
    if (d.weight && *d.weight != 0)
      TRY(write_value(dir, weight_device, device_value(d.major, d.minor, *d.weight)));
    if (d.leaf_weight && *d.leaf_weight != 0)
      TRY(write_value(dir, "blkio.leaf_weight_device",
                      device_value(d.major, d.minor, *d.leaf_weight)));
  }
  TRY(write_throttle(dir, "blkio.throttle.read_bps_device", b.throttle_read_bps_device));
  TRY(write_throttle(dir, "blkio.throttle.write_bps_device", b.throttle_write_bps_device));
  TRY(write_throttle(dir, "blkio.throttle.read_iops_device", b.throttle_read_iops_device));
  TRY(write_throttle(dir, "blkio.throttle.write_iops_device", b.throttle_write_iops_device));
  return ok();
}

Status v1_hugetlb(const std::string& dir, const std::vector<oci::HugepageLimit>& limits) {
  for (const auto& l : limits) {
    TRY(validate_page_size(l.page_size));
    std::string value = std::to_string(l.limit);
    TRY(write_value(dir, "hugetlb." + l.page_size + ".limit_in_bytes", value));
    std::string rsvd = "hugetlb." + l.page_size + ".rsvd.limit_in_bytes";
    if (has_file(dir, rsvd)) TRY(write_value(dir, rsvd, value));
  }
  return ok();
}

// Default deny, then each rule in order (what runc did before its transition emulator).
Status v1_devices(const std::string& dir, const std::vector<oci::DeviceCgroup>& rules) {
  for (const auto& r : rules) TRY(validate_device_rule(r));
  TRY(write_value(dir, "devices.deny", "a"));
  for (const auto& r : rules)
    TRY(write_value(dir, r.allow ? "devices.allow" : "devices.deny", v1_device_rule(r)));
  return ok();
}

}  // namespace berth::cgroup::detail
