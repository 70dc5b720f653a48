// `berth pull` end to end: the real binary against Debian's docker-registry (images pushed
// by skopeo in OCI, Docker schema2 and zstd form, a two-platform index) and against the
// fault-injecting fake registry (kill -9 mid-download, concurrent pulls, bad blobs).
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "fake_registry.h"
#include "images/store.h"
#include "images_fixture.h"
#include "storage/test_util.h"

namespace berth::imgtest {
namespace {

namespace fs = std::filesystem;

bool contains(const std::string& s, const std::string& what) {
  return s.find(what) != std::string::npos;
}

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

std::vector<std::string> list(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) out.push_back(e.path().filename());
  std::sort(out.begin(), out.end());
  return out;
}

// The image's layers bottom first, from the store's database.
std::vector<std::string> lower_dirs(const BerthEnv& env, const std::string& name) {
  auto store = images::Store::open(env.root());
  if (!store) return {};
  auto img = (*store)->find(name);
  if (!img) return {};
  std::vector<std::string> dirs;
  for (const auto& l : (*store)->db().image_layers(img->id).value_or({}))
    dirs.push_back((*store)->layers().lower_dir(l.chain_id).value_or("?"));
  return dirs;
}

// The merged view of an image's layers (a read-only overlay mounted in a child's private
// mount namespace), as storage::testing::snapshot lines "path\tdescription".
std::string merged_snapshot(const std::vector<std::string>& lowers_bottom_first) {
  Scratch s;
  std::string out = s / "snapshot", mnt = s / "mnt";
  fs::create_directory(mnt);
  std::vector<std::string> top_first(lowers_bottom_first.rbegin(), lowers_bottom_first.rend());
  pid_t pid = fork();
  if (pid == 0) {
    if (!storage::testing::enter_private_mount_ns() ||
        !storage::testing::mount_overlay(top_first, mnt))
      _exit(2);
    std::ofstream f(out);
    for (const auto& [path, desc] : storage::testing::snapshot(mnt))
      f << path << "\t" << desc << "\n";
    f.close();
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return "<overlay mount failed>";
  return regtest::read_text(out);
}

// What umoci makes of the same OCI image: the reference unpacker.
std::string umoci_snapshot(const std::string& oci_dir) {
  Scratch s;
  Output o = regtest::run({"umoci", "unpack", "--image", oci_dir + ":latest", s / "bundle"});
  if (o.status != 0) return "<umoci failed: " + o.err + ">";
  std::string text;
  for (const auto& [path, desc] : storage::testing::snapshot(s / "bundle/rootfs"))
    text += path + "\t" + desc + "\n";
  return text;
}

class PullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_TOOLS();
    if (!reg_) {
      reg_ = std::make_unique<Registry>(regtest::Variant::plain);
      scratch_ = std::make_unique<Scratch>();
      img_ = make_busybox_image(scratch_->path() + "/one");
      if (reg_->failure().empty())
        push_error_ = skopeo_copy(*reg_, "oci:" + img_.oci_dir + ":latest", "test/bb:latest");
    }
    ASSERT_EQ(reg_->failure(), "");
    ASSERT_EQ(push_error_, "");
  }
  static void TearDownTestSuite() {
    reg_.reset();
    scratch_.reset();
  }
  std::string ref(const std::string& r) const { return reg_->host() + "/" + r; }

  inline static std::unique_ptr<Registry> reg_;
  inline static std::unique_ptr<Scratch> scratch_;
  inline static FixtureImage img_;
  inline static std::string push_error_;
};

TEST_F(PullTest, PullsLikeDockerAndStoresEverything) {
  BerthEnv env;
  Output o = env.berth({"pull", ref("test/bb")});
  ASSERT_EQ(o.status, 0) << o.err << o.out;
  EXPECT_TRUE(contains(o.out, "Using default tag: latest")) << o.out;
  EXPECT_TRUE(contains(o.out, "latest: Pulling from test/bb")) << o.out;
  EXPECT_EQ(count(o.out, ": Pull complete"), 3u) << o.out;
  EXPECT_TRUE(contains(o.out, "Digest: " + img_.manifest_digest)) << o.out;
  EXPECT_TRUE(contains(o.out, "Status: Downloaded newer image for " + ref("test/bb:latest")))
      << o.out;
  EXPECT_TRUE(contains(o.out, "\n" + ref("test/bb:latest") + "\n")) << o.out;

  auto store = images::Store::open(env.root());
  ASSERT_TRUE(store);
  auto rec = (*store)->find(ref("test/bb:latest"));
  ASSERT_TRUE(rec) << rec.error().message();
  EXPECT_EQ(rec->id, img_.config_digest);
  EXPECT_EQ(rec->manifest_digest, img_.manifest_digest);
  EXPECT_EQ(rec->repo_digests,
            std::vector<std::string>{ref("test/bb") + "@" + img_.manifest_digest});
  for (const auto& d : img_.layer_digests) EXPECT_TRUE((*store)->blobs().has(d)) << d;
  EXPECT_TRUE((*store)->blobs().has(img_.config_digest));
  EXPECT_TRUE((*store)->blobs().has(img_.manifest_digest));
  EXPECT_EQ(list(env.root() + "/tmp"), std::vector<std::string>{});
  // By id prefix and by digest, as docker finds images.
  EXPECT_TRUE((*store)->find(img_.config_digest.substr(7, 12)));
  EXPECT_TRUE((*store)->find(ref("test/bb@") + img_.manifest_digest));

  // Again: nothing to do.
  Output again = env.berth({"pull", ref("test/bb:latest")});
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_TRUE(contains(again.out, "Status: Image is up to date for " + ref("test/bb:latest")))
      << again.out;
  EXPECT_EQ(count(again.out, "Pull complete"), 0u) << again.out;

  // -q prints the name only.
  Output quiet = env.berth({"pull", "-q", ref("test/bb")});
  EXPECT_EQ(quiet.out, ref("test/bb:latest") + "\n");
}

// On a terminal: one line per layer redrawn in place, with docker's bars.
TEST_F(PullTest, ProgressOnATerminal) {
  if (!regtest::have("script")) GTEST_SKIP() << "script (bsdutils) not installed";
  BerthEnv env;
  std::string cmd;
  for (const auto& a : env.argv({"pull", ref("test/bb:latest")})) cmd += "'" + a + "' ";
  Output o = regtest::run({"script", "-qec", cmd, "/dev/null"});
  ASSERT_EQ(o.status, 0) << o.err << o.out;
  EXPECT_TRUE(contains(o.out, "\033[1A\033[2K") || contains(o.out, "\033[3A\033[2K")) << o.out;
  EXPECT_TRUE(contains(o.out, img_.layer_digests[0].substr(7, 12) + ": Pull complete")) << o.out;
  EXPECT_TRUE(contains(o.out, "Status: Downloaded newer image")) << o.out;
}

TEST_F(PullTest, MergedRootfsEqualsUmocis) {
  BerthEnv env;
  Output o = env.berth({"pull", "-q", ref("test/bb:latest")});
  ASSERT_EQ(o.status, 0) << o.err;
  auto lowers = lower_dirs(env, ref("test/bb:latest"));
  ASSERT_EQ(lowers.size(), 3u);
  std::string ours = merged_snapshot(lowers);
  std::string theirs = umoci_snapshot(img_.oci_dir);
  EXPECT_EQ(ours, theirs);
  // The whiteout and the opaque directory did their work.
  EXPECT_FALSE(contains(ours, "etc/removed")) << ours;
  EXPECT_FALSE(contains(ours, "opt/old/a")) << ours;
  EXPECT_TRUE(contains(ours, "opt/old/c\tf 0644 0:0 c")) << ours;
  EXPECT_TRUE(contains(ours, "usr/bin/su-like\tf 4755")) << ours;
  EXPECT_TRUE(contains(ours, "data/file\tf 0644 1000:1000")) << ours;
  // The lower dirs hold overlayfs' own whiteout form.
  struct stat st;
  ASSERT_EQ(::lstat((lowers[1] + "/etc/removed").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(0, 0));
  char v[8] = {};
  EXPECT_EQ(::lgetxattr((lowers[1] + "/opt/old").c_str(), "trusted.overlay.opaque", v, sizeof v),
            1);
}

TEST_F(PullTest, SchemaTwoAndZstd) {
  ASSERT_EQ(
      skopeo_copy(*reg_, "oci:" + img_.oci_dir + ":latest", "test/bb-v2s2:1", {"--format", "v2s2"}),
      "");
  Scratch s;
  FixtureImage z = make_busybox_image(s.path(), {.compression = storage::Compression::zstd});
  ASSERT_EQ(skopeo_copy(*reg_, "oci:" + z.oci_dir + ":latest", "test/bb-zstd:1"), "");
  BerthEnv env;
  Output a = env.berth({"pull", ref("test/bb-v2s2:1")});
  ASSERT_EQ(a.status, 0) << a.err;
  Output b = env.berth({"pull", ref("test/bb-zstd:1")});
  ASSERT_EQ(b.status, 0) << b.err;
  // Same tars, so the same chain ids: the second image shares every unpacked layer.
  EXPECT_EQ(lower_dirs(env, ref("test/bb-v2s2:1")), lower_dirs(env, ref("test/bb-zstd:1")));
  EXPECT_EQ(list(env.root() + "/layers").size(), 3u);
  EXPECT_EQ(merged_snapshot(lower_dirs(env, ref("test/bb-zstd:1"))), umoci_snapshot(img_.oci_dir));
}

TEST_F(PullTest, ChoosesThePlatformFromAnIndex) {
  Scratch s;
  FixtureImage amd = make_busybox_image(s / "amd", {.arch = "amd64", .marker = "amd"});
  FixtureImage arm = make_busybox_image(s / "arm", {.arch = "arm64", .marker = "arm"});
  std::string index = make_index_layout(s.path(), {amd, arm});
  ASSERT_EQ(skopeo_copy(*reg_, "oci:" + index + ":latest", "test/multi:latest", {"--all"}), "");
  BerthEnv env;
  Output o = env.berth({"pull", ref("test/multi")});
  ASSERT_EQ(o.status, 0) << o.err;
  auto store = images::Store::open(env.root());
  ASSERT_TRUE(store);
  EXPECT_EQ((*store)->find(ref("test/multi"))->id, amd.config_digest);
  Output arm_pull = env.berth({"pull", "--platform", "linux/arm64", ref("test/multi")});
  ASSERT_EQ(arm_pull.status, 0) << arm_pull.err;
  auto store2 = images::Store::open(env.root());
  EXPECT_EQ((*store2)->find(ref("test/multi"))->id, arm.config_digest);
  Output none = env.berth({"pull", "--platform", "linux/s390x", ref("test/multi")});
  EXPECT_EQ(none.status, 125);
  EXPECT_TRUE(contains(none.err, "no image for linux/s390x")) << none.err;
}

TEST_F(PullTest, ByDigestWithoutTag) {
  BerthEnv env;
  std::string by_digest = ref("test/bb@") + img_.manifest_digest;
  Output o = env.berth({"pull", by_digest});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_TRUE(contains(o.out, img_.manifest_digest + ": Pulling from test/bb")) << o.out;
  auto store = images::Store::open(env.root());
  auto rec = (*store)->find(by_digest);
  ASSERT_TRUE(rec);
  EXPECT_TRUE(rec->tags.empty());
}

TEST_F(PullTest, ClearErrors) {
  BerthEnv env;
  Output unknown = env.berth({"pull", ref("test/bb:nosuchtag")});
  EXPECT_EQ(unknown.status, 125);
  EXPECT_TRUE(contains(unknown.err, "manifest unknown")) << unknown.err;
  EXPECT_EQ(count(unknown.err, "\n"), 1u) << unknown.err;

  Output bad = env.berth({"pull", "Not/Valid"});
  EXPECT_EQ(bad.status, 125);
  EXPECT_EQ(bad.err, "Error: invalid reference format: repository name must be lowercase\n");

  int port = regtest::free_port();
  Output refused = env.berth({"pull", "127.0.0.1:" + std::to_string(port) + "/x:1"});
  EXPECT_EQ(refused.status, 125);
  EXPECT_EQ(count(refused.err, "\n"), 1u) << refused.err;
  // Nothing was recorded.
  auto store = images::Store::open(env.root());
  EXPECT_TRUE((*store)->db().list()->empty());
}

// --- against the fake registry: faults, crashes, concurrency ---

class FakePullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    img_ = make_busybox_image(s_.path());
    for (const auto& d : img_.layer_digests)
      reg_.add_blob(d, regtest::read_text(img_.oci_dir + "/blobs/sha256/" + d.substr(7)));
    reg_.add_blob(img_.config_digest, img_.config);
    reg_.add_manifest("x/bb", "latest", img_.manifest,
                      "application/vnd.oci.image.manifest.v1+json");
    reg_.add_manifest("x/bb", img_.manifest_digest, img_.manifest,
                      "application/vnd.oci.image.manifest.v1+json");
  }
  std::string ref() const { return reg_.host() + "/x/bb:latest"; }
  // Serves repo:latest, an image of one gzip layer holding tar.
  void add_one_layer_image(const std::string& repo, const std::string& tar) {
    std::string blob = storage::testing::compress(tar, storage::Compression::gzip);
    nlohmann::json config = {
        {"architecture", "amd64"},
        {"os", "linux"},
        {"rootfs", {{"type", "layers"}, {"diff_ids", {regtest::sha256_hex(tar)}}}}};
    std::string cfg = config.dump();
    nlohmann::json manifest = {{"schemaVersion", 2},
                               {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                               {"config",
                                {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                                 {"digest", regtest::sha256_hex(cfg)},
                                 {"size", cfg.size()}}},
                               {"layers",
                                {{{"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"},
                                  {"digest", regtest::sha256_hex(blob)},
                                  {"size", blob.size()}}}}};
    reg_.add_blob(regtest::sha256_hex(blob), blob);
    reg_.add_blob(regtest::sha256_hex(cfg), cfg);
    reg_.add_manifest(repo, "latest", manifest.dump(),
                      "application/vnd.oci.image.manifest.v1+json");
  }
  // The biggest layer: busybox itself.
  const std::string& big_layer() const { return img_.layer_digests[0]; }

  Scratch s_;
  FixtureImage img_;
  regtest::FakeRegistry reg_;
};

TEST_F(FakePullTest, KilledMidDownloadThenPulledAgain) {
  BerthEnv env;
  // Every blob GET stalls after 300000 bytes: the config and the small layers are complete
  // by then, the busybox layer is not.
  reg_.stall_after = 300000;
  reg_.stall_blob = 100;
  std::vector<std::string> argv = env.argv({"pull", ref()});
  pid_t pid = fork();
  if (pid == 0) {
    int null = ::open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    std::vector<char*> a;
    for (auto& s : argv) a.push_back(s.data());
    a.push_back(nullptr);
    execv(a[0], a.data());
    _exit(127);
  }
  // Wait until the stalled download has written its first bytes, then kill -9.
  std::string partial = env.root() + "/tmp/" + big_layer().substr(7) + ".partial";
  bool started = false;
  for (int i = 0; i < 200 && !started; ++i) {
    struct stat st;
    started = ::stat(partial.c_str(), &st) == 0 && st.st_size > 0;
    if (!started) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  ASSERT_TRUE(started) << "the download never started";
  auto store = images::Store::open(env.root());
  ASSERT_TRUE(store);
  EXPECT_TRUE((*store)->db().list()->empty());  // never shown as an image
  store->reset();
  reg_.stall_blob = 0;

  Output o = env.berth({"pull", ref()});
  ASSERT_EQ(o.status, 0) << o.err;
  // The second pull resumed the partial with a Range request.
  bool ranged = false;
  for (const auto& r : reg_.requests())
    ranged = ranged || (contains(r, big_layer()) && contains(r, "bytes="));
  EXPECT_TRUE(ranged);
  EXPECT_EQ(list(env.root() + "/tmp"), std::vector<std::string>{});
  auto after = images::Store::open(env.root());
  auto rec = (*after)->find(ref());
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->id, img_.config_digest);
  EXPECT_EQ(merged_snapshot(lower_dirs(env, ref())), umoci_snapshot(img_.oci_dir));
}

TEST_F(FakePullTest, TwoProcessesPullingAtOnceBothSucceed) {
  BerthEnv env;
  std::vector<Output> outs(2);
  std::thread a([&] { outs[0] = env.berth({"pull", ref()}); });
  std::thread b([&] { outs[1] = env.berth({"pull", ref()}); });
  a.join();
  b.join();
  for (const auto& o : outs) EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(list(env.root() + "/layers").size(), 3u);
  // Each blob came over the network once: the other process waited and found it.
  size_t gets = 0;
  for (const auto& r : reg_.requests())
    if (contains(r, "GET") && contains(r, big_layer())) ++gets;
  EXPECT_EQ(gets, 1u);
  auto store = images::Store::open(env.root());
  EXPECT_EQ((*store)->db().list()->size(), 1u);
}

TEST_F(FakePullTest, BlobNotMatchingItsDigestIsRefused) {
  // The registry serves other bytes of the same size under the layer's digest.
  std::string bad = regtest::read_text(img_.oci_dir + "/blobs/sha256/" + big_layer().substr(7));
  bad[bad.size() / 2] ^= 0x55;
  reg_.add_blob(big_layer(), bad);
  BerthEnv env;
  Output o = env.berth({"pull", ref()});
  EXPECT_EQ(o.status, 125);
  EXPECT_TRUE(contains(o.err, "mismatch") || contains(o.err, "corrupt")) << o.err;
  EXPECT_EQ(count(o.err, "\n"), 1u) << o.err;
  auto store = images::Store::open(env.root());
  EXPECT_TRUE((*store)->db().list()->empty());
  EXPECT_FALSE((*store)->blobs().has(big_layer()));
  EXPECT_EQ(list(env.root() + "/layers").size(), 2u);  // the two good layers, for next time
  EXPECT_EQ(list(env.root() + "/tmp"), std::vector<std::string>{});
}

TEST_F(FakePullTest, HostileLayerEscapesNothing) {
  Scratch victim;
  std::string tar = storage::testing::TarBuilder()
                        .file("../../../../../../.." + victim.path() + "/pwned", "x")
                        .build(storage::Compression::none);
  add_one_layer_image("x/evil", tar);
  BerthEnv env;
  Output o = env.berth({"pull", reg_.host() + "/x/evil"});
  EXPECT_EQ(o.status, 125);
  EXPECT_TRUE(contains(o.err, "escapes")) << o.err;
  EXPECT_FALSE(fs::exists(victim / "pwned"));
  EXPECT_EQ(list(env.root() + "/layers"), std::vector<std::string>{});
  EXPECT_EQ(list(env.root() + "/tmp"), std::vector<std::string>{});
  EXPECT_EQ(list(env.root() + "/blobs/sha256"), std::vector<std::string>{});
}

TEST_F(FakePullTest, GarbageManifestAndServerErrors) {
  reg_.add_manifest("x/garbage", "latest", "{\"schemaVersion\": 2, \"layers\": 7}",
                    "application/vnd.oci.image.manifest.v1+json");
  BerthEnv env;
  Output g = env.berth({"pull", reg_.host() + "/x/garbage"});
  EXPECT_EQ(g.status, 125);
  EXPECT_TRUE(contains(g.err, "manifest")) << g.err;
  EXPECT_EQ(count(g.err, "\n"), 1u) << g.err;

  reg_.fail_500 = 1000;
  Output e = env.berth({"pull", ref()});
  EXPECT_EQ(e.status, 125);
  EXPECT_EQ(count(e.err, "\n"), 1u) << e.err;
  reg_.fail_500 = 0;

  reg_.unauthorized = true;
  Output u = env.berth({"pull", ref()});
  EXPECT_EQ(u.status, 125);
  EXPECT_TRUE(contains(u.err, "unauthorized") || contains(u.err, "authentication")) << u.err;
}

TEST_F(FakePullTest, ConfigFarTooBig) {
  nlohmann::json manifest = nlohmann::json::parse(img_.manifest);
  manifest["config"]["size"] = 64 << 20;
  reg_.add_manifest("x/fat", "latest", manifest.dump(),
                    "application/vnd.oci.image.manifest.v1+json");
  BerthEnv env;
  Output o = env.berth({"pull", reg_.host() + "/x/fat"});
  EXPECT_EQ(o.status, 125);
  EXPECT_TRUE(contains(o.err, "image config")) << o.err;
  EXPECT_EQ(count(o.err, "\n"), 1u) << o.err;
  // Refused before any layer was fetched.
  for (const auto& r : reg_.requests()) EXPECT_FALSE(contains(r, big_layer())) << r;
}

// A store on a small tmpfs: the pull fails with ENOSPC and leaves nothing half-stored.
TEST_F(FakePullTest, FullDisk) {
  if (geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root";
  std::string big = regtest::random_bytes(6 << 20, 7);
  std::string tar =
      storage::testing::TarBuilder().file("big", big).build(storage::Compression::none);
  add_one_layer_image("x/big", tar);

  Scratch small;
  ASSERT_EQ(::mount("tmpfs", small.path().c_str(), "tmpfs", 0, "size=8m"), 0) << strerror(errno);
  struct Unmount {
    std::string p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{small.path()};
  std::string root = small / "root";
  Output o = regtest::run({berth_binary(), "--root", root, "--runroot", small / "run", "--config",
                           small / "cfg", "pull", reg_.host() + "/x/big"});
  EXPECT_EQ(o.status, 125);
  EXPECT_TRUE(contains(o.err, "No space left on device")) << o.err;
  EXPECT_EQ(count(o.err, "\n"), 1u) << o.err;
  EXPECT_EQ(list(root + "/layers"), std::vector<std::string>{});
  EXPECT_EQ(list(root + "/blobs/sha256"), std::vector<std::string>{});
  EXPECT_EQ(list(root + "/tmp"), std::vector<std::string>{});
  // The store still works: the database opens and lists nothing.
  auto store = images::Store::open(root);
  ASSERT_TRUE(store) << store.error().message();
  EXPECT_TRUE((*store)->db().list()->empty());
}

}  // namespace
}  // namespace berth::imgtest
