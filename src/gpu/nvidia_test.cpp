// nvidia_test.cpp - GPU selection and the edits berth's NVIDIA injection makes, from an
// in-memory DriverInfo and a temp "dev root" of plain files (no privileges needed), and the
// createContainer hook on a temp rootfs.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "base/file.h"
#include "gpu/hook.h"
#include "gpu/nvidia.h"

namespace berth::gpu {
namespace {

namespace fs = std::filesystem;

DriverInfo two_gpus() {
  DriverInfo d;
  d.version = "550.54.15";
  d.cuda_version = "12.4";
  GpuInfo a{.index = 0, .uuid = "GPU-aaaa-1111", .bus_id = "0000:01:00.0", .model = "NVIDIA H100",
            .minor = 0, .brand = "tesla", .arch = "9.0", .migs = {}};
  GpuInfo b{.index = 1, .uuid = "GPU-bbbb-2222", .bus_id = "0000:02:00.0", .model = "NVIDIA H100",
            .minor = 3, .brand = "tesla", .arch = "9.0", .migs = {}};
  a.migs.push_back({.uuid = "MIG-cccc", .index = 0, .gi = 1, .ci = 0, .gi_access_minor = 12,
                    .ci_access_minor = 13});
  d.gpus = {a, b};
  d.libraries["libcuda"] = {{"/drv/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15",
                             "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15"}};
  d.libraries["libnvidia-ml"] = {{"/drv/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.54.15",
                                  "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.54.15"}};
  d.libraries["libnvidia-encode"] = {{"/drv/usr/lib/x86_64-linux-gnu/libnvidia-encode.so.550.54.15",
                                      "/usr/lib/x86_64-linux-gnu/libnvidia-encode.so.550.54.15"}};
  d.sonames = {{"libcuda.so.1", "libcuda.so.550.54.15"},
               {"libnvidia-ml.so.1", "libnvidia-ml.so.550.54.15"},
               {"libnvidia-encode.so.1", "libnvidia-encode.so.550.54.15"}};
  d.binaries["nvidia-smi"] = {"/drv/usr/bin/nvidia-smi", "/usr/bin/nvidia-smi"};
  return d;
}

std::vector<int> indexes(const GpuSelection& s) {
  std::vector<int> out;
  for (const auto* g : s.gpus) out.push_back(g->index);
  return out;
}

TEST(SelectGpus, ByIndexUuidBusAndMig) {
  DriverInfo d = two_gpus();
  struct Case {
    std::string value;
    std::vector<int> want;
    size_t migs = 0;
  } cases[] = {
      {"all", {0, 1}},
      {"none", {}},
      {"", {}},
      {"1", {1}},
      {"1,0", {0, 1}},
      {"gpu-BBBB-2222", {1}},
      {"0000:02:00.0", {1}},
      {"00000000:01:00.0", {0}},
      {"02:00.0", {1}},
      {"MIG-cccc", {0}, 1},
      {"0:0", {0}, 1},
      {"0, 0 ,", {0}},
  };
  for (const auto& c : cases) {
    auto s = select_gpus(d, parse_visible_devices(c.value));
    ASSERT_TRUE(s.ok()) << c.value << ": " << s.error().message();
    EXPECT_EQ(indexes(*s), c.want) << c.value;
    EXPECT_EQ(s->migs.size(), c.migs) << c.value;
  }
}

TEST(SelectGpus, UnknownIdsAreOneErrorNamingThemAndTheHost) {
  DriverInfo d = two_gpus();
  auto s = select_gpus(d, parse_visible_devices("0,7,GPU-nope,1:5"));
  ASSERT_FALSE(s.ok());
  const std::string& m = s.error().message();
  EXPECT_NE(m.find("unknown GPU device 7, GPU-nope, 1:5"), std::string::npos) << m;
  EXPECT_NE(m.find("GPU-aaaa-1111"), std::string::npos) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos);
  DriverInfo empty;
  auto e = select_gpus(empty, parse_visible_devices("0"));
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message().find("no NVIDIA GPU"), std::string::npos);
}

class Edits : public ::testing::Test {
 protected:
  void SetUp() override {
    dev_ = fs::temp_directory_path() / ("berth-nv-" + std::to_string(::getpid()));
    fs::create_directories(dev_ / "dev/nvidia-caps");
    for (const char* n : {"nvidiactl", "nvidia0", "nvidia3", "nvidia-uvm", "nvidia-uvm-tools",
                          "nvidia-caps/nvidia-cap12", "nvidia-caps/nvidia-cap13"})
      std::ofstream(dev_ / "dev" / n) << "";
  }
  void TearDown() override { fs::remove_all(dev_); }
  NvidiaOptions opts(unsigned caps) {
    NvidiaOptions o;
    o.roots.dev = dev_.string();
    o.roots.proc = (dev_ / "proc").string();
    o.roots.run = dev_.string();
    o.capabilities = caps;
    o.visible_devices = "all";
    o.hook_exe = "/opt/berth/bin/berth-runtime";
    return o;
  }
  fs::path dev_;
};

std::vector<std::string> node_paths(const ContainerEdits& e) {
  std::vector<std::string> out;
  for (const auto& n : e.device_nodes) out.push_back(n.path);
  return out;
}

bool has_mount(const ContainerEdits& e, const std::string& dest) {
  return std::any_of(e.mounts.begin(), e.mounts.end(),
                     [&](const MountEdit& m) { return m.container_path == dest; });
}

TEST_F(Edits, ComputeUtilityForAllGpus) {
  DriverInfo d = two_gpus();
  auto sel = select_gpus(d, parse_visible_devices("all"));
  ASSERT_TRUE(sel.ok());
  auto e = nvidia_edits(d, *sel, opts(kDefaultCapabilities));
  ASSERT_TRUE(e.ok()) << e.error().message();
  EXPECT_EQ(node_paths(*e), (std::vector<std::string>{"/dev/nvidiactl", "/dev/nvidia0", "/dev/nvidia3",
                                                      "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools"}));
  for (const auto& n : e->device_nodes) {
    EXPECT_EQ(n.host_path, (dev_ / n.path.substr(1)).string());
    EXPECT_EQ(n.permissions, "rw");
  }
  EXPECT_TRUE(has_mount(*e, "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15"));
  EXPECT_TRUE(has_mount(*e, "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.54.15"));
  EXPECT_FALSE(has_mount(*e, "/usr/lib/x86_64-linux-gnu/libnvidia-encode.so.550.54.15")) << "video only";
  EXPECT_TRUE(has_mount(*e, "/usr/bin/nvidia-smi"));
  for (const auto& m : e->mounts) {
    EXPECT_NE(std::find(m.options.begin(), m.options.end(), "ro"), m.options.end()) << m.container_path;
    EXPECT_NE(std::find(m.options.begin(), m.options.end(), "nosuid"), m.options.end()) << m.container_path;
  }
  EXPECT_EQ(e->env, (std::vector<std::string>{"NVIDIA_VISIBLE_DEVICES=all",
                                              "NVIDIA_DRIVER_CAPABILITIES=compute,utility"}));
  ASSERT_EQ(e->hooks.size(), 1u);
  const HookEdit& h = e->hooks[0];
  EXPECT_EQ(h.hook_name, "createContainer");
  EXPECT_EQ(h.path, "/opt/berth/bin/berth-runtime");
  for (const auto& env : h.env) EXPECT_EQ(env.rfind("PATH=", 0), 0u) << "never the container's env";
  std::vector<std::string> want = {"berth-runtime", "gpu-hook"};
  auto args = h.args;
  EXPECT_NE(std::find(args.begin(), args.end(),
                      "/usr/lib/x86_64-linux-gnu/libcuda.so.1=libcuda.so.550.54.15"), args.end());
  EXPECT_NE(std::find(args.begin(), args.end(), "/usr/lib/x86_64-linux-gnu/libcuda.so=libcuda.so.1"), args.end());
  EXPECT_NE(std::find(args.begin(), args.end(), "/usr/lib/x86_64-linux-gnu"), args.end());
}

TEST_F(Edits, UtilityOnlyHasNoUvmNorCuda) {
  DriverInfo d = two_gpus();
  auto sel = select_gpus(d, parse_visible_devices("1"));
  ASSERT_TRUE(sel.ok());
  auto e = nvidia_edits(d, *sel, opts(kUtility));
  ASSERT_TRUE(e.ok()) << e.error().message();
  EXPECT_EQ(node_paths(*e), (std::vector<std::string>{"/dev/nvidiactl", "/dev/nvidia3"}));
  EXPECT_FALSE(has_mount(*e, "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15"));
  EXPECT_TRUE(has_mount(*e, "/usr/bin/nvidia-smi"));
}

TEST_F(Edits, MigCapsAndMissingNodesAreClearErrors) {
  DriverInfo d = two_gpus();
  auto sel = select_gpus(d, parse_visible_devices("MIG-cccc"));
  ASSERT_TRUE(sel.ok());
  auto e = nvidia_edits(d, *sel, opts(kUtility));
  ASSERT_TRUE(e.ok()) << e.error().message();
  EXPECT_EQ(node_paths(*e), (std::vector<std::string>{"/dev/nvidiactl", "/dev/nvidia0",
                                                      "/dev/nvidia-caps/nvidia-cap12",
                                                      "/dev/nvidia-caps/nvidia-cap13"}));
  fs::remove(dev_ / "dev/nvidia-uvm");
  auto all = select_gpus(d, parse_visible_devices("all"));
  auto missing = nvidia_edits(d, *all, opts(kDefaultCapabilities));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("nvidia-uvm"), std::string::npos) << missing.error().message();
  fs::remove(dev_ / "dev/nvidia3");
  auto gone = nvidia_edits(d, *all, opts(kUtility));
  ASSERT_FALSE(gone.ok());
  EXPECT_NE(gone.error().message().find("GPU-bbbb-2222"), std::string::npos) << gone.error().message();
}

TEST_F(Edits, ProcViewShowsOnlySelectedGpusWithParamsEdited) {
  fs::create_directories(dev_ / "proc/driver/nvidia/gpus/0000:01:00.0");
  fs::create_directories(dev_ / "proc/driver/nvidia/gpus/0000:02:00.0");
  std::ofstream(dev_ / "proc/driver/nvidia/params") << "EnableMSI: 1\nModifyDeviceFiles: 1\n";
  std::ofstream(dev_ / "proc/driver/nvidia/version") << "NVRM version: x\n";
  DriverInfo d = two_gpus();
  auto sel = select_gpus(d, parse_visible_devices("0"));
  ASSERT_TRUE(sel.ok());
  NvidiaOptions o = opts(kUtility);
  o.params_copy = (dev_ / "params-copy").string();
  auto e = nvidia_edits(d, *sel, o);
  ASSERT_TRUE(e.ok()) << e.error().message();
  EXPECT_TRUE(has_mount(*e, "/proc/driver/nvidia"));
  EXPECT_TRUE(has_mount(*e, "/proc/driver/nvidia/gpus/0000:01:00.0"));
  EXPECT_FALSE(has_mount(*e, "/proc/driver/nvidia/gpus/0000:02:00.0"));
  EXPECT_TRUE(has_mount(*e, "/proc/driver/nvidia/version"));
  auto copy = read_file(o.params_copy);
  ASSERT_TRUE(copy.ok());
  EXPECT_EQ(*copy, "EnableMSI: 1\nModifyDeviceFiles: 0\n");
}

TEST(GpuHook, ArgumentsAreCheckedStrictly) {
  EXPECT_TRUE(parse_hook_args({"--link", "/usr/lib/libcuda.so.1=libcuda.so.550", "--folder", "/usr/lib"}).ok());
  for (std::vector<std::string> bad : std::vector<std::vector<std::string>>{
           {"--link"}, {"--link", "relative=x"}, {"--link", "/a/b"}, {"--link", "/a/b=../../etc/x"},
           {"--link", "/a/..=x"}, {"--folder", "rel"}, {"--bogus"}}) {
    auto r = parse_hook_args(bad);
    EXPECT_FALSE(r.ok()) << bad[0] << (bad.size() > 1 ? " " + bad[1] : "");
  }
}

TEST(GpuHook, MakesLinksInsideTheRootAndKeepsImageFiles) {
  fs::path root = fs::temp_directory_path() / ("berth-hook-" + std::to_string(::getpid()));
  fs::create_directories(root / "usr/lib/x86_64-linux-gnu");
  fs::create_directories(root / "etc");
  std::ofstream(root / "usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1") << "image's own";
  // A hostile image: /opt/evil -> / must not lead the hook outside the rootfs.
  fs::create_directory_symlink("/", root / "opt");
  auto req = parse_hook_args({"--link", "/usr/lib/x86_64-linux-gnu/libcuda.so.1=libcuda.so.550",
                              "--link", "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1=libnvidia-ml.so.550",
                              "--link", "/opt/berth-hook-escape-test=x",
                              "--folder", "/usr/local/nvidia/lib64", "--no-ldconfig"});
  ASSERT_TRUE(req.ok()) << req.error().message();
  Status st = run_gpu_hook(*req, root.string());
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(fs::read_symlink(root / "usr/lib/x86_64-linux-gnu/libcuda.so.1"), "libcuda.so.550");
  EXPECT_FALSE(fs::is_symlink(root / "usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1")) << "image file kept";
  EXPECT_FALSE(fs::exists(fs::symlink_status("/berth-hook-escape-test"))) << "escaped the rootfs";
  EXPECT_TRUE(fs::is_symlink(root / "berth-hook-escape-test")) << "resolved inside the root instead";
  auto conf = read_file((root / "etc/ld.so.conf.d/00-berth-gpu.conf").string());
  ASSERT_TRUE(conf.ok());
  EXPECT_EQ(*conf, "/usr/local/nvidia/lib64\n");
  EXPECT_TRUE(fs::exists(root / "etc/ld.so.conf"));
  // A second run (a restart) is idempotent.
  EXPECT_TRUE(run_gpu_hook(*req, root.string()).ok());
  fs::remove_all(root);
}

TEST(GpuHook, RunsTheImagesLdconfigChrootedWithoutCapabilities) {
  if (::geteuid() != 0) GTEST_SKIP() << "chroot needs root";
  if (!fs::exists("/sbin/ldconfig")) GTEST_SKIP() << "no /sbin/ldconfig on this host";
  fs::path root = fs::temp_directory_path() / ("berth-hook-ld-" + std::to_string(::getpid()));
  fs::create_directories(root / "sbin");
  fs::create_directories(root / "etc");
  fs::create_directories(root / "dev");
  fs::create_directories(root / "usr/lib/x86_64-linux-gnu");
  // Debian's ldconfig is a static binary: a copy runs in an otherwise empty root.
  fs::copy_file("/sbin/ldconfig", root / "sbin/ldconfig");
  auto req = parse_hook_args({"--folder", "/usr/lib/x86_64-linux-gnu"});
  ASSERT_TRUE(req.ok());
  Status st = run_gpu_hook(*req, root.string());
  EXPECT_TRUE(st.ok()) << st.error().message();
  EXPECT_TRUE(fs::exists(root / "etc/ld.so.cache")) << "ldconfig ran inside the root";
  fs::remove_all(root);
}

}  // namespace
}  // namespace berth::gpu
