// platform.h - OS/architecture/variant triples ("linux/arm64/v8") as Go and containerd name
// them, the host's platform, and containerd's rules for which image platforms a host runs.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace berth::image {

struct Platform {
  std::string os;            // "linux"
  std::string architecture;  // GOARCH: "amd64", "arm64", "arm", "ppc64le", "s390x", ...
  std::string variant;       // "v8", "v7", "v3", or empty
  std::string os_version;    // Windows images only
  std::vector<std::string> os_features;

  // "os/architecture[/variant]"
  std::string string() const;
  friend bool operator==(const Platform&, const Platform&) = default;
};

// The platform `uname -m` names, in Go's words: x86_64 -> amd64, aarch64 -> arm64/v8,
// armv7l -> arm/v7, i686 -> 386, ppc64le, s390x, riscv64; unknown names pass through.
// os is "linux".
Platform platform_for_machine(std::string_view machine);
// platform_for_machine(uname().machine).
Platform host_platform();

// "os/arch[/variant]", or a lone "arch" (os linux) or a lone "os" (the host's architecture),
// as `--platform` takes it. Lowercased; architecture aliases ("x86_64", "aarch64", "armhf")
// become Go's names. Errors quote the input: invalid platform "linux//v7": ...
Result<Platform> parse_platform(std::string_view text);

// containerd's platforms.Normalize: lowercase; amd64/v1 -> amd64; arm64 "v8" -> "";
// arm "" -> "v7"; i386 -> 386. Used to compare platforms, not to show them.
Platform normalize_platform(const Platform& p);

// The platforms a host of platform `want` runs, best first (containerd's platforms.Only):
// amd64/v3 -> amd64/v3, v2, amd64, 386; arm/v7 -> arm/v7, v6, v5; arm64 -> arm64, arm/v8 .. v5.
// Each is normalised.
std::vector<Platform> compatible_platforms(const Platform& want);

// True when `have` is one of compatible_platforms(want) (os, architecture and variant compared
// after normalising; OS version and features are not compared).
bool platform_matches(const Platform& want, const Platform& have);

}  // namespace berth::image
