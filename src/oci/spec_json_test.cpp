#include "oci/spec_json.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "oci/names.h"

namespace berth::oci {
namespace {

using nlohmann::json;

// A runc-style config.json using every modelled field, plus unknown ones.
constexpr const char* kFullConfig = R"json({
  "ociVersion": "1.1.0",
  "process": {
    "terminal": true,
    "consoleSize": {"height": 25, "width": 80},
    "user": {"uid": 1000, "gid": 1000, "umask": 18, "additionalGids": [5, 100]},
    "args": ["/bin/sh", "-c", "echo hi"],
    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
    "cwd": "/work",
    "capabilities": {
      "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "effective": ["CAP_AUDIT_WRITE", "CAP_KILL"],
      "inheritable": [],
      "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "ambient": ["CAP_CHECKPOINT_RESTORE"]
    },
    "rlimits": [
      {"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 1024},
      {"type": "RLIMIT_CORE", "hard": 18446744073709551615, "soft": 0}
    ],
    "noNewPrivileges": true,
    "apparmorProfile": "berth-default",
    "oomScoreAdj": -500,
    "selinuxLabel": "system_u:system_r:container_t:s0",
    "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 4}
  },
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "box",
  "domainname": "example.org",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/data", "type": "bind", "source": "/srv/data", "options": ["rbind", "ro"],
     "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
     "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}]}
  ],
  "hooks": {
    "prestart": [{"path": "/usr/bin/setup-net", "args": ["setup-net", "up"]}],
    "createRuntime": [{"path": "/usr/bin/nvidia-hook", "env": ["DEBUG=1"], "timeout": 10}],
    "poststop": [{"path": "/usr/bin/cleanup"}]
  },
  "annotations": {"org.example.key": "value", "com.example.empty": ""},
  "linux": {
    "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
    "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
    "sysctl": {"net.ipv4.ip_forward": "1", "kernel.shm_rmid_forced": "1"},
    "resources": {
      "devices": [
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}
      ],
      "memory": {"limit": 536870912, "reservation": 268435456, "swap": -1, "swappiness": 60,
                 "disableOOMKiller": false, "checkBeforeUpdate": true},
      "cpu": {"shares": 1024, "quota": 50000, "burst": 10000, "period": 100000,
              "cpus": "0-3", "mems": "0", "idle": 0},
      "pids": {"limit": 512},
      "blockIO": {"weight": 500, "leafWeight": 300,
                  "weightDevice": [{"major": 8, "minor": 0, "weight": 600}],
                  "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                  "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 100}]},
      "hugepageLimits": [{"pageSize": "2MB", "limit": 209715200}],
      "unified": {"memory.high": "400M"}
    },
    "cgroupsPath": "/berth/box",
    "namespaces": [
      {"type": "pid"}, {"type": "network", "path": "/var/run/netns/box"}, {"type": "ipc"},
      {"type": "uts"}, {"type": "mount"}, {"type": "user"}, {"type": "cgroup"}
    ],
    "devices": [
      {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438,
       "uid": 0, "gid": 0}
    ],
    "seccomp": {
      "defaultAction": "SCMP_ACT_ERRNO",
      "defaultErrnoRet": 1,
      "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
      "flags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
      "syscalls": [
        {"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
        {"names": ["clone"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
         "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}
      ]
    },
    "rootfsPropagation": "rslave",
    "maskedPaths": ["/proc/kcore", "/sys/firmware"],
    "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"],
    "mountLabel": "system_u:object_r:container_file_t:s0",
    "intelRdt": {"closID": "unknown-to-berth"}
  },
  "futureField": {"ignored": [1, 2, 3]}
}
)json";

// The smallest config that passes validation; the bad-input table patches it.
constexpr const char* kMinimal = R"json({
  "ociVersion": "1.1.0",
  "root": {"path": "rootfs"},
  "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
  "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}
})json";

Spec parse_ok(std::string_view text) {
  auto spec = parse_spec(text);
  EXPECT_TRUE(spec.ok()) << spec.error().message();
  return spec.ok() ? std::move(spec).value() : Spec{};
}

TEST(ParseSpec, FullConfigTopLevel) {
  Spec s = parse_ok(kFullConfig);
  EXPECT_EQ(s.oci_version, "1.1.0");
  EXPECT_EQ(s.root.path, "rootfs");
  EXPECT_TRUE(s.root.readonly);
  EXPECT_EQ(s.hostname, "box");
  EXPECT_EQ(s.domainname, "example.org");
  EXPECT_EQ(s.annotations.at("org.example.key"), "value");
  EXPECT_EQ(s.annotations.at("com.example.empty"), "");
  ASSERT_EQ(s.mounts.size(), 3u);
  EXPECT_EQ(s.mounts[1].destination, "/dev");
  EXPECT_EQ(s.mounts[1].options,
            (std::vector<std::string>{"nosuid", "strictatime", "mode=755", "size=65536k"}));
  EXPECT_EQ(s.mounts[2].source, "/srv/data");
  ASSERT_EQ(s.mounts[2].uid_mappings.size(), 1u);
  EXPECT_EQ(s.mounts[2].uid_mappings[0].host_id, 100000u);
  EXPECT_EQ(s.mounts[2].gid_mappings[0].size, 65536u);
}

TEST(ParseSpec, FullConfigProcess) {
  Spec s = parse_ok(kFullConfig);
  ASSERT_TRUE(s.process);
  const Process& p = *s.process;
  EXPECT_TRUE(p.terminal);
  ASSERT_TRUE(p.console_size);
  EXPECT_EQ(p.console_size->height, 25u);
  EXPECT_EQ(p.console_size->width, 80u);
  EXPECT_EQ(p.user.uid, 1000u);
  EXPECT_EQ(p.user.umask, 18u);
  EXPECT_EQ(p.user.additional_gids, (std::vector<uint32_t>{5, 100}));
  EXPECT_EQ(p.args, (std::vector<std::string>{"/bin/sh", "-c", "echo hi"}));
  EXPECT_EQ(p.env.size(), 2u);
  EXPECT_EQ(p.cwd, "/work");
  ASSERT_TRUE(p.capabilities);
  EXPECT_EQ(p.capabilities->bounding.size(), 3u);
  EXPECT_EQ(p.capabilities->effective.size(), 2u);
  EXPECT_TRUE(p.capabilities->inheritable.empty());
  EXPECT_EQ(p.capabilities->ambient, (std::vector<std::string>{"CAP_CHECKPOINT_RESTORE"}));
  ASSERT_EQ(p.rlimits.size(), 2u);
  EXPECT_EQ(p.rlimits[0].type, "RLIMIT_NOFILE");
  EXPECT_EQ(p.rlimits[0].hard, 4096u);
  EXPECT_EQ(p.rlimits[0].soft, 1024u);
  EXPECT_EQ(p.rlimits[1].hard, UINT64_MAX);
  EXPECT_TRUE(p.no_new_privileges);
  EXPECT_EQ(p.apparmor_profile, "berth-default");
  EXPECT_EQ(p.oom_score_adj, -500);
  EXPECT_EQ(p.selinux_label, "system_u:system_r:container_t:s0");
  EXPECT_EQ(p.io_priority_class, "IOPRIO_CLASS_BE");
  EXPECT_EQ(p.io_priority, 4);
}

TEST(ParseSpec, FullConfigHooks) {
  Spec s = parse_ok(kFullConfig);
  ASSERT_EQ(s.hooks.prestart.size(), 1u);
  EXPECT_EQ(s.hooks.prestart[0].args, (std::vector<std::string>{"setup-net", "up"}));
  ASSERT_EQ(s.hooks.create_runtime.size(), 1u);
  EXPECT_EQ(s.hooks.create_runtime[0].path, "/usr/bin/nvidia-hook");
  EXPECT_EQ(s.hooks.create_runtime[0].env, (std::vector<std::string>{"DEBUG=1"}));
  EXPECT_EQ(s.hooks.create_runtime[0].timeout, 10);
  EXPECT_FALSE(s.hooks.poststop.at(0).timeout.has_value());
  EXPECT_TRUE(s.hooks.create_container.empty());
}

TEST(ParseSpec, FullConfigLinux) {
  Spec s = parse_ok(kFullConfig);
  ASSERT_TRUE(s.linux);
  const Linux& l = *s.linux;
  EXPECT_EQ(l.uid_mappings.at(0).container_id, 0u);
  EXPECT_EQ(l.gid_mappings.at(0).host_id, 100000u);
  EXPECT_EQ(l.sysctl.at("net.ipv4.ip_forward"), "1");
  EXPECT_EQ(l.cgroups_path, "/berth/box");
  ASSERT_EQ(l.namespaces.size(), 7u);
  EXPECT_EQ(l.namespaces[1].type, "network");
  EXPECT_EQ(l.namespaces[1].path, "/var/run/netns/box");
  ASSERT_NE(s.find_namespace("user"), nullptr);
  EXPECT_EQ(s.find_namespace("time"), nullptr);
  ASSERT_EQ(l.devices.size(), 1u);
  EXPECT_EQ(l.devices[0].path, "/dev/fuse");
  EXPECT_EQ(l.devices[0].major, 10);
  EXPECT_EQ(l.devices[0].minor, 229);
  EXPECT_EQ(l.devices[0].file_mode, 0666u);
  EXPECT_EQ(l.devices[0].uid, 0u);
  EXPECT_EQ(l.rootfs_propagation, "rslave");
  EXPECT_EQ(l.masked_paths.size(), 2u);
  EXPECT_EQ(l.readonly_paths.at(1), "/proc/sysrq-trigger");
  EXPECT_EQ(l.mount_label, "system_u:object_r:container_file_t:s0");
}

TEST(ParseSpec, FullConfigResources) {
  Spec s = parse_ok(kFullConfig);
  ASSERT_TRUE(s.linux && s.linux->resources);
  const Resources& r = *s.linux->resources;
  ASSERT_EQ(r.devices.size(), 2u);
  EXPECT_FALSE(r.devices[0].allow);
  EXPECT_EQ(r.devices[0].type, "a");  // absent: the default wildcard
  EXPECT_FALSE(r.devices[0].major.has_value());
  EXPECT_EQ(r.devices[1].type, "c");
  EXPECT_EQ(r.devices[1].major, 1);
  EXPECT_EQ(r.devices[1].access, "rw");
  ASSERT_TRUE(r.memory);
  EXPECT_EQ(r.memory->limit, 536870912);
  EXPECT_EQ(r.memory->swap, -1);
  EXPECT_EQ(r.memory->swappiness, 60u);
  EXPECT_EQ(r.memory->disable_oom_killer, false);
  EXPECT_FALSE(r.memory->kernel.has_value());
  EXPECT_FALSE(r.memory->use_hierarchy.has_value());
  ASSERT_TRUE(r.cpu);
  EXPECT_EQ(r.cpu->shares, 1024u);
  EXPECT_EQ(r.cpu->quota, 50000);
  EXPECT_EQ(r.cpu->burst, 10000);
  EXPECT_EQ(r.cpu->cpus, "0-3");
  EXPECT_EQ(r.cpu->idle, 0);
  EXPECT_FALSE(r.cpu->realtime_runtime.has_value());
  ASSERT_TRUE(r.pids);
  EXPECT_EQ(r.pids->limit, 512);
  ASSERT_TRUE(r.block_io);
  EXPECT_EQ(r.block_io->weight, 500);
  EXPECT_EQ(r.block_io->weight_device.at(0).weight, 600);
  EXPECT_FALSE(r.block_io->weight_device.at(0).leaf_weight.has_value());
  EXPECT_EQ(r.block_io->throttle_read_bps_device.at(0).rate, 1048576u);
  EXPECT_EQ(r.block_io->throttle_write_iops_device.at(0).rate, 100u);
  EXPECT_TRUE(r.block_io->throttle_write_bps_device.empty());
  EXPECT_EQ(r.hugepage_limits.at(0).page_size, "2MB");
  EXPECT_EQ(r.unified.at("memory.high"), "400M");
}

TEST(ParseSpec, FullConfigSeccomp) {
  Spec s = parse_ok(kFullConfig);
  ASSERT_TRUE(s.linux && s.linux->seccomp);
  const Seccomp& sc = *s.linux->seccomp;
  EXPECT_EQ(sc.default_action, "SCMP_ACT_ERRNO");
  EXPECT_EQ(sc.default_errno_ret, 1u);
  EXPECT_EQ(sc.architectures.size(), 3u);
  EXPECT_EQ(sc.flags, (std::vector<std::string>{"SECCOMP_FILTER_FLAG_SPEC_ALLOW"}));
  ASSERT_EQ(sc.syscalls.size(), 3u);
  EXPECT_EQ(sc.syscalls[0].names.size(), 3u);
  EXPECT_FALSE(sc.syscalls[0].errno_ret.has_value());
  EXPECT_EQ(sc.syscalls[2].errno_ret, 38u);
  ASSERT_EQ(sc.syscalls[2].args.size(), 1u);
  EXPECT_EQ(sc.syscalls[2].args[0].value, 2114060288u);
  EXPECT_EQ(sc.syscalls[2].args[0].op, "SCMP_CMP_MASKED_EQ");
}

TEST(ParseSpec, FullConfigRoundTrips) {
  Spec s = parse_ok(kFullConfig);
  std::string text = to_json(s);
  Spec again = parse_ok(text);
  EXPECT_EQ(to_json(again), text);
  // Unknown fields are dropped, known ones kept.
  EXPECT_EQ(text.find("futureField"), std::string::npos);
  EXPECT_NE(text.find("\"throttleWriteIOPSDevice\""), std::string::npos);
  EXPECT_NE(text.find("\"ioPriority\""), std::string::npos);
}

TEST(ParseSpec, NullCountsAsAbsent) {
  Spec s = parse_ok(R"({"ociVersion": "1.0.2-dev", "root": {"path": "r", "readonly": null},
                        "mounts": null, "hostname": null, "linux": null})");
  EXPECT_FALSE(s.root.readonly);
  EXPECT_TRUE(s.mounts.empty());
  EXPECT_FALSE(s.linux.has_value());
  EXPECT_FALSE(s.process.has_value());
}

TEST(ParseSpec, AcceptsNestingUpToTheLimit) {
  std::string deep = std::string(500, '[') + std::string(500, ']');
  parse_ok(R"({"ociVersion": "1.1.0", "root": {"path": "r"}, "x": )" + deep + "}");
}

TEST(ParseSpec, HugeNestingFailsCleanly) {
  for (size_t n : {size_t{100000}, size_t{64} << 20}) {
    auto r = parse_spec(std::string(n, '['));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message(),
              "config.json: not valid JSON: nested deeper than 512 levels at byte 512");
  }
}

TEST(ParseSpec, BracketsInStringsDoNotCountAsNesting) {
  std::string brackets(2000, '[');
  Spec s = parse_ok(R"({"ociVersion": "1.1.0", "root": {"path": "r"}, "hostname": ")" + brackets +
                    R"(\"", "linux": {"namespaces": [{"type": "uts"}]}})");
  EXPECT_EQ(s.hostname, brackets + "\"");
}

// ---- bad inputs -----------------------------------------------------------------------------

struct BadCase {
  std::string name;
  std::string text;
  std::string error;  // expected substring of the message
};

// kMinimal with the value at JSON pointer ptr replaced (or added); "-" appends to an array.
std::string patched(const std::string& ptr, const json& value) {
  json doc = json::parse(kMinimal);
  doc[json::json_pointer(ptr)] = value;
  return doc.dump();
}

std::string without(const std::string& ptr) {
  json doc = json::parse(kMinimal);
  json::json_pointer p(ptr);
  doc[p.parent_pointer()].erase(p.back());
  return doc.dump();
}

std::vector<BadCase> syntax_and_type_cases() {
  return {
      {"invalid JSON", R"({"ociVersion": x})",
       "config.json: not valid JSON at byte 15: syntax error"},
      {"truncated", R"({"ociVersion": "1.1.0")", "config.json: not valid JSON at byte"},
      {"empty", "", "config.json: not valid JSON: document is empty"},
      {"blank", " \n\t", "config.json: not valid JSON: document is empty"},
      {"array at top level", "[]", "config.json: expected object, got array"},
      {"string at top level", R"("x")", "config.json: expected object, got string"},
      {"huge nesting", std::string(100000, '['), "nested deeper than 512 levels"},
      {"deep inside", R"({"x": )" + std::string(600, '['), "nested deeper than 512 levels"},
      {"ociVersion number", patched("/ociVersion", 1),
       "config.json: ociVersion: expected string, got number"},
      {"args element", patched("/process/args", {"sh", 5}),
       "config.json: process.args[1]: expected string, got number"},
      {"terminal string", patched("/process/terminal", "yes"),
       "config.json: process.terminal: expected boolean, got string"},
      {"namespace string", patched("/linux/namespaces/0", "pid"),
       "config.json: linux.namespaces[0]: expected object, got string"},
      {"memory limit", patched("/linux/resources/memory/limit", "1G"),
       "config.json: linux.resources.memory.limit: expected integer, got string"},
      {"mounts object", patched("/mounts", json::object()),
       "config.json: mounts: expected array, got object"},
      {"annotation value", patched("/annotations", {{"a.b", 1}}),
       R"(config.json: annotations["a.b"]: expected string, got number)"},
      {"seccomp arg op",
       patched("/linux/seccomp",
               {{"defaultAction", "SCMP_ACT_ALLOW"},
                {"syscalls",
                 {{{"names", {"read"}}, {"action", "SCMP_ACT_LOG"}, {"args", {{{"op", 3}}}}}}}}),
       "config.json: linux.seccomp.syscalls[0].args[0].op: expected string, got number"},
      {"fractional uid", patched("/process/user/uid", 1.5),
       "config.json: process.user.uid: expected integer, got number 1.5"},
      {"negative uid", patched("/process/user/uid", -1),
       "config.json: process.user.uid: -1 is out of range for uint32"},
      {"uid over 2^32", patched("/process/user/uid", 4294967296ull),
       "config.json: process.user.uid: 4294967296 is out of range for uint32"},
      {"negative rlimit", patched("/process/rlimits", {{{"type", "RLIMIT_CORE"}, {"hard", -1}}}),
       "process.rlimits[0].hard: -1 is out of range for uint64"},
      {"blkio weight", patched("/linux/resources/blockIO/weight", 70000),
       "linux.resources.blockIO.weight: 70000 is out of range for uint16"},
  };
}

std::vector<BadCase> rule_cases() {
  return {
      {"missing ociVersion", without("/ociVersion"), "config.json: ociVersion must be set"},
      {"ociVersion 2", patched("/ociVersion", "2.0.0"),
       R"(config.json: ociVersion: unsupported version "2.0.0" (need 1.x))"},
      {"empty root", patched("/root/path", ""), "config.json: root.path must not be empty"},
      {"unknown namespace", patched("/linux/namespaces/-", {{"type", "foo"}}),
       R"(config.json: linux.namespaces[2].type: unknown namespace type "foo")"},
      {"duplicate namespace", patched("/linux/namespaces/-", {{"type", "pid"}}),
       R"(config.json: linux.namespaces[2].type: duplicate namespace type "pid")"},
      {"relative namespace path", patched("/linux/namespaces/0/path", "proc/1/ns/pid"),
       R"(linux.namespaces[0].path: "proc/1/ns/pid" is not an absolute path)"},
      {"relative mount destination", patched("/mounts", {{{"destination", "proc"}}}),
       R"(config.json: mounts[0].destination: "proc" is not an absolute path)"},
      {"empty args", patched("/process/args", json::array()),
       "config.json: process.args must not be empty"},
      {"relative cwd", patched("/process/cwd", "tmp"),
       R"(config.json: process.cwd: "tmp" is not an absolute path)"},
      {"missing cwd", without("/process/cwd"), "config.json: process.cwd must be set"},
      {"env without =", patched("/process/env", {"PATH=/bin", "FOO"}),
       R"(config.json: process.env[1]: "FOO" is not KEY=VALUE)"},
      {"relative hook path", patched("/hooks/prestart", {{{"path", "hook"}}}),
       R"(config.json: hooks.prestart[0].path: "hook" is not an absolute path)"},
      {"zero timeout", patched("/hooks/poststop", {{{"path", "/bin/true"}, {"timeout", 0}}}),
       "config.json: hooks.poststop[0].timeout: must be greater than 0, got 0"},
      {"unknown rlimit", patched("/process/rlimits", {{{"type", "RLIMIT_FOO"}}}),
       R"(config.json: process.rlimits[0].type: unknown rlimit "RLIMIT_FOO")"},
      {"soft over hard",
       patched("/process/rlimits", {{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 2048}}}),
       "config.json: process.rlimits[0]: soft limit 2048 exceeds hard limit 1024"},
      {"duplicate rlimit",
       patched("/process/rlimits", {{{"type", "RLIMIT_AS"}}, {{"type", "RLIMIT_AS"}}}),
       R"(process.rlimits[1].type: duplicate rlimit "RLIMIT_AS")"},
      {"unknown capability",
       patched("/process/capabilities", {{"bounding", {"CAP_KILL", "CAP_FOO"}}}),
       R"(config.json: process.capabilities.bounding[1]: unknown capability "CAP_FOO")"},
      {"capability 41", patched("/process/capabilities/ambient", {"CAP_41"}),
       R"(process.capabilities.ambient[0]: unknown capability "CAP_41")"},
      {"oom score", patched("/process/oomScoreAdj", 1001),
       "process.oomScoreAdj: 1001 is outside -1000..1000"},
      {"io priority class", patched("/process/ioPriority", {{"class", "IOPRIO_CLASS_NONE"}}),
       R"(process.ioPriority.class: unknown class "IOPRIO_CLASS_NONE")"},
  };
}

json seccomp_with(const json& syscall) {
  return {{"defaultAction", "SCMP_ACT_ERRNO"}, {"syscalls", {syscall}}};
}

std::string user_ns_with_mapping(const json& mapping) {
  json doc = json::parse(patched("/linux/namespaces/-", {{"type", "user"}}));
  doc["linux"]["uidMappings"] = json::array({mapping});
  doc["linux"]["gidMappings"] = json::array({{{"containerID", 0}, {"hostID", 1}, {"size", 1}}});
  return doc.dump();
}

std::vector<BadCase> linux_cases() {
  return {
      {"mappings without user ns",
       patched("/linux/uidMappings", {{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}}),
       "config.json: linux.uidMappings: needs a user namespace in linux.namespaces"},
      {"zero-size mapping", user_ns_with_mapping({{"containerID", 0}, {"hostID", 1}, {"size", 0}}),
       "config.json: linux.uidMappings[0].size: must be greater than 0"},
      {"mapping past 2^32",
       user_ns_with_mapping({{"containerID", 4294967295u}, {"hostID", 1}, {"size", 2}}),
       "config.json: linux.uidMappings[0]: id range goes past 2^32"},
      {"hostname without uts", patched("/hostname", "box"),
       "config.json: hostname: needs a uts namespace in linux.namespaces"},
      {"bad rootfsPropagation", patched("/linux/rootfsPropagation", "sideways"),
       R"(config.json: linux.rootfsPropagation: unknown propagation "sideways")"},
      {"device type", patched("/linux/devices", {{{"path", "/dev/x"}, {"type", "x"}}}),
       R"(linux.devices[0].type: unknown device type "x" (want c, b, u or p))"},
      {"device outside /dev", patched("/linux/devices", {{{"path", "/etc/x"}, {"type", "c"}}}),
       R"(linux.devices[0].path: "/etc/x" is not a path under /dev)"},
      {"device escaping /dev",
       patched("/linux/devices", {{{"path", "/dev/../etc/x"}, {"type", "c"}}}),
       R"(linux.devices[0].path: "/dev/../etc/x" is not a path under /dev)"},
      {"cgroup device type", patched("/linux/resources/devices", {{{"type", "p"}}}),
       R"(linux.resources.devices[0].type: unknown device type "p" (want a, c or b))"},
      {"cgroup device access", patched("/linux/resources/devices", {{{"access", "rwx"}}}),
       R"(linux.resources.devices[0].access: "rwx" may only hold r, w and m)"},
      {"empty sysctl key", patched("/linux/sysctl", {{"", "1"}}),
       "config.json: linux.sysctl: empty key"},
      {"sysctl escaping /proc/sys", patched("/linux/sysctl", {{"net/../../x", "1"}}),
       R"(linux.sysctl["net/../../x"]: not a valid sysctl name)"},
      {"unified path", patched("/linux/resources/unified", {{"../cgroup.procs", "1"}}),
       R"(linux.resources.unified["../cgroup.procs"]: not a cgroup file name)"},
      {"unknown default action", patched("/linux/seccomp", {{"defaultAction", "SCMP_ACT_FOO"}}),
       R"(config.json: linux.seccomp.defaultAction: unknown action "SCMP_ACT_FOO")"},
      {"notify as default", patched("/linux/seccomp", {{"defaultAction", "SCMP_ACT_NOTIFY"}}),
       "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default"},
      {"unknown seccomp action",
       patched("/linux/seccomp", seccomp_with({{"names", {"read"}}, {"action", "SCMP_ACT_FOO"}})),
       R"(config.json: linux.seccomp.syscalls[0].action: unknown action "SCMP_ACT_FOO")"},
      {"notify without listener",
       patched("/linux/seccomp",
               seccomp_with({{"names", {"ioctl"}}, {"action", "SCMP_ACT_NOTIFY"}})),
       "linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath"},
      {"empty syscall names",
       patched("/linux/seccomp",
               seccomp_with({{"names", json::array()}, {"action", "SCMP_ACT_ALLOW"}})),
       "linux.seccomp.syscalls[0].names must not be empty"},
      {"unknown operator",
       patched("/linux/seccomp",
               seccomp_with({{"names", {"read"}},
                             {"action", "SCMP_ACT_ALLOW"},
                             {"args", {{{"index", 0}, {"value", 1}, {"op", "SCMP_CMP_FOO"}}}}})),
       R"(linux.seccomp.syscalls[0].args[0].op: unknown operator "SCMP_CMP_FOO")"},
      {"arg index 6",
       patched("/linux/seccomp",
               seccomp_with({{"names", {"read"}},
                             {"action", "SCMP_ACT_ALLOW"},
                             {"args", {{{"index", 6}, {"value", 1}, {"op", "SCMP_CMP_EQ"}}}}})),
       "linux.seccomp.syscalls[0].args[0].index: 6 is outside 0..5"},
      {"unknown arch",
       patched("/linux/seccomp",
               {{"defaultAction", "SCMP_ACT_ALLOW"}, {"architectures", {"SCMP_ARCH_Z80"}}}),
       R"(linux.seccomp.architectures[0]: unknown architecture "SCMP_ARCH_Z80")"},
      {"relative masked path", patched("/linux/maskedPaths", {"/proc/kcore", "proc/keys"}),
       R"(linux.maskedPaths[1]: "proc/keys" is not an absolute path)"},
  };
}

std::vector<BadCase> all_bad_cases() {
  std::vector<BadCase> cases = syntax_and_type_cases();
  for (auto& c : rule_cases()) cases.push_back(std::move(c));
  for (auto& c : linux_cases()) cases.push_back(std::move(c));
  return cases;
}

TEST(ParseSpec, MinimalConfigIsValid) {
  parse_ok(kMinimal);
}

TEST(ParseSpec, RejectsBadInputsWithThePathInTheMessage) {
  for (const BadCase& c : all_bad_cases()) {
    SCOPED_TRACE(c.name);
    auto r = parse_spec(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.error().message().find(c.error), std::string::npos) << r.error().message();
    EXPECT_EQ(r.error().message().find('\n'), std::string::npos);
  }
}

TEST(ParseSpec, ExactMessages) {
  auto r = parse_spec(patched("/process/args", {"sh", 1}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "config.json: process.args[1]: expected string, got number");
  r = parse_spec(patched("/linux/namespaces/-", {{"type", "foo"}}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(),
            R"(config.json: linux.namespaces[2].type: unknown namespace type "foo")");
}

TEST(ParseSpec, IgnoresUnknownFieldsAtEveryDepth) {
  json doc = json::parse(kMinimal);
  doc["newTopLevel"] = {1, 2};
  doc["process"]["futureKnob"] = "x";
  doc["linux"]["namespaces"][0]["flags"] = 7;
  doc["linux"]["personality"] = {{"domain", "LINUX"}};
  Spec s = parse_ok(doc.dump());
  EXPECT_EQ(s.linux->namespaces[0].type, "pid");
}

TEST(ParseSpec, UserNamespaceWithoutMappingsIsLeftToTheRuntime) {
  parse_ok(patched("/linux/namespaces/-", {{"type", "user"}}));
}

// ---- validate_spec, to_json, default_spec ---------------------------------------------------

TEST(ValidateSpec, MessagesHaveNoFilePrefix) {
  Spec s = default_spec(false);
  s.process->args.clear();
  Status st = validate_spec(s);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "process.args must not be empty");
  s = default_spec(false);
  s.linux->uid_mappings = {IdMapping{.container_id = 0, .host_id = 1000, .size = 0}};
  s.linux->gid_mappings = s.linux->uid_mappings;
  s.linux->namespaces.push_back(Namespace{.type = "user"});
  st = validate_spec(s);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "linux.uidMappings[0].size: must be greater than 0");
}

TEST(DefaultSpec, MatchesRuncSpec) {
  Spec s = default_spec(false);
  EXPECT_TRUE(validate_spec(s).ok());
  EXPECT_EQ(s.oci_version, "1.1.0");
  EXPECT_EQ(s.hostname, "berth");
  EXPECT_EQ(s.root.path, "rootfs");
  EXPECT_TRUE(s.root.readonly);
  ASSERT_TRUE(s.process);
  EXPECT_TRUE(s.process->terminal);
  EXPECT_EQ(s.process->args, (std::vector<std::string>{"sh"}));
  EXPECT_EQ(s.process->env.at(1), "TERM=xterm");
  EXPECT_TRUE(s.process->no_new_privileges);
  EXPECT_EQ(s.process->capabilities->permitted.size(), 3u);
  EXPECT_TRUE(s.process->capabilities->inheritable.empty());
  EXPECT_EQ(s.process->rlimits.at(0).soft, 1024u);
  ASSERT_EQ(s.mounts.size(), 7u);
  EXPECT_EQ(s.mounts[2].options.back(), "gid=5");
  EXPECT_EQ(s.mounts[5].type, "sysfs");
  ASSERT_EQ(s.linux->namespaces.size(), 6u);
  EXPECT_NE(s.find_namespace("network"), nullptr);
  EXPECT_EQ(s.find_namespace("user"), nullptr);
  EXPECT_EQ(s.linux->resources->devices.at(0).access, "rwm");
  EXPECT_EQ(s.linux->masked_paths.size(), 10u);
  EXPECT_EQ(s.linux->readonly_paths.size(), 5u);
}

TEST(DefaultSpec, RootlessMatchesRuncSpecRootless) {
  Spec s = default_rootless_spec(1000, 1001);
  EXPECT_TRUE(validate_spec(s).ok());
  EXPECT_EQ(s.find_namespace("network"), nullptr);
  EXPECT_EQ(s.find_namespace("cgroup"), nullptr);
  ASSERT_NE(s.find_namespace("user"), nullptr);
  ASSERT_EQ(s.linux->uid_mappings.size(), 1u);
  EXPECT_EQ(s.linux->uid_mappings[0].host_id, 1000u);
  EXPECT_EQ(s.linux->uid_mappings[0].size, 1u);
  EXPECT_EQ(s.linux->gid_mappings[0].host_id, 1001u);
  EXPECT_FALSE(s.linux->resources.has_value());
  EXPECT_EQ(s.mounts[2].options, (std::vector<std::string>{"nosuid", "noexec", "newinstance",
                                                           "ptmxmode=0666", "mode=0620"}));
  EXPECT_EQ(s.mounts[5].destination, "/sys");
  EXPECT_EQ(s.mounts[5].type, "none");
  EXPECT_EQ(s.mounts[5].source, "/sys");
  EXPECT_EQ(s.mounts[5].options.front(), "rbind");
  EXPECT_TRUE(validate_spec(default_spec(true)).ok());
}

TEST(DefaultSpec, RoundTripsThroughJson) {
  for (const Spec& s : {default_spec(false), default_rootless_spec(1000, 1000)}) {
    std::string text = to_json(s);
    Spec again = parse_ok(text);
    EXPECT_EQ(to_json(again), text);
    EXPECT_EQ(again.mounts.size(), s.mounts.size());
    EXPECT_EQ(again.process->capabilities->bounding, s.process->capabilities->bounding);
    EXPECT_EQ(again.linux->namespaces.size(), s.linux->namespaces.size());
    EXPECT_EQ(again.linux->uid_mappings.size(), s.linux->uid_mappings.size());
    EXPECT_EQ(again.linux->resources.has_value(), s.linux->resources.has_value());
  }
}

TEST(ToJson, LooksLikeRuncSpec) {
  std::string text = to_json(default_spec(false));
  EXPECT_EQ(
      text.rfind("{\n  \"ociVersion\": \"1.1.0\",\n  \"process\": {\n    \"terminal\": true,", 0),
      0u)
      << text;
  EXPECT_NE(text.find("\"user\": {\n      \"uid\": 0,\n      \"gid\": 0\n    }"),
            std::string::npos);
  EXPECT_NE(text.find("\"allow\": false"), std::string::npos);
  EXPECT_EQ(text.find("\"hooks\""), std::string::npos);  // empty: omitted
  EXPECT_EQ(text.find("\"domainname\""), std::string::npos);
}

TEST(ToJson, KeepsPresentOptionalsEvenWhenZero) {
  Spec s = default_spec(false);
  s.process->oom_score_adj = 0;
  s.linux->resources->memory = Memory{.swappiness = 0};
  Spec again = parse_ok(to_json(s));
  EXPECT_EQ(again.process->oom_score_adj, 0);
  ASSERT_TRUE(again.linux->resources->memory);
  EXPECT_EQ(again.linux->resources->memory->swappiness, 0u);
  EXPECT_FALSE(again.linux->resources->memory->limit.has_value());
}

TEST(ToJson, NeverThrowsOnInvalidUtf8) {
  Spec s = default_spec(false);
  s.hostname = "bad\xff";
  std::string text = to_json(s);
  EXPECT_NE(text.find("bad\xef\xbf\xbd"), std::string::npos);  // U+FFFD
}

TEST(Names, CapabilitiesAndRlimits) {
  EXPECT_EQ(capability_number("CAP_CHOWN"), 0);
  EXPECT_EQ(capability_number("CAP_SYS_ADMIN"), 21);
  EXPECT_EQ(capability_number("CAP_CHECKPOINT_RESTORE"), kLastCapability);
  EXPECT_FALSE(capability_number("cap_chown").has_value());
  EXPECT_EQ(rlimit_resource("RLIMIT_NOFILE"), RLIMIT_NOFILE);
  EXPECT_EQ(rlimit_resource("RLIMIT_RTTIME"), RLIMIT_RTTIME);
  EXPECT_FALSE(rlimit_resource("RLIMIT_FOO").has_value());
  EXPECT_TRUE(is_seccomp_action("SCMP_ACT_KILL_THREAD"));
  EXPECT_TRUE(is_seccomp_operator("SCMP_CMP_MASKED_EQ"));
  EXPECT_TRUE(is_seccomp_arch("SCMP_ARCH_AARCH64"));
  EXPECT_TRUE(is_rootfs_propagation("runbindable"));
  EXPECT_FALSE(is_namespace_type("net"));
}

}  // namespace
}  // namespace berth::oci
