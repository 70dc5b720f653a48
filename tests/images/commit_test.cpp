// commit_test.cpp - commit, export and cp (src/images/commit.h, rootfs_copy.h), in process
// against a private store with the busybox fixture image.
//
// Commit: an upper dir made by the kernel (changes through a real overlay mount) and one
// crafted by hand (whiteout device, opaque dir, hard link, symlink, xattrs, long names) each
// become an image whose layers, mounted as an overlay, show exactly the tree expected; the
// config carries the -c changes, author, comment, history and docker's container fields;
// `save` of the image is read by skopeo. Bad requests leave the store as it was.
// Export: the tar lists and extracts to the same tree. cp: docker's directory rules both
// ways, tar streams, owners, and hostile symlinks that must not lead outside the rootfs.
//
// Needs root (device nodes, trusted xattrs, overlay mounts): label priv. Mounts are made in
// a private mount namespace and undone before the temp dirs go.
#include "images/commit.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "images/archive.h"
#include "images/install.h"
#include "images/rootfs_copy.h"
#include "images/store.h"
#include "images_fixture.h"
#include "storage/test_util.h"

namespace berth::imgtest {
namespace {

using nlohmann::json;
using storage::testing::snapshot;

#define NEED_ROOT(why) \
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: " << why

struct MountGuard {
  std::string path;
  ~MountGuard() {
    if (!path.empty()) ::umount2(path.c_str(), MNT_DETACH);
  }
};

void private_mounts() {
  static bool done = false;
  if (done) return;
  Status s = storage::testing::enter_private_mount_ns();
  ASSERT_TRUE(s) << s.error().message();
  done = true;
}

void mkdirs(const std::string& p, mode_t mode = 0755) {
  ASSERT_TRUE(mkdir_all(p, mode));
}

void set_mtime(const std::string& p, time_t t = 1700000000) {
  struct timespec ts[2] = {{t, 0}, {t, 0}};
  ::utimensat(AT_FDCWD, p.c_str(), ts, AT_SYMLINK_NOFOLLOW);
}

std::string xattr_of(const std::string& p, const std::string& key) {
  char buf[256];
  ssize_t n = ::lgetxattr(p.c_str(), key.c_str(), buf, sizeof buf);
  return n < 0 ? "<none>" : std::string(buf, static_cast<size_t>(n));
}

std::unique_ptr<images::Store> open_store(const BerthEnv& env) {
  auto s = images::Store::open(env.root());
  EXPECT_TRUE(s) << s.error().message();
  return s ? std::move(s).value() : nullptr;
}

// The image's layers mounted read-only at target (top first).
void mount_image(images::Store& store, const std::string& id, const std::string& target) {
  auto rec = store.find(id);
  ASSERT_TRUE(rec) << rec.error().message();
  auto chains = images::layer_chain_ids(rec->config);
  ASSERT_TRUE(chains);
  std::vector<std::string> lowers;
  for (auto it = chains->rbegin(); it != chains->rend(); ++it)
    lowers.push_back(store.layers().lower_dir(*it).value());
  mkdirs(target);
  Status m = storage::testing::mount_overlay(lowers, target);
  ASSERT_TRUE(m) << m.error().message();
}

std::vector<std::string> tar_list(const std::string& file) {
  Output o = regtest::run({"tar", "-tf", file});
  EXPECT_EQ(o.status, 0) << o.err;
  std::vector<std::string> names;
  size_t i = 0;
  while (i < o.out.size()) {
    size_t nl = o.out.find('\n', i);
    names.push_back(o.out.substr(i, nl - i));
    i = nl + 1;
  }
  return names;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

class CommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: whiteouts, owners, overlay mounts";
    img_ = make_busybox_image(env_.path("fixture"));
    base_id_ = install_fixture(env_, img_, {"docker.io/library/bb:latest"});
    ASSERT_FALSE(base_id_.empty());
    store_ = open_store(env_);
    ASSERT_TRUE(store_);
  }

  images::CommitRequest request(const std::string& upper) {
    images::CommitRequest r;
    r.parent_image_id = "bb";
    r.upper_dir = upper;
    r.container_config = {{"Hostname", "c0ffee"},
                          {"Cmd", {"/bin/sh", "-c", "echo hi > /new"}},
                          {"Env", {"PATH=/bin", "A=1"}},
                          {"WorkingDir", "/data"},
                          {"Labels", {{"from", "container"}}}};
    r.author = "Ada <ada@example.org>";
    r.comment = "my change";
    r.changes = {"ENV B=2", "CMD [\"/bin/sh\"]", "LABEL x=y", "EXPOSE 8080"};
    r.tag = "committed:v1";
    r.container_id = "c0ffee0123456789";
    return r;
  }

  json config_of(const std::string& id) {
    auto rec = store_->find(id);
    EXPECT_TRUE(rec) << rec.error().message();
    return rec ? json::parse(rec->config) : json();
  }

  BerthEnv env_;
  FixtureImage img_;
  std::string base_id_;
  std::unique_ptr<images::Store> store_;
};

// Changes made through a real overlay mount: the kernel writes the whiteouts and opaque
// markers. The committed image, mounted, must look exactly like the container did.
TEST_F(CommitTest, KernelMadeUpperCommitsToTheSameTree) {
  private_mounts();
  Scratch s("/tmp/berth-commit-");
  std::string upper = s / "upper", work = s / "work", merged = s / "merged";
  mkdirs(upper);
  mkdirs(work);
  mkdirs(merged);
  auto chains = images::layer_chain_ids(store_->find("bb")->config).value();
  std::string lower;
  for (auto it = chains.rbegin(); it != chains.rend(); ++it)
    lower += (lower.empty() ? "" : ":") + store_->layers().lower_dir(*it).value();
  std::string data = "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work +
                     ",redirect_dir=off,metacopy=off,index=off";
  ASSERT_EQ(::mount("overlay", merged.c_str(), "overlay", 0, data.c_str()), 0) << errno;
  std::map<std::string, std::string> expected;
  {
    MountGuard g{merged};
    ASSERT_EQ(::unlink((merged + "/etc/group").c_str()), 0);  // whiteout
    ASSERT_TRUE(remove_all(merged + "/opt/old"));             // then recreated: opaque
    mkdirs(merged + "/opt/old");
    regtest::write_text(merged + "/opt/old/z", "z\n");
    regtest::write_text(merged + "/marker", "changed\n");  // copy-up
    regtest::write_text(merged + "/new", "hi\n", 0600);
    ASSERT_EQ(::chown((merged + "/new").c_str(), 1000, 1001), 0);
    ASSERT_EQ(::link((merged + "/new").c_str(), (merged + "/new-link").c_str()), 0);
    ASSERT_EQ(::symlink("/etc/passwd", (merged + "/pw").c_str()), 0);
    ASSERT_EQ(::setxattr((merged + "/new").c_str(), "user.k", "v", 1, 0), 0);
    ASSERT_EQ(::chmod((merged + "/tmp").c_str(), 01777), 0);
    expected = snapshot(merged);
  }
  ::umount2(merged.c_str(), 0);

  auto t0 = std::chrono::steady_clock::now();
  auto r = images::commit_container_ex(*store_, request(upper));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(r) << r.error().message();
  std::printf("commit of a small kernel-made upper dir: %.3f s\n", secs);

  std::string view = s / "view";
  mount_image(*store_, r->image_id, view);
  MountGuard g{view};
  EXPECT_EQ(snapshot(view), expected);
  EXPECT_EQ(xattr_of(view + "/new", "user.k"), "v");
  struct stat a, b;
  ASSERT_EQ(::stat((view + "/new").c_str(), &a), 0);
  ASSERT_EQ(::stat((view + "/new-link").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino) << "the hard link survives as a hard link";
}

// An upper dir made by hand: every kind of node, and markers overlayfs never shows.
void craft_upper(const std::string& u) {
  mkdirs(u + "/etc");
  ASSERT_EQ(::mknod((u + "/etc/passwd").c_str(), S_IFCHR, makedev(0, 0)), 0);
  regtest::write_text(u + "/etc/hostname", "excluded mount point\n");
  mkdirs(u + "/opt");
  ASSERT_EQ(::setxattr((u + "/opt").c_str(), "trusted.overlay.opaque", "y", 1, 0), 0);
  regtest::write_text(u + "/opt/fresh", "fresh\n");
  mkdirs(u + "/new/" + std::string(120, 'd'));
  regtest::write_text(u + "/new/" + std::string(120, 'd') + "/" + std::string(90, 'f'), "long\n");
  regtest::write_text(u + "/new/file", "content\n", 0640);
  ASSERT_EQ(::chown((u + "/new/file").c_str(), 1000, 1000), 0);
  ASSERT_EQ(::setxattr((u + "/new/file").c_str(), "user.note", "hi", 2, 0), 0);
  ASSERT_EQ(::setxattr((u + "/new/file").c_str(), "trusted.overlay.origin", "x", 1, 0), 0);
  ASSERT_EQ(::link((u + "/new/file").c_str(), (u + "/new/link").c_str()), 0);
  ASSERT_EQ(::symlink("../marker", (u + "/new/sym").c_str()), 0);
  // Past ustar's fields: a 150-byte name and a 200-byte link target (pax records).
  regtest::write_text(u + "/new/" + std::string(150, 'p'), "pax\n");
  ASSERT_EQ(::symlink(std::string(200, 't').c_str(), (u + "/new/longlink").c_str()), 0);
  ASSERT_EQ(::mkfifo((u + "/new/fifo").c_str(), 0644), 0);
  ASSERT_EQ(::mknod((u + "/new/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
  for (const char* p : {"/new/file", "/new/sym", "/new/fifo", "/new/null", "/new", "/opt/fresh"})
    set_mtime(u + p);
}

TEST_F(CommitTest, CraftedUpperBecomesOciLayerAndConfigLikeDockers) {
  private_mounts();
  Scratch s("/tmp/berth-commit-");
  std::string upper = s / "upper";
  craft_upper(upper);
  images::CommitRequest req = request(upper);
  req.exclude = {"/etc/hostname"};
  auto r = images::commit_container_ex(*store_, req);
  ASSERT_TRUE(r) << r.error().message();

  // The layer blob: OCI whiteouts, sorted, hard link as a link, no excluded or overlay bits.
  std::string blob = store_->blobs().path(r->layer_digest);
  std::vector<std::string> names = tar_list(blob);
  std::vector<std::string> want = {"etc/", "etc/.wh.passwd", "new/"};
  EXPECT_TRUE(std::equal(want.begin(), want.end(), names.begin())) << names[0];
  for (const char* n : {"opt/", "opt/.wh..wh..opq", "opt/fresh", "new/link", "new/sym"})
    EXPECT_TRUE(contains(names, n)) << n;
  EXPECT_FALSE(contains(names, "etc/hostname"));
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  Output v = regtest::run({"tar", "-tvf", blob, "new/link"});
  EXPECT_NE(v.out.find("link to new/file"), std::string::npos) << v.out;

  // The image, mounted: what overlayfs would have shown the container.
  std::string view = s / "view";
  mount_image(*store_, r->image_id, view);
  MountGuard g{view};
  auto snap = snapshot(view);
  EXPECT_EQ(snap.count("etc/passwd"), 0u);
  EXPECT_EQ(snap.count("etc/group"), 1u);
  EXPECT_EQ(snap.count("etc/hostname"), 0u);
  EXPECT_EQ(snap.count("opt/old"), 0u) << "opaque /opt hides the base's /opt/old";
  EXPECT_EQ(snap["opt/fresh"], "f 0644 0:0 fresh\n");
  EXPECT_EQ(snap["new/file"], "f 0640 1000:1000 content\n");
  EXPECT_EQ(snap["new/link"], snap["new/file"]);
  EXPECT_EQ(snap["new/sym"], "l -> ../marker");
  EXPECT_EQ(snap["new/" + std::string(120, 'd') + "/" + std::string(90, 'f')], "f 0644 0:0 long\n");
  EXPECT_EQ(snap["new/" + std::string(150, 'p')], "f 0644 0:0 pax\n");
  EXPECT_EQ(snap["new/longlink"], "l -> " + std::string(200, 't'));
  EXPECT_EQ(snap.count("new/fifo"), 1u);
  EXPECT_EQ(snap["new/null"].substr(0, 1), "c");
  EXPECT_EQ(xattr_of(view + "/new/file", "user.note"), "hi");
  std::string layer_dir =
      store_->layers()
          .lower_dir(images::layer_chain_ids(store_->find(r->image_id)->config)->back())
          .value();
  EXPECT_EQ(xattr_of(layer_dir + "/new/file", "trusted.overlay.origin"), "<none>");

  // The config: docker's commit fields.
  json c = config_of(r->image_id);
  json base = config_of(base_id_);
  EXPECT_EQ(c["rootfs"]["diff_ids"].size(), base["rootfs"]["diff_ids"].size() + 1);
  EXPECT_EQ(c["rootfs"]["diff_ids"].back(), r->layer_digest) << "uncompressed: digest = diff id";
  EXPECT_EQ(c["config"]["Cmd"], json({"/bin/sh"}));
  EXPECT_EQ(c["config"]["Env"], json({"PATH=/bin", "A=1", "B=2"}));
  EXPECT_EQ(c["config"]["Labels"], json({{"from", "container"}, {"x", "y"}}));
  EXPECT_TRUE(c["config"]["ExposedPorts"].contains("8080/tcp"));
  EXPECT_EQ(c["config"]["WorkingDir"], "/data");
  EXPECT_EQ(c["author"], "Ada <ada@example.org>");
  EXPECT_EQ(c["container"], "c0ffee0123456789");
  EXPECT_EQ(c["container_config"]["Hostname"], "c0ffee");
  EXPECT_EQ(c["architecture"], base["architecture"]);
  ASSERT_EQ(c["history"].size(), base["history"].size() + 1);
  json h = c["history"].back();
  EXPECT_EQ(h["created_by"], "/bin/sh -c echo hi > /new");
  EXPECT_EQ(h["comment"], "my change");
  EXPECT_EQ(h["author"], "Ada <ada@example.org>");
  EXPECT_EQ(h["created"], c["created"]);
  EXPECT_FALSE(h.value("empty_layer", false));
  auto tagged = store_->find("committed:v1");
  ASSERT_TRUE(tagged);
  EXPECT_EQ(tagged->id, r->image_id);
  // The parent's layers are shared, not copied.
  auto layers = store_->db().image_layers(r->image_id).value();
  auto parent_layers = store_->db().image_layers(base_id_).value();
  for (size_t i = 0; i < parent_layers.size(); ++i)
    EXPECT_EQ(layers[i].chain_id, parent_layers[i].chain_id);
}

TEST_F(CommitTest, SavedCommitIsReadBySkopeo) {
  if (!regtest::have("skopeo")) GTEST_SKIP() << "skopeo is not installed";
  Scratch s("/tmp/berth-commit-");
  craft_upper(s / "upper");
  auto id = images::commit_container(*store_, request(s / "upper"));
  ASSERT_TRUE(id) << id.error().message();
  for (auto fmt : {images::ArchiveFormat::docker, images::ArchiveFormat::oci}) {
    std::string file = s / (fmt == images::ArchiveFormat::docker ? "d.tar" : "o.tar");
    Status st = images::save_images_to_file(*store_, {"committed:v1"}, fmt, file);
    ASSERT_TRUE(st) << st.error().message();
    std::string transport =
        fmt == images::ArchiveFormat::docker ? "docker-archive:" : "oci-archive:";
    Output o = regtest::run({"skopeo", "inspect", "--config", transport + file});
    ASSERT_EQ(o.status, 0) << o.err;
    json c = json::parse(o.out);
    EXPECT_EQ(c["rootfs"]["diff_ids"].size(), img_.diff_ids.size() + 1);
    EXPECT_EQ(c["author"], "Ada <ada@example.org>");
  }
}

// docker: a container without changes commits to no new layer, and an empty_layer entry.
TEST_F(CommitTest, EmptyUpperAddsNoLayer) {
  Scratch s("/tmp/berth-commit-");
  mkdirs(s / "upper");
  auto r = images::commit_container_ex(*store_, request(s / "upper"));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->layer_digest.empty());
  json c = config_of(r->image_id);
  EXPECT_EQ(c["rootfs"]["diff_ids"], config_of(base_id_)["rootfs"]["diff_ids"]);
  EXPECT_TRUE(c["history"].back()["empty_layer"].get<bool>());
  EXPECT_EQ(c["config"]["Cmd"], json({"/bin/sh"}));
}

TEST_F(CommitTest, NoParentMakesOneLayerImage) {
  Scratch s("/tmp/berth-commit-");
  mkdirs(s / "upper");
  regtest::write_text(s / "upper/hello", "hello\n");
  images::CommitRequest req;
  req.upper_dir = s / "upper";
  req.changes = {"CMD [\"/hello\"]"};
  auto r = images::commit_container_ex(*store_, req);
  ASSERT_TRUE(r) << r.error().message();
  json c = config_of(r->image_id);
  EXPECT_EQ(c["rootfs"]["diff_ids"], json({r->layer_digest}));
  EXPECT_EQ(c["config"]["Cmd"], json({"/hello"}));
  EXPECT_FALSE(c.contains("container_config"));
  EXPECT_EQ(c["os"], "linux");
}

TEST_F(CommitTest, BadRequestsFailInOneLineAndLeaveTheStoreAlone) {
  Scratch s("/tmp/berth-commit-");
  mkdirs(s / "upper");
  regtest::write_text(s / "upper/f", "f\n");
  auto blobs_before = store_->blobs().list().value();
  auto images_before = store_->db().list().value().size();
  struct Case {
    std::string what;
    std::function<void(images::CommitRequest&)> edit;
    std::string message;
  } cases[] = {
      {"missing upper", [&](auto& r) { r.upper_dir = s / "nope"; }, "commit: open upper dir"},
      {"unknown parent", [](auto& r) { r.parent_image_id = "nosuch"; },
       "commit: No such image: nosuch"},
      {"bad change", [](auto& r) { r.changes = {"RUN rm -rf /"}; },
       "commit: run is not a valid change command"},
      {"digest tag", [](auto& r) { r.tag = "x@sha256:" + std::string(64, 'a'); },
       "commit: refusing to create a tag with a digest reference"},
      {"redirect",
       [&](auto& r) {
         mkdirs(s / "upper2/moved");
         ::setxattr((s / "upper2/moved").c_str(), "trusted.overlay.redirect", "/a", 2, 0);
         r.upper_dir = s / "upper2";
       },
       "overlay redirect cannot be expressed in a layer"},
  };
  for (auto& c : cases) {
    images::CommitRequest req = request(s / "upper");
    c.edit(req);
    auto r = images::commit_container(*store_, req);
    ASSERT_FALSE(r) << c.what;
    std::string msg = r.error().message();
    EXPECT_NE(msg.find(c.message), std::string::npos) << c.what << ": " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_EQ(store_->blobs().list().value(), blobs_before) << c.what;
    EXPECT_EQ(store_->db().list().value().size(), images_before) << c.what;
  }
}

// Speed: docker commits a container that wrote 200 MB in 0.78 s.
TEST_F(CommitTest, Bench200MB) {
  Scratch s("/tmp/berth-commit-");
  std::string big = regtest::random_bytes(size_t{1} << 20, 7);
  mkdirs(s / "upper/big");
  for (int i = 0; i < 100; ++i) regtest::write_text(s / ("upper/big/" + std::to_string(i)), big);
  std::string one;
  for (int i = 0; i < 100; ++i) one += big;
  regtest::write_text(s / "upper/big/one-100MB", one);
  ::sync();
  struct Null : ByteSink {
    Status write(std::string_view) override { return ok(); }
  } null;
  auto t0 = std::chrono::steady_clock::now();
  auto n = images::write_upper_layer(s / "upper", {}, 0, 0, null);
  ASSERT_TRUE(n) << n.error().message();
  double walk = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  t0 = std::chrono::steady_clock::now();
  auto r = images::commit_container_ex(*store_, request(s / "upper"));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(r) << r.error().message();
  std::printf(
      "commit of a 200 MB upper dir (100 x 1 MB + 1 x 100 MB): %.3f s "
      "(docker: 0.78 s); the tar alone, unhashed: %.3f s\n",
      secs, walk);
  EXPECT_GT(r->layer_bytes, 200u << 20);
}

// --- export ---

TEST(Export, TarOfRootfsHasEveryNodeAndExtractsToTheSameTree) {
  NEED_ROOT("device nodes and owners");
  Scratch s("/tmp/berth-export-");
  std::string root = s / "rootfs";
  craft_upper(root);  // here a plain tree: the 0:0 device is just a device
  ASSERT_EQ(::mknod((root + "/etc/sock").c_str(), S_IFSOCK | 0644, 0), 0);
  std::string file = s / "out.tar";
  UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  Status st = images::export_rootfs(root, fd.get());
  ASSERT_TRUE(st) << st.error().message();
  fd.reset();
  auto names = tar_list(file);
  EXPECT_EQ(names.front(), "etc/");
  for (const char* n : {"etc/passwd", "etc/hostname", "new/file", "new/link", "opt/fresh"})
    EXPECT_TRUE(contains(names, n)) << n;
  EXPECT_FALSE(contains(names, "etc/sock")) << "sockets are left out, as docker does";
  EXPECT_FALSE(contains(names, "opt/.wh..wh..opq")) << "no whiteouts in an export";
  mkdirs(s / "x");
  Output o = regtest::run(
      {"tar", "--xattrs", "--xattrs-include=*", "--numeric-owner", "-xpf", file, "-C", s / "x"});
  ASSERT_EQ(o.status, 0) << o.err;
  ::unlink((root + "/etc/sock").c_str());
  EXPECT_EQ(snapshot(s / "x"), snapshot(root));
  EXPECT_EQ(xattr_of(s / "x/new/file", "user.note"), "hi");
  EXPECT_EQ(xattr_of(s / "x/new/file", "trusted.overlay.origin"), "<none>");
  EXPECT_EQ(xattr_of(s / "x/opt", "trusted.overlay.opaque"), "<none>");
}

// --- cp ---

class CopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: owners of copied files";
    root_ = s_ / "rootfs";
    out_ = s_ / "outside";
    mkdirs(root_ + "/etc");
    mkdirs(root_ + "/tmp");
    mkdirs(out_);
    mkdirs(s_ / "host");
    mkdirs(root_ + "/data/dir/sub");
    regtest::write_text(root_ + "/etc/passwd", "container passwd\n");
    regtest::write_text(root_ + "/data/dir/a", "a\n");
    regtest::write_text(root_ + "/data/dir/sub/b", "b\n");
    ::chown((root_ + "/data/dir/a").c_str(), 1000, 1000);
    regtest::write_text(out_ + "/secret", "host secret\n");
    regtest::write_text(out_ + "/victim", "untouched\n");
    // Hostile symlinks: absolute, climbing out, and pointing at a host file.
    ::symlink("/etc", (root_ + "/etc-abs").c_str());
    ::symlink("../../../../../../../../..", (root_ + "/up").c_str());
    ::symlink("/etc/passwd", (root_ + "/data/abs-link").c_str());
    ::symlink(out_.c_str(), (root_ + "/outlink").c_str());
    ::symlink((out_ + "/victim").c_str(), (root_ + "/tmp/victim").c_str());
    regtest::write_text(s_ / "host/file", "from host\n", 0640);
    ::chown((s_ / "host/file").c_str(), 1000, 1001);
    mkdirs(s_ / "host/tree/sub");
    regtest::write_text(s_ / "host/tree/t", "t\n");
    regtest::write_text(s_ / "host/tree/sub/u", "u\n");
  }
  void TearDown() override {
    // Nothing outside the rootfs changed.
    if (!root_.empty()) {
      EXPECT_EQ(regtest::read_text(out_ + "/victim"), "untouched\n");
      auto names = storage::testing::list_tree(out_);
      std::sort(names.begin(), names.end());
      EXPECT_EQ(names, (std::vector<std::string>{"secret", "victim"}));
    }
  }
  Status in(const std::string& host, const std::string& cpath, images::CopyOptions o = {}) {
    o.container_name = "c1";
    return images::copy_in(root_, images::CopySource{host, nullptr}, cpath, o);
  }
  Status out(const std::string& cpath, const std::string& host, images::CopyOptions o = {}) {
    o.container_name = "c1";
    return images::copy_out(root_, cpath, images::CopyDest{host, -1}, o);
  }
  std::string text(const std::string& p) { return regtest::read_text(p); }

  Scratch s_{"/tmp/berth-cp-"};
  std::string root_, out_;
};

TEST_F(CopyTest, HostileSymlinksStayInsideTheRootfs) {
  // Reading: /etc-abs -> /etc is the container's /etc.
  ASSERT_TRUE(out("/etc-abs/passwd", s_ / "got1"));
  EXPECT_EQ(text(s_ / "got1"), "container passwd\n");
  // Climbing out with ../ ends at the rootfs' root: the host file is not found.
  Status st = out("/up" + out_ + "/secret", s_ / "got2");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message(), "Could not find the file /up" + out_ + "/secret in container c1");
  EXPECT_FALSE(out("/outlink/secret", s_ / "got3"));
  // A symlink is copied as a symlink; with -L it is followed inside the rootfs.
  ASSERT_TRUE(out("/data/abs-link", s_ / "got4"));
  EXPECT_EQ(snapshot(s_.path())["got4"], "l -> /etc/passwd");
  ASSERT_TRUE(out("/data/abs-link", s_ / "got5", {.follow_link = true}));
  EXPECT_EQ(text(s_ / "got5"), "container passwd\n");
  // Writing through the same links lands inside the rootfs.
  ASSERT_TRUE(in(s_ / "host/file", "/etc-abs/berth-cp-test-new"));
  EXPECT_EQ(text(root_ + "/etc/berth-cp-test-new"), "from host\n");
  EXPECT_FALSE(path_exists("/etc/berth-cp-test-new"));
  ASSERT_TRUE(in(s_ / "host/file", "/up/berth-cp-test-escaped"));
  EXPECT_TRUE(path_exists(root_ + "/berth-cp-test-escaped"));
  EXPECT_FALSE(path_exists("/berth-cp-test-escaped"));
  // /outlink -> the host dir: inside the rootfs that path does not exist.
  Status planted = in(s_ / "host/file", "/outlink/planted");
  ASSERT_FALSE(planted);
  EXPECT_EQ(planted.error().message(), "Could not find the file /outlink in container c1");
  // A destination that is a symlink to a host file: replaced inside, the host file kept.
  ASSERT_TRUE(in(s_ / "host/file", "/tmp/victim"));
  EXPECT_EQ(snapshot(root_)["tmp/victim"], "f 0640 0:0 from host\n");
  // A tar stream planting a symlink to / and writing through it.
  std::string evil = storage::testing::TarBuilder()
                         .symlink("lnk", "/")
                         .file("lnk/berth-cp-tar-escape", "x")
                         .build();
  storage::testing::StringSource src(evil);
  ASSERT_TRUE(images::copy_in(root_, {"", &src}, "/data", {}));
  EXPECT_TRUE(path_exists(root_ + "/berth-cp-tar-escape"));
  EXPECT_FALSE(path_exists("/berth-cp-tar-escape"));
  std::string climb = storage::testing::TarBuilder().file("../../climb", "x").build();
  storage::testing::StringSource src2(climb);
  Status bad = images::copy_in(root_, {"", &src2}, "/data", {});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("escapes"), std::string::npos) << bad.error().message();
}

TEST_F(CopyTest, IntoContainerFollowsDockersRules) {
  ASSERT_TRUE(in(s_ / "host/file", "/newname"));  // missing: the file takes the name
  EXPECT_EQ(text(root_ + "/newname"), "from host\n");
  ASSERT_TRUE(in(s_ / "host/file", "/data"));  // a directory: into it
  EXPECT_EQ(text(root_ + "/data/file"), "from host\n");
  ASSERT_TRUE(in(s_ / "host/file", "/etc/passwd"));  // a file: overwritten
  EXPECT_EQ(text(root_ + "/etc/passwd"), "from host\n");
  ASSERT_TRUE(in(s_ / "host/tree", "/newdir"));  // a dir to a missing path: created
  EXPECT_EQ(text(root_ + "/newdir/sub/u"), "u\n");
  ASSERT_TRUE(in(s_ / "host/tree", "/data"));  // a dir into a dir: nested
  EXPECT_EQ(text(root_ + "/data/tree/t"), "t\n");
  ASSERT_TRUE(in(s_ / "host/tree/.", "/tmp"));  // "/." : the content
  EXPECT_EQ(text(root_ + "/tmp/t"), "t\n");
  struct Bad {
    std::string src, dst, message;
  } bad[] = {
      {s_ / "host/file", "/missing/", "the destination directory /missing/ must exist"},
      {s_ / "host/file", "/nodir/x", "Could not find the file /nodir in container c1"},
      {s_ / "host/tree", "/etc/passwd", "cannot copy a directory to a file: /etc/passwd"},
      {s_ / "host/file/", "/data", "Not a directory"},
      {s_ / "host/none", "/data", "No such file or directory"},
  };
  for (const auto& b : bad) {
    Status st = in(b.src, b.dst);
    ASSERT_FALSE(st) << b.src << " -> " << b.dst;
    EXPECT_NE(st.error().message().find(b.message), std::string::npos) << st.error().message();
  }
}

TEST_F(CopyTest, OwnersRootUnlessArchive) {
  ASSERT_TRUE(in(s_ / "host/file", "/plain"));
  EXPECT_EQ(snapshot(root_)["plain"], "f 0640 0:0 from host\n");
  ASSERT_TRUE(in(s_ / "host/file", "/kept", {.archive = true}));
  EXPECT_EQ(snapshot(root_)["kept"], "f 0640 1000:1001 from host\n");
  ASSERT_TRUE(in(s_ / "host/file", "/shifted", {.uid_offset = 100000, .gid_offset = 100000}));
  EXPECT_EQ(snapshot(root_)["shifted"], "f 0640 100000:100000 from host\n");
  ASSERT_TRUE(out("/data/dir", s_ / "plain-out"));
  EXPECT_EQ(snapshot(s_ / "plain-out")["a"], "f 0644 0:0 a\n");
  ASSERT_TRUE(out("/data/dir", s_ / "kept-out", {.archive = true}));
  EXPECT_EQ(snapshot(s_ / "kept-out")["a"], "f 0644 1000:1000 a\n");
}

TEST_F(CopyTest, OutOfContainerFollowsDockersRules) {
  ASSERT_TRUE(out("/data/dir", s_ / "new"));  // missing: created with the content
  EXPECT_EQ(text(s_ / "new/sub/b"), "b\n");
  mkdirs(s_ / "existing");
  ASSERT_TRUE(out("/data/dir", s_ / "existing"));  // into it
  EXPECT_EQ(text(s_ / "existing/dir/a"), "a\n");
  mkdirs(s_ / "content");
  ASSERT_TRUE(out("/data/dir/.", s_ / "content"));  // the content
  EXPECT_EQ(text(s_ / "content/a"), "a\n");
  regtest::write_text(s_ / "afile", "old\n");
  ASSERT_TRUE(out("/etc/passwd", s_ / "afile"));  // overwritten
  EXPECT_EQ(text(s_ / "afile"), "container passwd\n");
  Status st = out("/data/dir", s_ / "afile");
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("cannot copy a directory to a file"), std::string::npos);
  st = out("/nothing", s_ / "x");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message(), "Could not find the file /nothing in container c1");
  EXPECT_FALSE(out("/etc/passwd/", s_ / "y"));
}

TEST_F(CopyTest, TarStreams) {
  std::string file = s_ / "stream.tar";
  {
    UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    Status st = images::copy_out(root_, "/data/dir", {"", fd.get()}, {});
    ASSERT_TRUE(st) << st.error().message();
  }
  EXPECT_EQ(tar_list(file), (std::vector<std::string>{"dir/", "dir/a", "dir/sub/", "dir/sub/b"}));
  storage::testing::StringSource src(regtest::read_text(file));
  Status st = images::copy_in(root_, {"", &src}, "/tmp", {});
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(text(root_ + "/tmp/dir/sub/b"), "b\n");
  storage::testing::StringSource gz(
      storage::testing::compress(regtest::read_text(file), storage::Compression::gzip));
  ASSERT_TRUE(images::copy_in(root_, {"", &gz}, "/etc", {}));
  EXPECT_EQ(text(root_ + "/etc/dir/a"), "a\n");
  storage::testing::StringSource again(regtest::read_text(file));
  st = images::copy_in(root_, {"", &again}, "/etc/passwd", {});
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message(), "destination \"/etc/passwd\" must be a directory");
}

}  // namespace
}  // namespace berth::imgtest
