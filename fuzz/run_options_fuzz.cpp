// run_options_fuzz.cpp - docker's run flag grammars (containers/options.h) and the container
// records read back from the database (containers/container.h).
//
// Input: the bytes, used whole as one flag value for every parser, and as a JSON record.
// Checks: no crash; every accepted -p binding has a container port; an accepted -v/--mount
// target is absolute; an accepted ulimit has soft <= hard unless unlimited; an accepted
// record survives to_json -> from_json unchanged.
#include <cstdint>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "containers/container.h"
#include "containers/options.h"

using namespace berth::containers;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string s(reinterpret_cast<const char*>(data), size);
  if (auto p = parse_publish(s))
    for (const auto& b : *p)
      if (b.container_port == 0) std::abort();
  (void)parse_expose(s);
  for (auto m : {parse_volume(s), parse_mount(s), parse_tmpfs(s)})
    if (m && (m->target.empty() || m->target[0] != '/')) std::abort();
  if (auto u = parse_ulimit(s))
    if (u->hard != -1 && u->soft > u->hard) std::abort();
  (void)parse_bytes(s);
  (void)parse_cpus(s);
  (void)parse_restart(s);
  (void)parse_env_file(s, "fuzz");
  (void)parse_add_host(s);
  (void)parse_device(s);
  (void)validate_name(s);
  auto j = nlohmann::json::parse(s, nullptr, false);
  if (j.is_discarded()) return 0;
  if (auto spec = spec_from_json(j)) {
    auto again = spec_from_json(nlohmann::json::parse(spec_to_json(*spec).dump()));
    if (!again || spec_to_json(*again) != spec_to_json(*spec)) std::abort();
  }
  if (auto st = state_from_json(j)) {
    auto again = state_from_json(nlohmann::json::parse(state_to_json(*st).dump()));
    if (!again || state_to_json(*again) != state_to_json(*st)) std::abort();
  }
  return 0;
}
