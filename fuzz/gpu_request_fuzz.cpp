// gpu_request_fuzz.cpp - what a container asks of the GPUs (gpu/request.h, gpu/require.h):
// docker's --gpus value, NVIDIA_VISIBLE_DEVICES, NVIDIA_DRIVER_CAPABILITIES, NVIDIA_REQUIRE_*.
//
// Input: the bytes whole, as a value for every parser; also split at newlines into an
// environment for check_requirements, and at the first NUL into two versions to compare.
// Checks: no crash; an accepted --gpus value has a count in [-1, kMaxGpuCount], not both a
// count and device ids, no empty id, driver "" or "nvidia", only capability words that
// parse_capabilities takes, and its NVIDIA_VISIBLE_DEVICES reads back as what it asked for;
// capabilities survive parse -> string -> parse; a visible-devices list has trimmed,
// non-empty, distinct ids; an accepted requirement survives requirement_string -> parse;
// compare_versions is antisymmetric and reflexive.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "gpu/request.h"
#include "gpu/require.h"

using namespace berth;
using namespace berth::gpu;

namespace {

constexpr const char* kTarget = "gpu_request_fuzz";

void check_gpus_flag(std::string_view s) {
  auto f = parse_gpus_flag(s);
  if (!f) return;
  if (f->count < -1 || f->count > kMaxGpuCount)
    fuzz::fail(kTarget, "count out of range", std::string(s));
  if (f->count != 0 && !f->device_ids.empty())
    fuzz::fail(kTarget, "both count and device ids", std::string(s));
  for (const auto& id : f->device_ids)
    if (id.empty()) fuzz::fail(kTarget, "empty device id", std::string(s));
  if (!f->driver.empty() && f->driver != "nvidia")
    fuzz::fail(kTarget, "foreign driver", std::string(s));
  for (const auto& c : f->capabilities)
    if (c.empty() || !parse_capabilities(c)) fuzz::fail(kTarget, "bad capability word", c);
  auto visible = parse_visible_devices(visible_devices_for(*f));
  if (f->count == -1 && visible.kind != VisibleDevices::kAll)
    fuzz::fail(kTarget, "count -1 is not all", std::string(s));
  if (f->count > 0 && (visible.kind != VisibleDevices::kList ||
                       visible.ids.size() != static_cast<size_t>(f->count)))
    fuzz::fail(kTarget, "count N is not N indexes", std::string(s));
}

void check_capabilities(std::string_view s) {
  auto caps = parse_capabilities(s);
  if (!caps) return;
  if (*caps == 0 || (*caps & ~static_cast<unsigned>(kAllCapabilities)) != 0)
    fuzz::fail(kTarget, "capability bits out of range", std::string(s));
  auto again = parse_capabilities(capabilities_string(*caps));
  if (!again || *again != *caps)
    fuzz::fail(kTarget, "capabilities do not round-trip", std::string(s));
}

void check_visible_devices(std::string_view s) {
  auto v = parse_visible_devices(s);
  if (v.kind != VisibleDevices::kList) {
    if (!v.ids.empty()) fuzz::fail(kTarget, "ids outside a list", std::string(s));
    return;
  }
  if (v.ids.empty()) fuzz::fail(kTarget, "empty list", std::string(s));
  for (size_t i = 0; i < v.ids.size(); ++i) {
    const auto& id = v.ids[i];
    if (id.empty() || trim(id) != id || id == "all") fuzz::fail(kTarget, "bad list id", id);
    if (std::find(v.ids.begin() + static_cast<long>(i) + 1, v.ids.end(), id) != v.ids.end())
      fuzz::fail(kTarget, "duplicate id", id);
  }
}

void check_requirement(std::string_view s) {
  auto r = parse_requirement(s);
  if (!r) return;
  for (const auto& clause : *r) {
    if (clause.empty()) fuzz::fail(kTarget, "empty clause", std::string(s));
    for (const auto& t : clause) {
      if (t.value.empty()) fuzz::fail(kTarget, "empty value", std::string(s));
      if (t.key == "brand" && t.op != "=" && t.op != "!=")
        fuzz::fail(kTarget, "ordering operator on brand", std::string(s));
    }
  }
  auto again = parse_requirement(requirement_string(*r));
  if (!again || *again != *r)
    fuzz::fail(kTarget, "requirement does not round-trip", std::string(s));
}

void check_versions(std::string_view s) {
  auto parts = fuzz::split_at_nul(s, 2);
  int ab = compare_versions(parts[0], parts[1]);
  if (ab < -1 || ab > 1 || compare_versions(parts[1], parts[0]) != -ab)
    fuzz::fail(kTarget, "compare_versions not antisymmetric", std::string(s));
  if (compare_versions(parts[0], parts[0]) != 0)
    fuzz::fail(kTarget, "compare_versions not reflexive", std::string(s));
}

void check_environment(std::string_view s) {
  std::vector<std::string> env = split(s, '\n');
  for (const auto& [name, value] : requirements_of(env))
    if (name.empty() || name == "NVIDIA_REQUIRE_JETPACK")
      fuzz::fail(kTarget, "bad requirement name", name);
  RequireFacts facts{"12.2", "535.104.05", {{"8.0", "tesla"}, {"", ""}}};
  (void)check_requirements(env, facts);
  (void)check_requirements(env, RequireFacts{});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view s = fuzz::as_text(data, size);
  check_gpus_flag(s);
  check_capabilities(s);
  check_visible_devices(s);
  check_requirement(s);
  check_versions(s);
  check_environment(s);
  return 0;
}
