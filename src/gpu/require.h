// require.h - NVIDIA_REQUIRE_* constraints (../shared/GPU.md 1.5): space-separated clauses
// OR'd, comma-separated terms in a clause AND'd, terms "key op value" with key cuda,
// driver, arch or brand and op = != < <= > >=. Versions compare numerically dot by dot,
// trailing ".0" ignored ("12.4" == "12.4.0").
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace berth::gpu {

struct RequireTerm {
  std::string key;  // cuda driver arch brand
  std::string op;   // = != < <= > >=
  std::string value;
  bool operator==(const RequireTerm&) const = default;
};
using RequireClause = std::vector<RequireTerm>;  // AND
using Requirement = std::vector<RequireClause>;  // OR

// Parses one variable's value. Errors: unknown key, bad operator, an ordering operator on
// brand, an empty value, an empty term ("cuda>=12,"), a version that is not digits and dots.
// Keys are read case-insensitively and stored lower-case; clauses split on any whitespace.
// A blank value gives no clauses (nothing required).
Result<Requirement> parse_requirement(std::string_view value);

// -1, 0, 1 comparing dotted numeric versions; trailing zero components ignored. Digit
// strings of any length compare numerically (no overflow); leading zeros are ignored.
int compare_versions(std::string_view a, std::string_view b);

// "cuda>=12.4"; requirement_string joins terms with ',' and clauses with ' ', so
// parse_requirement(requirement_string(r)) gives r back.
std::string term_string(const RequireTerm& t);
std::string requirement_string(const Requirement& req);

// What the host has, for evaluation.
struct RequireFacts {
  // Empty: not known on this host; terms about an unknown fact pass.
  std::string cuda;    // "12.4" (the driver's CUDA version)
  std::string driver;  // "550.54.15"
  // One entry per selected GPU: compute capability ("9.0") and brand ("tesla", "nvidia").
  // Empty: no GPU visible, so arch and brand terms pass.
  struct Gpu {
    std::string arch;
    std::string brand;
  };
  std::vector<Gpu> gpus;
};

// The requirements an image environment states: every NVIDIA_REQUIRE_* variable except
// NVIDIA_REQUIRE_JETPACK, plus "cuda>=MAJOR.MINOR" from CUDA_VERSION for a legacy image
// (CUDA_VERSION non-empty and NVIDIA_REQUIRE_CUDA unset or empty), named "CUDA_VERSION".
// Empty when NVIDIA_DISABLE_REQUIRE is true/1/yes (any case). env: "K=V" strings (later
// entries win). Result: (name, value) pairs sorted by name, the CUDA_VERSION one last.
std::vector<std::pair<std::string, std::string>> requirements_of(
    const std::vector<std::string>& env);

// Checks every requirement of env against facts; a failed one is an error like the
// toolkit's: "unsatisfied condition: cuda>=12.4, please update your driver to a newer
// version, or use an earlier cuda container (host CUDA 12.2, driver 535.104.05)". The term
// named is the first failing one of the first clause; an arch or brand failure has no driver
// advice and adds the GPU's arch and brand to the host facts. Each GPU in facts.gpus must satisfy
// every requirement on its own. A malformed variable is an error naming it
// ("NVIDIA_REQUIRE_CUDA: invalid requirement term ...").
Status check_requirements(const std::vector<std::string>& env, const RequireFacts& facts);

}  // namespace berth::gpu
