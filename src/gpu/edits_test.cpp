// edits_test.cpp - applying container edits to an OCI spec with CDI's rules, with a fake stat.
#include "gpu/edits.h"

#include <gtest/gtest.h>
#include <sys/sysmacros.h>

#include <map>
#include <string>

namespace berth::gpu {
namespace {

struct FakeFile {
  mode_t mode = 0;
  unsigned maj = 0, min = 0;
};

// A StatFn over a fixed table; records which host paths were asked for.
struct FakeStat {
  std::map<std::string, FakeFile> files;
  std::vector<std::string> asked;

  StatFn fn() {
    return [this](const std::string& path) -> Result<struct stat> {
      asked.push_back(path);
      auto it = files.find(path);
      if (it == files.end()) return Error(ENOENT, "stat", path);
      struct stat st {};
      st.st_mode = it->second.mode;
      st.st_rdev = makedev(it->second.maj, it->second.min);
      return st;
    };
  }
};

oci::Spec base_spec() {
  oci::Spec s;
  s.process.emplace();
  s.process->env = {"PATH=/usr/bin", "A=1"};
  s.linux.emplace();
  return s;
}

TEST(Edits, EnvIsAppendedAndReplacesTheSameKey) {
  oci::Spec s = base_spec();
  ContainerEdits e;
  e.env = {"A=2", "B=x=y", "A=3"};
  ASSERT_TRUE(apply(e, s, FakeStat{}.fn()).ok());
  EXPECT_EQ(s.process->env, (std::vector<std::string>{"PATH=/usr/bin", "A=3", "B=x=y"}));
}

TEST(Edits, EnvCreatesAProcessWhenThereIsNone) {
  oci::Spec s;
  ContainerEdits e;
  e.env = {"X=1"};
  ASSERT_TRUE(apply(e, s, FakeStat{}.fn()).ok());
  ASSERT_TRUE(s.process);
  EXPECT_EQ(s.process->env, std::vector<std::string>{"X=1"});
}

TEST(Edits, DeviceNodeIsFilledFromTheHostFile) {
  FakeStat fs;
  fs.files["/dev/nvidia0"] = {S_IFCHR | 0660, 195, 0};
  oci::Spec s = base_spec();
  ContainerEdits e;
  e.device_nodes = {{.path = "/dev/nvidia0"}};
  ASSERT_TRUE(apply(e, s, fs.fn()).ok());
  ASSERT_EQ(s.linux->devices.size(), 1u);
  const auto& d = s.linux->devices[0];
  EXPECT_EQ(d.type, "c");
  EXPECT_EQ(d.path, "/dev/nvidia0");
  EXPECT_EQ(d.major, 195);
  EXPECT_EQ(d.minor, 0);
  EXPECT_EQ(d.file_mode, 0660u);
  EXPECT_FALSE(d.uid);  // the process runs as root: no owner given
  ASSERT_TRUE(s.linux->resources);
  ASSERT_EQ(s.linux->resources->devices.size(), 1u);
  const auto& rule = s.linux->resources->devices[0];
  EXPECT_TRUE(rule.allow);
  EXPECT_EQ(rule.type, "c");
  EXPECT_EQ(rule.major, 195);
  EXPECT_EQ(rule.minor, 0);
  EXPECT_EQ(rule.access, "rwm");
}

TEST(Edits, HostPathIsStatedInsteadOfPath) {
  FakeStat fs;
  fs.files["/host/dri/card1"] = {S_IFCHR | 0666, 226, 1};
  oci::Spec s = base_spec();
  ContainerEdits e;
  e.device_nodes = {{.path = "/dev/dri/card0", .host_path = "/host/dri/card1"}};
  ASSERT_TRUE(apply(e, s, fs.fn()).ok());
  EXPECT_EQ(fs.asked, std::vector<std::string>{"/host/dri/card1"});
  EXPECT_EQ(s.linux->devices.at(0).path, "/dev/dri/card0");
  EXPECT_EQ(s.linux->devices.at(0).minor, 1);
}

TEST(Edits, BindModeMountsTheHostNodeWithoutADeviceOrRule) {
  FakeStat fs;
  fs.files["/host/dev/nvidia1"] = {S_IFCHR | 0666, 195, 1};
  fs.files["/dev/nvidiactl"] = {S_IFCHR | 0666, 195, 255};
  oci::Spec s = base_spec();
  ContainerEdits e;
  e.device_nodes = {{.path = "/dev/nvidia1", .host_path = "/host/dev/nvidia1"},
                    {.path = "/dev/nvidiactl"}};
  e.mounts = {{.host_path = "/host/lib/libcuda.so.1", .container_path = "/usr/lib/libcuda.so.1",
               .options = {"ro", "bind"}}};
  ASSERT_TRUE(apply(e, s, fs.fn(), DeviceMode::bind).ok());
  EXPECT_TRUE(s.linux->devices.empty());
  EXPECT_FALSE(s.linux->resources && !s.linux->resources->devices.empty());
  ASSERT_EQ(s.mounts.size(), 3u);
  EXPECT_EQ(s.mounts[0].source, "/host/dev/nvidia1");
  EXPECT_EQ(s.mounts[0].destination, "/dev/nvidia1");
  EXPECT_EQ(s.mounts[0].type, "bind");
  EXPECT_EQ(s.mounts[0].options, (std::vector<std::string>{"bind", "nosuid", "noexec"}));
  EXPECT_EQ(s.mounts[1].source, "/dev/nvidiactl");
  EXPECT_EQ(s.mounts[2].destination, "/usr/lib/libcuda.so.1");
  // The same checks as for created nodes: a missing host node is an error, spec untouched.
  oci::Spec t = base_spec();
  e.device_nodes = {{.path = "/dev/nvidia7"}};
  EXPECT_FALSE(apply(e, t, fs.fn(), DeviceMode::bind).ok());
  EXPECT_TRUE(t.mounts.empty());
}

TEST(Edits, PermissionsAndTypes) {
  struct Case {
    DeviceNode node;
    FakeFile host;
    size_t rules;
    std::string rule_type, access;
  };
  const Case cases[] = {
      {{.path = "/dev/a", .permissions = "rw"}, {S_IFCHR, 1, 2}, 1, "c", "rw"},
      {{.path = "/dev/a", .permissions = "none"}, {S_IFCHR, 1, 2}, 0, "", ""},
      {{.path = "/dev/a"}, {S_IFBLK, 8, 0}, 1, "b", "rwm"},
      {{.path = "/dev/a", .type = "u"}, {S_IFCHR, 1, 2}, 1, "c", "rwm"},
      {{.path = "/dev/a"}, {S_IFIFO, 0, 0}, 0, "", ""},  // a fifo has no cgroup rule
  };
  for (const auto& c : cases) {
    FakeStat fs;
    fs.files["/dev/a"] = c.host;
    oci::Spec s = base_spec();
    ContainerEdits e;
    e.device_nodes = {c.node};
    ASSERT_TRUE(apply(e, s, fs.fn()).ok()) << c.node.permissions;
    size_t rules = s.linux->resources ? s.linux->resources->devices.size() : 0;
    ASSERT_EQ(rules, c.rules) << c.node.permissions << " " << c.node.type;
    if (rules == 0) continue;
    EXPECT_EQ(s.linux->resources->devices[0].type, c.rule_type);
    EXPECT_EQ(s.linux->resources->devices[0].access, c.access);
  }
}

TEST(Edits, FullyGivenNodeNeedsNoHostFile) {
  FakeStat fs;  // empty: any stat fails
  oci::Spec s = base_spec();
  ContainerEdits e;
  e.device_nodes = {{.path = "/dev/x", .type = "c", .major = 10, .minor = 200},
                    {.path = "/dev/f", .type = "p"}};
  ASSERT_TRUE(apply(e, s, fs.fn()).ok());
  EXPECT_TRUE(fs.asked.empty());
  EXPECT_EQ(s.linux->devices.size(), 2u);
  EXPECT_FALSE(s.linux->devices[0].file_mode);
}

TEST(Edits, MissingHostNodeFailsAndLeavesTheSpecAlone) {
  FakeStat fs;
  fs.files["/dev/ok"] = {S_IFCHR, 1, 1};
  oci::Spec s = base_spec();
  ContainerEdits e;
  e.env = {"Z=1"};
  e.device_nodes = {{.path = "/dev/ok"}, {.path = "/dev/gone", .type = "c"}};
  auto st = apply(e, s, fs.fn());
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(),
            "CDI device node /dev/gone: stat /dev/gone: No such file or directory");
  EXPECT_TRUE(s.linux->devices.empty());
  EXPECT_EQ(s.process->env.size(), 2u);
}

TEST(Edits, HostFileThatIsNotADeviceIsAnError) {
  FakeStat fs;
  fs.files["/dev/file"] = {S_IFREG | 0644};
  oci::Spec s = base_spec();
  ContainerEdits e;
  e.device_nodes = {{.path = "/dev/file"}};
  auto st = apply(e, s, fs.fn());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("not a device node"), std::string::npos)
      << st.error().message();
}

TEST(Edits, TypeThatDoesNotMatchTheHostIsAnError) {
  FakeStat fs;
  fs.files["/dev/a"] = {S_IFCHR, 1, 1};
  oci::Spec s = base_spec();
  ContainerEdits e;
  e.device_nodes = {{.path = "/dev/a", .type = "b"}};
  EXPECT_FALSE(apply(e, s, fs.fn()).ok());
}

TEST(Edits, NodeReplacesTheDeviceAtTheSamePath) {
  FakeStat fs;
  fs.files["/dev/a"] = {S_IFCHR, 5, 6};
  oci::Spec s = base_spec();
  s.linux->devices.push_back({.type = "c", .path = "/dev/a", .major = 1, .minor = 1});
  s.linux->devices.push_back({.type = "c", .path = "/dev/b", .major = 1, .minor = 2});
  ContainerEdits e;
  e.device_nodes = {{.path = "/dev/a"}};
  ASSERT_TRUE(apply(e, s, fs.fn()).ok());
  ASSERT_EQ(s.linux->devices.size(), 2u);
  EXPECT_EQ(s.linux->devices[0].path, "/dev/b");
  EXPECT_EQ(s.linux->devices[1].major, 5);
}

TEST(Edits, OwnerDefaultsToANonRootProcessUser) {
  FakeStat fs;
  fs.files["/dev/a"] = {S_IFCHR, 1, 1};
  oci::Spec s = base_spec();
  s.process->user.uid = 1000;
  s.process->user.gid = 0;
  ContainerEdits e;
  e.device_nodes = {{.path = "/dev/a"}, {.path = "/dev/b", .host_path = "/dev/a", .uid = 5}};
  ASSERT_TRUE(apply(e, s, fs.fn()).ok());
  EXPECT_EQ(s.linux->devices[0].uid, 1000u);
  EXPECT_FALSE(s.linux->devices[0].gid);
  EXPECT_EQ(s.linux->devices[1].uid, 5u);
}

TEST(Edits, MountsReplaceTheSameDestinationAndSortByDepth) {
  oci::Spec s;
  s.mounts = {{.destination = "/proc", .type = "proc", .source = "proc"},
              {.destination = "/usr/lib/x", .type = "bind", .source = "/old"},
              {.destination = "/dev", .type = "tmpfs", .source = "tmpfs"}};
  ContainerEdits e;
  e.mounts = {{.host_path = "/h/lib", .container_path = "/usr/lib/x", .options = {"ro", "bind"}},
              {.host_path = "/h/a/b/c", .container_path = "/a/b/c"},
              {.host_path = "tmpfs", .container_path = "/run/x", .type = "tmpfs"}};
  ASSERT_TRUE(apply(e, s, FakeStat{}.fn()).ok());
  std::vector<std::string> dests;
  for (const auto& m : s.mounts) dests.push_back(m.destination);
  EXPECT_EQ(dests, (std::vector<std::string>{"/proc", "/dev", "/run/x", "/usr/lib/x", "/a/b/c"}));
  EXPECT_EQ(s.mounts[3].source, "/h/lib");
  EXPECT_EQ(s.mounts[3].type, "bind");
  EXPECT_EQ(s.mounts[3].options, (std::vector<std::string>{"ro", "bind"}));
  EXPECT_EQ(s.mounts[2].type, "tmpfs");
}

TEST(Edits, HooksGoToTheirList) {
  oci::Spec s;
  ContainerEdits e;
  e.hooks = {{.hook_name = "createContainer", .path = "/bin/h", .args = {"h", "x"}},
             {.hook_name = "prestart", .path = "/bin/p", .timeout = 5},
             {.hook_name = "poststop", .path = "/bin/q", .env = {"A=1"}}};
  ASSERT_TRUE(apply(e, s, FakeStat{}.fn()).ok());
  ASSERT_EQ(s.hooks.create_container.size(), 1u);
  EXPECT_EQ(s.hooks.create_container[0].args, (std::vector<std::string>{"h", "x"}));
  ASSERT_EQ(s.hooks.prestart.size(), 1u);
  EXPECT_EQ(s.hooks.prestart[0].timeout, 5);
  ASSERT_EQ(s.hooks.poststop.size(), 1u);
  EXPECT_EQ(s.hooks.poststop[0].env, std::vector<std::string>{"A=1"});
}

TEST(Edits, UnknownHookNameIsAnError) {
  oci::Spec s;
  ContainerEdits e;
  e.hooks = {{.hook_name = "preStart", .path = "/bin/h"}};
  auto st = apply(e, s, FakeStat{}.fn());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("preStart"), std::string::npos);
}

TEST(Edits, AdditionalGidsAndMaskedPathsWithoutDuplicates) {
  oci::Spec s = base_spec();
  s.process->user.additional_gids = {44};
  s.linux->masked_paths = {"/proc/kcore"};
  ContainerEdits e;
  e.additional_gids = {0, 44, 45, 45};
  e.masked_paths = {"/proc/driver/nvidia/gpus/0000:01:00.0", "/proc/kcore"};
  ASSERT_TRUE(apply(e, s, FakeStat{}.fn()).ok());
  EXPECT_EQ(s.process->user.additional_gids, (std::vector<uint32_t>{44, 45}));
  EXPECT_EQ(s.linux->masked_paths,
            (std::vector<std::string>{"/proc/kcore", "/proc/driver/nvidia/gpus/0000:01:00.0"}));
}

TEST(Edits, AppendAndEmpty) {
  ContainerEdits a, b;
  EXPECT_TRUE(a.empty());
  b.env = {"A=1"};
  b.masked_paths = {"/x"};
  b.additional_gids = {3};
  a.append(b);
  a.append(b);
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a.env.size(), 2u);
  EXPECT_EQ(a.masked_paths.size(), 2u);
  EXPECT_EQ(a.additional_gids.size(), 2u);
  ContainerEdits only_masks;
  only_masks.masked_paths = {"/x"};
  EXPECT_FALSE(only_masks.empty());
}

TEST(Edits, HostStatReadsTheRealFile) {
  auto st = host_stat()("/dev/null");
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_TRUE(S_ISCHR(st->st_mode));
  EXPECT_EQ(major(st->st_rdev), 1u);
  EXPECT_EQ(minor(st->st_rdev), 3u);
  auto missing = host_stat()("/nonexistent/berth");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ENOENT);
}

TEST(Edits, RealNullDeviceEndToEnd) {
  oci::Spec s = base_spec();
  ContainerEdits e;
  e.device_nodes = {{.path = "/dev/mynull", .host_path = "/dev/null"}};
  ASSERT_TRUE(apply(e, s).ok());
  EXPECT_EQ(s.linux->devices.at(0).major, 1);
  EXPECT_EQ(s.linux->devices.at(0).minor, 3);
}

}  // namespace
}  // namespace berth::gpu
