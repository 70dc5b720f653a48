// End-to-end tests of berth-runtime: the real binary, real namespaces, mounts and cgroups,
// a static probe inside the container reporting what it sees.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <thread>

#include "base/file.h"
#include "base/strings.h"
#include "fixture.h"

namespace berth::test {
namespace {

using nlohmann::json;

class Runtime : public RuntimeFixture {};

TEST_F(Runtime, RunReportsIsolationAndExitStatus) {
  REQUIRE_ROOT();
  Bundle b;
  Output o = run(b, unique_id("iso"));
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(value(o.out, "pid"), "1");
  EXPECT_EQ(value(o.out, "hostname"), "berth");
  EXPECT_EQ(value(o.out, "uid"), "0");
  EXPECT_EQ(value(o.out, "NoNewPrivs"), "1");
  // runc spec's capabilities: AUDIT_WRITE, KILL, NET_BIND_SERVICE.
  EXPECT_EQ(value(o.out, "CapEff"), "0000000020000420");
  EXPECT_EQ(value(o.out, "CapBnd"), "0000000020000420");
  EXPECT_EQ(value(o.out, "rlimit.NOFILE"), "1024/1024");
  EXPECT_EQ(value(o.out, "env"),
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  // The cgroup namespace makes the container's cgroup its root.
  for (const auto& c : values(o.out, "cgroup")) EXPECT_EQ(c.substr(c.rfind(':') + 1), "/") << c;

  b.set_args({"/bin/probe", "exit", "7"});
  EXPECT_EQ(run(b, unique_id("exit")).status, 7);
}

TEST_F(Runtime, ReadonlyRootMaskedAndReadonlyPaths) {
  REQUIRE_ROOT();
  Bundle b;
  b.set_args({"/bin/sh", "-c",
              "probe mkdir /x; probe write /proc/sys/vm/overcommit_memory 0; cat /proc/kcore | wc "
              "-c; ls /proc/acpi | wc -l;"
              "probe mkdir /tmp/../dev/shm/ok"});
  Output o = run(b, unique_id("ro"));
  EXPECT_EQ(o.status, 0) << o.err;
  auto lines = split(std::string(trim(o.out)), '\n');
  ASSERT_EQ(lines.size(), 5u) << o.out;
  EXPECT_EQ(lines[0], "mkdir=EROFS");
  EXPECT_EQ(lines[1], "write=EROFS");
  EXPECT_EQ(trim(lines[2]), "0");   // /proc/kcore is /dev/null
  EXPECT_EQ(trim(lines[3]), "0");   // /proc/acpi is an empty tmpfs
  EXPECT_EQ(lines[4], "mkdir=ok");  // /dev/shm is a writable tmpfs
}

TEST_F(Runtime, DevicesAndDevSymlinks) {
  REQUIRE_ROOT();
  Bundle b;
  b.config()["linux"]["devices"] = json::array({{{"path", "/dev/fuse"},
                                                 {"type", "c"},
                                                 {"major", 10},
                                                 {"minor", 229},
                                                 {"fileMode", 0640},
                                                 {"uid", 0},
                                                 {"gid", 0}}});
  b.set_args({"/bin/sh", "-c",
              "stat -c '%n %t:%T %a' /dev/null /dev/fuse /dev/tty; readlink /dev/fd; readlink "
              "/dev/ptmx; probe open /dev/null"});
  Output o = run(b, unique_id("dev"));
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_NE(o.out.find("/dev/null 1:3 666"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("/dev/fuse a:e5 640"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("/proc/self/fd\npts/ptmx"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("open=ok"), std::string::npos);
}

TEST_F(Runtime, DeviceCgroupDeniesWhatIsNotAllowed) {
  REQUIRE_ROOT();
  Bundle b;
  // /dev/fuse exists as a node but the cgroup rules (deny all + defaults) do not allow it.
  b.config()["linux"]["devices"] =
      json::array({{{"path", "/dev/fuse"}, {"type", "c"}, {"major", 10}, {"minor", 229}}});
  b.config()["linux"]["resources"]["devices"] = json::array(
      {{{"allow", false}, {"access", "rwm"}},
       {{"allow", false}, {"type", "c"}, {"major", 10}, {"minor", 229}, {"access", "rw"}}});
  b.set_args({"/bin/probe", "open", "/dev/fuse"});
  Output o = run(b, unique_id("devcg"));
  // The spec's deny comes before the runtime's allow for linux.devices: runc's order, the
  // allow for the listed device wins. Check the cgroup is enforced with a device not listed.
  for (const char* set : {"bounding", "effective", "permitted"})
    b.config()["process"]["capabilities"][set].push_back("CAP_MKNOD");
  b.set_args({"/bin/sh", "-c", "mknod /dev/sda b 8 0 && probe open /dev/sda"});
  o = run(b, unique_id("devcg2"));
  EXPECT_NE(o.out.find("open=EPERM"), std::string::npos) << o.out << o.err;
}

TEST_F(Runtime, CreateStartStateKillDelete) {
  REQUIRE_ROOT();
  Bundle b;
  b.set_args({"/bin/probe", "sleep", "30"});
  b.write_config();
  std::string id = unique_id("life");
  std::string pidfile = b.dir() + "/pid";
  Output o = rt({"create", "--bundle", b.dir(), "--pid-file", pidfile, id});
  ASSERT_EQ(o.status, 0) << o.err;
  json st = json::parse(rt({"state", id}).out);
  EXPECT_EQ(st["status"], "created");
  EXPECT_EQ(st["id"], id);
  EXPECT_EQ(std::to_string(st["pid"].get<int>()), read_file(pidfile).value());
  EXPECT_EQ(st["bundle"], b.dir());
  ASSERT_EQ(rt({"start", id}).status, 0);
  EXPECT_EQ(json::parse(rt({"state", id}).out)["status"], "running");
  // The container shows in list.
  json list = json::parse(rt({"list", "--format", "json"}).out);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["id"], id);
  EXPECT_EQ(rt({"start", id}).status, 1);  // not "created" any more
  Output del = rt({"delete", id});
  EXPECT_EQ(del.status, 1);
  EXPECT_NE(del.err.find("is running"), std::string::npos) << del.err;
  ASSERT_EQ(rt({"kill", id, "KILL"}).status, 0);
  for (int i = 0; i < 200 && json::parse(rt({"state", id}).out)["status"] != "stopped"; ++i)
    usleep(10000);
  EXPECT_EQ(json::parse(rt({"state", id}).out)["status"], "stopped");
  ASSERT_EQ(rt({"delete", id}).status, 0);
  Output gone = rt({"state", id});
  EXPECT_EQ(gone.status, 1);
  EXPECT_NE(gone.err.find("does not exist"), std::string::npos);
}

TEST_F(Runtime, ExecJoinsTheContainer) {
  REQUIRE_ROOT();
  Bundle b;
  b.set_args({"/bin/probe", "sleep", "30"});
  std::string id = unique_id("exec");
  ASSERT_EQ(run(b, id, {"--detach"}).status, 0);
  Output o = rt({"exec", "--env", "FOO=bar", "--cwd", "/tmp", id, "/bin/probe"});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(value(o.out, "hostname"), "berth");
  EXPECT_EQ(value(o.out, "cwd"), "/tmp");
  EXPECT_NE(o.out.find("env=FOO=bar"), std::string::npos);
  EXPECT_NE(value(o.out, "pid"), "1");
  EXPECT_EQ(value(o.out, "CapEff"), "0000000020000420");
  EXPECT_EQ(rt({"exec", id, "/bin/probe", "exit", "3"}).status, 3);
  Output missing = rt({"exec", id, "/nope"});
  EXPECT_EQ(missing.status, 127) << missing.err;
  Output ps = rt({"ps", "--format", "json", id});
  EXPECT_EQ(json::parse(ps.out).size(), 1u) << ps.out;
  ASSERT_EQ(rt({"delete", "--force", id}).status, 0);
}

TEST_F(Runtime, PauseAndResume) {
  REQUIRE_ROOT();
  Bundle b;
  b.set_args({"/bin/probe", "sleep", "30"});
  std::string id = unique_id("pause");
  ASSERT_EQ(run(b, id, {"-d"}).status, 0);
  ASSERT_EQ(rt({"pause", id}).status, 0);
  EXPECT_EQ(json::parse(rt({"state", id}).out)["status"], "paused");
  EXPECT_EQ(rt({"pause", id}).status, 1);
  ASSERT_EQ(rt({"resume", id}).status, 0);
  EXPECT_EQ(json::parse(rt({"state", id}).out)["status"], "running");
  ASSERT_EQ(rt({"delete", "-f", id}).status, 0);
}

TEST_F(Runtime, UserNamespaceWithMappings) {
  REQUIRE_ROOT();
  Bundle b;
  b.config()["linux"]["namespaces"].push_back({{"type", "user"}});
  b.config()["linux"]["uidMappings"] =
      json::array({{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}});
  b.config()["linux"]["gidMappings"] =
      json::array({{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}});
  b.config()["process"]["user"] = {{"uid", 1000}, {"gid", 1000}};
  b.set_args({"/bin/sh", "-c", "probe; cat /proc/self/uid_map"});
  Output o = run(b, unique_id("userns"));
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(value(o.out, "uid"), "1000");
  EXPECT_NE(o.out.find("100000"), std::string::npos) << o.out;
}

TEST_F(Runtime, JoinsANetworkNamespaceByPath) {
  REQUIRE_ROOT();
  Bundle a;
  a.set_args({"/bin/probe", "sleep", "30"});
  std::string first = unique_id("netA");
  ASSERT_EQ(run(a, first, {"-d"}).status, 0);
  int pid = json::parse(rt({"state", first}).out)["pid"];
  Bundle b;
  for (auto& ns : b.config()["linux"]["namespaces"])
    if (ns["type"] == "network") ns["path"] = "/proc/" + std::to_string(pid) + "/ns/net";
  b.set_args({"/bin/cat", "/proc/self/net/dev"});
  Output o = run(b, unique_id("netB"));
  ASSERT_EQ(o.status, 0) << o.err;
  struct stat s1, s2;
  ASSERT_EQ(stat(("/proc/" + std::to_string(pid) + "/ns/net").c_str(), &s1), 0);
  ASSERT_EQ(stat("/proc/self/ns/net", &s2), 0);
  EXPECT_NE(s1.st_ino, s2.st_ino);
  // Only lo in a fresh network namespace.
  EXPECT_EQ(o.out.find("eth"), std::string::npos) << o.out;
  rt({"delete", "-f", first});
}

TEST_F(Runtime, SeccompAndRlimitsAndUser) {
  REQUIRE_ROOT();
  Bundle b;
  b.config()["linux"]["seccomp"] = {
      {"defaultAction", "SCMP_ACT_ALLOW"},
      {"architectures", {"SCMP_ARCH_X86_64"}},
      {"syscalls",
       json::array(
           {{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 1}}})}};
  b.config()["process"]["rlimits"] =
      json::array({{{"type", "RLIMIT_NOFILE"}, {"hard", 512}, {"soft", 256}}});
  b.config()["process"]["user"] = {
      {"uid", 65534}, {"gid", 65534}, {"additionalGids", {5, 6}}, {"umask", 63}};
  b.config()["process"]["oomScoreAdj"] = 500;
  b.set_args({"/bin/sh", "-c", "probe; probe mkdir /tmp/x"});
  Output o = run(b, unique_id("sec"));
  ASSERT_EQ(o.status, 1) << o.err;
  EXPECT_NE(o.out.find("mkdir=EPERM"), std::string::npos) << o.out;
  EXPECT_EQ(value(o.out, "rlimit.NOFILE"), "256/512");
  EXPECT_EQ(value(o.out, "uid"), "65534");
  EXPECT_EQ(value(o.out, "groups"), "5,6");
  EXPECT_EQ(value(o.out, "Umask"), "0077");
  EXPECT_EQ(value(o.out, "oom_score_adj"), "500");
  EXPECT_EQ(value(o.out, "Seccomp"), "2");
  EXPECT_EQ(value(o.out, "CapEff"), "0000000000000000");  // not root: effective caps cleared
}

TEST_F(Runtime, RlimitAboveTheHardLimitIsAClearError) {
  REQUIRE_ROOT();
  Bundle b;
  b.config()["process"]["rlimits"] =
      json::array({{{"type", "RLIMIT_NOFILE"}, {"hard", 1u << 30}, {"soft", 1u << 30}}});
  Output o = run(b, unique_id("rl"));
  // Raising a hard limit needs CAP_SYS_RESOURCE, which this machine does not give root.
  bool has_sys_resource =
      run_cmd({"sh", "-c", "grep CapEff /proc/self/status | grep -q 1ffffffffff"}).status == 0;
  if (has_sys_resource)
    GTEST_SKIP() << "this host has CAP_SYS_RESOURCE: raising the limit succeeds";
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.err.find("setrlimit RLIMIT_NOFILE"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("CAP_SYS_RESOURCE"), std::string::npos) << o.err;
}

TEST_F(Runtime, CgroupLimitsAreApplied) {
  REQUIRE_ROOT();
  Bundle b;
  b.config()["linux"]["resources"]["memory"] = {{"limit", 64 << 20}};
  b.config()["linux"]["resources"]["pids"] = {{"limit", 42}};
  std::string id = unique_id("cg");
  b.config()["linux"]["cgroupsPath"] = "/berth-test/" + id;
  b.set_args({"/bin/sh", "-c",
              "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max"});
  Output o = run(b, id);
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, std::to_string(64 << 20) + "\n42\n");
  for (const auto& h : list_dir("/sys/fs/cgroup").value_or({}))
    rmdir(("/sys/fs/cgroup/" + h + "/berth-test").c_str());
}

TEST_F(Runtime, UpdateChangesLimitsOfARunningContainer) {
  REQUIRE_ROOT();
  Bundle b;
  b.config()["linux"]["resources"]["pids"] = {{"limit", 42}};
  b.set_args({"/bin/probe", "sleep", "30"});
  std::string id = unique_id("upd");
  ASSERT_EQ(run(b, id, {"-d"}).status, 0);
  Output u = rt({"update", "--pids-limit", "17", "--memory", "100000000", id});
  ASSERT_EQ(u.status, 0) << u.err;
  Output o = rt({"exec", id, "/bin/cat", "/sys/fs/cgroup/pids/pids.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"});
  EXPECT_EQ(o.out, "17\n99999744\n") << o.err;  // the kernel rounds to pages
  u = rt({"update", "--resources", "-", id}, R"({"pids": {"limit": 9}})");
  ASSERT_EQ(u.status, 0) << u.err;
  EXPECT_EQ(rt({"exec", id, "/bin/cat", "/sys/fs/cgroup/pids/pids.max"}).out, "9\n");
  Output bad = rt({"update", "--resources", "-", id}, R"({"pids": {"limit": "x"}})");
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.err.find("pids.limit"), std::string::npos) << bad.err;
  rt({"delete", "-f", id});
}

TEST_F(Runtime, HooksRunInOrderWithState) {
  REQUIRE_ROOT();
  Bundle b;
  std::string log = b.dir() + "/hooks.log";
  auto hook = [&](const std::string& name) {
    return json{{"path", "/bin/sh"},
                {"args", {"sh", "-c", "read -r s; echo " + name + " \"$s\" >> " + log}}};
  };
  // createContainer and startContainer run in the container's mount namespace: they write to
  // the bundle dir, which the host shell can reach before pivot_root... startContainer runs
  // after it, so it writes into the container (the probe's /tmp) instead.
  b.config()["hooks"] = {
      {"prestart", {hook("prestart")}},
      {"createRuntime", {hook("createRuntime")}},
      {"createContainer", {hook("createContainer")}},
      {"startContainer",
       {{{"path", "/bin/sh"}, {"args", {"sh", "-c", "echo startContainer > /tmp/started"}}}}},
      {"poststart", {hook("poststart")}},
      {"poststop", {hook("poststop")}}};
  b.config()["root"]["readonly"] = false;
  b.set_args({"/bin/cat", "/tmp/started"});
  std::string id = unique_id("hooks");
  Output o = run(b, id);
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "startContainer\n");
  std::string text = read_file(log).value();
  auto lines = split(std::string(trim(text)), '\n');
  ASSERT_EQ(lines.size(), 5u) << text;
  const char* order[] = {"prestart", "createRuntime", "createContainer", "poststart", "poststop"};
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(lines[i].substr(0, lines[i].find(' ')), order[i]);
    json st = json::parse(lines[i].substr(lines[i].find(' ') + 1));
    EXPECT_EQ(st["id"], id);
    EXPECT_EQ(st["bundle"], b.dir());
  }
}

TEST_F(Runtime, FailingAndHangingHooksFailCreateAndLeaveNothing) {
  REQUIRE_ROOT();
  Bundle b;
  b.config()["hooks"] = {{"createRuntime", {{{"path", "/bin/false"}}}}};
  Output o = run(b, unique_id("hookfail"));
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.err.find("createRuntime hook /bin/false failed with exit status 1"),
            std::string::npos)
      << o.err;
  b.config()["hooks"] = {
      {"prestart", {{{"path", "/bin/sleep"}, {"args", {"sleep", "10"}}, {"timeout", 1}}}}};
  o = run(b, unique_id("hookhang"));
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.err.find("timed out after 1s"), std::string::npos) << o.err;
}

TEST_F(Runtime, BindMountsWithOptions) {
  REQUIRE_ROOT();
  Bundle b;
  std::string data = b.dir() + "/data";
  ASSERT_TRUE(mkdir_all(data).ok());
  ASSERT_TRUE(write_file_atomic(data + "/hello", "hi\n").ok());
  b.config()["mounts"].push_back(
      {{"destination", "/data"}, {"type", "bind"}, {"source", data}, {"options", {"rbind", "ro"}}});
  b.config()["mounts"].push_back({{"destination", "/scratch"},
                                  {"type", "tmpfs"},
                                  {"source", "tmpfs"},
                                  {"options", {"size=1m", "mode=700"}}});
  // tmpcopyup: a tmpfs over /etc that starts with the image's files.
  b.config()["mounts"].push_back({{"destination", "/etc"},
                                  {"type", "tmpfs"},
                                  {"source", "tmpfs"},
                                  {"options", {"tmpcopyup"}}});
  b.set_args(
      {"/bin/sh", "-c",
       "cat /data/hello; probe write /data/x y; stat -c %a /scratch; probe write /scratch/f y;"
       "head -1 /etc/passwd; probe write /etc/new y; grep -c tmpfs /proc/self/mountinfo"});
  Output o = run(b, unique_id("bind"));
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out.substr(0, o.out.rfind("write=ok\n") + 9),
            "hi\nwrite=EROFS\n700\nwrite=ok\nroot:x:0:0:root:/root:/bin/sh\nwrite=ok\n");
  EXPECT_FALSE(path_exists(b.rootfs() + "/etc/new"));  // written to the tmpfs, not the image
}

TEST_F(Runtime, TerminalThroughConsoleSocket) {
  REQUIRE_ROOT();
  // A tiny console-socket receiver: python3 receives the pty master and reads from it.
  if (run_cmd({"python3", "-c", "1"}).status != 0)
    GTEST_SKIP() << "needs python3 for the console socket peer";
  Bundle b;
  b.config()["process"]["terminal"] = true;
  b.set_args({"/bin/sh", "-c", "probe | grep isatty; echo done"});
  b.write_config();
  std::string sock = b.dir() + "/console.sock";
  std::string out = b.dir() + "/console.out";
  std::string py =
      "import socket,array,os,sys\n"
      "s=socket.socket(socket.AF_UNIX,socket.SOCK_STREAM); s.bind(sys.argv[1]); s.listen(1)\n"
      "c,_=s.accept(); fds=array.array('i')\n"
      "msg,anc,_,_=c.recvmsg(64, socket.CMSG_LEN(4))\n"
      "fds.frombytes(anc[0][2]); fd=fds[0]; data=b''\n"
      "while b'done' not in data:\n"
      "  try: d=os.read(fd,4096)\n"
      "  except OSError: break\n"
      "  if not d: break\n"
      "  data+=d\n"
      "open(sys.argv[2],'wb').write(data)\n";
  pid_t peer = spawn_cmd({"python3", "-c", py, sock, out}, b.dir() + "/peer.log");
  for (int i = 0; i < 200 && !path_exists(sock); ++i) usleep(10000);
  std::string id = unique_id("tty");
  Output o = rt({"run", "--detach", "--bundle", b.dir(), "--console-socket", sock, id});
  ASSERT_EQ(o.status, 0) << o.err;
  int ws;
  waitpid(peer, &ws, 0);
  std::string text = read_file(out).value_or("");
  EXPECT_NE(text.find("isatty=1"), std::string::npos) << text;
}

// Bad input: each gets a one-line error naming the problem, and leaves nothing behind
// (TearDown checks the state dir and cgroups).
TEST_F(Runtime, BadInputTable) {
  REQUIRE_ROOT();
  struct Case {
    const char* name;
    std::function<void(Bundle&)> mutate;
    const char* want;  // substring of stderr
    int status;
  };
  std::vector<Case> cases = {
      {"noconfig", [](Bundle& b) { unlink((b.dir() + "/config.json").c_str()); },
       "config.json: No such file", 1},
      {"badjson",
       [](Bundle& b) {
         (void)write_file_atomic(b.dir() + "/config.json", "{\"ociVersion\": 1.0.2,");
       },
       "not valid JSON", 1},
      {"wrongtype",
       [](Bundle& b) {
         (void)write_file_atomic(b.dir() + "/config.json",
                                 "{\"ociVersion\":\"1.1.0\",\"root\":{\"path\":\"rootfs\"},"
                                 "\"process\":{\"cwd\":\"/\",\"args\":[\"x\", 5]}}");
       },
       "process.args[1]", 1},
      {"norootfs", [](Bundle& b) { b.config()["root"]["path"] = "/nonexistent-rootfs"; },
       "rootfs /nonexistent-rootfs: No such file", 1},
      {"nomountsrc",
       [](Bundle& b) {
         b.config()["mounts"].push_back({{"destination", "/d"},
                                         {"type", "bind"},
                                         {"source", "/nonexistent-src"},
                                         {"options", {"bind"}}});
       },
       "mount source for /d /nonexistent-src", 1},
      {"badns",
       [](Bundle& b) {
         b.config()["linux"]["namespaces"].push_back({{"type", "foo"}});
       },
       "unknown namespace type", 1},
      {"nsnotns",
       [](Bundle& b) {
         for (auto& n : b.config()["linux"]["namespaces"])
           if (n["type"] == "network") n["path"] = "/etc/hostname";
       },
       "is not a namespace", 1},
      {"nocwd", [](Bundle& b) { b.config()["process"]["cwd"] = "/does/not/exist"; },
       "chdir to process.cwd /does/not/exist", 1},
      {"emptyargs", [](Bundle& b) { b.config()["process"]["args"] = json::array(); },
       "process.args", 1},
      {"notfound", [](Bundle& b) { b.set_args({"no-such-program"}); }, "no-such-program", 127},
      {"notexec", [](Bundle& b) { b.set_args({"/not-executable"}); }, "Permission denied", 126},
  };
  for (auto& c : cases) {
    Bundle b;
    b.write_config();
    c.mutate(b);
    if (c.name != std::string("noconfig") && c.name != std::string("badjson") &&
        c.name != std::string("wrongtype"))
      b.write_config();
    std::string id = unique_id(c.name);
    Output o = rt({"run", "--bundle", b.dir(), id});
    EXPECT_EQ(o.status, c.status) << c.name << ": " << o.err;
    EXPECT_NE(o.err.find(c.want), std::string::npos) << c.name << ": " << o.err;
    EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1)
        << c.name << ": not one line: " << o.err;
  }
}

TEST_F(Runtime, BadIdsAndDuplicates) {
  REQUIRE_ROOT();
  Bundle b;
  b.set_args({"/bin/probe", "sleep", "30"});
  b.write_config();
  Output bad = rt({"create", "--bundle", b.dir(), "../escape"});
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.err.find("invalid container id"), std::string::npos) << bad.err;
  std::string id = unique_id("dup");
  ASSERT_EQ(rt({"create", "--bundle", b.dir(), id}).status, 0);
  Output dup = rt({"create", "--bundle", b.dir(), id});
  EXPECT_EQ(dup.status, 1);
  EXPECT_NE(dup.err.find("container already exists: " + id), std::string::npos) << dup.err;
  EXPECT_EQ(json::parse(rt({"state", id}).out)["status"], "created");  // the first is untouched
  // delete of a created container needs no --force (runc).
  EXPECT_EQ(rt({"delete", id}).status, 0);
}

TEST_F(Runtime, ForegroundRunDiesWithTheRuntime) {
  REQUIRE_ROOT();
  // What Slurm needs: when the runtime is killed (scancel), the container goes with it.
  Bundle b;
  b.set_args({"/bin/probe", "sleep", "60"});
  b.write_config();
  std::string id = unique_id("orphan");
  pid_t rtpid = spawn_cmd({runtime_binary(), "--root", root_, "run", "--bundle", b.dir(), id},
                          b.dir() + "/log");
  int cpid = 0;
  for (int i = 0; i < 300 && cpid == 0; ++i) {
    usleep(10000);
    Output s = rt({"state", id});
    if (s.status == 0) cpid = json::parse(s.out)["pid"];
  }
  ASSERT_GT(cpid, 0);
  kill(rtpid, SIGKILL);
  int ws;
  waitpid(rtpid, &ws, 0);
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    usleep(10000);
    gone = kill(cpid, 0) != 0;
  }
  EXPECT_TRUE(gone) << "container init " << cpid << " survived its runtime";
}

TEST_F(Runtime, SignalsAreForwardedInForeground) {
  REQUIRE_ROOT();
  Bundle b;
  b.set_args({"/bin/probe", "signals"});
  b.write_config();
  std::string id = unique_id("sig");
  std::string log = b.dir() + "/log";
  pid_t rtpid = spawn_cmd({runtime_binary(), "--root", root_, "run", "--bundle", b.dir(), id}, log);
  for (int i = 0; i < 300 && read_file(log).value_or("").find("ready") == std::string::npos; ++i)
    usleep(10000);
  kill(rtpid, SIGUSR1);
  for (int i = 0; i < 300 && read_file(log).value_or("").find("got=10") == std::string::npos; ++i)
    usleep(10000);
  kill(rtpid, SIGTERM);
  int ws;
  waitpid(rtpid, &ws, 0);
  EXPECT_EQ(WEXITSTATUS(ws), 143);
  std::string text = read_file(log).value_or("");
  EXPECT_NE(text.find("got=10"), std::string::npos) << text;
  EXPECT_NE(text.find("got=15"), std::string::npos) << text;
}

TEST_F(Runtime, AnyUserRunsARootBundle) {
  REQUIRE_ROOT();  // to become an ordinary user with setpriv
  Bundle b;
  b.set_args({"/bin/sh", "-c", "probe; cat /proc/self/uid_map"});
  b.config()["root"]["readonly"] = false;
  b.write_config();
  std::string state = b.dir() + "/state";
  ASSERT_EQ(run_cmd({"chown", "-R", "65534:65534", b.dir()}).status, 0);
  Output o = run_cmd({"setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
                      runtime_binary(), "--root", state, "run", "--bundle", b.dir(),
                      unique_id("rootless")});
  ids_.pop_back();  // not in root_: nothing for TearDown to delete
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(value(o.out, "uid"), "0");  // the caller's id is mapped to root inside
  EXPECT_NE(o.out.find("0      65534          1"), std::string::npos) << o.out;
  EXPECT_EQ(value(o.out, "hostname"), "berth");
  auto left = list_dir(state);
  EXPECT_TRUE(left.ok() && left->empty()) << "state left behind in " << state;
}

TEST_F(Runtime, SpecAndFeatures) {
  Bundle b;  // made with `spec`
  EXPECT_EQ(b.config()["ociVersion"], "1.1.0");
  Output again = run_cmd({runtime_binary(), "spec", "--bundle", b.dir()});
  EXPECT_NE(again.status, 0);
  EXPECT_NE(again.err.find("File exists"), std::string::npos);
  json f = json::parse(run_cmd({runtime_binary(), "features"}).out);
  EXPECT_EQ(f["ociVersionMax"], "1.1.0");
  EXPECT_EQ(f["linux"]["cgroup"]["v2"], true);
  Output sd = run_cmd({runtime_binary(), "--systemd-cgroup", "list"});
  EXPECT_EQ(sd.status, 1);
  EXPECT_NE(sd.err.find("--systemd-cgroup is not supported"), std::string::npos);
}

}  // namespace
}  // namespace berth::test
