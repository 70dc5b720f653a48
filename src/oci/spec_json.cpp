// spec_json.cpp - the JSON names of config.json (one Schema per struct), parse_spec and
// to_json. The generic walking lives in json_codec.h; validation in spec_validate.cpp.
#include "oci/spec_json.h"

#include "oci/json_codec.h"

namespace berth::oci {
namespace codec {

// process.ioPriority is {class, priority}; Process keeps both as flat members.
struct IoPriority {
  std::string klass;
  int priority = 0;
};

template <>
struct Schema<IoPriority> {
  static constexpr auto fields = std::tuple{field("class", &IoPriority::klass, kAlways),
                                            field("priority", &IoPriority::priority)};
};

Status read_io_priority(const Json& v, const std::string& path, Process& out) {
  IoPriority io;
  Status st = read_value(v, path, io);
  if (!st) return st;
  out.io_priority_class = std::move(io.klass);
  out.io_priority = io.priority;
  return ok();
}

OJson write_io_priority(const Process& in) {
  if (!in.io_priority_class) return nullptr;
  return write_value(IoPriority{*in.io_priority_class, in.io_priority});
}

template <>
struct Schema<Root> {
  static constexpr auto fields =
      std::tuple{field("path", &Root::path, kAlways), field("readonly", &Root::readonly)};
};

template <>
struct Schema<IdMapping> {
  static constexpr auto fields = std::tuple{field("containerID", &IdMapping::container_id, kAlways),
                                            field("hostID", &IdMapping::host_id, kAlways),
                                            field("size", &IdMapping::size, kAlways)};
};

template <>
struct Schema<Mount> {
  static constexpr auto fields = std::tuple{field("destination", &Mount::destination, kAlways),
                                            field("type", &Mount::type),
                                            field("source", &Mount::source),
                                            field("options", &Mount::options),
                                            field("uidMappings", &Mount::uid_mappings),
                                            field("gidMappings", &Mount::gid_mappings)};
};

template <>
struct Schema<Rlimit> {
  static constexpr auto fields =
      std::tuple{field("type", &Rlimit::type, kAlways), field("hard", &Rlimit::hard, kAlways),
                 field("soft", &Rlimit::soft, kAlways)};
};

template <>
struct Schema<User> {
  static constexpr auto fields =
      std::tuple{field("uid", &User::uid, kAlways), field("gid", &User::gid, kAlways),
                 field("umask", &User::umask), field("additionalGids", &User::additional_gids),
                 field("username", &User::username)};
};

template <>
struct Schema<Capabilities> {
  static constexpr auto fields = std::tuple{
      field("bounding", &Capabilities::bounding), field("effective", &Capabilities::effective),
      field("inheritable", &Capabilities::inheritable),
      field("permitted", &Capabilities::permitted), field("ambient", &Capabilities::ambient)};
};

template <>
struct Schema<ConsoleSize> {
  static constexpr auto fields = std::tuple{field("height", &ConsoleSize::height, kAlways),
                                            field("width", &ConsoleSize::width, kAlways)};
};

template <>
struct Schema<Process> {
  static constexpr auto fields =
      std::tuple{field("terminal", &Process::terminal),
                 field("consoleSize", &Process::console_size),
                 field("user", &Process::user, kAlways),
                 field("args", &Process::args),
                 field("commandLine", &Process::command_line),
                 field("env", &Process::env),
                 field("cwd", &Process::cwd, kAlways),
                 field("capabilities", &Process::capabilities),
                 field("rlimits", &Process::rlimits),
                 field("noNewPrivileges", &Process::no_new_privileges),
                 field("apparmorProfile", &Process::apparmor_profile),
                 field("oomScoreAdj", &Process::oom_score_adj),
                 field("selinuxLabel", &Process::selinux_label),
                 custom<Process>("ioPriority", &read_io_priority, &write_io_priority)};
};

template <>
struct Schema<Hook> {
  static constexpr auto fields =
      std::tuple{field("path", &Hook::path, kAlways), field("args", &Hook::args),
                 field("env", &Hook::env), field("timeout", &Hook::timeout)};
};

template <>
struct Schema<Hooks> {
  static constexpr auto fields = std::tuple{field("prestart", &Hooks::prestart),
                                            field("createRuntime", &Hooks::create_runtime),
                                            field("createContainer", &Hooks::create_container),
                                            field("startContainer", &Hooks::start_container),
                                            field("poststart", &Hooks::poststart),
                                            field("poststop", &Hooks::poststop)};
};

template <>
struct Schema<Namespace> {
  static constexpr auto fields =
      std::tuple{field("type", &Namespace::type, kAlways), field("path", &Namespace::path)};
};

template <>
struct Schema<Device> {
  static constexpr auto fields = std::tuple{field("path", &Device::path, kAlways),
                                            field("type", &Device::type, kAlways),
                                            field("major", &Device::major, kAlways),
                                            field("minor", &Device::minor, kAlways),
                                            field("fileMode", &Device::file_mode),
                                            field("uid", &Device::uid),
                                            field("gid", &Device::gid)};
};

template <>
struct Schema<DeviceCgroup> {
  // type and access default to "a" and "rwm", so they are always written: omitting an
  // explicit "" would turn into the default on the next parse.
  static constexpr auto fields = std::tuple{
      field("allow", &DeviceCgroup::allow, kAlways), field("type", &DeviceCgroup::type, kAlways),
      field("major", &DeviceCgroup::major), field("minor", &DeviceCgroup::minor),
      field("access", &DeviceCgroup::access, kAlways)};
};

template <>
struct Schema<Memory> {
  static constexpr auto fields =
      std::tuple{field("limit", &Memory::limit),
                 field("reservation", &Memory::reservation),
                 field("swap", &Memory::swap),
                 field("kernel", &Memory::kernel),
                 field("kernelTCP", &Memory::kernel_tcp),
                 field("swappiness", &Memory::swappiness),
                 field("disableOOMKiller", &Memory::disable_oom_killer),
                 field("useHierarchy", &Memory::use_hierarchy),
                 field("checkBeforeUpdate", &Memory::check_before_update)};
};

template <>
struct Schema<Cpu> {
  static constexpr auto fields = std::tuple{field("shares", &Cpu::shares),
                                            field("quota", &Cpu::quota),
                                            field("burst", &Cpu::burst),
                                            field("period", &Cpu::period),
                                            field("realtimeRuntime", &Cpu::realtime_runtime),
                                            field("realtimePeriod", &Cpu::realtime_period),
                                            field("cpus", &Cpu::cpus),
                                            field("mems", &Cpu::mems),
                                            field("idle", &Cpu::idle)};
};

template <>
struct Schema<Pids> {
  static constexpr auto fields = std::tuple{field("limit", &Pids::limit, kAlways)};
};

template <>
struct Schema<HugepageLimit> {
  static constexpr auto fields = std::tuple{field("pageSize", &HugepageLimit::page_size, kAlways),
                                            field("limit", &HugepageLimit::limit, kAlways)};
};

template <>
struct Schema<BlockIoWeightDevice> {
  static constexpr auto fields = std::tuple{field("major", &BlockIoWeightDevice::major, kAlways),
                                            field("minor", &BlockIoWeightDevice::minor, kAlways),
                                            field("weight", &BlockIoWeightDevice::weight),
                                            field("leafWeight", &BlockIoWeightDevice::leaf_weight)};
};

template <>
struct Schema<BlockIoThrottleDevice> {
  static constexpr auto fields = std::tuple{field("major", &BlockIoThrottleDevice::major, kAlways),
                                            field("minor", &BlockIoThrottleDevice::minor, kAlways),
                                            field("rate", &BlockIoThrottleDevice::rate, kAlways)};
};

template <>
struct Schema<BlockIo> {
  static constexpr auto fields =
      std::tuple{field("weight", &BlockIo::weight),
                 field("leafWeight", &BlockIo::leaf_weight),
                 field("weightDevice", &BlockIo::weight_device),
                 field("throttleReadBpsDevice", &BlockIo::throttle_read_bps_device),
                 field("throttleWriteBpsDevice", &BlockIo::throttle_write_bps_device),
                 field("throttleReadIOPSDevice", &BlockIo::throttle_read_iops_device),
                 field("throttleWriteIOPSDevice", &BlockIo::throttle_write_iops_device)};
};

template <>
struct Schema<Resources> {
  static constexpr auto fields = std::tuple{
      field("devices", &Resources::devices),  field("memory", &Resources::memory),
      field("cpu", &Resources::cpu),          field("pids", &Resources::pids),
      field("blockIO", &Resources::block_io), field("hugepageLimits", &Resources::hugepage_limits),
      field("unified", &Resources::unified)};
};

template <>
struct Schema<SeccompArg> {
  static constexpr auto fields = std::tuple{
      field("index", &SeccompArg::index, kAlways), field("value", &SeccompArg::value, kAlways),
      field("valueTwo", &SeccompArg::value_two), field("op", &SeccompArg::op, kAlways)};
};

template <>
struct Schema<SeccompSyscall> {
  static constexpr auto fields = std::tuple{field("names", &SeccompSyscall::names, kAlways),
                                            field("action", &SeccompSyscall::action, kAlways),
                                            field("errnoRet", &SeccompSyscall::errno_ret),
                                            field("args", &SeccompSyscall::args)};
};

template <>
struct Schema<Seccomp> {
  static constexpr auto fields =
      std::tuple{field("defaultAction", &Seccomp::default_action, kAlways),
                 field("defaultErrnoRet", &Seccomp::default_errno_ret),
                 field("architectures", &Seccomp::architectures),
                 field("flags", &Seccomp::flags),
                 field("listenerPath", &Seccomp::listener_path),
                 field("listenerMetadata", &Seccomp::listener_metadata),
                 field("syscalls", &Seccomp::syscalls)};
};

template <>
struct Schema<Linux> {
  static constexpr auto fields = std::tuple{field("uidMappings", &Linux::uid_mappings),
                                            field("gidMappings", &Linux::gid_mappings),
                                            field("sysctl", &Linux::sysctl),
                                            field("resources", &Linux::resources),
                                            field("cgroupsPath", &Linux::cgroups_path),
                                            field("namespaces", &Linux::namespaces),
                                            field("devices", &Linux::devices),
                                            field("seccomp", &Linux::seccomp),
                                            field("rootfsPropagation", &Linux::rootfs_propagation),
                                            field("maskedPaths", &Linux::masked_paths),
                                            field("readonlyPaths", &Linux::readonly_paths),
                                            field("mountLabel", &Linux::mount_label)};
};

template <>
struct Schema<Spec> {
  static constexpr auto fields = std::tuple{field("ociVersion", &Spec::oci_version, kAlways),
                                            field("process", &Spec::process),
                                            field("root", &Spec::root, kAlways),
                                            field("hostname", &Spec::hostname),
                                            field("domainname", &Spec::domainname),
                                            field("mounts", &Spec::mounts),
                                            field("hooks", &Spec::hooks),
                                            field("annotations", &Spec::annotations),
                                            field("linux", &Spec::linux)};
};

}  // namespace codec

namespace {

// Process::cwd defaults to "/" for code that builds a Process, but config.json must set it
// (the spec marks it REQUIRED; runc rejects a missing cwd).
Status check_cwd_present(const codec::Json& doc) {
  auto process = doc.find("process");
  if (process == doc.end() || !process->is_object()) return ok();
  auto cwd = process->find("cwd");
  if (cwd == process->end() || cwd->is_null()) return Error::invalid("process.cwd must be set");
  return ok();
}

Result<Spec> parse_unprefixed(std::string_view json_text) {
  codec::Json doc = TRY(codec::parse_document(json_text));
  Spec spec;
  TRY(codec::read_value(doc, "", spec));
  TRY(check_cwd_present(doc));
  TRY(validate_spec(spec));
  return spec;
}

}  // namespace

Result<Spec> parse_spec(std::string_view json_text) {
  auto spec = parse_unprefixed(json_text);
  if (!spec) return codec::in_file("config.json", spec.error());
  return spec;
}

std::string to_json(const Spec& spec) {
  return codec::dump_pretty(codec::write_value(spec));
}

}  // namespace berth::oci
