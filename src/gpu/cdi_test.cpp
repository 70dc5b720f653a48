// cdi_test.cpp - CDI names, strict spec parsing (JSON and YAML), writing, and the registry.
#include "gpu/cdi.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <string>

#include "base/file.h"

namespace berth::gpu::cdi {
namespace {

bool has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// The example of GPU.md section 2: a vendor-neutral accelerator.
constexpr const char* kAccelYaml = R"(
cdiVersion: "0.6.0"
kind: example.com/accel
devices:
  - name: "0"
    containerEdits: {deviceNodes: [{path: /dev/accel0}]}
  - name: all
    containerEdits: {deviceNodes: [{path: /dev/accel0}, {path: /dev/accel1}]}
containerEdits:
  env: ["ACCEL_VISIBLE=1"]
  deviceNodes: [{path: /dev/accel-ctl, permissions: rw}]
  mounts:
    - {hostPath: /usr/lib/x86_64-linux-gnu/libaccel.so.2.1.0,
       containerPath: /usr/lib/x86_64-linux-gnu/libaccel.so.2.1.0,
       options: [ro, nosuid, nodev, bind]}
  hooks:
    - {hookName: createContainer, path: /usr/libexec/ourengine/hook,
       args: [hook, update-ldcache, --folder, /usr/lib/x86_64-linux-gnu]}
)";

constexpr const char* kGpuJson = R"({
  "cdiVersion": "0.5.0",
  "kind": "nvidia.com/gpu",
  "devices": [
    {"name": "0", "containerEdits": {"deviceNodes": [{"path": "/dev/nvidia0", "hostPath": "/dev/nvidia0"}]}},
    {"name": "GPU-1234", "containerEdits": {"env": ["G=1"]}}
  ],
  "containerEdits": {"env": ["NVIDIA_VISIBLE_DEVICES=void"], "deviceNodes": [{"path": "/dev/nvidiactl", "type": "c", "major": 195, "minor": 255}]}
})";

// ---- names -------------------------------------------------------------------------------

TEST(CdiNames, Qualified) {
  struct Case {
    const char* in;
    bool ok;
    const char* vendor;
    const char* cls;
    const char* name;
  };
  const Case cases[] = {
      {"nvidia.com/gpu=0", true, "nvidia.com", "gpu", "0"},
      {"nvidia.com/gpu=all", true, "nvidia.com", "gpu", "all"},
      {"nvidia.com/gpu=0:1", true, "nvidia.com", "gpu", "0:1"},
      {"nvidia.com/mig.dev=GPU-a_b.c", true, "nvidia.com", "mig.dev", "GPU-a_b.c"},
      {"a/b=c=d", false, "", "", ""},  // split at the first '=': name "c=d" holds '='
      {"vendor.com/class=x/y", false, "", "", ""},
      {"/dev/fuse", false, "", "", ""},
      {"nvidia.com/gpu", false, "", "", ""},
      {"nvidia.com=0", false, "", "", ""},
      {"1vendor.com/gpu=0", false, "", "", ""},
      {"vendor-/gpu=0", false, "", "", ""},
      {"vendor/gpu-=0", false, "", "", ""},
      {"vendor/9gpu=0", false, "", "", ""},
      {"vendor/gpu=", false, "", "", ""},
      {"vendor/gpu=-0", false, "", "", ""},
      {"vendor/gpu=0-", false, "", "", ""},
      {"vendor/gp u=0", false, "", "", ""},
      {"/gpu=0", false, "", "", ""},
      {"", false, "", "", ""},
  };
  for (const auto& c : cases) {
    auto q = parse_qualified_name(c.in);
    EXPECT_EQ(q.ok(), c.ok) << c.in;
    EXPECT_EQ(is_qualified_name(c.in), c.ok) << c.in;
    if (!q.ok()) {
      EXPECT_TRUE(has(q.error().message(), "CDI device name")) << q.error().message();
      continue;
    }
    EXPECT_EQ(q->vendor, c.vendor);
    EXPECT_EQ(q->device_class, c.cls);
    EXPECT_EQ(q->name, c.name);
    EXPECT_EQ(q->str(), c.in);
  }
}

TEST(CdiNames, DefaultDirsLowestPriorityFirst) {
  EXPECT_EQ(default_spec_dirs(), (std::vector<std::string>{"/etc/cdi", "/var/run/cdi"}));
}

// ---- parsing -----------------------------------------------------------------------------

TEST(CdiParse, TheGpuMdExample) {
  auto r = parse_spec(kAccelYaml, true);
  ASSERT_TRUE(r.ok()) << r.error().message();
  const Spec& s = *r;
  EXPECT_EQ(s.cdi_version, "0.6.0");
  EXPECT_EQ(s.kind, "example.com/accel");
  ASSERT_EQ(s.devices.size(), 2u);
  EXPECT_EQ(s.devices[0].name, "0");
  EXPECT_EQ(s.devices[1].edits.device_nodes.size(), 2u);
  EXPECT_EQ(s.edits.env, std::vector<std::string>{"ACCEL_VISIBLE=1"});
  ASSERT_EQ(s.edits.device_nodes.size(), 1u);
  EXPECT_EQ(s.edits.device_nodes[0].permissions, "rw");
  ASSERT_EQ(s.edits.mounts.size(), 1u);
  EXPECT_EQ(s.edits.mounts[0].options.size(), 4u);
  EXPECT_TRUE(s.edits.mounts[0].type.empty());
  ASSERT_EQ(s.edits.hooks.size(), 1u);
  EXPECT_EQ(s.edits.hooks[0].hook_name, "createContainer");
  EXPECT_EQ(s.edits.hooks[0].args.size(), 4u);
  EXPECT_TRUE(s.path.empty());
}

TEST(CdiParse, JsonAndTheSameTextAsYaml) {
  for (bool yaml : {false, true}) {
    auto r = parse_spec(kGpuJson, yaml);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->devices[0].edits.device_nodes[0].host_path, "/dev/nvidia0");
    EXPECT_EQ(r->edits.device_nodes[0].major, 195);
    EXPECT_EQ(r->edits.device_nodes[0].minor, 255);
    EXPECT_EQ(r->devices[1].name, "GPU-1234");
  }
}

TEST(CdiParse, YamlScalarTypes) {
  auto r = parse_spec(R"(cdiVersion: 0.5.0
kind: v.com/c
devices:
- name: d1
  containerEdits:
    deviceNodes:
    - {path: /dev/x, type: c, major: 0x10, minor: 010, fileMode: 0666, uid: 7, gid: ~}
    hooks:
    - {hookName: poststop, path: /h, args: ['1', "true", 2, false, null, 1.5x]}
)",
                      true);
  // 2, false and null are not strings: an args element must be one.
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(has(r.error().message(), "args[2]: expected string, got number"))
      << r.error().message();

  auto r2 = parse_spec(R"(cdiVersion: 0.5.0
kind: v.com/c
devices:
- name: d1
  containerEdits:
    deviceNodes:
    - {path: /dev/x, type: c, major: 0x10, minor: 010, fileMode: 0666, uid: 7, gid: ~}
    hooks:
    - {hookName: poststop, path: /h, args: ['1', "true", '2', 1.5x, -3x]}
)",
                       true);
  ASSERT_TRUE(r2.ok()) << r2.error().message();
  const auto& n = r2->devices[0].edits.device_nodes[0];
  EXPECT_EQ(n.major, 16);
  EXPECT_EQ(n.minor, 8);
  EXPECT_EQ(n.file_mode, 0666u);
  EXPECT_EQ(n.uid, 7u);
  EXPECT_FALSE(n.gid);
  EXPECT_EQ(r2->devices[0].edits.hooks[0].args,
            (std::vector<std::string>{"1", "true", "2", "1.5x", "-3x"}));
}

// Each case is a whole spec that must be refused with an error naming the field.
TEST(CdiParse, StrictRefusals) {
  struct Case {
    const char* text;
    const char* want;
  };
  const Case cases[] = {
      {R"({"cdiVersion":"0.6.0","kind":"v.com/c","devices":[{"name":"a","containerEdits":{"env":["A=1"]}}],"extra":1})",
       "unknown field \"extra\""},
      {R"({"cdiVersion":"0.6.0","kind":"v.com/c","devices":[{"name":"a","containerEdits":{"env":["A=1"],"devicenodes":[]}}]})",
       "devices[0].containerEdits: unknown field \"devicenodes\""},
      {R"({"kind":"v.com/c","devices":[{"name":"a","containerEdits":{"env":["A=1"]}}]})",
       "cdiVersion: missing"},
      {R"({"cdiVersion":"0.9.0","kind":"v.com/c","devices":[{"name":"a","containerEdits":{"env":["A=1"]}}]})",
       "not a known CDI version"},
      {R"({"cdiVersion":"1.0.0","kind":"v.com/c","devices":[{"name":"a","containerEdits":{"env":["A=1"]}}]})",
       "newer than berth reads"},
      {R"({"cdiVersion":"0.6.0","kind":"vcom","devices":[{"name":"a","containerEdits":{"env":["A=1"]}}]})",
       "kind: \"vcom\" is not vendor/class"},
      {R"({"cdiVersion":"0.6.0","kind":"v.com/-c","devices":[{"name":"a","containerEdits":{"env":["A=1"]}}]})",
       "kind: class"},
      {R"({"cdiVersion":"0.6.0","kind":"v.com/c","devices":[]})", "at least one device"},
      {R"({"cdiVersion":"0.6.0","kind":"v.com/c"})", "devices: missing"},
      {R"({"cdiVersion":"0.6.0","kind":"v.com/c","devices":[{"name":"a","containerEdits":{}}]})",
       "devices[0].containerEdits: a device needs at least one edit"},
      {R"({"cdiVersion":"0.6.0","kind":"v.com/c","devices":[{"name":"a"}]})",
       "devices[0].containerEdits: missing"},
      {R"({"cdiVersion":"0.6.0","kind":"v.com/c","devices":[{"name":"a b","containerEdits":{"env":["A=1"]}}]})",
       "devices[0].name: device name \"a b\""},
      {R"({"cdiVersion":"0.6.0","kind":"v.com/c","devices":[{"name":"a","containerEdits":{"env":["A=1"]}},{"name":"a","containerEdits":{"env":["A=1"]}}]})",
       "devices[1].name: duplicate device name \"a\""},
      {R"({"cdiVersion":"0.6.0","kind":"v.com/c","devices":[{"name":"a","containerEdits":{"env":["=1"]}}]})",
       "env[0]: \"=1\" is not KEY=VALUE"},
      {R"({"cdiVersion":"0.6.0","kind":"v.com/c","devices":[{"name":"a","containerEdits":{"env":["A"]}}]})",
       "is not KEY=VALUE"},
      {R"({"cdiVersion":"0.6.0","kind":"v.com/c","devices":[{"name":"a","containerEdits":{"deviceNodes":[{"path":"dev/x"}]}}]})",
       "deviceNodes[0].path: \"dev/x\" is not an absolute path"},
      {R"({"cdiVersion":"0.6.0","kind":"v.com/c","devices":[{"name":"a","containerEdits":{"deviceNodes":[{"path":"/dev/x","type":"x"}]}}]})",
       "deviceNodes[0].type"},
      {R"({"cdiVersion":"0.6.0","kind":"v.com/c","devices":[{"name":"a","containerEdits":{"deviceNodes":[{"path":"/dev/x","major":-1}]}}]})",
       "negative device number"},
      {R"({"cdiVersion":"0.6.0","kind":"v.com/c","devices":[{"name":"a","containerEdits":{"deviceNodes":[{"path":"/dev/x","permissions":"rwx"}]}}]})",
       "deviceNodes[0].permissions"},
      {R"({"cdiVersion":"0.6.0","kind":"v.com/c","devices":[{"name":"a","containerEdits":{"deviceNodes":[{"path":"/dev/x","uid":-1}]}}]})",
       "deviceNodes[0].uid: -1 is out of range"},
      {R"({"cdiVersion":"0.6.0","kind":"v.com/c","devices":[{"name":"a","containerEdits":{"mounts":[{"hostPath":"/a","containerPath":"b"}]}}]})",
       "mounts[0].containerPath: \"b\" is not an absolute path"},
      {R"({"cdiVersion":"0.6.0","kind":"v.com/c","devices":[{"name":"a","containerEdits":{"mounts":[{"containerPath":"/b"}]}}]})",
       "mounts[0].hostPath: missing"},
      {R"({"cdiVersion":"0.6.0","kind":"v.com/c","devices":[{"name":"a","containerEdits":{"hooks":[{"hookName":"prestart","path":"hook"}]}}]})",
       "hooks[0].path: \"hook\" is not an absolute path"},
      {R"({"cdiVersion":"0.6.0","kind":"v.com/c","devices":[{"name":"a","containerEdits":{"hooks":[{"hookName":"bogus","path":"/h"}]}}]})",
       "hooks[0].hookName: unknown hook name \"bogus\""},
      {R"({"cdiVersion":"0.6.0","kind":"v.com/c","devices":[{"name":"a","containerEdits":{"hooks":[{"hookName":"prestart","path":"/h","timeout":0}]}}]})",
       "hooks[0].timeout"},
      {R"({"cdiVersion":"0.6.0","kind":"v.com/c","devices":[{"name":"a","containerEdits":{"netDevices":[{"hostInterfaceName":"x","name":"y"}]}}]})",
       "netDevices: needs cdiVersion 1.1.0"},
      {R"({"cdiVersion":"0.7.0","kind":"v.com/c","devices":[{"name":"a","containerEdits":{"intelRdt":{"closID":"x"}}}]})",
       "intelRdt: not supported"},
      {R"({"cdiVersion":"0.6.0","kind":"v.com/c","devices":[{"name":"a","containerEdits":{"additionalGids":[5]}}]})",
       "cdiVersion: 0.6.0 is too old for devices[0].containerEdits.additionalGids (needs 0.7.0"},
      {R"({"cdiVersion":"0.4.0","kind":"v.com/c","devices":[{"name":"a","containerEdits":{"deviceNodes":[{"path":"/a","hostPath":"/b"}]}}]})",
       "hostPath (needs 0.5.0"},
      {R"({"cdiVersion":"0.5.0","kind":"v.com/c","annotations":{"a":"b"},"devices":[{"name":"a","containerEdits":{"env":["A=1"]}}]})",
       "too old for annotations (needs 0.6.0"},
      {R"({"cdiVersion":"0.5.0","kind":"v.com/c","devices":[{"name":"a","annotations":{"a":"b"},"containerEdits":{"env":["A=1"]}}]})",
       "devices[0].annotations (needs 0.6.0"},
      {R"({"cdiVersion":"0.4.0","kind":"v.com/c","devices":[{"name":"0","containerEdits":{"env":["A=1"]}}]})",
       "digit (needs 0.5.0"},
      {R"({"cdiVersion":"0.3.0","kind":"v.com/c","devices":[{"name":"a","containerEdits":{"mounts":[{"hostPath":"t","containerPath":"/t","type":"tmpfs"}]}}]})",
       "type (needs 0.4.0"},
      {R"({"cdiVersion":"0.5.0","kind":"v.com/c.d","devices":[{"name":"a","containerEdits":{"env":["A=1"]}}]})",
       "class (needs 0.6.0"},
      {R"({"cdiVersion":"0.6.0","kind":"v.com/c","devices":[{"name":"a","containerEdits":{"env":"A=1"}}]})",
       "env: expected array, got string"},
      {R"({"cdiVersion":"0.6.0","kind":"v.com/c","devices":[{"name":"a","containerEdits":{"env":["A=1"]}}],"kind":"x.com/y"})",
       "duplicate key \"kind\""},
      {R"({"cdiVersion":"0.6.0","kind":"v.com/c","devices":[{"name":"a","containerEdits":{"env":["A=1"]}}]} x)",
       "not valid JSON at byte"},
      {R"([1])", "expected object, got array"},
  };
  for (const auto& c : cases) {
    auto r = parse_spec(c.text, false);
    ASSERT_FALSE(r.ok()) << c.text;
    std::string m = r.error().message();
    EXPECT_TRUE(has(m, c.want)) << "want: " << c.want << "\ngot:  " << m;
    EXPECT_EQ(m.rfind("CDI spec: ", 0), 0u) << m;
    EXPECT_FALSE(has(m, "\n")) << m;
  }
}

TEST(CdiParse, AVersionHighEnoughIsAccepted) {
  auto r = parse_spec(
      R"({"cdiVersion":"0.7.0","kind":"v.com/c.d","annotations":{"a":"b"},"devices":[{"name":"0","containerEdits":{"additionalGids":[5],"deviceNodes":[{"path":"/a","hostPath":"/b"}],"mounts":[{"hostPath":"t","containerPath":"/t","type":"tmpfs"}]}}]})",
      false);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->devices[0].edits.additional_gids, std::vector<uint32_t>{5});
  EXPECT_EQ(r->annotations.at("a"), "b");
}

TEST(CdiParse, HostileYaml) {
  struct Case {
    std::string text;
    const char* want;
  };
  std::string deep_flow = std::string(10000, '[') + std::string(10000, ']');
  std::string deep_block;
  for (int i = 0; i < 100; ++i) deep_block += std::string(static_cast<size_t>(i) * 2, ' ') + "a:\n";
  const Case cases[] = {
      {"a: &x [1, 2]\nb: *x\n", "aliases are not supported"},
      {"a: &a [\"x\",\"x\"]\nb: &b [*a,*a]\nc: &c [*b,*b]\n", "aliases are not supported"},
      {deep_flow, "nested deeper than 32"},
      {deep_block, "nested deeper than 32"},
      {"cdiVersion: 0.6.0\n---\ncdiVersion: 0.6.0\n", "more than one document"},
      {"", "no document"},
      {"# only a comment\n", "no document"},
      {"a: 1\na: 2\n", "duplicate key \"a\""},
      {"? [a]\n: 1\n", "a mapping key must be a plain string"},
      {"a: !!binary aGVsbG8=\n", "YAML tag"},
      {"a: \"\xff\"\n", "not valid UTF-8"},
      {"a: [1, 2\n", "not valid YAML at line"},
      {"- 1\n- 2\n", "expected object, got array"},
      {"cdiVersion: \"0.6.0\"\nkind: v.com/c\ndevices:\n- name: 0\n  containerEdits: {env: "
       "[A=1]}\n",
       "devices[0].name: expected string, got number"},
      {"cdiVersion: \"0.6.0\"\nkind: v.com/c\ndevices:\n- name: a\n  containerEdits: {env: "
       "[\"A=\\0\"]}\n",
       "is not KEY=VALUE"},
      {std::string(9u << 20, ' '), "larger than 8 MiB"},
  };
  for (const auto& c : cases) {
    auto r = parse_spec(c.text, true);
    ASSERT_FALSE(r.ok()) << c.text.substr(0, 80);
    std::string m = r.error().message();
    EXPECT_TRUE(has(m, c.want)) << "want: " << c.want << "\ngot:  " << m;
    EXPECT_FALSE(has(m, "\n")) << m;
  }
}

TEST(CdiParse, HostileJson) {
  std::string deep(100000, '[');
  auto r = parse_spec(deep, false);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(has(r.error().message(), "nested deeper than 32")) << r.error().message();
  auto empty = parse_spec("  \n", false);
  ASSERT_FALSE(empty.ok());
  auto bad_utf8 = parse_spec("{\"kind\": \"\xc3\x28\"}", false);
  ASSERT_FALSE(bad_utf8.ok());
  EXPECT_FALSE(has(bad_utf8.error().message(), "\n"));
}

// ---- writing -----------------------------------------------------------------------------

Spec awkward_spec() {
  Spec s;
  s.cdi_version = "0.7.0";
  s.kind = "vendor.example/acc.el";
  s.annotations = {{"a/b", "c"}, {"true", "0"}, {"key: with colon", "line\nbreak \"q\""}};
  Device d0;
  d0.name = "0";
  d0.annotations = {{"yes", "null"}};
  d0.edits.device_nodes = {{.path = "/dev/a0",
                            .host_path = "/dev/host a0",
                            .type = "c",
                            .major = 0,
                            .minor = 4294967296,
                            .file_mode = 0666,
                            .permissions = "rw",
                            .uid = 0,
                            .gid = 4294967295u}};
  Device d1;
  d1.name = "GPU-1:2";
  d1.edits.env = {"E=#not a comment", "U=\xc3\xa9\xe2\x82\xac", "T=\ttab"};
  d1.edits.hooks = {{.hook_name = "createContainer",
                     .path = "/usr/bin/h",
                     .args = {"h", "--x=1", "- dash", "'single'", ""},
                     .env = {"A=1"},
                     .timeout = 30}};
  s.devices = {d0, d1};
  s.edits.mounts = {{.host_path = "/lib/libx.so.1",
                     .container_path = "/lib/libx.so.1",
                     .type = "bind",
                     .options = {"ro", "nosuid", "nodev", "bind"}}};
  s.edits.additional_gids = {44, 0};
  return s;
}

TEST(CdiWrite, RoundTripsThroughJsonAndYaml) {
  Spec s = awkward_spec();
  std::string json = to_json(s);
  std::string yaml = to_yaml(s);
  auto from_json = parse_spec(json, false);
  ASSERT_TRUE(from_json.ok()) << from_json.error().message() << "\n" << json;
  EXPECT_EQ(*from_json, s) << json;
  auto from_yaml = parse_spec(yaml, true);
  ASSERT_TRUE(from_yaml.ok()) << from_yaml.error().message() << "\n" << yaml;
  EXPECT_EQ(*from_yaml, s) << yaml;
  auto json_as_yaml = parse_spec(json, true);  // JSON is YAML too
  ASSERT_TRUE(json_as_yaml.ok()) << json_as_yaml.error().message();
  EXPECT_EQ(*json_as_yaml, s);
  EXPECT_TRUE(has(yaml, "cdiVersion: \"0.7.0\"")) << yaml;
  EXPECT_TRUE(has(yaml, "\"true\": \"0\"")) << yaml;
}

TEST(CdiWrite, ParsedSpecsRoundTrip) {
  for (auto [text, is_yaml] : {std::pair{kAccelYaml, true}, std::pair{kGpuJson, false}}) {
    auto s = parse_spec(text, is_yaml);
    ASSERT_TRUE(s.ok()) << s.error().message();
    auto again = parse_spec(to_yaml(*s), true);
    ASSERT_TRUE(again.ok()) << again.error().message() << "\n" << to_yaml(*s);
    EXPECT_EQ(*again, *s);
    EXPECT_EQ(to_json(*again), to_json(*s));
  }
}

TEST(CdiWrite, MaskedPathsAreNotWritten) {
  Spec s = awkward_spec();
  s.devices[0].edits.masked_paths = {"/proc/x"};
  EXPECT_FALSE(has(to_json(s), "/proc/x"));
  EXPECT_FALSE(has(to_yaml(s), "/proc/x"));
}

// ---- registry ----------------------------------------------------------------------------

constexpr const char* kSpecA = R"(cdiVersion: "0.6.0"
kind: vendor.com/dev
devices:
- name: a
  containerEdits: {env: [DEV=a]}
- name: b
  containerEdits: {env: [DEV=b]}
containerEdits: {env: [SPEC=a]}
)";

constexpr const char* kSpecB = R"({"cdiVersion":"0.6.0","kind":"other.com/x",
 "devices":[{"name":"y","containerEdits":{"env":["DEV=y"]}}],
 "containerEdits":{"env":["SPEC=b"]}})";

class CdiRegistry : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::create("/tmp/berth-cdi-test-");
    ASSERT_TRUE(t.ok());
    tmp_.emplace(std::move(t).value());
    low_ = tmp_->path() + "/etc";
    high_ = tmp_->path() + "/run";
    ASSERT_TRUE(mkdir_all(low_).ok());
    ASSERT_TRUE(mkdir_all(high_).ok());
  }
  void write(const std::string& dir, const std::string& name, const std::string& text) {
    ASSERT_TRUE(write_file_atomic(dir + "/" + name, text).ok());
  }
  Registry load() { return Registry::load({low_, high_, tmp_->path() + "/missing"}); }

  std::optional<TempDir> tmp_;
  std::string low_, high_;
};

TEST_F(CdiRegistry, ReadsJsonAndYamlAndRecordsBrokenFiles) {
  write(low_, "a.yaml", kSpecA);
  write(low_, "b.json", kSpecB);
  write(low_, "c.yml", "cdiVersion: \"0.6.0\"\nkind: broken.com/k\ndevices: []\n");
  write(low_, "d.json", "{not json");
  write(low_, "notes.txt", "ignored");
  ASSERT_TRUE(mkdir_all(low_ + "/sub").ok());
  write(low_ + "/sub", "deep.yaml", kSpecA);  // no recursion
  Registry r = load();
  EXPECT_EQ(r.device_names(),
            (std::vector<std::string>{"other.com/x=y", "vendor.com/dev=a", "vendor.com/dev=b"}));
  ASSERT_EQ(r.errors().size(), 2u);
  EXPECT_TRUE(has(r.errors()[0], low_ + "/c.yml: devices: a spec needs at least one device"))
      << r.errors()[0];
  EXPECT_TRUE(has(r.errors()[1], low_ + "/d.json: not valid JSON")) << r.errors()[1];

  // Spec-level edits once per spec, at the first device of that spec.
  auto e = r.resolve({"vendor.com/dev=b", "other.com/x=y", "vendor.com/dev=a"});
  ASSERT_TRUE(e.ok()) << e.error().message();
  EXPECT_EQ(e->env, (std::vector<std::string>{"SPEC=a", "DEV=b", "SPEC=b", "DEV=y", "DEV=a"}));
}

TEST_F(CdiRegistry, UnresolvedNamesAreListedTogether) {
  write(low_, "a.yaml", kSpecA);
  write(low_, "bad.yaml", "cdiVersion: \"0.6.0\"\nkind: nvidia.com/gpu\ndevices: 3\n");
  write(low_, "worse.yaml", ": : :\n  - [");
  Registry r = load();
  auto e = r.resolve({"vendor.com/dev=a", "nvidia.com/gpu=9", "vendor.com/x=y"});
  ASSERT_FALSE(e.ok());
  std::string m = e.error().message();
  EXPECT_EQ(m.rfind("unresolvable CDI devices nvidia.com/gpu=9, vendor.com/x=y", 0), 0u) << m;
  EXPECT_TRUE(has(m, "bad.yaml: devices: expected array")) << m;  // its kind was asked for
  EXPECT_TRUE(has(m, "worse.yaml: not valid YAML")) << m;         // its kind is unknown
  EXPECT_FALSE(has(m, "\n"));

  auto only_vendor = r.resolve({"vendor.com/x=y"});
  ASSERT_FALSE(only_vendor.ok());
  EXPECT_FALSE(has(only_vendor.error().message(), "bad.yaml")) << only_vendor.error().message();

  auto not_a_name = r.resolve({"/dev/fuse"});
  ASSERT_FALSE(not_a_name.ok());
  EXPECT_TRUE(has(not_a_name.error().message(), "unresolvable CDI devices /dev/fuse"));
}

TEST_F(CdiRegistry, LaterDirectoryWins) {
  write(low_, "a.yaml", kSpecA);
  std::string override_a = kSpecA;
  override_a.replace(override_a.find("DEV=a"), 5, "DEV=A");
  write(high_, "a.yaml", override_a);
  Registry r = load();
  auto e = r.resolve({"vendor.com/dev=a"});
  ASSERT_TRUE(e.ok()) << e.error().message();
  EXPECT_EQ(e->env, (std::vector<std::string>{"SPEC=a", "DEV=A"}));
  EXPECT_TRUE(r.errors().empty());
}

TEST_F(CdiRegistry, SameNameTwiceAtOnePriorityIsAConflict) {
  write(low_, "a1.yaml", kSpecA);
  write(low_, "a2.yaml", std::string(kSpecA).substr(0, std::string(kSpecA).find("- name: b")));
  Registry r = load();
  EXPECT_EQ(r.device_names(), std::vector<std::string>{"vendor.com/dev=b"});
  ASSERT_EQ(r.errors().size(), 1u);
  EXPECT_TRUE(
      has(r.errors()[0], low_ + "/a2.yaml: CDI device vendor.com/dev=a is defined more than once"))
      << r.errors()[0];
  auto e = r.resolve({"vendor.com/dev=a"});
  ASSERT_FALSE(e.ok());
  EXPECT_TRUE(has(e.error().message(), "defined more than once")) << e.error().message();
  EXPECT_TRUE(has(e.error().message(), low_ + "/a1.yaml, " + low_ + "/a2.yaml"));
  EXPECT_TRUE(r.resolve({"vendor.com/dev=b"}).ok());

  // A higher priority definition settles it.
  write(
      high_, "a.json",
      R"({"cdiVersion":"0.6.0","kind":"vendor.com/dev","devices":[{"name":"a","containerEdits":{"env":["DEV=high"]}}]})");
  Registry r2 = load();
  auto e2 = r2.resolve({"vendor.com/dev=a"});
  ASSERT_TRUE(e2.ok()) << e2.error().message();
  EXPECT_EQ(e2->env, std::vector<std::string>{"DEV=high"});
}

TEST_F(CdiRegistry, ResolveThenApply) {
  write(low_, "accel.yaml", kAccelYaml);
  Registry r = load();
  auto e = r.resolve({"example.com/accel=0", "example.com/accel=0"});
  ASSERT_TRUE(e.ok()) << e.error().message();
  EXPECT_EQ(e->device_nodes.size(), 2u);  // asked twice, given once
  auto fake = [](const std::string& path) -> Result<struct stat> {
    struct stat st {};
    st.st_mode = S_IFCHR | 0666;
    st.st_rdev = makedev(240, path == "/dev/accel0" ? 0 : 255);
    return st;
  };
  oci::Spec spec;
  spec.process.emplace();
  ASSERT_TRUE(apply(*e, spec, fake).ok());
  ASSERT_EQ(spec.linux->devices.size(), 2u);
  EXPECT_EQ(spec.linux->devices[0].path, "/dev/accel-ctl");
  EXPECT_EQ(spec.linux->devices[0].minor, 255);
  EXPECT_EQ(spec.linux->resources->devices[0].access, "rw");
  EXPECT_EQ(spec.linux->devices[1].path, "/dev/accel0");
  EXPECT_EQ(spec.process->env, std::vector<std::string>{"ACCEL_VISIBLE=1"});
  EXPECT_EQ(spec.hooks.create_container.size(), 1u);
  EXPECT_EQ(spec.mounts.size(), 1u);
}

TEST_F(CdiRegistry, NoDirectoriesNoDevices) {
  Registry r = Registry::load({});
  EXPECT_TRUE(r.device_names().empty());
  EXPECT_TRUE(r.resolve({}).ok());
  EXPECT_FALSE(r.resolve({"a.com/b=c"}).ok());
}

TEST_F(CdiRegistry, AFifoIsNotRead) {
  ASSERT_EQ(::mkfifo((low_ + "/fifo.json").c_str(), 0600), 0);
  Registry r = load();  // must not block
  ASSERT_EQ(r.errors().size(), 1u);
  EXPECT_TRUE(has(r.errors()[0], "not a regular file")) << r.errors()[0];
}

}  // namespace
}  // namespace berth::gpu::cdi
