// ldcache_fuzz.cpp - libFuzzer target for gpu::parse_ldcache (glibc's ld.so.cache, old, new
// and compat layouts) and gpu::elf_soname (the DT_SONAME of an ELF shared object).
//
// Input: the bytes, given whole to both parsers (each rejects the other's magic at once).
// Checks beyond "no crash" (every offset in both formats comes from the file):
//  - an accepted cache has at most one entry per 12 bytes of input, and each entry's name and
//    path are shorter than 4096 bytes, hold no NUL, and are not flagged both x86-64 and i386;
//  - parsing is deterministic;
//  - errors are one line, starting "ld.so.cache: " or "ELF: ";
//  - an accepted soname is shorter than 4096 bytes and holds no NUL.
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "gpu/ldcache.h"

namespace {

using berth::fuzz::fail;

constexpr const char* kTarget = "ldcache_fuzz";
constexpr size_t kMaxString = 4096;

void check_error(const berth::Error& e, const char* prefix) {
  std::string m = e.message();
  if (m.rfind(prefix, 0) != 0) fail(kTarget, "error without its prefix", m);
  if (m.find('\n') != std::string::npos) fail(kTarget, "error is not one line", m);
}

bool clean(const std::string& s) {
  return s.size() < kMaxString && s.find('\0') == std::string::npos;
}

void check_cache(std::string_view bytes) {
  auto entries = berth::gpu::parse_ldcache(bytes);
  if (!entries.ok()) {
    check_error(entries.error(), "ld.so.cache: ");
    return;
  }
  if (entries->size() > bytes.size() / 12) fail(kTarget, "more entries than the input holds", "");
  for (const auto& e : *entries) {
    if (!clean(e.name) || !clean(e.path)) fail(kTarget, "entry string unbounded or with NUL", e.path);
    if (e.x86_64 && e.i386) fail(kTarget, "entry both x86-64 and i386", e.name);
  }
  auto again = berth::gpu::parse_ldcache(bytes);
  if (!again.ok() || again->size() != entries->size())
    fail(kTarget, "parsing is not deterministic", "");
  for (size_t i = 0; i < entries->size(); ++i)
    if ((*again)[i].name != (*entries)[i].name || (*again)[i].path != (*entries)[i].path)
      fail(kTarget, "parsing is not deterministic", (*entries)[i].name);
}

void check_elf(std::string_view bytes) {
  auto soname = berth::gpu::elf_soname(bytes);
  if (!soname.ok()) {
    check_error(soname.error(), "ELF: ");
    return;
  }
  if (!clean(*soname)) fail(kTarget, "soname unbounded or with NUL", *soname);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes = berth::fuzz::as_text(data, size);
  check_cache(bytes);
  check_elf(bytes);
  return 0;
}
