// commit_cp_test.cpp - `berth commit`, `export` and `cp` end to end: the real binary on the
// busybox fixture image, with real overlayfs, namespaces and the monitor. Each test has its
// own store and run root; the fixture removes every container it left and checks nothing of
// the run root stays mounted.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "images_fixture.h"
#include "test_util.h"

namespace berth::ctest {
namespace {

using imgtest::BerthEnv;
using regtest::Output;

bool has_line(const std::string& text, const std::string& line) {
  for (const auto& l : lines_of(text))
    if (l == line) return true;
  return false;
}

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class CommitCpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "containers need root (namespaces, overlayfs, cgroups)";
    img_ = imgtest::make_busybox_image(env_.path("img"));
    imgtest::install_fixture(env_, img_, {"docker.io/library/bb:latest"});
  }
  void TearDown() override {
    Output ids = env_.berth({"ps", "-aq", "--no-trunc"});
    for (const auto& id : lines_of(ids.out)) env_.berth({"rm", "-f", id});
    ::umount2((env_.runroot() + "/netns").c_str(), MNT_DETACH);
    std::ifstream mi("/proc/self/mountinfo");
    for (std::string line; std::getline(mi, line);)
      EXPECT_EQ(line.find(env_.runroot()), std::string::npos) << "left mounted: " << line;
  }
  Output berth(const std::vector<std::string>& args, const std::string& in = "",
               int timeout = 120) {
    return env_.berth(args, in, timeout);
  }
  // berth run --network none ARGS..., expected to succeed.
  void run_ok(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"run", "--network", "none"};
    argv.insert(argv.end(), args.begin(), args.end());
    Output o = berth(argv);
    ASSERT_EQ(o.status, 0) << o.err;
  }
  nlohmann::json inspect(const std::string& what) {
    Output o = berth({"inspect", what});
    EXPECT_EQ(o.status, 0) << o.err;
    auto j = nlohmann::json::parse(o.out, nullptr, false);
    if (!j.is_array() || j.empty()) return nlohmann::json::object();
    return j[0];
  }
  // A one-line error with the given status that contains want.
  void expect_error(const Output& o, int status, const std::string& want) {
    EXPECT_EQ(o.status, status) << o.err;
    EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
    EXPECT_NE(o.err.find(want), std::string::npos) << o.err;
    EXPECT_EQ(o.err.rfind("Error: ", 0), 0u) << o.err;
  }
  std::string make_host_file(const std::string& name, const std::string& content) {
    std::string p = env_.path(name);
    std::ofstream(p) << content;
    return p;
  }

  BerthEnv env_;
  imgtest::FixtureImage img_;
};

// ---- commit -------------------------------------------------------------------------------

TEST_F(CommitCpTest, CommitMakesImageWithChangesMessageAuthorAndCmd) {
  run_ok({"--name", "w", "bb", "sh", "-c", "echo hello > /hello; busybox rm /marker"});
  Output c = berth({"commit", "-m", "my message", "-a", "Jo <jo@example.com>", "-c",
                    "CMD [\"cat\",\"/hello\"]", "w", "mine:v1"});
  ASSERT_EQ(c.status, 0) << c.err;
  std::string id = trim_end(c.out);
  EXPECT_EQ(id.rfind("sha256:", 0), 0u) << id;
  EXPECT_EQ(id.size(), 71u);

  Output r = berth({"run", "--rm", "--network", "none", "mine:v1"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "hello\n");
  Output gone = berth({"run", "--rm", "--network", "none", "mine:v1", "sh", "-c",
                       "test -e /marker && echo present || echo gone"});
  EXPECT_EQ(gone.out, "gone\n") << gone.err;

  auto j = inspect("mine:v1");
  EXPECT_EQ(j["Id"], id);
  EXPECT_EQ(j["Comment"], "my message");
  EXPECT_EQ(j["Author"], "Jo <jo@example.com>");
  EXPECT_EQ(j["Config"]["Cmd"], nlohmann::json::array({"cat", "/hello"}));
  EXPECT_EQ(j["RepoTags"], nlohmann::json::array({"mine:v1"}));
  EXPECT_EQ(j["RootFS"]["Layers"].size(), img_.diff_ids.size() + 1);

  Output h = berth({"history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Comment}}", "mine:v1"});
  ASSERT_EQ(h.status, 0) << h.err;
  auto hl = lines_of(h.out);
  ASSERT_FALSE(hl.empty());
  EXPECT_EQ(hl.front(), "sh -c echo hello > /hello; busybox rm /marker|my message") << h.out;

  // The /etc files the runtime bind-mounts are not in the layer (docker's init layer).
  ASSERT_EQ(berth({"create", "--name", "fresh", "--network", "none", "mine:v1"}).status, 0);
  Output host_file = berth({"cp", "fresh:/etc/hostname", env_.path("hn")});
  EXPECT_EQ(host_file.status, 1) << host_file.err;
  EXPECT_NE(host_file.err.find("Could not find the file"), std::string::npos) << host_file.err;
}

TEST_F(CommitCpTest, CommitWithoutRepositoryAndDefaultTag) {
  run_ok({"--name", "n", "bb", "true"});
  Output bare = berth({"container", "commit", "n"});
  ASSERT_EQ(bare.status, 0) << bare.err;
  auto untagged = inspect(trim_end(bare.out));
  EXPECT_EQ(untagged["Id"], trim_end(bare.out));
  EXPECT_TRUE(untagged["RepoTags"].empty()) << untagged["RepoTags"];
  Output latest = berth({"commit", "n", "plainname"});
  ASSERT_EQ(latest.status, 0) << latest.err;
  EXPECT_EQ(inspect("plainname:latest")["Id"], trim_end(latest.out));
}

TEST_F(CommitCpTest, CommitRunningContainerStaysRunning) {
  Output d = berth({"run", "-d", "--name", "live", "--network", "none", "bb", "sh", "-c",
                    "echo alive > /live; exec sleep 1000"});
  ASSERT_EQ(d.status, 0) << d.err;
  ASSERT_TRUE(eventually([&] { return berth({"exec", "live", "cat", "/live"}).out == "alive\n"; }));
  Output c = berth({"commit", "live", "snap:1"});
  ASSERT_EQ(c.status, 0) << c.err;
  EXPECT_EQ(inspect("live")["State"]["Status"], "running");
  EXPECT_EQ(inspect("live")["State"]["Paused"], false);
  Output r = berth({"run", "--rm", "--network", "none", "snap:1", "cat", "/live"});
  EXPECT_EQ(r.out, "alive\n") << r.err;

  Output nopause = berth({"commit", "--pause=false", "live", "snap:2"});
  ASSERT_EQ(nopause.status, 0) << nopause.err;
  EXPECT_EQ(inspect("live")["State"]["Status"], "running");
  // A paused container is committed as it is and stays paused.
  ASSERT_EQ(berth({"pause", "live"}).status, 0);
  Output paused = berth({"commit", "live", "snap:3"});
  EXPECT_EQ(paused.status, 0) << paused.err;
  EXPECT_EQ(inspect("live")["State"]["Status"], "paused");
  EXPECT_EQ(berth({"unpause", "live"}).status, 0);
}

TEST_F(CommitCpTest, CommitOf200MBTimed) {
  run_ok({"--name", "big", "bb", "busybox", "dd", "if=/dev/zero", "of=/big", "bs=1048576",
          "count=200"});
  auto t0 = std::chrono::steady_clock::now();
  Output c = berth({"commit", "big", "big:1"}, "", 300);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(c.status, 0) << c.err;
  std::cout << "[ TIMING   ] berth commit of a container that wrote 200 MB: " << secs << " s\n";
  RecordProperty("commit_200mb_seconds", std::to_string(secs));
  Output wc = berth({"run", "--rm", "--network", "none", "big:1", "busybox", "wc", "-c", "/big"});
  EXPECT_EQ(wc.out, "209715200 /big\n") << wc.err;
}

// ---- export -------------------------------------------------------------------------------

TEST_F(CommitCpTest, ExportStoppedAndRunningToStdoutAndFile) {
  run_ok({"--name", "ex", "bb", "sh", "-c", "echo x > /exported"});
  Output tar = berth({"export", "ex"});
  ASSERT_EQ(tar.status, 0) << tar.err;
  Output list = regtest::run({"tar", "-t"}, tar.out);
  ASSERT_EQ(list.status, 0) << list.err;
  EXPECT_TRUE(has_line(list.out, "exported")) << list.out;
  EXPECT_TRUE(has_line(list.out, "bin/busybox")) << list.out;
  EXPECT_TRUE(has_line(list.out, "marker")) << list.out;
  EXPECT_FALSE(has_line(list.out, "etc/removed")) << "a deleted file stays deleted";

  std::string file = env_.path("ex.tar");
  Output o = berth({"container", "export", "-o", file, "ex"});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "");
  Output flist = regtest::run({"tar", "-tf", file});
  EXPECT_EQ(flist.out, list.out);
  Output x = regtest::run({"tar", "-xOf", file, "exported"});
  EXPECT_EQ(x.out, "x\n");

  ASSERT_EQ(berth({"run", "-d", "--name", "exr", "--network", "none", "bb", "sh", "-c",
                   "echo r > /running; exec sleep 1000"})
                .status,
            0);
  ASSERT_TRUE(eventually([&] { return berth({"exec", "exr", "cat", "/running"}).out == "r\n"; }));
  Output rt = berth({"export", "exr"});
  ASSERT_EQ(rt.status, 0) << rt.err;
  EXPECT_TRUE(has_line(regtest::run({"tar", "-t"}, rt.out).out, "running"));
  EXPECT_EQ(inspect("exr")["State"]["Status"], "running");
}

// ---- cp -----------------------------------------------------------------------------------

TEST_F(CommitCpTest, CpInAndOutOfRunningContainer) {
  ASSERT_EQ(berth({"run", "-d", "--name", "r", "--network", "none", "-v", "cpvol:/vol", "bb",
                   "sleep", "1000"})
                .status,
            0);
  std::string in = make_host_file("in.txt", "to the container\n");
  // A running container is seen as its processes see it: volumes included (as docker).
  ASSERT_EQ(berth({"cp", in, "r:/vol/"}).status, 0);
  Output other =
      berth({"run", "--rm", "--network", "none", "-v", "cpvol:/v", "bb", "cat", "/v/in.txt"});
  EXPECT_EQ(other.out, "to the container\n") << other.err;
  Output cin = berth({"cp", in, "r:/tmp/"});
  ASSERT_EQ(cin.status, 0) << cin.err;
  EXPECT_EQ(cin.out, "");
  EXPECT_EQ(berth({"exec", "r", "cat", "/tmp/in.txt"}).out, "to the container\n");
  Output owner = berth({"exec", "r", "stat", "-c", "%u:%g", "/tmp/in.txt"});
  EXPECT_EQ(owner.out, "0:0\n") << "copied in: owned by the container's root";

  std::string outdir = env_.path("out");
  ::mkdir(outdir.c_str(), 0755);
  Output cout_ = berth({"container", "cp", "r:/etc/passwd", outdir});
  ASSERT_EQ(cout_.status, 0) << cout_.err;
  EXPECT_EQ(read_text(outdir + "/passwd").rfind("root:x:0:0:root:/root:/bin/sh\n", 0), 0u);

  // A directory out, renamed; then its content back in with SRC/. and a tar on stdin.
  ASSERT_EQ(berth({"cp", "r:/opt/old", outdir + "/old2"}).status, 0);
  EXPECT_EQ(read_text(outdir + "/old2/c"), "c\n");
  Output tarred = regtest::run({"tar", "-c", "-C", outdir, "old2"});
  ASSERT_EQ(tarred.status, 0) << tarred.err;
  Output tin = berth({"cp", "-", "r:/tmp"}, tarred.out);
  ASSERT_EQ(tin.status, 0) << tin.err;
  EXPECT_EQ(berth({"exec", "r", "cat", "/tmp/old2/c"}).out, "c\n");
  Output tout = berth({"cp", "r:/tmp/old2", "-"});
  ASSERT_EQ(tout.status, 0) << tout.err;
  Output names = regtest::run({"tar", "-t"}, tout.out);
  EXPECT_TRUE(has_line(names.out, "old2/c")) << names.out;
  EXPECT_EQ(inspect("r")["State"]["Status"], "running");
}

TEST_F(CommitCpTest, CpInAndOutOfStoppedContainer) {
  ASSERT_EQ(
      berth({"create", "--name", "s", "--network", "none", "bb", "cat", "/data/in.txt"}).status, 0);
  std::string in = make_host_file("in.txt", "before start\n");
  Output cin = berth({"cp", in, "s:/data/in.txt"});
  ASSERT_EQ(cin.status, 0) << cin.err;
  Output start = berth({"start", "-a", "s"});
  EXPECT_EQ(start.status, 0) << start.err;
  EXPECT_EQ(start.out, "before start\n");
  // Exited now: out again, and a file the image has.
  Output back = berth({"cp", "s:/data/in.txt", env_.path("back.txt")});
  ASSERT_EQ(back.status, 0) << back.err;
  EXPECT_EQ(read_text(env_.path("back.txt")), "before start\n");
  ASSERT_EQ(berth({"cp", "s:/marker", env_.path("marker")}).status, 0);
  EXPECT_FALSE(read_text(env_.path("marker")).empty());
  // -a keeps the owner going in.
  std::string owned = make_host_file("owned.txt", "o\n");
  ASSERT_EQ(::chown(owned.c_str(), 1234, 5678), 0);
  ASSERT_EQ(berth({"cp", "-a", owned, "s:/tmp/"}).status, 0);
  ASSERT_EQ(berth({"cp", "-a", "s:/tmp/owned.txt", env_.path("owned-back.txt")}).status, 0);
  struct stat st;
  ASSERT_EQ(::stat(env_.path("owned-back.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 5678u);
}

TEST_F(CommitCpTest, CpThroughHostileSymlinksStaysInside) {
  std::string hostdir = env_.path("hostdir");
  ::mkdir(hostdir.c_str(), 0755);
  run_ok({"--name", "h", "bb", "sh", "-c",
          "busybox ln -s / /escape; busybox ln -s ../../../../../../../etc /up; busybox ln -s " +
              hostdir + " /hostdir; busybox mkdir -p " + hostdir +
              "; echo inside > /etc/only-in-container"});
  // Out: /up/passwd is the container's /etc/passwd, whatever the ../ say.
  Output o = berth({"cp", "h:/up/only-in-container", env_.path("got")});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(read_text(env_.path("got")), "inside\n");
  Output pw = berth({"cp", "h:/escape/../../etc/passwd", env_.path("pw")});
  ASSERT_EQ(pw.status, 0) << pw.err;
  EXPECT_EQ(read_text(env_.path("pw")).rfind("root:x:0:0:root:/root:/bin/sh\n", 0), 0u);
  // In: through a link to a host folder's path, the file lands in the container.
  std::string f = make_host_file("payload", "p\n");
  Output in = berth({"cp", f, "h:/hostdir/"});
  EXPECT_EQ(in.status, 0) << in.err;
  EXPECT_FALSE(::access((hostdir + "/payload").c_str(), F_OK) == 0) << "written on the host";
  Output back = berth({"cp", "h:" + hostdir + "/payload", env_.path("payload-back")});
  EXPECT_EQ(back.status, 0) << back.err;
  EXPECT_EQ(read_text(env_.path("payload-back")), "p\n");
  // A tar on stdin through the same link stays inside too.
  std::string tdir = env_.path("tdir");
  ::mkdir(tdir.c_str(), 0755);
  std::ofstream(tdir + "/t.txt") << "t\n";
  Output tar = regtest::run({"tar", "-c", "-C", tdir, "t.txt"});
  Output tin = berth({"cp", "-", "h:/hostdir"}, tar.out);
  EXPECT_EQ(tin.status, 0) << tin.err;
  EXPECT_FALSE(::access((hostdir + "/t.txt").c_str(), F_OK) == 0) << "written on the host";
  // -L on a link pointing at the container's root copies the container's file.
  ASSERT_EQ(berth({"cp", "-L", "h:/up", env_.path("updir")}).status, 0);
  EXPECT_EQ(read_text(env_.path("updir/only-in-container")), "inside\n");
}

TEST_F(CommitCpTest, BadInputGivesOneLineErrors) {
  run_ok({"--name", "c", "bb", "true"});
  run_ok({"--name", "c2", "bb", "true"});
  std::string f = make_host_file("f", "f\n");
  expect_error(berth({"cp", "nosuch:/x", env_.path("x")}), 1, "No such container: nosuch");
  expect_error(berth({"cp", f, env_.path("y")}), 1, "must specify at least one container source");
  expect_error(berth({"cp", "c:/marker", "c2:/tmp"}), 1,
               "copying between containers is not supported");
  expect_error(berth({"cp", "c:/nope", env_.path("z")}), 1,
               "Could not find the file /nope in container c");
  expect_error(berth({"cp", f, "c:/no/such/dir/"}), 1, "Could not find the file");
  expect_error(berth({"cp", "", "c:/"}), 1, "source can not be empty");
  expect_error(berth({"commit", "nosuch"}), 1, "No such container: nosuch");
  expect_error(berth({"commit", "c", "Bad:Name"}), 1, "invalid reference format");
  expect_error(berth({"commit", "-c", "BOGUS x", "c"}), 1, "");
  expect_error(berth({"export", "nosuch"}), 1, "No such container: nosuch");
  expect_error(berth({"export", "-o", env_.path("no/such/dir/x.tar"), "c"}), 1, "");
  EXPECT_FALSE(::access(env_.path("z").c_str(), F_OK) == 0);
  Output usage = berth({"cp", "only-one-arg"});
  EXPECT_EQ(usage.status, 125);
}

}  // namespace
}  // namespace berth::ctest
