// update: change a container's cgroup limits (what containerd and Kubernetes call for
// UpdateContainerResources): a linux.resources JSON file and/or runc's flags.
#include "base/file.h"
#include "base/strings.h"
#include "cli/runtime/commands.h"
#include "oci/spec_json.h"

namespace berth::cli {
namespace {

struct UpdateFlags {
  std::string id;
  std::string resources_file;  // "-" = stdin
  std::optional<int64_t> memory, memory_reservation, memory_swap, pids_limit, cpu_quota;
  std::optional<uint64_t> cpu_shares, cpu_period;
  std::string cpuset_cpus, cpuset_mems;
};

Result<std::string> read_all_stdin() {
  std::string out;
  char buf[8192];
  ssize_t n;
  while ((n = ::read(0, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  if (n < 0) return sys_error("read resources from stdin");
  return out;
}

// Validates the JSON as the linux.resources of a config.json, so errors name the same fields.
Result<oci::Resources> parse_resources(const std::string& text) {
  auto spec = oci::parse_spec(R"({"ociVersion":"1.1.0","root":{"path":"rootfs"},"linux":{"resources":)" +
                              text + "}}");
  if (!spec) return Error::invalid("--resources: " + spec.error().message());
  return spec->linux->resources.value_or(oci::Resources{});
}

Result<oci::Resources> build(const UpdateFlags& f) {
  oci::Resources r;
  if (!f.resources_file.empty()) {
    std::string text = f.resources_file == "-" ? TRY(read_all_stdin()) : TRY(read_file(f.resources_file));
    r = TRY(parse_resources(text));
  }
  if (f.memory || f.memory_reservation || f.memory_swap) {
    if (!r.memory) r.memory.emplace();
    if (f.memory) r.memory->limit = f.memory;
    if (f.memory_reservation) r.memory->reservation = f.memory_reservation;
    if (f.memory_swap) r.memory->swap = f.memory_swap;
  }
  if (f.cpu_shares || f.cpu_quota || f.cpu_period || !f.cpuset_cpus.empty() || !f.cpuset_mems.empty()) {
    if (!r.cpu) r.cpu.emplace();
    if (f.cpu_shares) r.cpu->shares = f.cpu_shares;
    if (f.cpu_quota) r.cpu->quota = f.cpu_quota;
    if (f.cpu_period) r.cpu->period = f.cpu_period;
    if (!f.cpuset_cpus.empty()) r.cpu->cpus = f.cpuset_cpus;
    if (!f.cpuset_mems.empty()) r.cpu->mems = f.cpuset_mems;
  }
  if (f.pids_limit) r.pids = oci::Pids{*f.pids_limit};
  return r;
}

}  // namespace

void add_update_command(CLI::App& app, Action& action) {
  static UpdateFlags f;
  auto* c = app.add_subcommand("update", "change the cgroup limits of a container");
  c->add_option("-r,--resources", f.resources_file, "linux.resources JSON file (- for stdin)");
  c->add_option("-m,--memory", f.memory, "memory limit in bytes");
  c->add_option("--memory-reservation", f.memory_reservation, "memory soft limit in bytes");
  c->add_option("--memory-swap", f.memory_swap, "memory + swap limit in bytes (-1: unlimited)");
  c->add_option("--cpu-shares", f.cpu_shares, "CPU shares (relative weight)");
  c->add_option("--cpu-quota", f.cpu_quota, "CFS quota in microseconds per period");
  c->add_option("--cpu-period", f.cpu_period, "CFS period in microseconds");
  c->add_option("--cpuset-cpus", f.cpuset_cpus, "CPUs allowed (0-3,5)");
  c->add_option("--cpuset-mems", f.cpuset_mems, "memory nodes allowed");
  c->add_option("--pids-limit", f.pids_limit, "maximum number of processes");
  c->add_option("id", f.id, "container id")->required();
  c->callback([&] {
    action = [](runtime::Runtime& rt) -> Result<int> {
      oci::Resources r = TRY(build(f));
      TRY(rt.update(f.id, r));
      return 0;
    };
  });
}

}  // namespace berth::cli
