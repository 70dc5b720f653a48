// ldcache.cpp - see ldcache.h.
//
// glibc's ld.so.cache, as ldconfig (elf/cache.c) writes it and ld.so (elf/dl-cache.c) reads
// it; all numbers in the host's byte order:
//
//   old format "ld.so-1.7.0": magic[11], pad to 4, u32 nlibs, nlibs x {i32 flags, u32 key,
//     u32 value}; key and value are offsets from the end of that entry array.
//   new format "glibc-ld.so.cache" "1.1": magic+version[20], u32 nlibs, u32 len_strings,
//     u8 flags (low 2 bits: byte order, 2 little, 3 big), pad[3], u32 extension_offset,
//     u32 unused[3] (48 bytes), then nlibs x {i32 flags, u32 key, u32 value, u32 osversion,
//     u64 hwcap} (24 bytes); key and value are offsets from the start of this header.
//   Since glibc 2.32 ldconfig writes the new format alone. Before, the "compat" layout put
//   the new format after the old entry array, aligned to 8, where old readers see strings.
//
// Every offset read from the file is checked against its size before use.
#include "gpu/ldcache.h"

#include <fcntl.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>

#include "base/fd.h"
#include "base/file.h"

namespace berth::gpu {
namespace {

constexpr std::string_view kOldMagic = "ld.so-1.7.0";
constexpr std::string_view kNewMagic = "glibc-ld.so.cache1.1";
constexpr size_t kOldHeaderSize = 16;  // magic[11], padding, u32 nlibs
constexpr size_t kOldEntrySize = 12;
constexpr size_t kNewHeaderSize = 48;
constexpr size_t kNewEntrySize = 24;
constexpr size_t kNewFlagsOffset = 28;
constexpr size_t kNewAlign = 8;  // alignof(struct cache_file_new)
// A path or soname longer than PATH_MAX is garbage; the bound also keeps a hostile file
// with many entries from costing a scan of the whole file per entry.
constexpr size_t kMaxString = 4096;

// Entry flags (sysdeps/generic/ldconfig.h).
constexpr uint32_t kFlagElfLibc6 = 0x0003;
constexpr uint32_t kFlagX8664Lib64 = 0x0300;
// Byte order of a new-format cache (cache_file_new.flags & 3).
constexpr uint8_t kEndianMask = 3;
constexpr uint8_t kEndianUnset = 0;  // ldconfig before glibc 2.33
constexpr uint8_t kEndianHost = std::endian::native == std::endian::little ? 2 : 3;

Error cache_error(std::string what) {
  return Error::invalid("ld.so.cache: " + std::move(what));
}

uint32_t load_u32(std::string_view b, size_t at) {
  uint32_t v;
  std::memcpy(&v, b.data() + at, sizeof v);
  return v;
}

// The NUL-terminated string at base + off, within bytes.
Result<std::string> string_at(std::string_view bytes, size_t base, uint32_t off) {
  if (base > bytes.size() || off >= bytes.size() - base)
    return cache_error("string offset " + std::to_string(off) + " is past the end of the file");
  std::string_view rest = bytes.substr(base + off, kMaxString);
  size_t nul = rest.find('\0');
  if (nul == std::string_view::npos)
    return cache_error("string at offset " + std::to_string(off) + " is not terminated");
  return std::string(rest.substr(0, nul));
}

LdCacheEntry make_entry(std::string name, std::string path, uint32_t flags) {
  LdCacheEntry e;
  e.name = std::move(name);
  e.path = std::move(path);
  e.x86_64 = flags == (kFlagElfLibc6 | kFlagX8664Lib64);
  e.i386 = flags == kFlagElfLibc6;
  return e;
}

// nlibs entries of entry_size bytes starting at first must fit in bytes.
Status check_count(std::string_view bytes, size_t first, uint32_t nlibs, size_t entry_size) {
  if (first > bytes.size() || nlibs > (bytes.size() - first) / entry_size)
    return cache_error(std::to_string(nlibs) + " entries do not fit in " +
                       std::to_string(bytes.size()) + " bytes");
  return ok();
}

Result<std::vector<LdCacheEntry>> parse_new(std::string_view bytes, size_t base) {
  if (bytes.size() - base < kNewHeaderSize) return cache_error("truncated header");
  uint8_t endian = static_cast<uint8_t>(bytes[base + kNewFlagsOffset]) & kEndianMask;
  if (endian != kEndianUnset && endian != kEndianHost)
    return cache_error("written for another byte order");
  uint32_t nlibs = load_u32(bytes, base + 20);
  size_t first = base + kNewHeaderSize;
  TRY(check_count(bytes, first, nlibs, kNewEntrySize));
  std::vector<LdCacheEntry> out;
  out.reserve(nlibs);
  for (uint32_t i = 0; i < nlibs; ++i) {
    size_t at = first + size_t{i} * kNewEntrySize;
    std::string name = TRY(string_at(bytes, base, load_u32(bytes, at + 4)));
    std::string path = TRY(string_at(bytes, base, load_u32(bytes, at + 8)));
    out.push_back(make_entry(std::move(name), std::move(path), load_u32(bytes, at)));
  }
  return out;
}

Result<std::vector<LdCacheEntry>> parse_old(std::string_view bytes, uint32_t nlibs) {
  size_t strings = kOldHeaderSize + size_t{nlibs} * kOldEntrySize;
  std::vector<LdCacheEntry> out;
  out.reserve(nlibs);
  for (uint32_t i = 0; i < nlibs; ++i) {
    size_t at = kOldHeaderSize + size_t{i} * kOldEntrySize;
    std::string name = TRY(string_at(bytes, strings, load_u32(bytes, at + 4)));
    std::string path = TRY(string_at(bytes, strings, load_u32(bytes, at + 8)));
    out.push_back(make_entry(std::move(name), std::move(path), load_u32(bytes, at)));
  }
  return out;
}

// ---------------------------------------------------------------- ELF

Error elf_error(std::string what) {
  return Error::invalid("ELF: " + std::move(what));
}

// Reads n bytes at off into *out; false when they are not all there.
using ReadAt = bool (*)(const void* ctx, uint64_t off, size_t n, std::string* out);

constexpr uint32_t kPtLoad = 1;
constexpr uint32_t kPtDynamic = 2;
constexpr int64_t kDtNull = 0;
constexpr int64_t kDtStrtab = 5;
constexpr int64_t kDtSoname = 14;
constexpr size_t kEhdrSize = 64;
constexpr size_t kPhdrSize = 56;
constexpr size_t kDynSize = 16;
constexpr uint64_t kMaxDynamic = 1u << 20;
constexpr uint16_t kMaxPhnum = 512;

template <class T>
T load(const std::string& b, size_t at) {
  T v;
  std::memcpy(&v, b.data() + at, sizeof v);
  return v;
}

struct Segment {
  uint32_t type;
  uint64_t offset, vaddr, filesz;
};

Result<std::vector<Segment>> read_segments(ReadAt read, const void* ctx) {
  std::string ehdr;
  if (!read(ctx, 0, kEhdrSize, &ehdr)) return elf_error("shorter than an ELF header");
  if (ehdr.compare(0, 4, "\x7f" "ELF") != 0) return elf_error("not an ELF file");
  if (ehdr[4] != 2 || ehdr[5] != 1) return elf_error("not a 64-bit little-endian ELF file");
  auto phoff = load<uint64_t>(ehdr, 32);
  auto phentsize = load<uint16_t>(ehdr, 54);
  auto phnum = load<uint16_t>(ehdr, 56);
  if (phentsize != kPhdrSize || phnum > kMaxPhnum) return elf_error("bad program header table");
  std::string table;
  if (!read(ctx, phoff, size_t{phnum} * kPhdrSize, &table))
    return elf_error("program headers past the end of the file");
  std::vector<Segment> out;
  for (size_t i = 0; i < phnum; ++i) {
    size_t at = i * kPhdrSize;
    out.push_back({load<uint32_t>(table, at), load<uint64_t>(table, at + 8),
                   load<uint64_t>(table, at + 16), load<uint64_t>(table, at + 32)});
  }
  return out;
}

// The file offset of virtual address v, through the PT_LOAD segment that holds it.
std::optional<uint64_t> file_offset(const std::vector<Segment>& segs, uint64_t v) {
  for (const auto& s : segs)
    if (s.type == kPtLoad && v >= s.vaddr && v - s.vaddr < s.filesz) return s.offset + (v - s.vaddr);
  return std::nullopt;
}

Result<std::string> soname_from(ReadAt read, const void* ctx) {
  auto segs = TRY(read_segments(read, ctx));
  const Segment* dyn = nullptr;
  for (const auto& s : segs)
    if (s.type == kPtDynamic) dyn = &s;
  if (dyn == nullptr) return elf_error("no dynamic segment (not a shared library)");
  if (dyn->filesz > kMaxDynamic) return elf_error("dynamic segment too large");
  std::string d;
  if (!read(ctx, dyn->offset, static_cast<size_t>(dyn->filesz), &d))
    return elf_error("dynamic segment past the end of the file");
  std::optional<uint64_t> strtab, soname;
  for (size_t at = 0; at + kDynSize <= d.size(); at += kDynSize) {
    auto tag = load<int64_t>(d, at);
    auto val = load<uint64_t>(d, at + 8);
    if (tag == kDtNull) break;
    if (tag == kDtStrtab) strtab = val;
    if (tag == kDtSoname) soname = val;
  }
  if (!soname) return std::string();
  if (!strtab) return elf_error("DT_SONAME without DT_STRTAB");
  auto base = file_offset(segs, *strtab);
  if (!base || *soname > UINT64_MAX - *base) return elf_error("string table outside the file");
  std::string s;
  // The string may end close to the end of the file: read what is there, at most kMaxString.
  size_t n = kMaxString;
  while (n > 0 && !read(ctx, *base + *soname, n, &s)) n /= 2;
  size_t nul = n == 0 ? std::string::npos : s.find('\0');
  if (nul == std::string::npos) return elf_error("DT_SONAME string not terminated");
  return s.substr(0, nul);
}

bool read_bytes(const void* ctx, uint64_t off, size_t n, std::string* out) {
  auto bytes = *static_cast<const std::string_view*>(ctx);
  if (off > bytes.size() || n > bytes.size() - off) return false;
  out->assign(bytes.substr(off, n));
  return true;
}

bool read_fd(const void* ctx, uint64_t off, size_t n, std::string* out) {
  int fd = *static_cast<const int*>(ctx);
  if (off > static_cast<uint64_t>(INT64_MAX)) return false;
  out->resize(n);
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, out->data() + got, n - got, static_cast<off_t>(off + got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    got += static_cast<size_t>(r);
  }
  return true;
}

}  // namespace

Result<std::vector<LdCacheEntry>> parse_ldcache(std::string_view bytes) {
  if (bytes.substr(0, kNewMagic.size()) == kNewMagic) return parse_new(bytes, 0);
  if (bytes.substr(0, kOldMagic.size()) != kOldMagic) return cache_error("not an ld.so cache");
  if (bytes.size() < kOldHeaderSize) return cache_error("truncated header");
  uint32_t nlibs = load_u32(bytes, 12);
  TRY(check_count(bytes, kOldHeaderSize, nlibs, kOldEntrySize));
  // The new format hidden after the old entries carries the 64-bit flags and hwcaps: prefer it.
  size_t next = kOldHeaderSize + size_t{nlibs} * kOldEntrySize;
  next = (next + kNewAlign - 1) / kNewAlign * kNewAlign;
  if (next < bytes.size() && bytes.substr(next, kNewMagic.size()) == kNewMagic)
    return parse_new(bytes, next);
  return parse_old(bytes, nlibs);
}

Result<std::vector<LdCacheEntry>> read_ldcache(const std::string& path) {
  std::string bytes = TRY(read_file(path));
  auto entries = parse_ldcache(bytes);
  // The path goes into the one-line message: which cache is broken is what the user needs.
  if (!entries.ok()) return Error::invalid("read", path + ": " + entries.error().message());
  return entries;
}

Result<std::string> elf_soname(std::string_view bytes) {
  return soname_from(read_bytes, &bytes);
}

Result<std::string> read_elf_soname(const std::string& path) {
  UniqueFd fd = TRY(open_fd(path, O_RDONLY | O_CLOEXEC));
  int raw = fd.get();
  auto soname = soname_from(read_fd, &raw);
  if (!soname.ok()) return Error::invalid("read", path + ": " + soname.error().message());
  return soname;
}

}  // namespace berth::gpu
