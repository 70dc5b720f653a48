// gpu_e2e_test.cpp - --gpus and CDI devices end to end, without a GPU: the berth binary runs
// busybox containers against the fake NVIDIA driver of tests/fixtures/mk-fake-nvidia-driver.sh
// (real char device nodes with NVIDIA's majors, tiny real libraries with the right sonames,
// a static fake nvidia-smi that lists /proc/driver/nvidia/gpus, fake procfs files), found
// through the BERTH_NVIDIA_* variables. What the container sees is checked from inside.
#include <sys/mount.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>

#include <nlohmann/json.hpp>

#include "images_fixture.h"
#include "test_util.h"

namespace berth::gputest {
namespace {

using imgtest::BerthEnv;
using regtest::Output;
using ctest::lines_of;
using ctest::trim_end;

constexpr const char* kVersion = "550.54.15";

struct FakeGpu {
  std::string bus, uuid;
  int minor = 0;
};

class Gpus : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "GPU containers need root (mknod of the fake nodes, namespaces)";
    fake_ = env_.path("nvidia");
    std::string cmd = std::string("bash ") + BERTH_FAKE_NVIDIA + " " + fake_ + " " + kVersion + " --mig";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    ::setenv("BERTH_NVIDIA_DRIVER_ROOT", (fake_ + "/driver").c_str(), 1);
    ::setenv("BERTH_NVIDIA_DEV_ROOT", fake_.c_str(), 1);
    ::setenv("BERTH_NVIDIA_PROC_ROOT", (fake_ + "/proc").c_str(), 1);
    ::setenv("BERTH_NVIDIA_SYS_ROOT", (fake_ + "/sys").c_str(), 1);
    ::setenv("BERTH_NVIDIA_RUN_ROOT", fake_.c_str(), 1);
    for (const auto& d : std::filesystem::directory_iterator(fake_ + "/proc/driver/nvidia/gpus")) {
      std::ifstream in(d.path() / "information");
      std::string line;
      FakeGpu g{.bus = d.path().filename().string(), .uuid = "", .minor = 0};
      while (std::getline(in, line)) {
        std::smatch m;
        if (std::regex_search(line, m, std::regex(R"(GPU UUID:\s*(\S+))"))) g.uuid = m[1];
        if (std::regex_search(line, m, std::regex(R"(Device Minor:\s*(\d+))"))) g.minor = std::stoi(m[1]);
      }
      gpus_.push_back(g);
    }
    std::sort(gpus_.begin(), gpus_.end(), [](const FakeGpu& a, const FakeGpu& b) { return a.bus < b.bus; });
    ASSERT_EQ(gpus_.size(), 2u) << "the fake driver has two GPUs";
    img_ = imgtest::make_busybox_image(env_.path("img"));
    imgtest::install_fixture(env_, img_, {"docker.io/library/bb:latest"});
  }
  void TearDown() override {
    for (const char* v : {"BERTH_NVIDIA_DRIVER_ROOT", "BERTH_NVIDIA_DEV_ROOT", "BERTH_NVIDIA_PROC_ROOT",
                          "BERTH_NVIDIA_SYS_ROOT", "BERTH_NVIDIA_RUN_ROOT"})
      ::unsetenv(v);
    if (::geteuid() != 0) return;
    ctest::remove_containers_and_check_mounts(env_);
  }
  Output berth(std::vector<std::string> args) { return env_.berth(args); }
  // run --rm --network none FLAGS bb sh -c SCRIPT
  Output in_container(const std::vector<std::string>& flags, const std::string& script) {
    std::vector<std::string> args = {"run", "--rm", "--network", "none"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {"bb", "sh", "-c", script});
    return berth(args);
  }
  std::string nvidia_nodes(const std::vector<std::string>& flags) {
    Output o = in_container(flags, "cd /dev && ls -d nvidia* | sort | tr '\\n' ' '");
    EXPECT_EQ(o.status, 0) << o.err;
    return trim_end(o.out);
  }

  BerthEnv env_;
  imgtest::FixtureImage img_;
  std::string fake_;
  std::vector<FakeGpu> gpus_;
};

const std::string kLib = "/usr/lib/x86_64-linux-gnu/";

TEST_F(Gpus, AllGpusNodesMajorsSmiAndEnv) {
  Output o = in_container({"--gpus", "all"},
                          "stat -c '%n %t:%T' /dev/nvidia0 /dev/nvidia1 /dev/nvidiactl /dev/nvidia-uvm; "
                          "nvidia-smi -L; echo \"$NVIDIA_VISIBLE_DEVICES $NVIDIA_DRIVER_CAPABILITIES\"");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_NE(o.out.find("/dev/nvidia0 c3:0"), std::string::npos) << o.out;  // 195:0
  EXPECT_NE(o.out.find("/dev/nvidia1 c3:1"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("/dev/nvidiactl c3:ff"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("/dev/nvidia-uvm 1fc:0"), std::string::npos) << o.out;  // 508:0
  EXPECT_NE(o.out.find(gpus_[0].uuid), std::string::npos) << o.out;
  EXPECT_NE(o.out.find(gpus_[1].uuid), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("all compute,utility"), std::string::npos) << o.out;
}

TEST_F(Gpus, SelectionByIndexUuidAndBusHidesTheOthers) {
  EXPECT_EQ(nvidia_nodes({"--gpus", "\"device=1\""}), "nvidia-uvm nvidia-uvm-tools nvidia1 nvidiactl");
  EXPECT_EQ(nvidia_nodes({"--gpus", "device=" + gpus_[0].uuid}), "nvidia-uvm nvidia-uvm-tools nvidia0 nvidiactl");
  EXPECT_EQ(nvidia_nodes({"--gpus", "2"}), "nvidia-uvm nvidia-uvm-tools nvidia0 nvidia1 nvidiactl");
  // nvidia-smi inside sees only the selected GPU: /proc/driver/nvidia/gpus is filtered.
  Output o = in_container({"--gpus", "\"device=1\""}, "nvidia-smi -L; ls /proc/driver/nvidia/gpus; "
                                                      "grep ModifyDeviceFiles /proc/driver/nvidia/params");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_NE(o.out.find(gpus_[1].uuid), std::string::npos) << o.out;
  EXPECT_EQ(o.out.find(gpus_[0].uuid), std::string::npos) << o.out;
  EXPECT_EQ(o.out.find(gpus_[0].bus), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("ModifyDeviceFiles: 0"), std::string::npos) << o.out;
  EXPECT_EQ(trim_end(in_container({"--gpus", "device=" + gpus_[1].bus}, "echo $NVIDIA_VISIBLE_DEVICES").out),
            gpus_[1].bus);
}

TEST_F(Gpus, LibrariesPerCapabilityReadOnlyWithSonameLinks) {
  std::string cuda = kLib + "libcuda.so." + kVersion;
  Output o = in_container({"--gpus", "all"},
                          "ls -l " + kLib + "libcuda.so.1 " + kLib + "libcuda.so; test -f " + cuda +
                              " && echo has-cuda; test -f " + kLib + "libnvidia-encode.so." + kVersion +
                              " || echo no-encode; touch " + cuda + " 2>/dev/null || echo read-only");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_NE(o.out.find("libcuda.so.1 -> libcuda.so." + std::string(kVersion)), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("libcuda.so -> libcuda.so.1"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("has-cuda"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("no-encode"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("read-only"), std::string::npos) << o.out;
  // Firmware, the persistenced socket and the MPS folder come at their host paths.
  Output extra = in_container({"--gpus", "all"},
                              "test -f /lib/firmware/nvidia/" + std::string(kVersion) +
                                  "/gsp_ga10x.bin && test -e /run/nvidia-persistenced/socket && "
                                  "test -d /tmp/nvidia-mps && echo extras");
  EXPECT_EQ(extra.out, "extras\n") << extra.err;
  // utility only: nvidia-smi and NVML, no libcuda, no uvm.
  Output u = in_container({"--gpus", "all", "-e", "NVIDIA_DRIVER_CAPABILITIES=utility"},
                          "test -e " + cuda + " || echo no-cuda; test -e /dev/nvidia-uvm || echo no-uvm; "
                          "test -f " + kLib + "libnvidia-ml.so." + kVersion + " && echo has-nvml; nvidia-smi -L");
  ASSERT_EQ(u.status, 0) << u.err;
  for (const char* want : {"no-cuda", "no-uvm", "has-nvml", "GPU 0"})
    EXPECT_NE(u.out.find(want), std::string::npos) << want << " in " << u.out;
  // --gpus capabilities= wins over the image's variable; video brings the encoder.
  Output v = in_container({"--gpus", "all,\"capabilities=compute,video\""},
                          "test -f " + kLib + "libnvidia-encode.so." + kVersion + " && echo has-encode; "
                          "echo $NVIDIA_DRIVER_CAPABILITIES");
  ASSERT_EQ(v.status, 0) << v.err;
  EXPECT_NE(v.out.find("has-encode"), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("compute,video"), std::string::npos) << v.out;
}

TEST_F(Gpus, DeviceCgroupAllowsTheSelectedNodesOnly) {
  // No nvidia module on this host: opening an allowed node reaches the kernel (ENXIO); a node
  // made inside for a GPU not selected is refused by the device cgroup (EPERM).
  Output o = in_container({"--gpus", "\"device=0\""},
                          "cat /dev/nvidia0 2>&1; mknod /tmp/n1 c 195 1 && cat /tmp/n1 2>&1; true");
  EXPECT_NE(o.out.find("No such device or address"), std::string::npos) << o.out << o.err;
  EXPECT_NE(o.out.find("Operation not permitted"), std::string::npos) << o.out << o.err;
}

TEST_F(Gpus, ImageOrUserVariableAloneGrantsNothing) {
  EXPECT_EQ(nvidia_nodes({"-e", "NVIDIA_VISIBLE_DEVICES=all"}), "");
  EXPECT_EQ(nvidia_nodes({"--gpus", "0"}), "") << "--gpus 0 asks for none";
}

TEST_F(Gpus, MigDeviceBringsItsParentAndCaps) {
  Output ls = berth({"gpu", "ls"});
  ASSERT_EQ(ls.status, 0) << ls.err;
  EXPECT_NE(ls.out.find(gpus_[0].uuid), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("0:0"), std::string::npos) << "MIG devices listed: " << ls.out;
  Output o = in_container({"--gpus", "\"device=0:0\""}, "ls /dev/nvidia-caps; ls -d /dev/nvidia[0-9]*");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_NE(o.out.find("nvidia-cap"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("/dev/nvidia0"), std::string::npos) << o.out;
  EXPECT_EQ(o.out.find("/dev/nvidia1"), std::string::npos) << o.out;
}

TEST_F(Gpus, ClearErrors) {
  Output bad = in_container({"--gpus", "\"device=7\""}, "true");
  EXPECT_EQ(bad.status, 125);
  EXPECT_NE(bad.err.find("unknown GPU device 7"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find(gpus_[1].uuid), std::string::npos) << "lists what the host has: " << bad.err;
  EXPECT_EQ(lines_of(bad.err).size(), 1u) << bad.err;

  Output syntax = in_container({"--gpus", "all,device=0"}, "true");
  EXPECT_EQ(syntax.status, 125);
  EXPECT_NE(syntax.err.find("--gpus"), std::string::npos) << syntax.err;

  Output req = in_container({"--gpus", "all", "-e", "NVIDIA_REQUIRE_CUDA=cuda>=99.0"}, "true");
  EXPECT_EQ(req.status, 125);
  EXPECT_NE(req.err.find("unsatisfied condition: cuda>=99.0"), std::string::npos) << req.err;
  Output skip = in_container({"--gpus", "all", "-e", "NVIDIA_REQUIRE_CUDA=cuda>=99.0", "-e",
                              "NVIDIA_DISABLE_REQUIRE=true"}, "true");
  EXPECT_EQ(skip.status, 0) << skip.err;

  ::setenv("BERTH_NVIDIA_PROC_ROOT", env_.path("no-proc").c_str(), 1);
  Output none = in_container({"--gpus", "all"}, "true");
  EXPECT_EQ(none.status, 125);
  EXPECT_NE(none.err.find("no NVIDIA driver found"), std::string::npos) << none.err;
  EXPECT_EQ(trim_end(berth({"ps", "-aq"}).out), "") << "nothing left behind";
}

// The mount points of the driver's files and the soname links come as one read-only layer
// of the rootfs (gpu/mount_layer.h), planned on the first fresh GPU container of an image and
// shared by the later ones: nothing of the driver is written to their upper dirs, so a commit
// of a GPU container leaves it out.
TEST_F(Gpus, DriverMountPointsComeAsALayerAndStayOutOfCommits) {
  std::string layers = "grep -c /gpu/layers/ /proc/self/mountinfo";
  Output first = in_container({"--gpus", "all"}, layers);
  EXPECT_EQ(trim_end(first.out), "0") << "the first container plans the layer: " << first.err;
  Output o = berth({"run", "--name", "g", "--network", "none", "--gpus", "all", "bb", "sh", "-c",
                    layers + "; ls -l " + kLib + "libcuda.so.1; nvidia-smi -L"});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(lines_of(o.out).at(0), "1") << "the rootfs has the layer: " << o.out;
  EXPECT_NE(o.out.find("libcuda.so.1 -> libcuda.so." + std::string(kVersion)), std::string::npos) << o.out;
  EXPECT_NE(o.out.find(gpus_[1].uuid), std::string::npos) << o.out;
  // The layer's folders keep the image's modes: /tmp (in the layer for /tmp/nvidia-mps) stays
  // 1777, writable by any user.
  Output tmp = in_container({"--gpus", "all", "--user", "1000:1000"},
                            "stat -c %a /tmp; touch /tmp/mine && echo writable; " + layers);
  EXPECT_EQ(tmp.out, "1777\nwritable\n1\n") << tmp.err;
  ASSERT_EQ(berth({"commit", "g", "committed:1"}).status, 0);
  Output c = berth({"run", "--rm", "--network", "none", "committed:1", "sh", "-c",
                    "ls /usr/lib /usr/bin/nvidia-smi /lib/firmware /tmp/nvidia-mps 2>&1 | grep -c 'No such file'"});
  EXPECT_EQ(trim_end(c.out), "4") << "no driver leftovers in the image: " << c.out << c.err;
  // A restart keeps it.
  Output again = berth({"start", "-a", "g"});
  EXPECT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(lines_of(again.out).at(0), "1") << again.out;
  EXPECT_TRUE(std::filesystem::is_directory(env_.runroot() + "/gpu/layers/plans"));
  // system reset takes the layers with the containers.
  Output reset = berth({"system", "reset", "-f"});
  EXPECT_EQ(reset.status, 0) << reset.err;
  EXPECT_FALSE(std::filesystem::exists(env_.runroot() + "/gpu")) << reset.out;
}

// A merged-/usr image (/usr/lib a symlink): the layer's paths follow the image's symlinks, so
// it never puts a folder over one (that would hide the image's libraries).
TEST_F(Gpus, LayerFollowsTheImagesSymlinks) {
  ASSERT_EQ(berth({"run", "--name", "base", "--network", "none", "bb", "sh", "-c",
                   "mkdir -p /usr/lib64 && echo mine > /usr/lib64/own && ln -s lib64 /usr/lib"}).status, 0);
  ASSERT_EQ(berth({"commit", "base", "merged:1"}).status, 0);
  std::string script = "readlink /usr/lib; cat /usr/lib/own; test -f /usr/lib64/x86_64-linux-gnu/libcuda.so." +
                       std::string(kVersion) + " && readlink /usr/lib64/x86_64-linux-gnu/libcuda.so.1; "
                       "grep -c /gpu/layers/ /proc/self/mountinfo";
  std::string want = "lib64\nmine\nlibcuda.so." + std::string(kVersion) + "\n";
  for (const char* layer : {"0", "1"}) {  // planned by the first, used by the second
    Output o = berth({"run", "--rm", "--network", "none", "--gpus", "all", "merged:1", "sh", "-c", script});
    EXPECT_EQ(o.out, want + layer + "\n") << o.err;
  }
}

// build --gpus: RUN steps see the GPUs (docker's classic builder cannot), and the image keeps
// what the step wrote but nothing of the host's driver (mount placeholders, hook links, the
// loader cache the hook rewrote).
TEST_F(Gpus, BuildGivesRunStepsTheGpus) {
  std::string ctx = env_.path("buildctx");
  std::filesystem::create_directories(ctx);
  std::ofstream(ctx + "/Dockerfile") << "FROM bb\nRUN nvidia-smi -L > /gpus.txt && ls /dev/nvidia0 > /dev-seen\n";
  Output o = berth({"build", "-t", "gpubuilt", "--gpus", "device=" + gpus_[0].uuid, ctx});
  ASSERT_EQ(o.status, 0) << o.out << o.err;
  Output in = in_container({}, "true");  // bb itself still runs
  EXPECT_EQ(in.status, 0);
  Output r = berth({"run", "--rm", "--network", "none", "gpubuilt", "sh", "-c",
                    "cat /gpus.txt /dev-seen; ls " + kLib + " 2>/dev/null | grep -c nvidia\\|cuda; "
                    "test -e /usr/bin/nvidia-smi || echo no-smi; test -e /etc/ld.so.conf.d/00-berth-gpu.conf || echo no-conf"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find(gpus_[0].uuid), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(gpus_[1].uuid), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("/dev/nvidia0\n0\nno-smi\nno-conf"), std::string::npos) << r.out;
  // Without --gpus the step has none.
  std::ofstream(ctx + "/Dockerfile") << "FROM bb\nRUN ls /dev/nvidia0\n";
  o = berth({"build", ctx});
  EXPECT_NE(o.status, 0);
  EXPECT_NE(o.err.find("returned a non-zero code"), std::string::npos) << o.err;
}

TEST_F(Gpus, DriverRootsFromTheConfigFile) {
  for (const char* v : {"BERTH_NVIDIA_DRIVER_ROOT", "BERTH_NVIDIA_DEV_ROOT", "BERTH_NVIDIA_PROC_ROOT",
                        "BERTH_NVIDIA_SYS_ROOT", "BERTH_NVIDIA_RUN_ROOT"})
    ::unsetenv(v);
  std::filesystem::create_directories(env_.config());
  nlohmann::json cfg = {{"nvidia-driver-root", fake_ + "/driver"}, {"nvidia-dev-root", fake_},
                        {"nvidia-proc-root", fake_ + "/proc"}, {"nvidia-sys-root", fake_ + "/sys"}};
  std::ofstream(env_.config() + "/berth.json") << cfg.dump();
  Output ls = berth({"gpu", "ls", "-q"});
  ASSERT_EQ(ls.status, 0) << ls.err;
  EXPECT_EQ(lines_of(ls.out), (std::vector<std::string>{gpus_[0].uuid, gpus_[1].uuid}));
  EXPECT_EQ(nvidia_nodes({"--gpus", "\"device=0\""}), "nvidia-uvm nvidia-uvm-tools nvidia0 nvidiactl");
  // The environment still wins over the file.
  ::setenv("BERTH_NVIDIA_PROC_ROOT", env_.path("no-proc").c_str(), 1);
  EXPECT_NE(berth({"gpu", "ls"}).err.find("no NVIDIA driver found"), std::string::npos);
}

TEST_F(Gpus, CdiGenerateThenDeviceByName) {
  std::string dir = env_.path("cdi");
  Output gen = berth({"gpu", "cdi", "generate", "-o", dir + "/nvidia.yaml"});
  ASSERT_EQ(gen.status, 0) << gen.err;
  Output names = berth({"--cdi-spec-dir", dir, "gpu", "cdi", "ls"});
  EXPECT_NE(names.out.find("nvidia.com/gpu=0\n"), std::string::npos) << names.out;
  EXPECT_NE(names.out.find("nvidia.com/gpu=all\n"), std::string::npos) << names.out;
  EXPECT_NE(names.out.find("nvidia.com/gpu=" + gpus_[1].uuid), std::string::npos) << names.out;
  Output o = env_.berth({"--cdi-spec-dir", dir, "run", "--rm", "--network", "none", "--device",
                         "nvidia.com/gpu=1", "bb", "sh", "-c",
                         "ls -d /dev/nvidia[0-9]*; ls " + kLib + "libcuda.so.1 && echo $NVIDIA_VISIBLE_DEVICES"});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_NE(o.out.find("/dev/nvidia1"), std::string::npos) << o.out;
  EXPECT_EQ(o.out.find("/dev/nvidia0"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("void"), std::string::npos) << o.out;
  Output unknown = env_.berth({"--cdi-spec-dir", dir, "run", "--rm", "--network", "none", "--device",
                               "nvidia.com/gpu=9", "bb", "true"});
  EXPECT_EQ(unknown.status, 125);
  EXPECT_NE(unknown.err.find("nvidia.com/gpu=9"), std::string::npos) << unknown.err;
}

TEST_F(Gpus, CdiVendorSpecEditsEnvNodesAndMounts) {
  std::string dir = env_.path("cdi-accel");
  std::filesystem::create_directories(dir);
  std::ofstream(env_.path("accel-lib")) << "accel\n";
  std::ofstream(dir + "/accel.yaml")
      << "cdiVersion: \"0.6.0\"\nkind: example.com/accel\ndevices:\n"
      << "  - name: \"0\"\n    containerEdits:\n      deviceNodes:\n"
      << "        - {path: /dev/accel0, hostPath: " << fake_ << "/dev/nvidia1}\n"
      << "containerEdits:\n  env: [\"ACCEL_VISIBLE=1\"]\n  mounts:\n"
      << "    - {hostPath: " << env_.path("accel-lib") << ", containerPath: /opt/accel/lib, options: [ro, bind]}\n";
  Output o = env_.berth({"--cdi-spec-dir", dir, "run", "--rm", "--network", "none", "--device",
                         "example.com/accel=0", "bb", "sh", "-c",
                         "stat -c '%t:%T' /dev/accel0; echo $ACCEL_VISIBLE; cat /opt/accel/lib"});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "c3:1\n1\naccel\n");
  Output bad = env_.berth({"--cdi-spec-dir", dir, "run", "--rm", "--device", "example.com/accel", "bb", "true"});
  EXPECT_EQ(bad.status, 125) << "not a qualified name and not a path: " << bad.err;
}

}  // namespace
}  // namespace berth::gputest
