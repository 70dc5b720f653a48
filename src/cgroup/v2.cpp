// v2.cpp - linux.resources on the unified hierarchy, plus the conversions from the
// v1-shaped OCI values (shares, blkio weight, memory+swap) that runc defines.
#include <algorithm>
#include <cctype>
#include <string>

#include "cgroup/cgroup.h"
#include "cgroup/fs.h"
#include "cgroup/resources.h"

namespace berth::cgroup {

uint64_t shares_to_weight(uint64_t shares) {
  if (shares == 0) return 0;
  shares = std::clamp<uint64_t>(shares, 2, 262144);
  return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t blkio_weight_to_io_weight(uint64_t weight) {
  if (weight == 0) return 0;
  weight = std::clamp<uint64_t>(weight, 10, 1000);
  return 1 + (weight - 10) * 9999 / 990;
}

Result<std::string> swap_to_v2(int64_t swap, int64_t limit) {
  // As on v1: an unlimited memory with swap unset means unlimited swap too.
  if (limit == -1 && swap == 0) return std::string("max");
  if (swap == -1) return std::string("max");
  if (swap == 0) return std::string();
  if (limit == 0 || limit == -1)
    return Error::invalid("set memory.swap: a swap limit needs a memory limit");
  if (limit < 0) return Error::invalid("invalid memory.limit " + std::to_string(limit));
  if (swap < limit)
    return Error::invalid("set memory.swap to " + std::to_string(swap) +
                          ": memory+swap must be >= the memory limit " + std::to_string(limit));
  return std::to_string(swap - limit);
}

namespace detail {

namespace {

// 0 = unset (""), -1 = "max".
std::string num_or_max(int64_t v) {
  if (v == 0) return {};
  if (v == -1) return "max";
  return std::to_string(v);
}

Status write_if_set(const std::string& dir, const char* file, const std::string& value) {
  if (value.empty()) return ok();
  return write_value(dir, file, value);
}

std::string device(int64_t major, int64_t minor) {
  return std::to_string(major) + ":" + std::to_string(minor);
}

Status write_io_max(const std::string& dir, const char* key,
                    const std::vector<oci::BlockIoThrottleDevice>& devs) {
  for (const auto& d : devs)
    TRY(write_value(dir, "io.max",
                    device(d.major, d.minor) + " " + key + "=" + std::to_string(d.rate)));
  return ok();
}

Status validate_unified_key(const std::string& key) {
  if (key.empty() || key == "." || key == ".." || key.find('/') != std::string::npos)
    return Error::invalid("invalid linux.resources.unified key", "\"" + key + "\"");
  return ok();
}

}  // namespace

bool cpu_fields_set(const oci::Cpu& c) {
  return c.shares || c.quota || c.burst || c.period || c.realtime_runtime || c.realtime_period ||
         c.idle;
}

Status validate_page_size(const std::string& size) {
  auto digits_end = std::find_if(size.begin(), size.end(), [](char ch) { return !isdigit(ch); });
  bool letters = std::all_of(digits_end, size.end(), [](char ch) { return isalpha(ch); });
  if (digits_end == size.begin() || digits_end == size.end() || !letters)
    return Error::invalid("invalid hugepage size", "\"" + size + "\"");
  return ok();
}

Status cpuset(const std::string& dir, const oci::Cpu& c) {
  if (!c.cpus.empty()) TRY(write_value(dir, "cpuset.cpus", c.cpus));
  if (!c.mems.empty()) TRY(write_value(dir, "cpuset.mems", c.mems));
  return ok();
}

Status pids_max(const std::string& dir, const oci::Pids& p) {
  return write_value(dir, "pids.max", p.limit > 0 ? std::to_string(p.limit) : "max");
}

Status v2_memory(const std::string& dir, const oci::Memory& m) {
  int64_t limit = m.limit.value_or(0);
  std::string swap = TRY(swap_to_v2(m.swap.value_or(0), limit));
  if (!swap.empty()) {
    // Without swap accounting there is no memory.swap.max: "no swap" and "any swap" hold.
    if (Status s = write_value(dir, "memory.swap.max", swap); !s) {
      bool harmless = s.error().code() == ENOENT && (swap == "max" || swap == "0");
      if (!harmless) return s;
    }
  }
  TRY(write_if_set(dir, "memory.max", num_or_max(limit)));
  TRY(write_if_set(dir, "memory.low", num_or_max(m.reservation.value_or(0))));
  // swappiness, disable_oom_killer, kernel and kernel_tcp have no v2 files; ignored as by
  // runc and crun.
  return ok();
}

Status v2_cpu(const std::string& dir, const oci::Cpu& c) {
  if (c.realtime_runtime.value_or(0) != 0 || c.realtime_period.value_or(0) != 0)
    return Error::invalid("set cpu.realtimeRuntime/realtimePeriod: not supported on cgroup v2");
  if (c.idle) TRY(write_value(dir, "cpu.idle", std::to_string(*c.idle)));
  if (uint64_t w = shares_to_weight(c.shares.value_or(0)); w != 0)
    TRY(write_value(dir, "cpu.weight", std::to_string(w)));
  int64_t quota = c.quota.value_or(0);
  uint64_t period = c.period.value_or(0);
  if (quota != 0 || period != 0) {
    std::string value = quota > 0 ? std::to_string(quota) : "max";
    if (period != 0) value += " " + std::to_string(period);
    TRY(write_value(dir, "cpu.max", value));
  }
  if (c.burst) TRY(write_value(dir, "cpu.max.burst", std::to_string(*c.burst)));
  return ok();
}

Status v2_io(const std::string& dir, const oci::BlockIo& b) {
  bool bfq = has_file(dir, "io.bfq.weight");
  if (b.weight && *b.weight != 0) {
    if (bfq)
      TRY(write_value(dir, "io.bfq.weight", std::to_string(*b.weight)));
    else
      TRY(write_value(dir, "io.weight", std::to_string(blkio_weight_to_io_weight(*b.weight))));
  }
  for (const auto& d : b.weight_device) {
    if (!d.weight || *d.weight == 0) continue;
    if (bfq)
      TRY(write_value(dir, "io.bfq.weight",
                      device(d.major, d.minor) + " " + std::to_string(*d.weight)));
    else
      TRY(write_value(
          dir, "io.weight",
          device(d.major, d.minor) + " " + std::to_string(blkio_weight_to_io_weight(*d.weight))));
  }
  TRY(write_io_max(dir, "rbps", b.throttle_read_bps_device));
  TRY(write_io_max(dir, "wbps", b.throttle_write_bps_device));
  TRY(write_io_max(dir, "riops", b.throttle_read_iops_device));
  TRY(write_io_max(dir, "wiops", b.throttle_write_iops_device));
  return ok();
}

Status v2_hugetlb(const std::string& dir, const std::vector<oci::HugepageLimit>& limits) {
  for (const auto& l : limits) {
    TRY(validate_page_size(l.page_size));
    std::string value = std::to_string(l.limit);
    TRY(write_value(dir, "hugetlb." + l.page_size + ".max", value));
    std::string rsvd = "hugetlb." + l.page_size + ".rsvd.max";
    if (has_file(dir, rsvd)) TRY(write_value(dir, rsvd, value));
  }
  return ok();
}

Status v2_unified(const std::string& dir, const std::map<std::string, std::string>& files) {
  for (const auto& [key, value] : files) {
    TRY(validate_unified_key(key));
    TRY_CTX(write_value(dir, key, value), "apply linux.resources.unified");
  }
  return ok();
}

}  // namespace detail
}  // namespace berth::cgroup
