// ldcache_test.cpp - glibc ld.so.cache parsing (built caches, real ones from ldconfig, hostile
// bytes) and the ELF soname reader.
#include "gpu/ldcache.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <optional>

#include "base/file.h"

namespace berth::gpu {
namespace {

struct Lib {
  uint32_t flags;
  std::string name, path;
};
constexpr uint32_t kX8664 = 0x0303;
constexpr uint32_t kI386 = 0x0003;

void put32(std::string& b, uint32_t v) {
  b.append(reinterpret_cast<const char*>(&v), 4);
}
void put64(std::string& b, uint64_t v) {
  b.append(reinterpret_cast<const char*>(&v), 8);
}

// A new-format cache as ldconfig writes it; string offsets from the header's start.
std::string new_cache(const std::vector<Lib>& libs, uint8_t endian = 2) {
  std::string strings;
  std::vector<std::pair<uint32_t, uint32_t>> offs;
  size_t base = 48 + libs.size() * 24;
  for (const auto& l : libs) {
    uint32_t k = static_cast<uint32_t>(base + strings.size());
    strings += l.name + '\0';
    uint32_t v = static_cast<uint32_t>(base + strings.size());
    strings += l.path + '\0';
    offs.emplace_back(k, v);
  }
  std::string b = "glibc-ld.so.cache1.1";
  put32(b, static_cast<uint32_t>(libs.size()));
  put32(b, static_cast<uint32_t>(strings.size()));
  b += static_cast<char>(endian);
  b.append(3, '\0');
  put32(b, 0);  // extension offset
  b.append(12, '\0');
  for (size_t i = 0; i < libs.size(); ++i) {
    put32(b, libs[i].flags);
    put32(b, offs[i].first);
    put32(b, offs[i].second);
    put32(b, 0);
    put64(b, 0);
  }
  return b + strings;
}

// An old-format cache, string offsets from the end of the entries; with_new appends a new
// format cache (its own strings) after the entries, aligned to 8, as "compat" did.
std::string old_cache(const std::vector<Lib>& libs, const std::vector<Lib>& with_new = {}) {
  std::string b = "ld.so-1.7.0";
  b += '\0';
  put32(b, static_cast<uint32_t>(libs.size()));
  std::string strings;
  for (const auto& l : libs) {
    put32(b, l.flags);
    put32(b, static_cast<uint32_t>(strings.size()));
    strings += l.name + '\0';
    put32(b, static_cast<uint32_t>(strings.size()));
    strings += l.path + '\0';
  }
  if (!with_new.empty()) {
    // Old entries would point into the new block; this test only reads the new one.
    b.append((8 - b.size() % 8) % 8, '\0');
    return b + new_cache(with_new);
  }
  return b + strings;
}

const std::vector<Lib> kLibs = {
    {kX8664, "libcuda.so.1", "/usr/lib/x86_64-linux-gnu/libcuda.so.1"},
    {kI386, "libcuda.so.1", "/usr/lib/i386-linux-gnu/libcuda.so.1"},
    {0x0001, "libfoo.so", "/usr/lib/libfoo.so"},
};

TEST(LdCache, NewFormat) {
  auto e = parse_ldcache(new_cache(kLibs));
  ASSERT_TRUE(e.ok()) << e.error().message();
  ASSERT_EQ(e->size(), 3u);
  EXPECT_EQ((*e)[0].name, "libcuda.so.1");
  EXPECT_EQ((*e)[0].path, "/usr/lib/x86_64-linux-gnu/libcuda.so.1");
  EXPECT_TRUE((*e)[0].x86_64);
  EXPECT_FALSE((*e)[0].i386);
  EXPECT_TRUE((*e)[1].i386);
  EXPECT_FALSE((*e)[1].x86_64);
  EXPECT_FALSE((*e)[2].i386 || (*e)[2].x86_64);
}

TEST(LdCache, NewFormatWithoutByteOrderFlag) {
  // ldconfig before glibc 2.33 left the flags byte 0.
  auto e = parse_ldcache(new_cache(kLibs, 0));
  ASSERT_TRUE(e.ok()) << e.error().message();
  EXPECT_EQ(e->size(), 3u);
}

TEST(LdCache, OldFormat) {
  auto e = parse_ldcache(old_cache(kLibs));
  ASSERT_TRUE(e.ok()) << e.error().message();
  ASSERT_EQ(e->size(), 3u);
  EXPECT_EQ((*e)[1].path, "/usr/lib/i386-linux-gnu/libcuda.so.1");
  EXPECT_TRUE((*e)[0].x86_64);
}

TEST(LdCache, CompatPrefersTheNewFormat) {
  std::vector<Lib> only_new = {{kX8664, "libnvidia-ml.so.1", "/lib64/libnvidia-ml.so.1"}};
  auto e = parse_ldcache(old_cache(kLibs, only_new));
  ASSERT_TRUE(e.ok()) << e.error().message();
  ASSERT_EQ(e->size(), 1u);
  EXPECT_EQ((*e)[0].name, "libnvidia-ml.so.1");
  EXPECT_EQ((*e)[0].path, "/lib64/libnvidia-ml.so.1");
}

TEST(LdCache, EmptyCacheHasNoEntries) {
  auto e = parse_ldcache(new_cache({}));
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->empty());
}

TEST(LdCache, HostCacheHasLibc) {
  if (!path_exists("/etc/ld.so.cache")) GTEST_SKIP() << "this host has no /etc/ld.so.cache";
  auto e = read_ldcache("/etc/ld.so.cache");
  ASSERT_TRUE(e.ok()) << e.error().message();
  bool libc = false;
  for (const auto& x : *e) libc = libc || (x.name == "libc.so.6" && x.x86_64);
  EXPECT_TRUE(libc) << "libc.so.6 (x86-64) not in /etc/ld.so.cache";
}

struct Hostile {
  const char* what;
  std::string bytes;
  const char* error;
};

std::string patched(std::string b, size_t at, uint32_t v) {
  std::memcpy(b.data() + at, &v, 4);
  return b;
}

TEST(LdCache, HostileInputIsAClearError) {
  std::string good = new_cache(kLibs);
  std::string good_old = old_cache(kLibs);
  std::vector<Hostile> cases = {
      {"empty", "", "not an ld.so cache"},
      {"other magic", "hello world, this is not a cache at all......", "not an ld.so cache"},
      {"new header cut", good.substr(0, 30), "truncated header"},
      {"old header cut", good_old.substr(0, 13), "truncated header"},
      {"too many entries", patched(good, 20, 1000), "entries do not fit"},
      {"nlibs overflow", patched(good, 20, 0xffffffffu), "entries do not fit"},
      {"old nlibs overflow", patched(good_old, 12, 0xffffffffu), "entries do not fit"},
      {"key past the end", patched(good, 48 + 4, 0x7fffffffu), "past the end"},
      {"value past the end", patched(good, 48 + 8, 0xfffffff0u), "past the end"},
      {"old key past the end", patched(good_old, 16 + 4, 100000), "past the end"},
      {"unterminated", good.substr(0, good.size() - 1), "not terminated"},
      {"big endian", new_cache(kLibs, 3), "another byte order"},
      {"invalid endian", new_cache(kLibs, 1), "another byte order"},
  };
  for (const auto& c : cases) {
    auto e = parse_ldcache(c.bytes);
    ASSERT_FALSE(e.ok()) << c.what;
    EXPECT_NE(e.error().message().find(c.error), std::string::npos)
        << c.what << ": " << e.error().message();
    EXPECT_EQ(e.error().message().find('\n'), std::string::npos) << c.what;
    EXPECT_EQ(e.error().message().rfind("ld.so.cache: ", 0), 0u) << c.what;
  }
}

TEST(LdCache, EveryTruncationIsSafe) {
  for (const std::string& full : {new_cache(kLibs), old_cache(kLibs)}) {
    for (size_t n = 0; n < full.size(); ++n) {
      auto e = parse_ldcache(std::string_view(full).substr(0, n));
      if (e.ok()) {
        EXPECT_LE(e->size(), kLibs.size());
      }
    }
  }
}

TEST(LdCache, StringsAreBounded) {
  std::string path(5000, 'a');
  auto e = parse_ldcache(new_cache({{kX8664, "libx.so.1", path}}));
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message().find("not terminated"), std::string::npos);
}

TEST(LdCache, ReadMissingFileNamesIt) {
  auto e = read_ldcache("/nonexistent/etc/ld.so.cache");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message().find("/nonexistent/etc/ld.so.cache"), std::string::npos);
}

TEST(LdCache, ReadGarbageNamesTheFile) {
  auto dir = TempDir::create();
  ASSERT_TRUE(dir.ok());
  std::string p = dir->path() + "/ld.so.cache";
  ASSERT_TRUE(write_file_atomic(p, "glibc-ld.so.cache1.1 but then it stops").ok());
  auto e = read_ldcache(p);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message().find(p), std::string::npos) << e.error().message();
  EXPECT_NE(e.error().message().find("truncated"), std::string::npos) << e.error().message();
}

// ---------------------------------------------------------------- real caches from ldconfig

int run(const std::vector<std::string>& argv) {
  pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    execvp(a[0], a.data());
    _exit(127);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// One fake driver tree for the suite; other cache formats are written beside its cache.
class RealCache : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) return;
    auto d = TempDir::create("/tmp/berth-ldcache-");
    ASSERT_TRUE(d.ok());
    dir_ = new TempDir(std::move(d).value());  // NOLINT: suite-lifetime fixture
    ASSERT_EQ(run({"bash", BERTH_FAKE_NVIDIA, dir_->path(), "550.54.15"}), 0);
  }
  static void TearDownTestSuite() {
    delete dir_;  // NOLINT
    dir_ = nullptr;
  }
  void SetUp() override {
    if (dir_ == nullptr) GTEST_SKIP() << "ldconfig -r chroots: needs root (CI runs as root)";
    driver_ = dir_->path() + "/driver";
  }
  // Writes the cache in another format (old, compat, new) to etc/ld.so.cache.FORMAT.
  std::string write_format(const std::string& format) {
    std::string name = "/etc/ld.so.cache." + format;
    EXPECT_EQ(run({"ldconfig", "-r", driver_, "-C", name, "-c", format}), 0) << format;
    return driver_ + name;
  }
  void expect_driver_entries(const std::string& cache) {
    auto e = read_ldcache(cache);
    ASSERT_TRUE(e.ok()) << e.error().message();
    std::map<std::string, std::string> by_name;
    for (const auto& x : *e) {
      EXPECT_TRUE(x.x86_64) << x.name;
      by_name[x.name] = x.path;
    }
    EXPECT_EQ(by_name["libcuda.so.1"], "/usr/lib/x86_64-linux-gnu/libcuda.so.1");
    EXPECT_EQ(by_name["libnvidia-ml.so.1"], "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1");
    EXPECT_EQ(by_name["libnvidia-nvvm.so.4"], "/usr/lib/x86_64-linux-gnu/libnvidia-nvvm.so.4");
    EXPECT_EQ(by_name["libnvidia-eglcore.so.550.54.15"],
              "/usr/lib/x86_64-linux-gnu/libnvidia-eglcore.so.550.54.15");
    // 20 libraries; a rewrite also lists the libcuda.so development link made after the first.
    EXPECT_GE(by_name.size(), 20u);
    EXPECT_LE(by_name.size(), 21u);
  }
  static TempDir* dir_;
  std::string driver_;
};
TempDir* RealCache::dir_ = nullptr;

TEST_F(RealCache, DefaultFormat) { expect_driver_entries(driver_ + "/etc/ld.so.cache"); }
TEST_F(RealCache, NewFormat) { expect_driver_entries(write_format("new")); }
TEST_F(RealCache, CompatFormat) { expect_driver_entries(write_format("compat")); }
TEST_F(RealCache, OldFormat) { expect_driver_entries(write_format("old")); }

TEST_F(RealCache, ElfSonames) {
  std::string lib = driver_ + "/usr/lib/x86_64-linux-gnu/";
  auto s = read_elf_soname(lib + "libcuda.so.550.54.15");
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ(*s, "libcuda.so.1");
  s = read_elf_soname(lib + "libnvidia-eglcore.so.550.54.15");
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ(*s, "libnvidia-eglcore.so.550.54.15");
  // The same from memory, and every truncation of it fails cleanly or reads the same.
  auto bytes = read_file(lib + "libnvidia-nvvm.so.550.54.15");
  ASSERT_TRUE(bytes.ok());
  auto m = elf_soname(*bytes);
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ(*m, "libnvidia-nvvm.so.4");
  for (size_t n = 0; n < bytes->size(); n += 7) {
    auto t = elf_soname(std::string_view(*bytes).substr(0, n));
    if (t.ok()) {
      EXPECT_EQ(*t, "libnvidia-nvvm.so.4");
    } else {
      EXPECT_EQ(t.error().message().rfind("ELF: ", 0), 0u) << t.error().message();
    }
  }
  // A static executable has no dynamic segment.
  auto smi = read_elf_soname(driver_ + "/usr/bin/nvidia-smi");
  ASSERT_FALSE(smi.ok());
  EXPECT_NE(smi.error().message().find("no dynamic segment"), std::string::npos);
}

TEST(ElfSoname, NotElf) {
  for (std::string_view bad : {std::string_view(""), std::string_view("\x7f" "ELF"),
                               std::string_view("#!/bin/sh\necho hi\n")}) {
    auto s = elf_soname(bad);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().message().rfind("ELF: ", 0), 0u) << s.error().message();
  }
  std::string elf32(64, '\0');
  elf32.replace(0, 6, "\x7f" "ELF\x01\x01");
  auto s = elf_soname(elf32);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("64-bit"), std::string::npos);
}

}  // namespace
}  // namespace berth::gpu
