// caps.cpp - capability names, set resolution, and applying sets with prctl/capset.
#include "security/caps.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>

#include "oci/names.h"

namespace berth::security {
namespace {

std::string quoted(std::string_view s) {
  std::string q;  // not "\"" + std::string(s) + ...: g++ 12 warns (-Wrestrict) on that
  q += '"';
  q += s;
  q += '"';
  return q;
}

constexpr uint64_t bit(int cap) {
  return uint64_t{1} << cap;
}

Result<uint64_t> mask_of(const std::vector<std::string>& names, const char* field) {
  uint64_t mask = 0;
  for (size_t i = 0; i < names.size(); i++) {
    auto cap = cap_from_name(names[i]);
    if (!cap) {
      std::string where = std::string("capabilities.") + field + "[" + std::to_string(i) + "]: ";
      return Error::invalid(where + cap.error().op(), cap.error().object());
    }
    mask |= bit(*cap);
  }
  return mask;
}

bool in_bounding(int cap) {
  return ::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1;
}

Status capset(uint64_t effective, uint64_t permitted, uint64_t inheritable) {
  __user_cap_header_struct hdr{};
  hdr.version = _LINUX_CAPABILITY_VERSION_3;
  hdr.pid = 0;
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
    data[i].effective = static_cast<uint32_t>(effective >> (32 * i));
    data[i].permitted = static_cast<uint32_t>(permitted >> (32 * i));
    data[i].inheritable = static_cast<uint32_t>(inheritable >> (32 * i));
  }
  if (::syscall(SYS_capset, &hdr, data) == 0) return ok();
  return sys_error("capset", "effective=" + caps_to_string(effective) +
                                 " permitted=" + caps_to_string(permitted) +
                                 " inheritable=" + caps_to_string(inheritable));
}

Status set_ambient(uint64_t ambient) {
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) {
    return sys_error("clear ambient capabilities");
  }
  for (int cap = 0; cap < 64; cap++) {
    if ((ambient & bit(cap)) == 0) continue;
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) == 0) continue;
    Error e = sys_error("raise ambient capability", caps_to_string(bit(cap)));
    if (e.code() == EPERM) e.context("an ambient capability must be permitted and inheritable");
    return e;
  }
  return ok();
}

}  // namespace

Result<int> cap_from_name(std::string_view name) {
  if (auto n = oci::capability_number(name)) return *n;
  return Error::invalid("unknown capability", quoted(name));
}

const char* cap_name(int cap) {
  return oci::capability_name(cap);
}

Result<CapSets> resolve_caps(const oci::Capabilities& caps) {
  CapSets s;
  s.bounding = TRY(mask_of(caps.bounding, "bounding"));
  s.effective = TRY(mask_of(caps.effective, "effective"));
  s.inheritable = TRY(mask_of(caps.inheritable, "inheritable"));
  s.permitted = TRY(mask_of(caps.permitted, "permitted"));
  s.ambient = TRY(mask_of(caps.ambient, "ambient"));
  return s;
}

int kernel_cap_last_cap() noexcept {
  // PR_CAPBSET_READ fails with EINVAL for caps the kernel does not know; binary search.
  int lo = 0, hi = 63;
  while (lo < hi) {
    int mid = (lo + hi + 1) / 2;
    if (::prctl(PR_CAPBSET_READ, mid, 0, 0, 0) >= 0)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

uint64_t kernel_cap_mask() noexcept {
  int last = kernel_cap_last_cap();
  return last >= 63 ? ~uint64_t{0} : bit(last + 1) - 1;
}

Status drop_bounding(uint64_t bounding) {
  int last = kernel_cap_last_cap();
  for (int cap = 0; cap <= last; cap++) {
    if ((bounding & bit(cap)) != 0 || !in_bounding(cap)) continue;
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
      return sys_error("drop bounding capability", caps_to_string(bit(cap)));
    }
  }
  return ok();
}

Status apply_caps(const CapSets& sets) {
  uint64_t known = kernel_cap_mask();  // caps this kernel lacks are left out, like runc
  TRY(drop_bounding(sets.bounding & known));
  TRY(capset(sets.effective & known, sets.permitted & known, sets.inheritable & known));
  return set_ambient(sets.ambient & known);
}

std::string caps_to_string(uint64_t set) {
  std::string out;
  for (int cap = 0; cap < 64; cap++) {
    if ((set & bit(cap)) == 0) continue;
    if (!out.empty()) out += ',';
    if (cap <= kCapMax)
      out += oci::capability_name(cap);
    else
      out += "CAP_" + std::to_string(cap);
  }
  return out;
}

}  // namespace berth::security
