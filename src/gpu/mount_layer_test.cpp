// mount_layer_test.cpp - the GPU mount layer (mount_layer.h): what goes in it, the tree it
// makes and reuses, and that it never goes over an image it would hide part of.
#include "gpu/mount_layer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <cstdio>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "base/file.h"

namespace berth::gpu {
namespace {

namespace fs = std::filesystem;

const std::string kLib = "/usr/lib/x86_64-linux-gnu/";

ContainerEdits sample_edits() {
  ContainerEdits e;
  e.mounts.push_back({.host_path = "/drv" + kLib + "libcuda.so.550",
                      .container_path = kLib + "libcuda.so.550", .type = "bind", .options = {}});
  e.mounts.push_back({.host_path = "/drv/usr/bin/nvidia-smi", .container_path = "/usr/bin/nvidia-smi",
                      .type = "", .options = {}});
  e.mounts.push_back({.host_path = "/host/tmp/nvidia-mps", .container_path = "/tmp/nvidia-mps",
                      .type = "bind", .options = {}});
  // Under the runtime's own filesystems, or not a bind: no entry.
  e.mounts.push_back({.host_path = "/p/version", .container_path = "/proc/driver/nvidia/version",
                      .type = "bind", .options = {}});
  e.mounts.push_back({.host_path = "/dev/nvidia0", .container_path = "/dev/nvidia0", .type = "bind",
                      .options = {}});
  e.mounts.push_back({.host_path = "tmpfs", .container_path = "/scratch", .type = "tmpfs", .options = {}});
  e.hooks.push_back({.hook_name = "createContainer", .path = "/bin/berth-runtime",
                     .args = {"berth-runtime", "gpu-hook", "--link", kLib + "libcuda.so.1=libcuda.so.550",
                              "--folder", "/usr/lib/x86_64-linux-gnu"},
                     .env = {}, .timeout = std::nullopt});
  // Another program's hook adds nothing, even one that calls itself gpu-hook.
  e.hooks.push_back({.hook_name = "createContainer", .path = "/bin/other",
                     .args = {"other", "--link", "/x/y=z"}, .env = {}, .timeout = std::nullopt});
  e.hooks.push_back({.hook_name = "createContainer", .path = "/opt/vendor/hook",
                     .args = {"hook", "gpu-hook", "--link", "/x/y=z"}, .env = {}, .timeout = std::nullopt});
  return e;
}

bool dir_if_mps(const std::string& p) { return p == "/host/tmp/nvidia-mps"; }
bool own(const HookEdit& h) { return h.path == "/bin/berth-runtime"; }

TEST(MountLayer, EntriesForBindMountsAndHookLinksWithTheirFolders) {
  MountLayer l = MountLayer::of(sample_edits(), dir_if_mps, own);
  EXPECT_EQ(l.manifest(),
            "d /tmp/nvidia-mps\n"
            "f /usr/bin/nvidia-smi\n"
            "l /usr/lib/x86_64-linux-gnu/libcuda.so.1 libcuda.so.550\n"
            "f /usr/lib/x86_64-linux-gnu/libcuda.so.550\n");
  EXPECT_EQ(l.name().size(), 16u);
  EXPECT_TRUE(MountLayer::of(ContainerEdits{}, dir_if_mps, own).empty());
}

TEST(MountLayer, ConflictingTypesGiveNoLayer) {
  ContainerEdits e = sample_edits();
  // A mount with others inside it.
  e.mounts.push_back({.host_path = "/f", .container_path = "/usr/lib", .type = "bind", .options = {}});
  EXPECT_TRUE(MountLayer::of(e, dir_if_mps, own).empty());
  ContainerEdits e2 = sample_edits();
  e2.hooks[0].args.push_back("--link");
  e2.hooks[0].args.push_back(kLib + "libcuda.so.550=elsewhere");  // a link over a mount point
  EXPECT_TRUE(MountLayer::of(e2, dir_if_mps, own).empty());
}

class LayerDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("berth-mlayer-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(LayerDir, EnsureMakesTheTreeOnceAndReusesIt) {
  MountLayer l = MountLayer::of(sample_edits(), dir_if_mps, own);
  auto tree = l.ensure((dir_ / "layers").string());
  ASSERT_TRUE(tree.ok()) << tree.error().message();
  ASSERT_FALSE(tree->empty());
  fs::path t = *tree;
  EXPECT_TRUE(fs::is_directory(t / "tmp/nvidia-mps"));
  EXPECT_TRUE(fs::is_regular_file(t / "usr/bin/nvidia-smi"));
  EXPECT_EQ(fs::file_size(t / "usr/bin/nvidia-smi"), 0u);
  EXPECT_EQ(fs::read_symlink(t / "usr/lib/x86_64-linux-gnu/libcuda.so.1"), "libcuda.so.550");
  auto again = l.ensure((dir_ / "layers").string());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *tree);
  // No temporary folder is left behind.
  int n = 0;
  for (const auto& d : fs::directory_iterator(dir_ / "layers")) n += d.path().filename().string()[0] == '.';
  EXPECT_EQ(n, 0);
}

TEST_F(LayerDir, ConcurrentStartsShareOneTree) {
  MountLayer l = MountLayer::of(sample_edits(), dir_if_mps, own);
  std::vector<std::string> got(8);
  std::vector<std::thread> ts;
  for (size_t i = 0; i < got.size(); i++)
    ts.emplace_back([&, i] {
      auto t = l.ensure((dir_ / "layers").string());
      got[i] = t ? *t : "error: " + t.error().message();
    });
  for (auto& t : ts) t.join();
  for (const auto& g : got) EXPECT_EQ(g, got[0]);
  EXPECT_TRUE(fs::is_directory(got[0]));
}

TEST_F(LayerDir, AForeignOrTornFolderUnderTheNameMeansNoLayer) {
  MountLayer l = MountLayer::of(sample_edits(), dir_if_mps, own);
  auto tree = l.ensure((dir_ / "layers").string());
  ASSERT_TRUE(tree.ok());
  fs::path base = fs::path(*tree).parent_path();
  std::ofstream(base / "manifest", std::ios::trunc) << "d /other\n";
  auto other = l.ensure((dir_ / "layers").string());
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(*other, "") << "a manifest that differs is never used";
  fs::remove(base / "manifest");
  auto torn = l.ensure((dir_ / "layers").string());
  ASSERT_TRUE(torn.ok());
  EXPECT_EQ(*torn, "");
}

TEST_F(LayerDir, AFolderThatCannotBeMadeIsAnError) {
  std::ofstream(dir_ / "file") << "not a folder";
  auto t = MountLayer::of(sample_edits(), dir_if_mps, own).ensure((dir_ / "file/layers").string());
  EXPECT_FALSE(t.ok());
}

TEST(MountLayer, ManifestRoundTripsAndHostileOnesAreRefused) {
  MountLayer l = MountLayer::of(sample_edits(), dir_if_mps, own);
  auto back = MountLayer::parse(l.manifest());
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->manifest(), l.manifest());
  EXPECT_TRUE(MountLayer::parse("").ok());
  EXPECT_TRUE(MountLayer::parse("p /a 755 0 0\nf /a/b\ns /c\n").ok());
  for (const char* bad : {"x /a\n", "f a\n", "f /\n", "f /a/../b\n", "l /a\n", "l /a b/c\n", "l /a ..\n",
                          "f /b\nf /a\n", "f /a b\n", "d  /a\n", "f /a", "f /a\n\nf\n",
                          "p /a 17777 0 0\n", "p /a 755 -1 0\n", "p /a 755 0\n", "p /a 0x1 0 0\n",
                          "p /a 755 4294967295 0\n", "s /a x\n", "f /a\nf /a/b\n", "s /a\nf /a/b\n",
                          "l /a t\nd /a/b\n", "f /a\nf /a\n"})
    EXPECT_FALSE(MountLayer::parse(bad).ok()) << bad;
}

class LayerRoot : public LayerDir {
 protected:
  void SetUp() override {
    LayerDir::SetUp();
    root_ = dir_ / "root";
    // A merged-/usr image: /lib -> usr/lib.
    fs::create_directories(root_ / "usr/lib/x86_64-linux-gnu");
    fs::create_directories(root_ / "usr/bin");
    fs::create_directories(root_ / "etc");
    fs::create_directory_symlink("usr/lib", root_ / "lib");
    std::ofstream(root_ / "usr/lib/x86_64-linux-gnu/libcuda.so.1") << "the image's own";
    fs::create_symlink("libnvidia-ml.so.1.old", root_ / "usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1");
    std::ofstream(root_ / "usr/bin/nvidia-smi") << "the image's own";
    std::ofstream(root_ / "etc/file") << "not a folder";
    fs::create_directory_symlink("/", root_ / "opt");           // hostile: absolute, to /
    fs::create_directory_symlink("/nonexistent", root_ / "srv");  // dangling
    fs::create_directory_symlink("usr/lib32", root_ / "lib32");  // dangling, relative
    fd_ = ::open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(fd_, 0);
  }
  void TearDown() override {
    ::close(fd_);
    LayerDir::TearDown();
  }
  Result<MountLayer> resolve(const std::string& manifest) {
    auto l = MountLayer::parse(manifest);
    EXPECT_TRUE(l.ok()) << manifest;
    return l->resolve(fd_);
  }
  fs::path root_;
  int fd_ = -1;
};

// "p PATH MODE UID GID" for a folder of the test root.
std::string p_line(const fs::path& root, const std::string& path) {
  struct stat st;
  EXPECT_EQ(::lstat((root.string() + path).c_str(), &st), 0) << path;
  char buf[256];
  std::snprintf(buf, sizeof buf, "p %s %o %u %u\n", path.c_str(), st.st_mode & 07777, st.st_uid, st.st_gid);
  return buf;
}

TEST_F(LayerRoot, ResolveFollowsTheImagesSymlinksAndKeepsWhatItHas) {
  auto r = resolve(
      "f /lib/firmware/nvidia/550/gsp.bin\n"
      "l /lib/x86_64-linux-gnu/libcuda.so.1 libcuda.so.550\n"
      "f /lib/x86_64-linux-gnu/libcuda.so.550\n"
      "l /lib/x86_64-linux-gnu/libnvidia-ml.so.1 libnvidia-ml.so.550\n"
      "f /lib32/x/y\n"
      "f /opt/inside\n"
      "f /srv/x\n"
      "d /tmp/nvidia-mps\n"
      "f /usr/bin/nvidia-smi\n");
  ASSERT_TRUE(r.ok()) << r.error().message();
  // libcuda.so.1 is the image's file (kept, no link); nvidia-smi exists (no placeholder);
  // the image's old symlink is replaced, as the hook would; /opt -> / stays inside the root;
  // a dangling symlink leads to its target (srv -> /nonexistent, lib32 -> usr/lib32), as the
  // runtime's lookups do once the folder exists. The image's folders on the way keep their
  // mode and owner; its symlinks on the way are recorded.
  EXPECT_EQ(r->manifest(),
            "f /inside\n"
            "s /lib\n"
            "s /lib32\n"
            "f /nonexistent/x\n"
            "s /opt\n"
            "s /srv\n"
            "d /tmp/nvidia-mps\n" +
                p_line(root_, "/usr") + p_line(root_, "/usr/bin") + p_line(root_, "/usr/lib") +
                "f /usr/lib/firmware/nvidia/550/gsp.bin\n" + p_line(root_, "/usr/lib/x86_64-linux-gnu") +
                "f /usr/lib/x86_64-linux-gnu/libcuda.so.550\n"
                "l /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1 libnvidia-ml.so.550\n"
                "f /usr/lib32/x/y\n");
  // The tree never holds a folder where the image has a symlink, and whatever the umask, its
  // folders have the image's modes (new ones 0755).
  mode_t old = ::umask(077);
  auto tree = r->ensure((dir_ / "layers").string());
  ::umask(old);
  ASSERT_TRUE(tree.ok()) << tree.error().message();
  fs::path t = *tree;
  EXPECT_FALSE(fs::exists(fs::symlink_status(t / "lib")));
  EXPECT_FALSE(fs::exists(fs::symlink_status(t / "opt")));
  EXPECT_TRUE(fs::is_regular_file(t / "usr/lib/firmware/nvidia/550/gsp.bin"));
  struct stat a, b;
  ASSERT_EQ(::stat((t / "usr/lib").c_str(), &a), 0);
  ASSERT_EQ(::stat((root_ / "usr/lib").c_str(), &b), 0);
  EXPECT_EQ(a.st_mode, b.st_mode);
  ASSERT_EQ(::stat((t / "tmp").c_str(), &a), 0);
  EXPECT_EQ(a.st_mode & 07777, 0755u);
  ASSERT_EQ(::stat((t / "usr/lib/x86_64-linux-gnu/libcuda.so.550").c_str(), &a), 0);
  EXPECT_EQ(a.st_mode & 07777, 0644u);
}

TEST_F(LayerRoot, AStickyTmpStaysSticky) {
  fs::create_directories(root_ / "tmp");
  fs::permissions(root_ / "tmp", static_cast<fs::perms>(01777));
  auto r = resolve("d /tmp/nvidia-mps\n");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->manifest(), p_line(root_, "/tmp") + "d /tmp/nvidia-mps\n");
  EXPECT_NE(r->manifest().find("p /tmp 1777 "), std::string::npos) << r->manifest();
  auto tree = r->ensure((dir_ / "layers").string());
  ASSERT_TRUE(tree.ok()) << tree.error().message();
  struct stat st;
  ASSERT_EQ(::stat((fs::path(*tree) / "tmp").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01777u);
}

TEST_F(LayerRoot, ResolveRefusesWhatItCannotPlace) {
  fs::create_directory_symlink("loop2", root_ / "loop1");
  fs::create_directory_symlink("loop1", root_ / "loop2");
  EXPECT_FALSE(resolve("f /loop1/x\n").ok()) << "a symlink loop";
  EXPECT_FALSE(resolve("f /etc/file/x\n").ok()) << "a file where a folder is needed";
  fs::create_directory_symlink("usr/my lib", root_ / "spaced");
  EXPECT_FALSE(resolve("f /spaced/x\n").ok()) << "a space would break the manifest";
  auto empty = resolve("f /usr/bin/nvidia-smi\n");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty()) << "nothing the image lacks";
}

TEST_F(LayerDir, FitsAnUpperDirOnlyWithoutTypeClashes) {
  auto l = MountLayer::parse("d /tmp/nvidia-mps\nl /usr/lib/x/libcuda.so.1 libcuda.so.550\nf /usr/lib/x/libcuda.so.550\n");
  ASSERT_TRUE(l.ok());
  fs::path up = dir_ / "upper";
  fs::create_directories(up);
  EXPECT_TRUE(l->fits(up.string())) << "empty";
  EXPECT_TRUE(l->fits((dir_ / "absent").string()));
  // What an earlier start without the layer made: the same types.
  fs::create_directories(up / "usr/lib/x");
  std::ofstream(up / "usr/lib/x/libcuda.so.550");
  fs::create_symlink("libcuda.so.550", up / "usr/lib/x/libcuda.so.1");
  EXPECT_TRUE(l->fits(up.string()));
  if (::geteuid() == 0) {  // a whiteout (the container removed /tmp): fine
    ASSERT_EQ(::mknod((up / "tmp").c_str(), S_IFCHR | 0000, makedev(0, 0)), 0);
    EXPECT_TRUE(l->fits(up.string()));
    fs::remove(up / "tmp");
  }
  // The container made /usr/lib a symlink, or a file where the layer has a folder.
  fs::path sym = dir_ / "sym";
  fs::create_directories(sym / "usr/lib64");
  fs::create_directory_symlink("lib64", sym / "usr/lib");
  EXPECT_FALSE(l->fits(sym.string()));
  std::ofstream(up / "tmp") << "file";
  EXPECT_FALSE(l->fits(up.string()));
  // The container replaced a symlink the plan went through (/lib -> usr/lib) with a folder.
  auto viaLink = MountLayer::parse("s /lib\nf /usr/lib/x/libcuda.so.550\n");
  ASSERT_TRUE(viaLink.ok());
  fs::path up2 = dir_ / "upper2";
  fs::create_directories(up2);
  EXPECT_TRUE(viaLink->fits(up2.string()));
  fs::create_directories(up2 / "lib");
  EXPECT_FALSE(viaLink->fits(up2.string()));
}

}  // namespace
}  // namespace berth::gpu
