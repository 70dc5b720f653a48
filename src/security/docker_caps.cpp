// docker_caps.cpp - docker's default capabilities, --cap-add/--cap-drop, masked and
// read-only paths (see docker_defaults.h).
#include <algorithm>
#include <cctype>

#include "oci/names.h"
#include "security/caps.h"
#include "security/docker_defaults.h"

namespace berth::security {
namespace {

constexpr std::string_view kAll = "ALL";

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

void add_unique(std::vector<std::string>& out, const std::string& s) {
  if (!contains(out, s)) out.push_back(s);
}

Result<std::vector<std::string>> normalize_all(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  out.reserve(names.size());
  for (const auto& n : names) out.push_back(TRY(normalize_capability(n)));
  return out;
}

}  // namespace

std::vector<std::string> docker_default_capabilities() {
  return {"CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
          "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
          "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
          "CAP_KILL",    "CAP_AUDIT_WRITE"};
}

std::vector<std::string> all_capabilities() {
  int last = std::min(kernel_cap_last_cap(), kCapMax);
  std::vector<std::string> out;
  for (int cap = 0; cap <= last; ++cap) out.emplace_back(cap_name(cap));
  return out;
}

Result<std::string> normalize_capability(std::string_view name) {
  std::string up(name);
  for (char& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (up == kAll) return up;
  if (up.rfind("CAP_", 0) != 0) up.insert(0, "CAP_");
  if (!oci::capability_number(up))
    return Error::invalid("invalid capability: " + std::string(name));
  return up;
}

Result<std::vector<std::string>> apply_cap_changes(const std::vector<std::string>& base,
                                                   const std::vector<std::string>& cap_add,
                                                   const std::vector<std::string>& cap_drop) {
  if (cap_add.empty() && cap_drop.empty()) return base;
  auto drop = TRY(normalize_all(cap_drop));
  auto add = TRY(normalize_all(cap_add));
  std::vector<std::string> out;
  if (contains(add, kAll)) {
    for (const auto& c : all_capabilities())
      if (!contains(drop, c)) add_unique(out, c);
    return out;
  }
  if (!contains(drop, kAll)) {
    for (const auto& c : base)
      if (!contains(drop, c)) add_unique(out, c);
  }
  for (const auto& c : add) add_unique(out, c);
  return out;
}

std::vector<std::string> docker_masked_paths() {
  return {"/proc/asound",     "/proc/acpi",        "/proc/interrupts",
          "/proc/kcore",      "/proc/keys",        "/proc/latency_stats",
          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
          "/proc/scsi",       "/sys/firmware",     "/sys/devices/virtual/powercap"};
}

std::vector<std::string> docker_readonly_paths() {
  return {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
}

}  // namespace berth::security
