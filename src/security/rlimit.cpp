// rlimit.cpp - RLIMIT_* names and setrlimit with errors that explain EPERM.
#include "security/rlimit.h"

#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <string>

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

std::string limit_text(uint64_t v) {
  return v == static_cast<uint64_t>(RLIM_INFINITY) ? "unlimited" : std::to_string(v);
}

std::string target_text(const oci::Rlimit& r) {
  return r.type + " to " + limit_text(r.soft) + "/" + limit_text(r.hard);
}

// setrlimit failed with err: say why when the cause is a raised hard limit.
Error setrlimit_error(int resource, const oci::Rlimit& r, int err) {
  struct rlimit cur {};
  if (err != EPERM || ::getrlimit(resource, &cur) < 0 || r.hard <= cur.rlim_max) {
    return Error(err, "setrlimit", target_text(r));
  }
  // Error's message puts strerror last; this one needs a hint after it, so it is spelled out.
  return Error::invalid("setrlimit " + target_text(r) + ": " + std::strerror(err) +
                        " (the hard limit here is " + limit_text(cur.rlim_max) +
                        " and raising it needs CAP_SYS_RESOURCE)");
}

std::string where(size_t i) {
  return "rlimits[" + std::to_string(i) + "]: ";
}

// The resource number of entry i; builds strings only when it fails.
Result<int> check(const oci::Rlimit& r, size_t i) {
  auto res = rlimit_from_name(r.type);
  if (!res) return Error::invalid(where(i) + res.error().op(), res.error().object());
  if (r.soft > r.hard) {
    return Error::invalid(where(i) + r.type + " soft limit " + limit_text(r.soft) +
                          " exceeds hard limit " + limit_text(r.hard));
  }
  return *res;
}

}  // namespace

Result<int> rlimit_from_name(std::string_view name) {
  if (auto r = oci::rlimit_resource(name)) return *r;  // one name table: oci/names
  return Error::invalid("unknown rlimit", quoted(name));
}

Status validate_rlimits(const std::vector<oci::Rlimit>& rlimits) {
  for (size_t i = 0; i < rlimits.size(); i++) TRY(check(rlimits[i], i));
  return ok();
}

Status apply_rlimits(const std::vector<oci::Rlimit>& rlimits) {
  for (size_t i = 0; i < rlimits.size(); i++) {
    const oci::Rlimit& r = rlimits[i];
    int resource = TRY(check(r, i));
    struct rlimit lim {};
    lim.rlim_cur = static_cast<rlim_t>(r.soft);
    lim.rlim_max = static_cast<rlim_t>(r.hard);
    if (::setrlimit(resource, &lim) < 0) {
      return setrlimit_error(resource, r, errno);
    }
  }
  return ok();
}

}  // namespace berth::security
