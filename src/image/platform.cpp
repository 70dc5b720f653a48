// platform.cpp - platform names, containerd's compatibility vectors, select_platform.
#include "image/platform.h"

#include <sys/utsname.h>

#include <algorithm>
#include <array>
#include <charconv>

#include "image/manifest.h"

namespace berth::image {
namespace {

constexpr std::array<std::string_view, 16> kKnownOs{
    "aix", "android", "darwin", "dragonfly", "freebsd", "hurd",    "illumos", "ios",
    "js",  "linux",   "netbsd", "openbsd",   "plan9",   "solaris", "windows", "zos"};
constexpr std::array<std::string_view, 24> kKnownArch{
    "386",     "amd64",  "amd64p32", "arm",      "armbe",   "arm64", "arm64be", "loong64",
    "mips",    "mipsle", "mips64",   "mips64le", "ppc",     "ppc64", "ppc64le", "riscv",
    "riscv64", "s390",   "s390x",    "sparc",    "sparc64", "wasm",  "x86_64",  "aarch64"};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

template <size_t N>
bool contains(const std::array<std::string_view, N>& list, std::string_view s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

// "v3" -> 3; 0 when the variant is not "v<number>" (or "<number>").
int variant_level(std::string_view variant) {
  if (!variant.empty() && variant.front() == 'v') variant.remove_prefix(1);
  int level = 0;
  auto [end, ec] = std::from_chars(variant.data(), variant.data() + variant.size(), level);
  if (ec != std::errc() || end != variant.data() + variant.size() || variant.empty()) return 0;
  return level;
}

// Go's names for architecture aliases: x86_64 -> amd64, aarch64 -> arm64, armhf -> arm/v7.
void apply_arch_alias(Platform& p) {
  if (p.architecture == "x86_64" || p.architecture == "x86-64") p.architecture = "amd64";
  if (p.architecture == "aarch64") p.architecture = "arm64";
  if (p.architecture == "i386") p.architecture = "386";
  if (p.architecture == "armhf") p = Platform{p.os, "arm", "v7", p.os_version, p.os_features};
  if (p.architecture == "armel") p = Platform{p.os, "arm", "v6", p.os_version, p.os_features};
}

bool is_specifier(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  });
}

Error invalid_platform(std::string_view text, std::string_view why) {
  std::string shown(text.substr(0, 80));
  for (char& c : shown)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  return Error::invalid("invalid platform \"" + shown + "\": " + std::string(why));
}

bool same_triple(const Platform& a, const Platform& b) {
  return a.os == b.os && a.architecture == b.architecture && a.variant == b.variant;
}

void push_variants(std::vector<Platform>& out, const Platform& base, std::string_view arch,
                   int from, int down_to) {
  for (int level = from; level >= down_to; --level) {
    Platform p{base.os, std::string(arch), "v" + std::to_string(level), base.os_version,
               base.os_features};
    out.push_back(normalize_platform(p));
  }
}

}  // namespace

std::string Platform::string() const {
  std::string s = os + "/" + architecture;
  if (!variant.empty()) s += "/" + variant;
  return s;
}

Platform platform_for_machine(std::string_view machine) {
  Platform p{"linux", std::string(machine), "", "", {}};
  if (machine == "x86_64" || machine == "amd64") p.architecture = "amd64";
  if (machine == "aarch64" || machine == "arm64") p = {"linux", "arm64", "v8", "", {}};
  if (machine == "i386" || machine == "i486" || machine == "i586" || machine == "i686")
    p.architecture = "386";
  if (machine.starts_with("armv")) {  // armv5tel, armv6l, armv7l, armv8l
    int level = machine.size() > 4 ? machine[4] - '0' : 0;
    p.architecture = "arm";
    p.variant = level >= 5 && level <= 8 ? "v" + std::to_string(level) : "v7";
  }
  if (machine == "loongarch64") p.architecture = "loong64";
  return p;
}

Platform host_platform() {
  struct utsname u {};
  if (::uname(&u) == 0) return platform_for_machine(u.machine);
#if defined(__aarch64__)
  return platform_for_machine("aarch64");
#else
  return platform_for_machine("x86_64");
#endif
}

Result<Platform> parse_platform(std::string_view text) {
  std::vector<std::string> parts;
  for (std::string_view rest = text;;) {
    size_t slash = rest.find('/');
    if (!is_specifier(rest.substr(0, slash)))
      return invalid_platform(text, "expected os/arch[/variant]");
    parts.push_back(lower(rest.substr(0, slash)));
    if (slash == std::string_view::npos) break;
    if (parts.size() == 3) return invalid_platform(text, "expected os/arch[/variant]");
    rest.remove_prefix(slash + 1);
  }
  Platform p;
  if (parts.size() == 1) {
    if (contains(kKnownOs, parts[0])) {
      p = host_platform();
      p.os = parts[0];
    } else if (contains(kKnownArch, parts[0]) || parts[0] == "armhf" || parts[0] == "armel") {
      p = Platform{"linux", parts[0], "", "", {}};
    } else {
      return invalid_platform(text, "unknown operating system or architecture");
    }
  } else {
    p = Platform{parts[0], parts[1], parts.size() == 3 ? parts[2] : "", "", {}};
  }
  apply_arch_alias(p);
  return p;
}

Platform normalize_platform(const Platform& in) {
  Platform p = in;
  p.os = lower(p.os);
  p.architecture = lower(p.architecture);
  p.variant = lower(p.variant);
  const std::string& v = p.variant;
  if (p.architecture == "i386") {
    p.architecture = "386";
    p.variant.clear();
  } else if (p.architecture == "x86_64" || p.architecture == "x86-64" ||
             p.architecture == "amd64") {
    p.architecture = "amd64";
    if (v == "v1") p.variant.clear();
  } else if (p.architecture == "aarch64" || p.architecture == "arm64") {
    p.architecture = "arm64";
    if (v == "8" || v == "v8" || v == "v8.0") p.variant.clear();
    if (v == "9" || v == "9.0" || v == "v9.0") p.variant = "v9";
  } else if (p.architecture == "armhf" || p.architecture == "armel") {
    p.variant = p.architecture == "armhf" ? "v7" : "v6";
    p.architecture = "arm";
  } else if (p.architecture == "arm") {
    if (v.empty() || v == "7") p.variant = "v7";
    if (v == "5" || v == "6" || v == "8") p.variant = "v" + v;
  }
  return p;
}

std::vector<Platform> compatible_platforms(const Platform& want) {
  Platform n = normalize_platform(want);
  std::vector<Platform> out{n};
  if (n.architecture == "amd64") {
    int level = variant_level(n.variant);
    if (level > 1) push_variants(out, n, "amd64", level - 1, 1);
    out.push_back(Platform{n.os, "386", "", n.os_version, n.os_features});
  } else if (n.architecture == "arm") {
    int level = variant_level(n.variant);
    if (level > 5) push_variants(out, n, "arm", level - 1, 5);
  } else if (n.architecture == "arm64") {
    // arm64/v9 runs arm64(/v8) images; every arm64 runs 32-bit arm ones.
    if (!n.variant.empty()) out.push_back(Platform{n.os, "arm64", "", n.os_version, n.os_features});
    push_variants(out, n, "arm", 8, 5);
  }
  return out;
}

bool platform_matches(const Platform& want, const Platform& have) {
  Platform h = normalize_platform(have);
  for (const auto& p : compatible_platforms(want))
    if (same_triple(p, h)) return true;
  return false;
}

Result<Descriptor> select_platform(const Index& index, const Platform& want) {
  std::vector<Platform> ranked = compatible_platforms(want);
  const Descriptor* best = nullptr;
  size_t best_rank = ranked.size();
  std::vector<const Descriptor*> without_platform;
  std::vector<std::string> available;
  for (const auto& d : index.manifests) {
    if (is_attestation(d)) continue;
    if (!d.platform) {
      without_platform.push_back(&d);
      continue;
    }
    std::string name = d.platform->string();
    if (std::find(available.begin(), available.end(), name) == available.end())
      available.push_back(name);
    Platform have = normalize_platform(*d.platform);
    for (size_t rank = 0; rank < best_rank; ++rank) {
      if (!same_triple(ranked[rank], have)) continue;
      best = &d;
      best_rank = rank;
      break;
    }
  }
  if (best != nullptr) return *best;
  if (without_platform.size() == 1) return *without_platform.front();
  std::string list;
  for (const auto& a : available) list += (list.empty() ? "" : ", ") + a;
  return Error::invalid("no image for " + want.string() + " in the manifest list (available: " +
                        (list.empty() ? "none" : list) + ")");
}

}  // namespace berth::image
