// state list ps spec features
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "base/strings.h"
#include "cli/runtime/commands.h"
#include "oci/spec_json.h"
#include "security/caps.h"
#include "sys/mount_options.h"

namespace berth::cli {
namespace {

using nlohmann::json;

std::string owner_of(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) < 0) return "";
  struct passwd* pw = ::getpwuid(st.st_uid);
  return pw ? pw->pw_name : std::to_string(st.st_uid);
}

// runc's state JSON: the OCI state plus rootfs, created and owner.
json state_json(runtime::Runtime& rt, const oci::State& s, const Globals& g) {
  json j = json::parse(oci::state_to_json(s));
  j["pid"] = s.pid;
  j["created"] = "";
  j["rootfs"] = "";
  runtime::StateStore store(g.root);
  if (auto rec = store.load(s.id)) {
    j["created"] = rec->created;
    j["rootfs"] = rec->rootfs;
  }
  j["owner"] = owner_of(g.root + "/" + s.id);
  (void)rt;
  return j;
}

std::string proc_cmdline(pid_t pid) {
  auto c = read_file("/proc/" + std::to_string(pid) + "/cmdline");
  if (!c || c->empty()) return "";
  std::string s = *c;
  for (auto& ch : s)
    if (ch == '\0') ch = ' ';
  return std::string(trim(s));
}

json features_json() {
  json caps = json::array();
  for (int i = 0; i <= security::kCapMax; ++i) caps.push_back(security::cap_name(i));
  return {
      {"ociVersionMin", "1.0.0"},
      {"ociVersionMax", "1.1.0"},
      {"hooks",
       {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}},
      {"mountOptions",
       {"async",      "atime",       "bind",         "defaults",  "dev",          "diratime",
        "dirsync",    "exec",        "lazytime",     "mand",      "noatime",      "nodev",
        "nodiratime", "noexec",      "nolazytime",   "nomand",    "norelatime",   "nostrictatime",
        "nosuid",     "nosymfollow", "private",      "rbind",     "rdev",         "rdiratime",
        "relatime",   "remount",     "rexec",        "rnoatime",  "rnodev",       "rnodiratime",
        "rnoexec",    "rnosuid",     "rnosymfollow", "ro",        "rprivate",     "rrelatime",
        "rro",        "rrw",         "rshared",      "rslave",    "rstrictatime", "rsuid",
        "rsymfollow", "runbindable", "rw",           "shared",    "slave",        "strictatime",
        "suid",       "symfollow",   "sync",         "unbindable"}},
      {"linux",
       {{"namespaces", {"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"}},
        {"capabilities", caps},
        {"cgroup", {{"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false}}},
        {"seccomp",
         {{"enabled", true},
          {"actions",
           {"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
            "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"}},
          {"operators",
           {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
            "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"}},
          {"archs",
           {"SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64",
            "SCMP_ARCH_ARM"}},
          {"supportedFlags",
           {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW"}}}},
        {"apparmor", {{"enabled", false}}},
        {"selinux", {{"enabled", false}}}}},
      {"annotations", {{"org.opencontainers.runc.version", "berth-runtime 0.1.0"}}}};
}

}  // namespace

void add_query_commands(CLI::App& app, Action& action, const Globals& g) {
  static std::string id;
  auto* state = app.add_subcommand("state", "print the container's state as JSON");
  state->add_option("id", id, "container id")->required();
  state->callback([&] {
    action = [&g](runtime::Runtime& rt) -> Result<int> {
      oci::State s = TRY(rt.state(id));
      std::printf("%s\n", state_json(rt, s, g).dump(2).c_str());
      return 0;
    };
  });

  static std::string format = "table";
  static bool quiet = false;
  auto* list = app.add_subcommand("list", "list containers");
  list->alias("ls");
  list->add_option("-f,--format", format, "table or json")->check(CLI::IsMember({"table", "json"}));
  list->add_flag("-q,--quiet", quiet, "print only ids");
  list->callback([&] {
    action = [&g](runtime::Runtime& rt) -> Result<int> {
      auto all = TRY(rt.list());
      if (quiet) {
        for (const auto& s : all) std::printf("%s\n", s.id.c_str());
        return 0;
      }
      if (format == "json") {
        json arr = json::array();
        for (const auto& s : all) arr.push_back(state_json(rt, s, g));
        std::printf("%s\n", arr.dump().c_str());
        return 0;
      }
      std::printf("%-20s %-8s %-10s %-40s %-32s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED",
                  "OWNER");
      for (const auto& s : all) {
        json j = state_json(rt, s, g);
        std::printf("%-20s %-8d %-10s %-40s %-32s %s\n", s.id.c_str(), s.pid, s.status.c_str(),
                    s.bundle.c_str(), j["created"].get<std::string>().c_str(),
                    j["owner"].get<std::string>().c_str());
      }
      return 0;
    };
  });

  static std::string ps_format = "table";
  auto* ps = app.add_subcommand("ps", "list the processes of a container");
  ps->add_option("-f,--format", ps_format, "table or json")
      ->check(CLI::IsMember({"table", "json"}));
  ps->add_option("id", id, "container id")->required();
  ps->allow_extras();  // runc passes extra ps(1) options through; we print PID and CMD
  ps->callback([&] {
    action = [](runtime::Runtime& rt) -> Result<int> {
      auto pids = TRY(rt.pids(id));
      if (ps_format == "json") {
        std::printf("%s\n", json(pids).dump().c_str());
        return 0;
      }
      std::printf("%-8s %s\n", "PID", "CMD");
      for (pid_t p : pids) std::printf("%-8d %s\n", p, proc_cmdline(p).c_str());
      return 0;
    };
  });

  static bool rootless = false;
  static std::string bundle = ".";
  auto* spec = app.add_subcommand("spec", "write a default config.json into the bundle");
  spec->add_flag("--rootless", rootless, "a config for running without root");
  spec->add_option("-b,--bundle", bundle, "where to write config.json");
  spec->callback([&] {
    action = [](runtime::Runtime&) -> Result<int> {
      std::string path = bundle + "/config.json";
      if (path_exists(path)) return Error(EEXIST, "write", path);
      TRY(write_file_atomic(path, oci::to_json(oci::default_spec(rootless)) + "\n", 0644));
      return 0;
    };
  });

  auto* features = app.add_subcommand("features", "print what this runtime supports as JSON");
  features->callback([&] {
    action = [](runtime::Runtime&) -> Result<int> {
      std::printf("%s\n", features_json().dump(2).c_str());
      return 0;
    };
  });
}

}  // namespace berth::cli
