// storage_priv_test.cpp - what needs root: device nodes, owners, capabilities and trusted
// xattrs restored; the merged overlay view of unpacked layers equals docker's; a full disk
// (a small tmpfs) gives a clear error and leaves no half blob or layer.
//
// Mounts happen in a private mount namespace entered by the test process itself (every
// ctest test is its own process), and are unmounted before the temp dirs go.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/file.h"
#include "storage/blob_store.h"
#include "storage/fs_util.h"
#include "storage/layer_store.h"
#include "storage/sha256.h"
#include "storage/test_util.h"
#include "storage/unpack.h"

namespace berth::storage {
namespace {

using testing::StringSource;
using testing::TarBuilder;

#define NEED_ROOT(why) \
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: " << why

// Unmounts (lazily) when the test ends, pass or fail, before the TempDir is removed.
struct MountGuard {
  std::string path;
  ~MountGuard() {
    if (!path.empty()) ::umount2(path.c_str(), MNT_DETACH);
  }
};

TempDir temp_dir() {
  auto t = TempDir::create("/tmp/berth-storage-priv-");
  if (!t.ok()) std::abort();
  return std::move(t).value();
}

Result<UnpackResult> unpack_into(const std::string& dir, const std::string& blob,
                                 const UnpackOptions& o) {
  UniqueFd fd = TRY(open_dir(dir));
  StringSource src(blob);
  return unpack_layer(src, Compression::detect, fd.get(), o);
}

struct stat lstat_of(const std::string& p) {
  struct stat st = {};
  ::lstat(p.c_str(), &st);
  return st;
}

// cap_net_raw+ep, VFS_CAP_REVISION_2.
std::string net_raw_capability() {
  const unsigned char v[20] = {0x01, 0, 0, 0x02, 0x00, 0x20, 0, 0, 0, 0,
                               0,    0, 0, 0,    0,    0,    0, 0, 0, 0};
  return std::string(reinterpret_cast<const char*>(v), sizeof v);
}

TEST(StoragePriv, DevicesOwnersModesAndXattrs) {
  NEED_ROOT("creating device nodes and files owned by other users");
  TempDir t = temp_dir();
  TarBuilder b;
  b.dir("dev", 0755)
      .device("dev/null", S_IFCHR, 1, 3, 0666)
      .device("dev/loop0", S_IFBLK, 7, 0, 0660);
  b.owner(0, 6);
  b.fifo("dev/initctl", 0600);
  b.file("usr/bin/ping", "elf", 0755).xattr("security.capability", net_raw_capability());
  b.file("usr/bin/su", "elf", 04755);
  b.dir("var/mail", 02775).owner(0, 8);
  b.file("home/u/notes", "hi", 0640).owner(1234, 5678).xattr("trusted.berth", "t");
  b.symlink("home/u/link", "notes").owner(1234, 5678);
  b.hardlink("home/u/notes2", "home/u/notes");
  auto r = unpack_into(t.path(), b.build(Compression::zstd), UnpackOptions{});
  ASSERT_TRUE(r.ok()) << r.error().message();
  std::string root = t.path();
  struct stat st = lstat_of(root + "/dev/null");
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(1, 3));
  EXPECT_EQ(st.st_mode & 07777, 0666u);
  st = lstat_of(root + "/dev/loop0");
  EXPECT_TRUE(S_ISBLK(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(7, 0));
  EXPECT_EQ(st.st_gid, 6u);
  EXPECT_TRUE(S_ISFIFO(lstat_of(root + "/dev/initctl").st_mode));
  EXPECT_EQ(lstat_of(root + "/usr/bin/su").st_mode & 07777, 04755u);
  st = lstat_of(root + "/var/mail");
  EXPECT_EQ(st.st_mode & 07777, 02775u);
  EXPECT_EQ(st.st_gid, 8u);
  st = lstat_of(root + "/home/u/notes");
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 5678u);
  EXPECT_EQ(st.st_nlink, 2u);
  st = lstat_of(root + "/home/u/link");
  EXPECT_EQ(st.st_uid, 1234u);
  char cap[64];
  ssize_t n = ::getxattr((root + "/usr/bin/ping").c_str(), "security.capability", cap, sizeof cap);
  ASSERT_EQ(n, 20);
  EXPECT_EQ(std::string(cap, 20), net_raw_capability());
  char v[8];
  EXPECT_EQ(::getxattr((root + "/home/u/notes").c_str(), "trusted.berth", v, sizeof v), 1);
}

TEST(StoragePriv, OwnersShiftedForRootless) {
  NEED_ROOT("chown to shifted ids");
  TempDir t = temp_dir();
  UnpackOptions o;
  o.uid_offset = 100000;
  o.gid_offset = 200000;
  auto r = unpack_into(t.path(), TarBuilder().file("a/f", "x").owner(1000, 1000).build(), o);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(lstat_of(t.path() + "/a/f").st_uid, 101000u);
  EXPECT_EQ(lstat_of(t.path() + "/a/f").st_gid, 201000u);
  EXPECT_EQ(lstat_of(t.path() + "/a").st_uid, 100000u);  // implicit parent: root, shifted
}

TEST(StoragePriv, OverlayMergedViewMatchesDocker) {
  NEED_ROOT("mounting overlayfs");
  TempDir t = temp_dir();
  ASSERT_TRUE(testing::enter_private_mount_ns().ok());
  auto store = LayerStore::open(t.path() + "/store");
  ASSERT_TRUE(store.ok());
  TarBuilder l1, l2, l3;
  l1.dir("a").file("a/f1", "1").file("a/f2", "2").dir("b").file("b/x", "x").file("b/sub/y", "y");
  l1.file("c/keep", "k").file("d/sub/f", "f").symlink("link", "a/f1");
  l2.file("a/.wh.f1", "").dir("b").file("b/.wh..wh..opq", "").file("b/new", "new");
  l2.file("e", "e").file(".wh.d", "");
  l3.file("a/f1", "again").dir("d").file("d/new3", "3");
  std::vector<std::string> lowers;
  std::string parent;
  for (TarBuilder* l : {&l1, &l2, &l3}) {
    std::string tar = l->build();
    std::string chain = chain_id(parent, sha256_digest(tar));
    StringSource src(testing::compress(tar, Compression::gzip));
    auto r = store->add_layer(chain, src, Compression::detect, sha256_digest(tar), UnpackOptions{});
    ASSERT_TRUE(r.ok()) << r.error().message();
    lowers.insert(lowers.begin(), store->lower_dir(chain).value());
    parent = chain;
  }
  std::string merged = t.path() + "/merged";
  ASSERT_TRUE(mkdir_all(merged).ok());
  ASSERT_TRUE(testing::mount_overlay(lowers, merged).ok());
  MountGuard guard{merged};
  std::map<std::string, std::string> want = {
      {"a", "d 0755 0:0"},        {"a/f1", "f 0644 0:0 again"}, {"a/f2", "f 0644 0:0 2"},
      {"b", "d 0755 0:0"},        {"b/new", "f 0644 0:0 new"},  {"c", "d 0755 0:0"},
      {"c/keep", "f 0644 0:0 k"}, {"d", "d 0755 0:0"},          {"d/new3", "f 0644 0:0 3"},
      {"e", "f 0644 0:0 e"},      {"link", "l -> a/f1"}};
  EXPECT_EQ(testing::snapshot(merged), want);
}

TEST(StoragePriv, FullDiskLeavesNoHalfBlobOrLayer) {
  NEED_ROOT("mounting a small tmpfs");
  TempDir t = temp_dir();
  ASSERT_TRUE(testing::enter_private_mount_ns().ok());
  std::string small = t.path() + "/small";
  ASSERT_TRUE(mkdir_all(small).ok());
  ASSERT_EQ(::mount("tmpfs", small.c_str(), "tmpfs", 0, "size=2m"), 0);
  MountGuard guard{small};

  auto blobs = BlobStore::open(small);
  ASSERT_TRUE(blobs.ok());
  std::string chunk(64 << 10, 'b');
  for (bool keyed : {false, true}) {
    auto w = blobs->writer(keyed ? sha256_digest("whatever") : "");
    ASSERT_TRUE(w.ok());
    Status s;
    for (int i = 0; i < 64 && s.ok(); ++i) s = w->write(chunk);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().message().find("No space left on device"), std::string::npos)
        << s.error().message();
  }
  EXPECT_TRUE(list_dir(small + "/blobs/sha256").value_or({"?"}).empty());
  EXPECT_TRUE(list_dir(small + "/tmp").value_or({"?"}).empty());

  auto layers = LayerStore::open(small);
  ASSERT_TRUE(layers.ok());
  TarBuilder b;
  for (int i = 0; i < 4; ++i) b.file("f" + std::to_string(i), std::string(1 << 20, 'x'));
  std::string tar = b.build();
  StringSource src(testing::compress(tar, Compression::gzip));
  auto r = layers->add_layer(sha256_digest(tar), src, Compression::gzip, "", UnpackOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find(": write: No space left on device"), std::string::npos)
      << r.error().message();
  EXPECT_EQ(r.error().message().rfind("layer " + sha256_digest(tar) + ": entry \"f", 0), 0u)
      << r.error().message();
  EXPECT_TRUE(list_dir(small + "/layers").value_or({"?"}).empty());
}

}  // namespace
}  // namespace berth::storage
