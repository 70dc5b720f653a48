// ldcache.h - reading glibc's /etc/ld.so.cache (the "glibc-ld.so.cache1.1" format, with or
// without the old "ld.so-1.7.0" header in front), to find a driver's libraries as the
// dynamic loader would.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace berth::gpu {

struct LdCacheEntry {
  std::string name;  // "libcuda.so.1" (the soname / link name)
  std::string path;  // "/usr/lib/x86_64-linux-gnu/libcuda.so.1" as written in the cache
  bool x86_64 = false;  // flags say 64-bit x86 (FLAG_X8664_LIB64 | FLAG_ELF_LIBC6)
  bool i386 = false;    // 32-bit ELF libc6 entries (for compat32)
};

// Parses the cache's bytes. Every offset and length is checked: a truncated or hostile file
// is an error ("ld.so.cache: ..."), never a read out of bounds.
Result<std::vector<LdCacheEntry>> parse_ldcache(std::string_view bytes);
// Reads and parses path.
Result<std::vector<LdCacheEntry>> read_ldcache(const std::string& path);

// The DT_SONAME of a 64-bit little-endian ELF shared object ("" when it has none), for
// driver roots without an ld.so.cache. Bounds-checked like parse_ldcache; errors start with
// "ELF: ".
Result<std::string> elf_soname(std::string_view bytes);
// The same, reading only the headers, the dynamic segment and the one string from path
// (driver libraries are up to a few hundred MB).
Result<std::string> read_elf_soname(const std::string& path);

}  // namespace berth::gpu
