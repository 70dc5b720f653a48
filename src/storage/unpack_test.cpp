// unpack_test.cpp - layer extraction: the tree it makes, compression, whiteouts, and every
// way a hostile or broken tar can try to escape or confuse it.
#include "storage/unpack.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>

#include "base/file.h"
#include "storage/extract.h"
#include "storage/fs_util.h"
#include "storage/sha256.h"
#include "storage/test_util.h"

namespace berth::storage {
namespace {

using testing::StringSource;
using testing::TarBuilder;

// <tmp>/root is the layer, <tmp>/outside/victim what an escape would hit.
class Unpack : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::create("/tmp/berth-unpack-");
    ASSERT_TRUE(t.ok());
    tmp_ = std::make_unique<TempDir>(std::move(t).value());
    root_ = tmp_->path() + "/root";
    outside_ = tmp_->path() + "/outside";
    ASSERT_TRUE(mkdir_all(root_).ok());
    ASSERT_TRUE(mkdir_all(outside_).ok());
    ASSERT_TRUE(write_file_atomic(outside_ + "/victim", "original").ok());
  }

  Result<UnpackResult> unpack(const std::string& blob, UnpackOptions o = opts(),
                              size_t chunk = 1 << 16, Compression c = Compression::detect) {
    auto fd = open_dir(root_);
    if (!fd.ok()) return fd.error();
    StringSource src(blob, chunk);
    return unpack_layer(src, c, fd->get(), o);
  }

  static UnpackOptions opts() {
    UnpackOptions o = UnpackOptions::for_current_user();
    o.layer_name = "sha256:test";
    return o;
  }

  // Nothing but root/ and outside/ in the temp dir, and outside/ untouched.
  void expect_contained() {
    auto top = list_dir(tmp_->path());
    ASSERT_TRUE(top.ok());
    std::sort(top->begin(), top->end());
    EXPECT_EQ(*top, (std::vector<std::string>{"outside", "root"}));
    EXPECT_EQ(testing::list_tree(outside_), std::vector<std::string>{"victim"});
    EXPECT_EQ(read_file(outside_ + "/victim").value_or(""), "original");
  }

  std::string snap(const std::string& rel) {
    auto s = testing::snapshot(root_, false);
    auto it = s.find(rel);
    return it == s.end() ? "<missing>" : it->second;
  }

  static std::string opaque_key() {
    return ::geteuid() == 0 ? "trusted.overlay.opaque" : "user.overlay.opaque";
  }

  std::unique_ptr<TempDir> tmp_;
  std::string root_;
  std::string outside_;
};

TEST(CleanEntryPath, Table) {
  struct {
    const char* in;
    const char* out;  // nullptr: escapes
  } cases[] = {{"a/b", "a/b"},       {"./a/./b/", "a/b"}, {"/etc/passwd", "etc/passwd"},
               {"a/../b", "b"},      {"./", ""},          {"//a//b", "a/b"},
               {"..", nullptr},      {"../x", nullptr},   {"a/../../x", nullptr},
               {"/../etc", nullptr}, {"a/..", ""},        {"...", "..."}};
  for (auto& c : cases) {
    auto r = clean_entry_path(c.in);
    if (c.out == nullptr) {
      EXPECT_FALSE(r.ok()) << c.in;
    } else {
      ASSERT_TRUE(r.ok()) << c.in;
      EXPECT_EQ(*r, c.out) << c.in;
    }
  }
}

TEST(QuoteEntryName, EscapesAndCuts) {
  EXPECT_EQ(quote_entry_name("a\nb\"c"), "\"a\\x0ab\\\"c\"");
  std::string longname(1000, 'x');
  EXPECT_LT(quote_entry_name(longname).size(), 210u);
}

TEST_F(Unpack, TreeModesLinksTimesAndDiffId) {
  TarBuilder b;
  b.dir("etc", 0755).mtime(1600000000);
  b.file("etc/hosts", "127.0.0.1 localhost\n", 0644).mtime(1500000000);
  b.file("bin/tool", "#!/bin/sh\n", 04755);  // no parent entry: created 0755
  b.symlink("etc/link", "../bin/tool");
  b.hardlink("bin/tool2", "bin/tool");
  b.fifo("run/pipe", 0600);
  b.dir("ro", 0555).mtime(1600000000);
  b.file("ro/inside", "x", 0400);
  std::string tar = b.build();
  auto r = unpack(tar);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->diff_id, sha256_digest(tar));
  EXPECT_EQ(r->tar_size, tar.size());
  EXPECT_EQ(r->compression, Compression::none);
  EXPECT_EQ(r->entries, 8u);
  EXPECT_EQ(snap("etc/hosts"), "f 0644 127.0.0.1 localhost\n");
  EXPECT_EQ(snap("bin/tool"), "f 4755 #!/bin/sh\n");
  EXPECT_EQ(snap("bin"), "d 0755");
  EXPECT_EQ(snap("etc/link"), "l -> ../bin/tool");
  EXPECT_EQ(snap("run/pipe"), "p 0600");
  EXPECT_EQ(snap("ro"), "d 0555");
  struct stat a, c;
  ASSERT_EQ(::stat((root_ + "/bin/tool").c_str(), &a), 0);
  ASSERT_EQ(::stat((root_ + "/bin/tool2").c_str(), &c), 0);
  EXPECT_EQ(a.st_ino, c.st_ino);
  ASSERT_EQ(::stat((root_ + "/etc/hosts").c_str(), &a), 0);
  EXPECT_EQ(a.st_mtime, 1500000000);
  ASSERT_EQ(::stat((root_ + "/etc").c_str(), &a), 0);
  EXPECT_EQ(a.st_mtime, 1600000000);  // set after its children were created
  expect_contained();
  EXPECT_TRUE(remove_unpacked(root_).ok());
  EXPECT_FALSE(path_exists(root_));
}

TEST_F(Unpack, SameTreeFromEveryCompressionAndChunking) {
  TarBuilder b;
  b.dir("d").file("d/big", std::string(3 << 20, 'z') + "end").file("d/small", "s");
  std::string tar = b.build();
  std::string first;
  for (Compression c : {Compression::none, Compression::gzip, Compression::zstd}) {
    for (bool threaded : {true, false}) {
      for (size_t chunk : {size_t{1} << 20, size_t{4093}}) {
        SCOPED_TRACE(std::string(compression_name(c)) + (threaded ? " threaded " : " inline ") +
                     std::to_string(chunk));
        ASSERT_TRUE(remove_unpacked(root_).ok());
        ASSERT_TRUE(mkdir_all(root_).ok());
        UnpackOptions o = opts();
        o.decompress_in_thread = threaded;
        o.hash_compressed = true;
        std::string blob = testing::compress(tar, c);
        auto r = unpack(blob, o, chunk);
        ASSERT_TRUE(r.ok()) << r.error().message();
        EXPECT_EQ(r->compression, c);
        EXPECT_EQ(r->diff_id, sha256_digest(tar));
        EXPECT_EQ(r->compressed_digest, sha256_digest(blob));
        EXPECT_EQ(r->compressed_size, blob.size());
        EXPECT_EQ(r->content_bytes, (3u << 20) + 4);
        EXPECT_EQ(read_file(root_ + "/d/big", 8 << 20).value_or("").size(), (3u << 20) + 3);
      }
    }
  }
}

TEST_F(Unpack, ExplicitCompressionThatDoesNotMatchIsAnError) {
  std::string tar = TarBuilder().file("a", "b").build();
  auto r = unpack(tar, opts(), 1 << 16, Compression::gzip);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "layer sha256:test: corrupt gzip stream: invalid gzip header");
}

struct EscapeCase {
  const char* what;
  std::function<void(TarBuilder&, const std::string& outside)> build;
  const char* error;  // substring of the error; nullptr: succeeds (inside the root)
};

TEST_F(Unpack, NothingEscapesTheRoot) {
  const EscapeCase cases[] = {
      {"dot-dot file", [](TarBuilder& b, auto&) { b.file("../outside/victim", "pwned"); },
       "entry \"../outside/victim\": path escapes the layer root"},
      {"dot-dot in the middle",
       [](TarBuilder& b, auto&) { b.file("a/b/../../../outside/victim", "pwned"); },
       "path escapes the layer root"},
      {"absolute name lands inside",
       [](TarBuilder& b, auto& out) { b.file(out + "/victim", "pwned"); }, nullptr},
      {"write through symlink to /",
       [](TarBuilder& b, auto&) { b.symlink("l", "/").file("l/victim", "pwned"); }, nullptr},
      {"write through symlink to the outside's absolute path",
       [](TarBuilder& b, auto& out) { b.symlink("l", out).file("l/victim", "pwned"); },
       "parent directory \"l\""},
      {"write through dot-dot symlink",
       [](TarBuilder& b, auto&) {
         b.symlink("l", "../../../../..").dir("l/outside").file("l/outside/victim", "pwned");
       },
       nullptr},
      {"symlink chain",
       [](TarBuilder& b, auto&) {
         b.symlink("a", "b").symlink("b", "../..").dir("a/outside").file("a/outside/victim", "x");
       },
       nullptr},
      {"file replaces a symlink to outside",
       [](TarBuilder& b, auto& out) { b.symlink("v", out + "/victim").file("v", "pwned"); },
       nullptr},
      {"dir replaces a symlink to outside",
       [](TarBuilder& b, auto& out) { b.symlink("v", out).dir("v").file("v/victim", "x"); },
       nullptr},
      {"hard link with dot-dot", [](TarBuilder& b, auto&) { b.hardlink("h", "../outside/victim"); },
       "hard link target escapes the layer root"},
      {"hard link to an absolute outside path",
       [](TarBuilder& b, auto& out) { b.hardlink("h", out + "/victim"); }, "hard link target"},
      {"hard link through a symlink",
       [](TarBuilder& b, auto& out) { b.symlink("l", out).hardlink("h", "l/victim"); },
       "hard link target \"l/victim\""},
      {"hard link through a dot-dot symlink",
       [](TarBuilder& b, auto&) { b.symlink("l", "../..").hardlink("h", "l/outside/victim"); },
       "hard link target"},
      {"whiteout with dot-dot", [](TarBuilder& b, auto&) { b.file("../outside/.wh.victim", ""); },
       "path escapes the layer root"},
      {"whiteout named dot-dot", [](TarBuilder& b, auto&) { b.file("a/.wh...", ""); },
       "invalid whiteout name"},
      {"whiteout through a symlink",
       [](TarBuilder& b, auto& out) { b.symlink("l", out).file("l/.wh.victim", ""); },
       "parent directory \"l\""},
      {"whiteout through a dot-dot symlink",
       [](TarBuilder& b, auto&) {
         b.symlink("l", "..").dir("outside").file("l/outside/.wh.victim", "");
       },
       nullptr},
      {"opaque through a symlink",
       [](TarBuilder& b, auto& out) { b.symlink("l", out).file("l/.wh..wh..opq", ""); },
       "parent directory \"l\""},
      {"device through a symlink",
       [](TarBuilder& b, auto& out) { b.symlink("l", out).fifo("l/victim"); },
       "parent directory \"l\""},
      {"symlink replaced, then written through",
       [](TarBuilder& b, auto& out) {
         b.dir("x").symlink("a", "x").file("a/f", "1").symlink("a", out).file("a/g", "2");
       },
       "parent directory \"a\""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    ASSERT_TRUE(remove_unpacked(root_).ok());
    ASSERT_TRUE(mkdir_all(root_).ok());
    TarBuilder b;
    c.build(b, outside_);
    auto r = unpack(b.build(Compression::gzip));
    if (c.error == nullptr) {
      EXPECT_TRUE(r.ok()) << r.error().message();
    } else {
      ASSERT_FALSE(r.ok());
      EXPECT_NE(r.error().message().find(c.error), std::string::npos) << r.error().message();
      EXPECT_EQ(r.error().message().rfind("layer sha256:test: ", 0), 0u) << r.error().message();
    }
    expect_contained();
  }
}

TEST_F(Unpack, CachedParentFollowsAReplacedSymlink) {
  TarBuilder b;
  b.dir("x").dir("y").symlink("a", "x").file("a/f", "1").symlink("a", "y").file("a/g", "2");
  auto r = unpack(b.build());
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(snap("x/f"), "f 0644 1");
  EXPECT_EQ(snap("y/g"), "f 0644 2");
  EXPECT_EQ(snap("x/g"), "<missing>");
  // The cached "x/b" was reached through symlink x -> a; removing a must not leave later
  // entries going into the deleted directory.
  ASSERT_TRUE(remove_unpacked(root_).ok());
  ASSERT_TRUE(mkdir_all(root_).ok());
  TarBuilder c;
  c.dir("a").dir("a/b").symlink("x", "a").file("x/b/f1", "1").file("a", "now a file");
  c.file("x/b/f2", "2");
  auto lost = unpack(c.build());
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.error().message(),
            "layer sha256:test: entry \"x/b/f2\": parent directory \"x/b\": Not a directory");
}

TEST_F(Unpack, WhiteoutsBecomeOverlayForm) {
  TarBuilder b;
  b.dir("a").file("a/.wh.gone", "").dir("b").file("b/.wh..wh..opq", "").file("b/kept", "k");
  b.file("c", "replaced by a whiteout").file(".wh.c", "");
  b.file(".wh..wh.plnk", "");        // aufs bookkeeping: ignored
  b.file("nodir/.wh..wh..opq", "");  // opaque dir the tar never listed: created
  auto r = unpack(b.build());
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(snap("a/gone"), "c 0000 0:0");
  EXPECT_EQ(snap("c"), "c 0000 0:0");
  EXPECT_EQ(snap("b/kept"), "f 0644 k");
  EXPECT_EQ(snap(".wh..wh.plnk"), "<missing>");
  EXPECT_EQ(snap("a/.wh.gone"), "<missing>");
  for (const char* dir : {"b", "nodir"}) {
    char v[4] = {};
    ssize_t n = ::getxattr((root_ + "/" + dir).c_str(), opaque_key().c_str(), v, sizeof v);
    EXPECT_EQ(n, 1) << dir;
    EXPECT_EQ(v[0], 'y');
  }
  char v[4];
  EXPECT_LT(::getxattr((root_ + "/a").c_str(), opaque_key().c_str(), v, sizeof v), 0);
}

TEST_F(Unpack, UserOverlayOpaqueOnRequest) {
  UnpackOptions o = opts();
  o.opaque = OpaqueXattr::user;
  auto r = unpack(TarBuilder().dir("d").file("d/.wh..wh..opq", "").build(), o);
  ASSERT_TRUE(r.ok()) << r.error().message();
  char v[4];
  EXPECT_EQ(::getxattr((root_ + "/d").c_str(), "user.overlay.opaque", v, sizeof v), 1);
}

TEST_F(Unpack, XattrsRestoredOverlayOnesDropped) {
  TarBuilder b;
  b.file("f", "x").xattr("user.note", "hello").xattr("trusted.overlay.redirect", "/etc");
  b.xattr("user.overlay.opaque", "y").xattr("security.selinux", "system_u:object_r:etc_t:s0");
  b.dir("d").xattr("user.dir", "1");
  auto r = unpack(b.build());
  ASSERT_TRUE(r.ok()) << r.error().message();
  char v[64] = {};
  ASSERT_EQ(::getxattr((root_ + "/f").c_str(), "user.note", v, sizeof v), 5);
  EXPECT_EQ(std::string(v, 5), "hello");
  EXPECT_LT(::getxattr((root_ + "/f").c_str(), "trusted.overlay.redirect", v, sizeof v), 0);
  EXPECT_LT(::getxattr((root_ + "/f").c_str(), "user.overlay.opaque", v, sizeof v), 0);
  EXPECT_EQ(::getxattr((root_ + "/d").c_str(), "user.dir", v, sizeof v), 1);
}

TEST_F(Unpack, LaterEntriesReplaceEarlierOnes) {
  TarBuilder b;
  b.dir("x").file("x/inner", "1").file("x", "now a file");    // dir replaced, recursively
  b.file("y", "file").dir("y").file("y/z", "2");              // file replaced by a dir
  b.file("s", "1").symlink("s", "target");                    // file replaced by a symlink
  b.dir("keep", 0700).file("keep/a", "a").dir("keep", 0751);  // dir kept, last mode wins
  auto r = unpack(b.build());
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(snap("x"), "f 0644 now a file");
  EXPECT_EQ(snap("y/z"), "f 0644 2");
  EXPECT_EQ(snap("s"), "l -> target");
  EXPECT_EQ(snap("keep"), "d 0751");
  EXPECT_EQ(snap("keep/a"), "f 0644 a");
}

TEST_F(Unpack, RootEntryAndEmptyLayers) {
  auto r = unpack(TarBuilder().dir("./", 0711).file("./a", "1").build());
  ASSERT_TRUE(r.ok()) << r.error().message();
  struct stat st;
  ASSERT_EQ(::stat(root_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0711u);
  auto bad = unpack(TarBuilder().symlink(".", "x").build());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("cannot replace the layer root"), std::string::npos);
  // docker's empty layer: 1024 zero bytes, gzipped; and a zero-byte blob.
  std::string zeros(1024, '\0');
  auto empty = unpack(testing::compress(zeros, Compression::gzip));
  ASSERT_TRUE(empty.ok()) << empty.error().message();
  EXPECT_EQ(empty->entries, 0u);
  EXPECT_EQ(empty->diff_id, sha256_digest(zeros));
  auto nothing = unpack("");
  ASSERT_TRUE(nothing.ok()) << nothing.error().message();
  EXPECT_EQ(nothing->tar_size, 0u);
}

TEST_F(Unpack, BytesAfterTheEndBlocksCountInTheDiffId) {
  std::string tar = TarBuilder().file("a", "1").build() + std::string(10240, '\0');
  auto r = unpack(testing::compress(tar, Compression::zstd));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->diff_id, sha256_digest(tar));
  EXPECT_EQ(r->tar_size, tar.size());
}

TEST_F(Unpack, TruncatedStreams) {
  std::string tar = TarBuilder().file("a", std::string(200000, 'a')).file("b", "2").build();
  for (Compression c : {Compression::gzip, Compression::zstd}) {
    std::string blob = testing::compress(tar, c);
    std::string expect = "truncated " + std::string(compression_name(c)) + " stream";
    for (size_t cut : {blob.size() / 2, blob.size() - 4, blob.size() - 1, size_t{3}}) {
      SCOPED_TRACE(std::string(compression_name(c)) + " cut at " + std::to_string(cut));
      ASSERT_TRUE(remove_unpacked(root_).ok());
      ASSERT_TRUE(mkdir_all(root_).ok());
      auto r = unpack(blob.substr(0, cut), opts(), 1 << 16, c);
      ASSERT_FALSE(r.ok());
      EXPECT_NE(r.error().message().find(expect), std::string::npos) << r.error().message();
      EXPECT_EQ(r.error().message().rfind("layer sha256:test: ", 0), 0u);
      expect_contained();
    }
  }
  auto plain = unpack(tar.substr(0, 100000));
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.error().message(), "layer sha256:test: entry \"a\": truncated tar archive");
}

TEST_F(Unpack, CorruptStreamsAndHeaders) {
  std::string tar = TarBuilder().file("a", std::string(100000, 'a')).file("b", "2").build();
  std::string gz = testing::compress(tar, Compression::gzip);
  std::string bad_crc = gz;
  bad_crc[gz.size() - 6] ^= 0x55;  // inside the CRC-32 of the trailer
  auto r = unpack(bad_crc);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "layer sha256:test: corrupt gzip stream: checksum mismatch");
  std::string zs = testing::compress(tar, Compression::zstd);
  zs[4] = static_cast<char>(zs[4] | 0x08);  // a reserved bit of the frame header
  r = unpack(zs);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("corrupt zstd stream"), std::string::npos)
      << r.error().message();
  // Second header (after the 512-byte header and 100000 data bytes, padded) loses its
  // checksum.
  std::string bad_header = tar;
  size_t second = 512 + ((100000 + 511) / 512) * 512;
  bad_header[second + 150] ^= 0x11;
  r = unpack(bad_header);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message().rfind("layer sha256:test: corrupt tar header after entry \"a\"", 0),
            0u)
      << r.error().message();
  r = unpack(std::string(4096, 'G'));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message().rfind("layer sha256:test: corrupt tar header at the start", 0), 0u)
      << r.error().message();
}

TEST_F(Unpack, HugeNames) {
  std::string deep;
  for (int i = 0; i < 50; ++i) deep += std::string(100, 'd') + "/";
  std::string longpart(300, 'n');
  struct {
    std::string name;
    bool ok;
  } cases[] = {{std::string(200, 'a') + "/" + std::string(200, 'b'), true},
               {"x/" + longpart, false},
               {deep + "f", false}};
  for (auto& c : cases) {
    ASSERT_TRUE(remove_unpacked(root_).ok());
    ASSERT_TRUE(mkdir_all(root_).ok());
    auto r = unpack(TarBuilder().file(c.name, "x").build());
    EXPECT_EQ(r.ok(), c.ok) << c.name.size();
    if (!r.ok()) {
      EXPECT_LT(r.error().message().size(), 600u) << r.error().message();
      EXPECT_NE(r.error().message().find("too long"), std::string::npos) << r.error().message();
    }
    expect_contained();
  }
}

TEST_F(Unpack, NonAsciiNamesKeepTheirBytes) {
  std::string dir = "caf\xc3\xa9", file = dir + "/\xc3\xbc" + std::string(120, 'x');
  auto r = unpack(TarBuilder().file(file, "ok").symlink("\xe6\x97\xa5", file).build());
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(snap(file), "f 0644 ok");
  EXPECT_EQ(snap("\xe6\x97\xa5"), "l -> " + file);
}

TEST_F(Unpack, ManyEntries) {
  TarBuilder b;
  for (int d = 0; d < 20; ++d) {
    b.dir("d" + std::to_string(d));
    for (int f = 0; f < 150; ++f)
      b.file("d" + std::to_string(d) + "/f" + std::to_string(f), std::to_string(f));
  }
  auto r = unpack(b.build(Compression::gzip));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->entries, 20u * 151u);
  EXPECT_EQ(snap("d19/f149"), "f 0644 149");
  EXPECT_EQ(testing::list_tree(root_).size(), 20u * 151u);
}

TEST_F(Unpack, HardLinkErrorsNameTheEntry) {
  auto r = unpack(TarBuilder().hardlink("h", "missing").build());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(),
            "layer sha256:test: entry \"h\": hard link to \"missing\": No such file or directory");
  auto dir = unpack(TarBuilder().dir("d").hardlink("h2", "d").build());
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.error().message().find("entry \"h2\": hard link"), std::string::npos);
  auto ok = unpack(TarBuilder().symlink("s", "nowhere").hardlink("h3", "s").build());
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  EXPECT_EQ(snap("h3"), "l -> nowhere");
}

TEST_F(Unpack, ParentThatIsAFileIsAnError) {
  auto r = unpack(TarBuilder().file("f", "x").file("f/g", "y").build());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(),
            "layer sha256:test: entry \"f/g\": parent directory \"f\": Not a directory");
}

}  // namespace
}  // namespace berth::storage
