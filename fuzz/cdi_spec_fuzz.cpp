// cdi_spec_fuzz.cpp - libFuzzer target for gpu::cdi::parse_spec (JSON and YAML), the writers
// and gpu::apply.
//
// The input is read as JSON and as YAML. Any input may be rejected, but never crash, hang or
// leak, and an error is one line that starts with "CDI spec: ". An accepted spec written with
// to_json and with to_yaml reads back to an equal spec; every device's qualified name parses;
// its edits apply to a small OCI spec (fake stat: a character device, a regular file for
// paths under /reg) and a failed apply leaves the spec as it was. The input is also tried as
// a qualified device name.
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "gpu/cdi.h"
#include "oci/spec_json.h"

namespace {

namespace cdi = berth::gpu::cdi;
constexpr const char* kTarget = "cdi_spec_fuzz";

void check_error(const berth::Error& e) {
  std::string m = e.message();
  if (m.rfind("CDI spec: ", 0) != 0) berth::fuzz::fail(kTarget, "error without prefix", m);
  if (m.find('\n') != std::string::npos) berth::fuzz::fail(kTarget, "error is not one line", m);
}

void check_reads_back(const cdi::Spec& s, const std::string& text, bool is_yaml) {
  auto again = cdi::parse_spec(text, is_yaml);
  if (!again.ok())
    berth::fuzz::fail(kTarget, is_yaml ? "to_yaml output is refused" : "to_json output is refused",
                      again.error().message() + "\n" + text);
  if (!(*again == s))
    berth::fuzz::fail(kTarget, "written spec reads back different",
                      text + "\n----\n" + cdi::to_json(*again));
}

berth::Result<struct stat> fake_stat(const std::string& path) {
  struct stat st {};
  st.st_mode = path.rfind("/reg", 0) == 0 ? (S_IFREG | 0644) : (S_IFCHR | 0660);
  st.st_rdev = makedev(195, static_cast<unsigned>(path.size()));
  return st;
}

void check_apply(const cdi::Spec& s) {
  for (const auto& d : s.devices) {
    auto q = cdi::parse_qualified_name(s.kind + "=" + d.name);
    if (!q.ok() || q->name != d.name || q->kind() != s.kind)
      berth::fuzz::fail(kTarget, "a device's qualified name does not parse", s.kind + "=" + d.name);
    berth::gpu::ContainerEdits e = s.edits;
    e.append(d.edits);
    berth::oci::Spec spec;
    spec.process.emplace();
    spec.process->user.uid = 1000;
    spec.mounts.push_back({.destination = "/proc", .type = "proc", .source = "proc"});
    std::string before = berth::oci::to_json(spec);
    auto st = berth::gpu::apply(e, spec, fake_stat);
    if (!st.ok() && berth::oci::to_json(spec) != before)
      berth::fuzz::fail(kTarget, "a failed apply changed the spec", st.error().message());
  }
}

void check_one(std::string_view text, bool is_yaml) {
  auto r = cdi::parse_spec(text, is_yaml);
  if (!r.ok()) return check_error(r.error());
  check_reads_back(*r, cdi::to_json(*r), false);
  check_reads_back(*r, cdi::to_yaml(*r), true);
  check_apply(*r);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = berth::fuzz::as_text(data, size);
  check_one(text, false);
  check_one(text, true);
  auto q = cdi::parse_qualified_name(text);
  if (q.ok() && q->str() != text)
    berth::fuzz::fail(kTarget, "qualified name does not print back", std::string(text));
  return 0;
}
