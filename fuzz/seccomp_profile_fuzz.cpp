// seccomp_profile_fuzz.cpp - libFuzzer target for security::seccomp_from_docker_profile.
//
// The input is a docker (or OCI) seccomp profile, evaluated for two containers: docker's
// default capabilities on amd64 with a 5.10 kernel, and every capability on s390x with 4.4.
// Any input may be rejected, but never crash, hang or leak, and an error is one line that
// starts with "seccomp profile: ". An accepted profile's OCI result is itself an accepted
// profile (in OCI form) that evaluates to the same thing: a fixed point.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "oci/json_codec.h"
#include "oci/spec_json.h"
#include "security/docker_defaults.h"

namespace {

using berth::security::KernelVersion;

constexpr const char* kTarget = "seccomp_profile_fuzz";

// The OCI profile as config.json writes it, and as the text of linux.seccomp alone.
std::string as_config(const berth::oci::Seccomp& s) {
  berth::oci::Spec spec;
  spec.linux.emplace();
  spec.linux->seccomp = s;
  return berth::oci::to_json(spec);
}

std::string seccomp_text(const std::string& config) {
  auto doc = berth::oci::codec::parse_document(config);
  if (!doc.ok()) berth::fuzz::fail(kTarget, "to_json output is not JSON", config);
  return (*doc)["linux"]["seccomp"].dump();
}

void check_one(std::string_view text, const std::vector<std::string>& caps, const char* arch,
               KernelVersion kernel) {
  auto r = berth::security::seccomp_from_docker_profile(text, caps, arch, kernel);
  if (!r.ok()) {
    std::string m = r.error().message();
    if (m.rfind("seccomp profile: ", 0) != 0) berth::fuzz::fail(kTarget, "error without prefix", m);
    if (m.find('\n') != std::string::npos) berth::fuzz::fail(kTarget, "error is not one line", m);
    return;
  }
  for (const auto& sc : r->syscalls)
    if (sc.names.empty()) berth::fuzz::fail(kTarget, "rule without names", as_config(*r));
  std::string once = as_config(*r);
  auto again = berth::security::seccomp_from_docker_profile(seccomp_text(once), caps, arch, kernel);
  if (!again.ok())
    berth::fuzz::fail(kTarget, "OCI result is not accepted", again.error().message() + "\n" + once);
  std::string twice = as_config(*again);
  if (twice != once)
    berth::fuzz::fail(kTarget, "OCI result is not a fixed point", once + "\n----\n" + twice);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = berth::fuzz::as_text(data, size);
  check_one(text, berth::security::docker_default_capabilities(), "amd64", KernelVersion{5, 10});
  check_one(text, berth::security::all_capabilities(), "s390x", KernelVersion{4, 4});
  return 0;
}
