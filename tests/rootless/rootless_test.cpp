// rootless_test.cpp - berth run by ordinary users (docs/rootless.md), end to end: the real
// binary under setpriv as users the fixture creates, one with subordinate id ranges in
// /etc/subuid and /etc/subgid and one without, and under `unshare -r`. A real registry,
// real user namespaces, overlayfs with userxattr, and pasta for the default network.
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <gtest/gtest.h>
#include <sstream>

#include "base/file.h"
#include "images_fixture.h"
#include "test_util.h"

namespace berth::imgtest {
namespace {

using ctest::eventually;
using ctest::lines_of;
using ctest::trim_end;

constexpr const char* kSubUser = "berth-rl-sub";  // with subordinate ids
constexpr const char* kOneUser = "berth-rl-one";  // without
constexpr uint32_t kSubStart = 2100000;
constexpr uint32_t kSubCount = 65536;

Output sh(const std::string& cmd) {
  return regtest::run({"sh", "-c", cmd});
}

// Removes the fixture's lines from /etc/subuid and /etc/subgid.
void drop_subid_lines() {
  for (const char* f : {"/etc/subuid", "/etc/subgid"})
    sh(std::string("test -f ") + f + " && sed -i '/^berth-rl-/d' " + f);
}

struct TestUser {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

TestUser make_user(const char* name) {
  sh(std::string("userdel ") + name + " 2>/dev/null");
  Output o = sh(std::string("useradd --system --no-create-home --shell /bin/sh ") + name);
  EXPECT_EQ(o.status, 0) << o.err;
  struct passwd* pw = ::getpwnam(name);
  EXPECT_NE(pw, nullptr) << name;
  return pw ? TestUser{name, pw->pw_uid, pw->pw_gid} : TestUser{name};
}

// Kills whatever the user still runs (a test that failed half-way) and says how many.
int kill_leftovers(const TestUser& u) {
  Output o = sh("pgrep -u " + std::to_string(u.uid) + " | wc -l");
  int n = std::atoi(o.out.c_str());
  if (n > 0) sh("pkill -KILL -u " + std::to_string(u.uid));
  return n;
}

// The build's binaries copied where every user may run them (the build tree may be under a
// folder other users cannot enter, as a CI checkout under a 0700 home); berth finds
// berth-monitor, berth-init and berth-runtime beside itself.
std::string& user_bin_dir() {
  static std::string dir;
  return dir;
}
std::string user_berth() {
  return user_bin_dir() + "/berth";
}

// One user's berth: a private store, run root and config in a folder the user owns.
class UserBerth {
 public:
  explicit UserBerth(const TestUser& u) : user_(u), dir_("/tmp/berth-rltest-") {
    EXPECT_EQ(::chown(dir_.path().c_str(), u.uid, u.gid), 0);
    EXPECT_EQ(::chmod(dir_.path().c_str(), 0755), 0);
  }
  ~UserBerth() {
    // Everything the user's berth made goes: containers, the pause process, pasta.
    for (const auto& id : lines_of(berth({"ps", "-aq", "--no-trunc"}).out)) berth({"rm", "-f", id});
    berth({"system", "reset", "-f"});
    EXPECT_TRUE(eventually([&] { return sh("pgrep -u " + std::to_string(user_.uid)).status != 0; }))
        << "processes left: " << sh("ps -o pid,comm,args -u " + std::to_string(user_.uid)).out;
    kill_leftovers(user_);
  }
  std::string path(const std::string& name) const { return dir_ / name; }
  std::string root() const { return dir_ / "root"; }
  std::string runroot() const { return dir_ / "run"; }
  // The command line that runs argv as the user, with a clean environment.
  std::vector<std::string> as_user(const std::vector<std::string>& argv,
                                   const std::string& path_env = "/usr/sbin:/usr/bin:/sbin:/bin") const {
    std::vector<std::string> a = {"setpriv", "--reuid", std::to_string(user_.uid), "--regid",
                                  std::to_string(user_.gid), "--clear-groups", "env", "-i",
                                  "HOME=" + (dir_ / "home"), "PATH=" + path_env};
    a.insert(a.end(), env_.begin(), env_.end());
    a.insert(a.end(), argv.begin(), argv.end());
    return a;
  }
  std::vector<std::string> berth_argv(const std::vector<std::string>& args) const {
    std::vector<std::string> a = {user_berth(), "--root", root(), "--runroot", runroot(),
                                  "--config", dir_ / "config"};
    a.insert(a.end(), args.begin(), args.end());
    return a;
  }
  Output berth(const std::vector<std::string>& args, const std::string& input = "") const {
    return regtest::run(as_user(berth_argv(args)), input, 120);
  }
  Output berth_with_path(const std::string& path_env, const std::vector<std::string>& args) const {
    return regtest::run(as_user(berth_argv(args), path_env), "", 120);
  }

  // VAR=value given to every later command.
  void add_env(const std::string& kv) { env_.push_back(kv); }

 private:
  TestUser user_;
  Scratch dir_;
  std::vector<std::string> env_;
};

class Rootless : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    for (const char* t : {"setpriv", "newuidmap", "pasta", "useradd", "unshare"})
      if (!regtest::have(t)) missing_ = std::string(t) + " not installed (scripts/install-deps.sh)";
    if (!missing_.empty()) return;
    drop_subid_lines();
    sub_ = make_user(kSubUser);
    one_ = make_user(kOneUser);
    std::string range = std::to_string(kSubStart) + ":" + std::to_string(kSubCount);
    sh(std::string("echo ") + kSubUser + ":" + range + " >> /etc/subuid");
    sh(std::string("echo ") + kSubUser + ":" + range + " >> /etc/subgid");
    // pasta opens /dev/net/tun as the user: this machine has it 0600 (Debian's default is
    // 0666). Restored afterwards.
    struct stat st;
    if (::stat("/dev/net/tun", &st) == 0) {
      tun_mode_ = st.st_mode & 07777;
      ::chmod("/dev/net/tun", 0666);
    }
    reg_ = std::make_unique<Registry>(regtest::Variant::plain);
    images_ = std::make_unique<Scratch>("/tmp/berth-rlimg-");
    ::chmod(images_->path().c_str(), 0755);
    std::string bin = dirname_of(berth_binary());
    user_bin_dir() = images_->path() + "/bin";
    Output cp = sh("mkdir -p " + user_bin_dir() + " && cp " + bin + "/berth " + bin +
                   "/berth-monitor " + bin + "/berth-init " + bin + "/berth-runtime " +
                   user_bin_dir() + "/ && chmod 0755 " + user_bin_dir());
    if (cp.status != 0) missing_ = "cannot copy the binaries: " + cp.err;
    FixtureImage img = make_busybox_image(images_->path() + "/bb");
    if (reg_->failure().empty())
      push_error_ = skopeo_copy(*reg_, "oci:" + img.oci_dir + ":latest", "rl/bb:latest");
    // A second image for the network tests: busybox with httpd, wget, ip and awk, and a
    // user 1000 with a home.
    std::string rootfs = images_->path() + "/net-rootfs";
    sh("mkdir -p " + rootfs + "/bin " + rootfs + "/etc " + rootfs + "/tmp " + rootfs +
       "/home/user && cp /bin/busybox " + rootfs + "/bin/ && for a in sh ls id cat echo true "
       "sleep stat httpd wget ip awk touch mkdir; do ln -s busybox " + rootfs + "/bin/$a; done && "
       "printf 'root:x:0:0:root:/root:/bin/sh\\nuser:x:1000:1000::/home/user:/bin/sh\\n' > " +
       rootfs + "/etc/passwd && printf 'root:x:0:\\nuser:x:1000:\\n' > " + rootfs +
       "/etc/group && chown 1000:1000 " + rootfs + "/home/user && chmod 1777 " + rootfs +
       "/tmp && tar -C " + rootfs + " -cf " + images_->path() + "/net.tar . && chmod 0755 " +
       images_->path() + " && chmod 0644 " + images_->path() + "/net.tar");
  }
  static void TearDownTestSuite() {
    reg_.reset();
    images_.reset();
    if (tun_mode_ != 0) ::chmod("/dev/net/tun", tun_mode_);
    for (const TestUser* u : {&sub_, &one_}) {
      if (u->uid == 0) continue;
      EXPECT_EQ(kill_leftovers(*u), 0) << u->name << " still ran processes";
      sh("userdel " + u->name);
    }
    drop_subid_lines();
  }
  void SetUp() override {
    if (!missing_.empty()) GTEST_SKIP() << missing_;
    ASSERT_NE(sub_.uid, 0u);
    ASSERT_EQ(reg_->failure(), "");
    ASSERT_EQ(push_error_, "");
  }
  static std::string image() { return reg_->host() + "/rl/bb:latest"; }
  static std::string net_tar() { return images_->path() + "/net.tar"; }

  inline static TestUser sub_, one_;
  inline static std::unique_ptr<Registry> reg_;
  inline static std::unique_ptr<Scratch> images_;
  inline static std::string push_error_, missing_;
  inline static mode_t tun_mode_ = 0;
};

#define EXPECT_OK(o) EXPECT_EQ((o).status, 0) << (o).out << (o).err

TEST_F(Rootless, PullRunExecLogsCommitWithSubordinateIds) {
  UserBerth b(sub_);
  Output o = b.berth({"pull", image()});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.err.find("no subordinate ids"), std::string::npos) << o.err;
  // The store belongs to the user and its files to the user's ids: image root is the user,
  // image uid 1000 is the range's 1000th id.
  struct stat st;
  ASSERT_EQ(::stat(b.root().c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, sub_.uid);
  Output owners = sh("find " + b.root() + "/layers -path '*/data/file' -printf '%U:%G\\n'");
  EXPECT_EQ(trim_end(owners.out), std::to_string(kSubStart + 999) + ":" + std::to_string(kSubStart + 999));
  // info tells the mode and the mapping.
  o = b.berth({"info"});
  EXPECT_NE(o.out.find("Mode: rootless"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("ID Mapping: uid 0 " + std::to_string(sub_.uid) + " 1, 1 " +
                       std::to_string(kSubStart) + " " + std::to_string(kSubCount)),
            std::string::npos)
      << o.out;
  // Inside: root, owners as in the image, whiteouts and the opaque folder applied.
  o = b.berth({"run", "--rm", "--network", "none", image(), "sh", "-c",
               "id -u; stat -c '%u:%g %a' /data/file /usr/bin/su-like; ls /opt/old; "
               "test -e /etc/removed && echo removed-is-there; cat /data/link"});
  EXPECT_OK(o);
  EXPECT_EQ(o.out, "0\n1000:1000 644\n0:0 4755\nc\nshared content\n");
  // -u with an id of the range works (it is mapped).
  o = b.berth({"run", "--rm", "--network", "none", "-u", "65534", image(), "id", "-u"});
  EXPECT_OK(o);
  EXPECT_EQ(o.out, "65534\n");
  // Detached, exec, logs, commit, and the committed image runs.
  o = b.berth({"run", "-d", "--name", "box", "--network", "none", image(), "sh", "-c",
               "echo started; echo changed > /marker; rm /opt/old/c; exec sleep 60"});
  ASSERT_EQ(o.status, 0) << o.err;
  ASSERT_TRUE(eventually([&] { return b.berth({"logs", "box"}).out == "started\n"; }));
  o = b.berth({"exec", "box", "cat", "/marker"});
  EXPECT_OK(o);
  EXPECT_EQ(o.out, "changed\n");
  std::string committed = reg_->host() + "/rl/committed:1";
  o = b.berth({"commit", "-m", "rootless commit", "box", committed});
  EXPECT_OK(o);
  o = b.berth({"run", "--rm", "--network", "none", committed, "sh", "-c", "cat /marker; ls /opt/old"});
  EXPECT_OK(o);
  EXPECT_EQ(o.out, "changed\n");  // the deletion became a whiteout in the new layer
  // push, rmi, pull back; save and load; a named volume.
  EXPECT_OK(b.berth({"push", committed}));
  EXPECT_OK(b.berth({"save", "-o", b.path("saved.tar"), committed}));
  EXPECT_OK(b.berth({"rmi", committed}));
  EXPECT_OK(b.berth({"pull", committed}));
  EXPECT_OK(b.berth({"rmi", committed}));
  EXPECT_OK(b.berth({"load", "-i", b.path("saved.tar")}));
  o = b.berth({"run", "--rm", "--network", "none", "-v", "vol1:/vol", committed, "sh", "-c",
               "cat /marker > /vol/copy; stat -c %u /vol/copy"});
  EXPECT_OK(o);
  EXPECT_EQ(o.out, "0\n");
  o = b.berth({"run", "--rm", "--network", "none", "-v", "vol1:/vol", image(), "cat", "/vol/copy"});
  EXPECT_EQ(o.out, "changed\n") << o.err;
  o = b.berth({"ps", "--format", "{{.Names}} {{.Status}}"});
  EXPECT_EQ(o.out.substr(0, 6), "box Up") << o.out;
  EXPECT_OK(b.berth({"stop", "-t", "1", "box"}));
  EXPECT_OK(b.berth({"rm", "box"}));
  // A detached container that exits by itself (its monitor's exit hook releases it, from
  // inside berth's namespace): its rootfs, netns and pasta are gone before any rm.
  o = b.berth({"run", "-d", "--name", "quick", image(), "true"});
  ASSERT_EQ(o.status, 0) << o.err;
  ASSERT_TRUE(eventually([&] {
    return b.berth({"ps", "-a", "--format", "{{.Status}}"}).out.rfind("Exited (0)", 0) == 0;
  }));
  pid_t pause = 0;
  {
    std::ifstream f(b.runroot() + "/pause.pid");
    f >> pause;
  }
  ASSERT_GT(pause, 0);
  auto mounted = [&] {
    std::ifstream mi("/proc/" + std::to_string(pause) + "/mountinfo");
    std::string line, out;
    while (std::getline(mi, line))
      if (line.find(b.runroot() + "/containers/") != std::string::npos ||
          line.find(b.runroot() + "/netns/") != std::string::npos)
        out += line + "\n";
    return out;
  };
  EXPECT_TRUE(eventually([&] { return mounted().empty(); })) << mounted();
  EXPECT_TRUE(eventually([&] { return sh("pgrep -u " + std::to_string(sub_.uid) + " pasta").status != 0; }));
  EXPECT_OK(b.berth({"rm", "quick"}));
  EXPECT_EQ(mounted(), "");
}

std::string shell_quote(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    std::string q = "'";
    for (char c : a) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    out += (out.empty() ? "" : " ") + q + "'";
  }
  return out;
}

TEST_F(Rootless, InteractiveTerminal) {
  // -it under a real pty (script(1)): a terminal inside, root, the exit status through.
  UserBerth b(sub_);
  ASSERT_EQ(b.berth({"pull", image()}).status, 0);
  std::string cmd = shell_quote(b.as_user(b.berth_argv(
      {"run", "--rm", "-it", "--network", "none", image(), "sh", "-c",
       "test -t 0 && test -t 1 && echo tty-ok; id -u; exit 3"})));
  Output o = regtest::run({"script", "-qec", cmd, "/dev/null"}, "", 60);
  EXPECT_EQ(o.status, 3) << o.out << o.err;
  EXPECT_NE(o.out.find("tty-ok"), std::string::npos) << o.out;
  EXPECT_TRUE(o.out.find("\n0\r") != std::string::npos || o.out.find("\n0\n") != std::string::npos)
      << o.out;
  ASSERT_EQ(b.berth({"run", "-d", "--name", "t", "--network", "none", image(), "sleep", "60"}).status, 0);
  cmd = shell_quote(b.as_user(b.berth_argv({"exec", "-it", "t", "sh", "-c", "test -t 0 && echo exec-tty-ok"})));
  o = regtest::run({"script", "-qec", cmd, "/dev/null"}, "", 60);
  EXPECT_EQ(o.status, 0) << o.out << o.err;
  EXPECT_NE(o.out.find("exec-tty-ok"), std::string::npos) << o.out;
}

TEST_F(Rootless, SingleIdWithoutSubordinateIds) {
  UserBerth b(one_);
  Output o = b.berth({"pull", image()});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_NE(o.err.find("warning: no subordinate ids for berth-rl-one in /etc/subuid and "
                       "/etc/subgid: running with your own id only"),
            std::string::npos)
      << o.err;
  // Said once, when berth's namespace is made.
  o = b.berth({"images"});
  EXPECT_EQ(o.err, "");
  o = b.berth({"info"});
  EXPECT_NE(o.out.find("ID Mapping: uid 0 " + std::to_string(one_.uid) + " 1; gid 0 " +
                       std::to_string(one_.gid) + " 1"),
            std::string::npos)
      << o.out;
  // Owners other than root are squashed to the user (root inside).
  o = b.berth({"run", "--rm", "--network", "none", image(), "sh", "-c",
               "id -u; stat -c '%u:%g' /data/file; cat /data/file"});
  EXPECT_OK(o);
  EXPECT_EQ(o.out, "0\n0:0\nshared content\n");
  // No other id exists inside: a clear error.
  o = b.berth({"run", "--rm", "--network", "none", "-u", "1000", image(), "id"});
  EXPECT_NE(o.status, 0);
  EXPECT_NE(o.err.find("1000 (is it mapped in the user namespace?)"), std::string::npos)
      << o.err;
}

TEST_F(Rootless, UnderUnshareR) {
  // Root in a user namespace of one id: berth sees it is not real root, keeps only a mount
  // namespace of its own, and runs containers.
  UserBerth b(sub_);
  std::vector<std::string> argv = {"unshare", "-r"};
  for (auto& a : b.berth_argv({"pull", image()})) argv.push_back(a);
  Output o = regtest::run(b.as_user(argv), "", 120);
  ASSERT_EQ(o.status, 0) << o.err;
  argv = {"unshare", "-r"};
  for (auto& a : b.berth_argv({"run", "--rm", "--network", "none", image(), "sh", "-c",
                               "id -u; stat -c %u /data/file; cat /marker"}))
    argv.push_back(a);
  o = regtest::run(b.as_user(argv), "", 120);
  EXPECT_OK(o);
  EXPECT_EQ(o.out, "0\n0\none\n");
  argv = {"unshare", "-r"};
  for (auto& a : b.berth_argv({"info"})) argv.push_back(a);
  o = regtest::run(b.as_user(argv), "", 60);
  EXPECT_NE(o.out.find("Mode: rootless"), std::string::npos) << o.out;
}

TEST_F(Rootless, DefaultNetworkThroughPastaAndPublishedPorts) {
  UserBerth b(sub_);
  Output o = b.berth({"import", net_tar(), "rl/net:1"});
  ASSERT_EQ(o.status, 0) << o.err;
  // Outgoing: a server on the host's loopback, reached through pasta's gateway address.
  std::string www = b.path("www");
  sh("mkdir -p " + www + " && echo served-by-the-host > " + www + "/hello.txt && chmod -R a+rX " + www);
  int host_port = regtest::free_port();
  regtest::Child server({"python3", "-m", "http.server", "--bind", "127.0.0.1", "--directory",
                         www, std::to_string(host_port)},
                        b.path("server.log"));
  ASSERT_TRUE(regtest::wait_for_port(host_port, 10000));
  o = b.berth({"run", "--rm", "rl/net:1", "sh", "-c",
               "gw=$(ip route | awk '/default/ {print $3}'); wget -qO- http://$gw:" +
                   std::to_string(host_port) + "/hello.txt"});
  EXPECT_OK(o);
  EXPECT_EQ(o.out, "served-by-the-host\n");
  // Incoming: -p to a server in the container, fetched from the host.
  int port = regtest::free_port();
  o = b.berth({"run", "-d", "--name", "web", "-p", std::to_string(port) + ":8080", "-v",
               www + ":/www:ro", "rl/net:1", "httpd", "-f", "-p", "8080", "-h", "/www"});
  ASSERT_EQ(o.status, 0) << o.err;
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/hello.txt";
  EXPECT_TRUE(eventually([&] { return sh("curl -sf " + url).out == "served-by-the-host\n"; }))
      << b.berth({"logs", "web"}).err;
  o = b.berth({"port", "web"});
  EXPECT_EQ(o.out, "8080/tcp -> 0.0.0.0:" + std::to_string(port) + "\n");
  // The same host port twice: refused.
  o = b.berth({"run", "--rm", "-p", std::to_string(port) + ":80", "rl/net:1", "true"});
  EXPECT_EQ(o.status, 125);
  EXPECT_NE(o.err.find("port is already allocated"), std::string::npos) << o.err;
  EXPECT_OK(b.berth({"rm", "-f", "web"}));
  // pasta went with the container: the port is free again.
  EXPECT_TRUE(eventually([&] { return sh("curl -s -o /dev/null " + url).status != 0; }));
  EXPECT_TRUE(eventually([&] { return sh("pgrep -u " + std::to_string(sub_.uid) + " pasta").status != 0; }));
  // A privileged port: one clear error, nothing left.
  o = b.berth({"run", "--rm", "-p", "80:8080", "rl/net:1", "true"});
  EXPECT_EQ(o.status, 125);
  EXPECT_NE(o.err.find("cannot publish port 80 without root: ports below 1024 are privileged"),
            std::string::npos)
      << o.err;
  EXPECT_EQ(lines_of(o.err).size(), 1u) << o.err;
  EXPECT_EQ(b.berth({"ps", "-aq"}).out, "");
  // --network host and none work too.
  o = b.berth({"run", "--rm", "--network", "host", "rl/net:1", "sh", "-c",
               "wget -qO- http://127.0.0.1:" + std::to_string(host_port) + "/hello.txt"});
  EXPECT_OK(o);
  EXPECT_EQ(o.out, "served-by-the-host\n");
}

TEST_F(Rootless, KeepIdAndVolumeOwnership) {
  UserBerth b(sub_);
  ASSERT_EQ(b.berth({"import", net_tar(), "rl/net:1"}).status, 0);
  std::string data = b.path("data");
  ASSERT_EQ(::mkdir(data.c_str(), 0755), 0);
  ASSERT_EQ(::chown(data.c_str(), sub_.uid, sub_.gid), 0);
  // Root inside writes as the user outside.
  Output o = b.berth({"run", "--rm", "--network", "none", "-v", data + ":/data", "rl/net:1", "sh",
                      "-c", "touch /data/by-root; stat -c %u /data/by-root"});
  EXPECT_OK(o);
  EXPECT_EQ(o.out, "0\n");
  struct stat st;
  ASSERT_EQ(::stat((data + "/by-root").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, sub_.uid);
  // keep-id: the user's own uid and gid inside, the same files seen as theirs.
  o = b.berth({"run", "--rm", "--network", "none", "--userns", "keep-id", "-v", data + ":/data",
               "rl/net:1", "sh", "-c",
               "id -u; id -g; stat -c %u /data/by-root; touch /data/by-me; stat -c %u:%g /data/by-me; "
               "stat -c %u /home/user"});
  EXPECT_OK(o);
  EXPECT_EQ(o.out, std::to_string(sub_.uid) + "\n" + std::to_string(sub_.gid) + "\n" +
                       std::to_string(sub_.uid) + "\n" + std::to_string(sub_.uid) + ":" +
                       std::to_string(sub_.gid) + "\n1000\n");
  ASSERT_EQ(::stat((data + "/by-me").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, sub_.uid);
  EXPECT_EQ(st.st_gid, sub_.gid);
  // exec in a keep-id container is the user too; -u still picks another id.
  o = b.berth({"run", "-d", "--name", "k", "--network", "none", "--userns=keep-id", "rl/net:1",
               "sleep", "60"});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(b.berth({"exec", "k", "id", "-u"}).out, std::to_string(sub_.uid) + "\n");
  o = b.berth({"run", "--rm", "--network", "none", "--userns=keep-id", "-u", "1000", "rl/net:1",
               "id", "-u"});
  EXPECT_EQ(o.out, "1000\n") << o.err;
  // A bad mode: one clear error.
  o = b.berth({"run", "--rm", "--userns", "bogus", "rl/net:1", "true"});
  EXPECT_EQ(o.status, 125);
  EXPECT_NE(o.err.find("--userns: invalid user namespace mode: bogus"), std::string::npos) << o.err;
}

TEST_F(Rootless, FakeGpuDevicesAreBindMounted) {
  // The fake NVIDIA driver (tests/fixtures): its nodes are made by root here; the user's
  // container gets them bind-mounted (no mknod in a user namespace, no device cgroup).
  std::string fake = images_->path() + "/nvidia";
  std::string cmd = std::string("bash ") + BERTH_FAKE_NVIDIA + " " + fake + " && chmod -R a+rX " + fake;
  ASSERT_EQ(sh(cmd).status, 0) << cmd;
  UserBerth b(sub_);
  for (const std::string& kv :
       {"BERTH_NVIDIA_DRIVER_ROOT=" + fake + "/driver", "BERTH_NVIDIA_DEV_ROOT=" + fake,
        "BERTH_NVIDIA_PROC_ROOT=" + fake + "/proc", "BERTH_NVIDIA_SYS_ROOT=" + fake + "/sys",
        "BERTH_NVIDIA_RUN_ROOT=" + fake})
    b.add_env(kv);
  ASSERT_EQ(b.berth({"import", net_tar(), "rl/net:1"}).status, 0);
  Output o = b.berth({"run", "--rm", "--network", "none", "--gpus", "device=1", "rl/net:1", "sh",
                      "-c",
                      "ls /dev | grep nvidia | sort | tr '\\n' ' '; echo; stat -c '%t:%T' /dev/nvidia1; "
                      "nvidia-smi -L; cat /dev/nvidia1 2>&1; ls /usr/lib/x86_64-linux-gnu/libcuda.so.1"});
  EXPECT_OK(o);
  EXPECT_EQ(o.out,
            "nvidia-uvm nvidia-uvm-tools nvidia1 nvidiactl \n"
            "c3:1\n"
            "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-2c1b0a9f-8e7d-4c6b-a5f4-e3d2c1b0a9f8)\n"
            "cat: can't open '/dev/nvidia1': No such device or address\n"
            "/usr/lib/x86_64-linux-gnu/libcuda.so.1\n");
}

TEST_F(Rootless, BuildWithRunAndCopy) {
  UserBerth b(sub_);
  ASSERT_EQ(b.berth({"pull", image()}).status, 0);
  std::string ctx = b.path("ctx");
  sh("mkdir -p " + ctx + " && echo from-context > " + ctx + "/f.txt && printf 'FROM " + image() +
     "\\nCOPY f.txt /f.txt\\nRUN echo built > /built && chown 1000 /built\\n' > " + ctx +
     "/Dockerfile && chmod -R a+rX " + ctx);
  Output o = b.berth({"build", "-t", "rl/built:1", ctx});
  ASSERT_EQ(o.status, 0) << o.out << o.err;
  o = b.berth({"run", "--rm", "--network", "none", "rl/built:1", "sh", "-c",
               "cat /f.txt /built; stat -c %u /built"});
  EXPECT_OK(o);
  EXPECT_EQ(o.out, "from-context\nbuilt\n1000\n");
}

// A cgroup made by root in every hierarchy and given to the user: what systemd's Delegate=yes
// gives a user on a cgroup v2 machine. Removed on destruction.
class DelegatedCgroup {
 public:
  DelegatedCgroup(const std::string& name, const TestUser& u) : name_(name) {
    for (const auto& h : hierarchies()) {
      std::string d = h + "/" + name;
      ::mkdir(d.c_str(), 0755);
      sh("chown -R " + std::to_string(u.uid) + ":" + std::to_string(u.gid) + " " + d);
    }
  }
  ~DelegatedCgroup() {
    for (const auto& h : hierarchies()) ::rmdir((h + "/" + name_).c_str());
  }
  // The cgroup2 hierarchy (a process must already be inside a delegated subtree to move
  // a child into it there).
  static std::string unified() {
    return ::access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0 ? "/sys/fs/cgroup"
                                                                    : "/sys/fs/cgroup/unified";
  }
  static std::vector<std::string> hierarchies() {
    std::vector<std::string> out;
    if (unified() == "/sys/fs/cgroup") return {"/sys/fs/cgroup"};
    for (const auto& h : lines_of(sh("ls -d /sys/fs/cgroup/*/").out))
      if (::access((h + "cgroup.procs").c_str(), F_OK) == 0) out.push_back(h.substr(0, h.size() - 1));
    return out;
  }

 private:
  std::string name_;
};

TEST_F(Rootless, LimitsInADelegatedCgroup) {
  std::string name = "berth-rl-deleg-" + std::to_string(::getpid());
  DelegatedCgroup deleg(name, sub_);  // outlives b: b's end removes what is in it
  UserBerth b(sub_);
  ASSERT_EQ(b.berth({"pull", image()}).status, 0);  // the pause process starts outside it
  // The user's session lives in the delegated cgroup, as under systemd.
  auto in_deleg = [&](const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"sh", "-c",
                                     "echo $$ > " + DelegatedCgroup::unified() + "/" + name +
                                         "/cgroup.procs && exec \"$@\"",
                                     "sh"};
    for (auto& a : b.as_user(b.berth_argv(args))) argv.push_back(a);
    return regtest::run(argv, "", 120);
  };
  Output o = in_deleg({"run", "-d", "--name", "lim", "--cgroup-parent", name, "--memory", "64m",
                       "--pids-limit", "50", "--network", "none", image(), "sleep", "60"});
  ASSERT_EQ(o.status, 0) << o.err;
  std::string id = trim_end(o.out);
  bool v2 = DelegatedCgroup::unified() == "/sys/fs/cgroup";
  std::string mem = v2 ? "/sys/fs/cgroup/" + name + "/" + id + "/memory.max"
                       : "/sys/fs/cgroup/memory/" + name + "/" + id + "/memory.limit_in_bytes";
  EXPECT_EQ(trim_end(regtest::read_text(mem)), "67108864");
  std::string pids = v2 ? "/sys/fs/cgroup/" + name + "/" + id + "/pids.max"
                        : "/sys/fs/cgroup/pids/" + name + "/" + id + "/pids.max";
  EXPECT_EQ(trim_end(regtest::read_text(pids)), "50");
  o = b.berth({"stats", "--no-stream", "--format", "{{.MemUsage}}", "lim"});
  EXPECT_NE(o.out.find("/ 64MiB"), std::string::npos) << o.out << o.err;
  // commit pauses it through the delegated freezer.
  EXPECT_OK(b.berth({"commit", "lim", "rl/limited:1"}));
  EXPECT_OK(b.berth({"rm", "-f", "lim"}));
  struct stat st;
  EXPECT_NE(::stat(mem.c_str(), &st), 0) << "the container's cgroup is left: " << mem;
}

TEST_F(Rootless, ClearErrors) {
  UserBerth b(sub_);
  ASSERT_EQ(b.berth({"pull", image()}).status, 0);
  // A limit without a delegated cgroup.
  Output o = b.berth({"run", "--rm", "--network", "none", "--memory", "64m", image(), "true"});
  EXPECT_EQ(o.status, 125);
  EXPECT_NE(o.err.find("resource limits without root need a cgroup this user may write: give "
                       "--cgroup-parent a cgroup delegated to you"),
            std::string::npos)
      << o.err;
  EXPECT_EQ(lines_of(o.err).size(), 1u) << o.err;
  EXPECT_EQ(b.berth({"ps", "-aq"}).out, "");
  // A container without a cgroup: stats says why there are none.
  ASSERT_EQ(b.berth({"run", "-d", "--name", "nocg", "--network", "none", image(), "sleep", "60"}).status, 0);
  o = b.berth({"stats", "--no-stream", "nocg"});
  EXPECT_EQ(o.status, 125);
  EXPECT_EQ(o.err, "Error: container nocg has no cgroup to read stats from: without root, run it "
                   "with --cgroup-parent a cgroup delegated to you (docs/rootless.md)\n");
  // User-defined networks need a bridge.
  o = b.berth({"network", "create", "mynet"});
  EXPECT_EQ(o.status, 125);
  EXPECT_NE(o.err.find("user-defined networks need root"), std::string::npos) << o.err;
  // keep-id is refused for root (nothing to keep).
  Output root = regtest::run({berth_binary(), "--root", b.path("rootstore"), "--runroot",
                              b.path("rootrun"), "run", "--rm", "--userns=keep-id", "x", "true"});
  EXPECT_EQ(root.status, 125);
  EXPECT_NE(root.err.find("--userns=keep-id is for berth without root"), std::string::npos)
      << root.err;
}

TEST_F(Rootless, MissingNewuidmapAndUnsuitableStore) {
  // A fresh user berth whose PATH has no newuidmap: the namespace cannot get the range.
  UserBerth b(sub_);
  std::string bin = b.path("bin");
  ASSERT_EQ(::mkdir(bin.c_str(), 0755), 0);
  Output o = b.berth_with_path(bin, {"images"});
  EXPECT_EQ(o.status, 125);
  EXPECT_NE(o.err.find("newuidmap is needed to map more than your own id (install package uidmap)"),
            std::string::npos)
      << o.err;
  EXPECT_EQ(lines_of(o.err).size(), 1u) << o.err;
  // No pause process was left behind.
  EXPECT_TRUE(eventually([&] { return sh("pgrep -u " + std::to_string(sub_.uid)).status != 0; }))
      << sh("ps -o pid,stat,comm,args -u " + std::to_string(sub_.uid)).out;
  // A store on overlayfs (as inside another container): refused before anything is written.
  std::string o_dir = b.path("ovl");
  sh("mkdir -p " + o_dir + "/l " + o_dir + "/u " + o_dir + "/w " + o_dir + "/m");
  ASSERT_EQ(sh("mount -t overlay overlay -o lowerdir=" + o_dir + "/l,upperdir=" + o_dir +
               "/u,workdir=" + o_dir + "/w " + o_dir + "/m && chown " + std::to_string(sub_.uid) +
               " " + o_dir + "/m")
                .status,
            0);
  Output s = regtest::run(b.as_user({user_berth(), "--root", o_dir + "/m/store", "--runroot",
                                     b.runroot(), "images"}));
  sh("umount " + o_dir + "/m");
  EXPECT_EQ(s.status, 125);
  EXPECT_NE(s.err.find("is on overlayfs, where overlayfs cannot keep containers' writable layers"),
            std::string::npos)
      << s.err;
  struct stat st;
  EXPECT_NE(::stat((o_dir + "/u/store").c_str(), &st), 0);
}

}  // namespace
}  // namespace berth::imgtest
