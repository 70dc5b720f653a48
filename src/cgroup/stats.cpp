// stats.cpp - memory, cpu and pids usage of a cgroup, v1 or v2.
#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include "base/file.h"

#include "cgroup/cgroup.h"
#include "cgroup/fs.h"

namespace berth::cgroup {

using detail::has_file;
using detail::read_keyed;
using detail::read_limit;
using detail::read_uint;

namespace {

// v1 reports "no limit" as the largest page-aligned counter value (about 2^63).
constexpr uint64_t kV1Unlimited = uint64_t{1} << 62;

Status memory_v1(const std::string& dir, Stats* s) {
  s->memory_usage = TRY(read_uint(dir, "memory.usage_in_bytes"));
  uint64_t limit = TRY(read_uint(dir, "memory.limit_in_bytes"));
  if (limit < kV1Unlimited) s->memory_limit = limit;
  s->memory_max_usage = TRY(read_uint(dir, "memory.max_usage_in_bytes"));
  if (has_file(dir, "memory.memsw.usage_in_bytes")) {
    uint64_t memsw = TRY(read_uint(dir, "memory.memsw.usage_in_bytes"));
    s->swap_usage = memsw > s->memory_usage ? memsw - s->memory_usage : 0;
  }
  return ok();
}

Status memory_v2(const std::string& dir, Stats* s) {
  s->memory_usage = TRY(read_uint(dir, "memory.current"));
  s->memory_limit = TRY(read_limit(dir, "memory.max"));
  if (has_file(dir, "memory.peak")) s->memory_max_usage = TRY(read_uint(dir, "memory.peak"));
  if (has_file(dir, "memory.swap.current"))
    s->swap_usage = TRY(read_uint(dir, "memory.swap.current"));
  return ok();
}

Status cpu_v1(const std::string& dir, Stats* s) {
  s->cpu_usage_ns = TRY(read_uint(dir, "cpuacct.usage"));
  if (has_file(dir, "cpuacct.usage_user")) {
    s->cpu_user_ns = TRY(read_uint(dir, "cpuacct.usage_user"));
    s->cpu_system_ns = TRY(read_uint(dir, "cpuacct.usage_sys"));
    return ok();
  }
  auto ticks = TRY(read_keyed(dir, "cpuacct.stat"));  // in USER_HZ
  uint64_t ns_per_tick = 1000000000ull / static_cast<uint64_t>(::sysconf(_SC_CLK_TCK));
  s->cpu_user_ns = ticks["user"] * ns_per_tick;
  s->cpu_system_ns = ticks["system"] * ns_per_tick;
  return ok();
}

Status cpu_v2(const std::string& dir, Stats* s) {
  auto stat = TRY(read_keyed(dir, "cpu.stat"));
  s->cpu_usage_ns = stat["usage_usec"] * 1000;
  s->cpu_user_ns = stat["user_usec"] * 1000;
  s->cpu_system_ns = stat["system_usec"] * 1000;
  return ok();
}

Status pids_stats(const std::string& dir, Stats* s) {
  s->pids_current = TRY(read_uint(dir, "pids.current"));
  s->pids_limit = TRY(read_limit(dir, "pids.max"));
  return ok();
}

// "8:0 Read 4096" lines (v1; the _recursive file when the kernel has it, as docker reads).
Status blkio_v1(const std::string& dir, Stats* s) {
  std::string name = has_file(dir, "blkio.throttle.io_service_bytes_recursive")
                         ? "blkio.throttle.io_service_bytes_recursive"
                         : "blkio.throttle.io_service_bytes";
  if (!has_file(dir, name)) return ok();
  std::string text = TRY(read_file(dir + "/" + name, 1 << 20));
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    std::string dev, op;
    uint64_t v = 0;
    if (!(f >> dev >> op >> v) || dev == "Total") continue;
    if (op == "Read") s->io_read_bytes += v;
    else if (op == "Write") s->io_write_bytes += v;
  }
  return ok();
}

// "8:0 rbytes=4096 wbytes=0 rios=1 ..." lines (v2).
Status io_v2(const std::string& dir, Stats* s) {
  if (!has_file(dir, "io.stat")) return ok();
  std::string text = TRY(read_file(dir + "/io.stat", 1 << 20));
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    std::string word;
    f >> word;  // the device
    while (f >> word) {
      auto eq = word.find('=');
      if (eq == std::string::npos) continue;
      uint64_t v = std::strtoull(word.c_str() + eq + 1, nullptr, 10);
      if (word.compare(0, eq, "rbytes") == 0) s->io_read_bytes += v;
      else if (word.compare(0, eq, "wbytes") == 0) s->io_write_bytes += v;
    }
  }
  return ok();
}

}  // namespace

Result<Stats> Cgroup::stats() const {
  Stats s;
  std::string ctx = "read the stats of cgroup " + path_;
  if (const Dir* d = dir_for("memory"))
    TRY_CTX(d->v2 ? memory_v2(d->path, &s) : memory_v1(d->path, &s), ctx);
  if (const Dir* d = dir_for("cpuacct"))
    TRY_CTX(d->v2 ? cpu_v2(d->path, &s) : cpu_v1(d->path, &s), ctx);
  if (const Dir* d = dir_for("pids")) TRY_CTX(pids_stats(d->path, &s), ctx);
  if (const Dir* d = dir_for("blkio"))  // v1 names, also for the unified dir ("io" there)
    TRY_CTX(d->v2 ? io_v2(d->path, &s) : blkio_v1(d->path, &s), ctx);
  return s;
}

}  // namespace berth::cgroup
