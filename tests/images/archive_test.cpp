// save, load and import end to end: the berth binary with private stores, fixture images
// installed in process, and the archives checked by (and taken from) skopeo, podman and
// docker where they are installed. Hostile archives are crafted with TarBuilder; each must
// fail with one line and leave the store as it was.
#include "images/archive.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "image/config.h"
#include "image/platform.h"
#include "images/store.h"
#include "images_fixture.h"
#include "storage/test_util.h"

namespace berth::imgtest {
namespace {

namespace fs = std::filesystem;
using storage::testing::TarBuilder;
using Json = nlohmann::json;

constexpr const char* kTag = "docker.io/library/bb:latest";

bool contains(const std::string& s, const std::string& what) {
  return s.find(what) != std::string::npos;
}

std::string hex(const std::string& digest) {
  return digest.substr(digest.find(':') + 1);
}

// What a store holds, read in process (the inspect verbs belong to another command group).
struct StoreState {
  std::map<std::string, std::vector<std::string>> images;  // id -> tags
  std::set<std::string> blobs;
  std::set<std::string> layers;

  static StoreState of(const BerthEnv& env) {
    StoreState s;
    auto store = images::Store::open(env.root());
    EXPECT_TRUE(store) << store.error().message();
    if (!store) return s;
    for (auto& rec : (*store)->db().list().value_or({})) {
      std::sort(rec.tags.begin(), rec.tags.end());
      s.images[rec.id] = rec.tags;
    }
    for (auto& b : (*store)->blobs().list().value_or({})) s.blobs.insert(b);
    for (auto& l : (*store)->layers().list().value_or({})) s.layers.insert(l);
    return s;
  }
};

std::vector<std::string> chain_of(const BerthEnv& env, const std::string& id) {
  auto store = images::Store::open(env.root());
  std::vector<std::string> out;
  if (!store) return out;
  for (const auto& l : (*store)->db().image_layers(id).value_or({})) out.push_back(l.chain_id);
  return out;
}

std::vector<std::string> layer_blobs_of(const BerthEnv& env, const std::string& id) {
  auto store = images::Store::open(env.root());
  std::vector<std::string> out;
  if (!store) return out;
  for (const auto& l : (*store)->db().image_layers(id).value_or({})) out.push_back(l.digest);
  return out;
}

std::string config_of(const BerthEnv& env, const std::string& tag) {
  auto store = images::Store::open(env.root());
  if (!store) return "";
  auto rec = (*store)->db().find_by_tag(tag);
  return rec && *rec ? (*rec)->config : "";
}

// Names in a tar, via GNU tar.
std::vector<std::string> tar_names(const std::string& file) {
  Output o = regtest::run({"tar", "-tf", file});
  EXPECT_EQ(o.status, 0) << o.err;
  std::vector<std::string> out;
  size_t start = 0;
  while (start < o.out.size()) {
    size_t nl = o.out.find('\n', start);
    out.push_back(o.out.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

std::string tar_member(const std::string& file, const std::string& name) {
  Output o = regtest::run({"tar", "-xOf", file, name});
  EXPECT_EQ(o.status, 0) << name << ": " << o.err;
  return o.out;
}

Json skopeo_inspect(const std::string& ref) {
  Output o = regtest::run({"skopeo", "--insecure-policy", "inspect", ref}, "", 120);
  EXPECT_EQ(o.status, 0) << ref << ": " << o.err;
  if (o.status != 0) return Json::object();
  return Json::parse(o.out, nullptr, false);
}

// One error line on stderr, "Error: ..." containing `what`, exit 125.
void expect_one_line_error(const Output& o, const std::string& what) {
  EXPECT_EQ(o.status, 125) << o.out << o.err;
  EXPECT_TRUE(o.err.starts_with("Error: ")) << o.err;
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
  EXPECT_TRUE(contains(o.err, what)) << "expected \"" << what << "\" in: " << o.err;
}

// A podman with its own store under a temp folder: never the host's.
class Podman {
 public:
  Output operator()(std::vector<std::string> args, int timeout_s = 180) const {
    std::vector<std::string> argv = {"podman",    "--root",           dir_ / "root",
                                     "--runroot", dir_ / "runroot",   "--storage-driver",
                                     "vfs",       "--cgroup-manager", "cgroupfs"};
    argv.insert(argv.end(), args.begin(), args.end());
    return regtest::run(argv, "", timeout_s);
  }
  // skopeo's name for this store: containers-storage:[vfs@ROOT+RUNROOT]NAME.
  std::string storage_ref(const std::string& name) const {
    return "containers-storage:[vfs@" + (dir_ / "root") + "+" + (dir_ / "runroot") + "]" + name;
  }
  ~Podman() {
    // vfs layers may hold read-only dirs; podman's own reset removes its store.
    (void)(*this)({"system", "reset", "--force"});
  }

 private:
  Scratch dir_{"/tmp/berth-podman-"};
};

class ArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    img_ = make_busybox_image(scratch_.path());
    id_ = install_fixture(env_, img_, {kTag});
    ASSERT_EQ(id_, img_.config_digest);
  }
  std::string file(const std::string& name) const { return scratch_ / name; }

  Scratch scratch_;
  BerthEnv env_;
  FixtureImage img_;
  std::string id_;
};

#define REQUIRE_TOOL(t) \
  if (!regtest::have(t)) GTEST_SKIP() << t << " not installed (scripts/install-deps.sh installs it)"

// ---- save ----

TEST_F(ArchiveTest, SaveDockerArchiveSkopeoReadsIt) {
  REQUIRE_TOOL("skopeo");
  std::string out = file("bb.tar");
  Output o = env_.berth({"save", "-o", out, "bb"});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "");

  // docker 25's layout: OCI layout + manifest.json + repositories, layers uncompressed.
  auto names = tar_names(out);
  for (const char* n : {"oci-layout", "index.json", "manifest.json", "repositories"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  Json manifest = Json::parse(tar_member(out, "manifest.json"));
  ASSERT_EQ(manifest.size(), 1u);
  EXPECT_EQ(manifest[0]["Config"], "blobs/sha256/" + hex(id_));
  EXPECT_EQ(manifest[0]["RepoTags"], Json({"bb:latest"}));
  ASSERT_EQ(manifest[0]["Layers"].size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(manifest[0]["Layers"][i], "blobs/sha256/" + hex(img_.diff_ids[i]));
    EXPECT_EQ(tar_member(out, manifest[0]["Layers"][i]), img_.layer_tars[i]) << i;
  }
  Json repos = Json::parse(tar_member(out, "repositories"));
  EXPECT_EQ(repos["bb"]["latest"], hex(img_.diff_ids.back()));
  Json index = Json::parse(tar_member(out, "index.json"));
  ASSERT_EQ(index["manifests"].size(), 1u);
  EXPECT_EQ(index["manifests"][0]["annotations"]["io.containerd.image.name"], kTag);
  EXPECT_EQ(index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"], "latest");

  Json j = skopeo_inspect("docker-archive:" + out);
  EXPECT_EQ(j["Layers"], Json(img_.diff_ids));
  EXPECT_EQ(j["Architecture"], "amd64");
  EXPECT_EQ(j["Env"][1], "A=1");
  // The OCI half of the same file.
  Json k = skopeo_inspect("oci-archive:" + out);
  EXPECT_EQ(k["Layers"], Json(img_.diff_ids));
}

TEST_F(ArchiveTest, SaveOciArchiveKeepsStoredBlobs) {
  REQUIRE_TOOL("skopeo");
  std::string out = file("bb-oci.tar");
  Output o = env_.berth({"save", "--format", "oci-archive", "-o", out, kTag});
  ASSERT_EQ(o.status, 0) << o.err;
  auto names = tar_names(out);
  EXPECT_EQ(std::find(names.begin(), names.end(), "manifest.json"), names.end());
  for (const auto& d : img_.layer_digests)
    EXPECT_NE(std::find(names.begin(), names.end(), "blobs/sha256/" + hex(d)), names.end()) << d;
  // The stored OCI manifest goes as it is: its digest is the pulled one.
  Json index = Json::parse(tar_member(out, "index.json"));
  EXPECT_EQ(index["manifests"][0]["digest"], img_.manifest_digest);
  Json j = skopeo_inspect("oci-archive:" + out);
  EXPECT_EQ(j["Layers"], Json(img_.layer_digests));
  EXPECT_EQ(j["Digest"], img_.manifest_digest);
}

TEST_F(ArchiveTest, SaveToStdoutFileAndPipeGiveTheSameBytes) {
  std::string out = file("a.tar");
  ASSERT_EQ(env_.berth({"save", "-o", out, id_.substr(7, 12)}).status, 0);
  // stdout: a regular file (headers patched in place) ...
  Output o = env_.berth({"save", id_.substr(7, 12)});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, regtest::read_text(out));
  // ... and a pipe (sizes counted first).
  std::vector<std::string> argv = {"sh", "-c", "\"$@\" | cat > \"$0\"", file("p.tar")};
  for (auto& a : env_.argv({"save", id_})) argv.push_back(a);
  Output p = regtest::run(argv);
  ASSERT_EQ(p.status, 0) << p.err;
  EXPECT_EQ(regtest::read_text(file("p.tar")), o.out);
  // Saved by id: no tags.
  Json manifest = Json::parse(tar_member(out, "manifest.json"));
  EXPECT_TRUE(manifest[0]["RepoTags"].is_null());
}

TEST_F(ArchiveTest, SaveSharedBlobsOnceAndAllTagsOfARepository) {
  Scratch s2;
  ImageOptions o2;
  o2.marker = "two";
  FixtureImage img2 = make_busybox_image(s2.path(), o2);
  ASSERT_EQ(install_fixture(env_, img2, {"docker.io/library/bb:two", "docker.io/library/other:x"}),
            img2.config_digest);
  std::string out = file("both.tar");
  Output o = env_.berth({"save", "-o", out, "bb", "other:x"});
  ASSERT_EQ(o.status, 0) << o.err;
  auto names = tar_names(out);
  std::set<std::string> unique(names.begin(), names.end());
  EXPECT_EQ(unique.size(), names.size()) << "a blob written twice";
  Json manifest = Json::parse(tar_member(out, "manifest.json"));
  ASSERT_EQ(manifest.size(), 2u);
  std::set<std::string> tags;
  for (const auto& m : manifest)
    for (const auto& t : m["RepoTags"]) tags.insert(t);
  EXPECT_EQ(tags, (std::set<std::string>{"bb:latest", "bb:two", "other:x"}));
  // Layers 0 and 2 are the same in both images.
  EXPECT_EQ(img_.diff_ids[0], img2.diff_ids[0]);
  EXPECT_EQ(std::count(names.begin(), names.end(), "blobs/sha256/" + hex(img_.diff_ids[0])), 1);
}

TEST_F(ArchiveTest, SaveErrors) {
  expect_one_line_error(env_.berth({"save", "-o", file("x.tar"), "nosuch:image"}),
                        "No such image: nosuch:image");
  EXPECT_FALSE(fs::exists(file("x.tar")));
  expect_one_line_error(env_.berth({"save", "--format", "zip", "-o", file("x.tar"), "bb"}),
                        "unsupported archive format \"zip\"");
  for (const auto& e : fs::directory_iterator(scratch_.path()))
    EXPECT_FALSE(e.path().filename().string().starts_with(".berth-save")) << e.path();
}

TEST_F(ArchiveTest, SaveRefusesATerminal) {
  REQUIRE_TOOL("script");
  // script(1) gives the command a pty as stdout.
  std::string cmd;
  for (auto& a : env_.argv({"save", "bb"})) cmd += "'" + a + "' ";
  Output o = regtest::run({"script", "-qec", cmd, "/dev/null"});
  EXPECT_EQ(o.status, 125);
  EXPECT_TRUE(
      contains(o.out, "cowardly refusing to save to a terminal. Use the -o flag or redirect"))
      << o.out;
}

// ---- round trips ----

void expect_round_trip(const BerthEnv& from, const BerthEnv& to, const std::string& id,
                       bool same_layer_blobs) {
  StoreState s = StoreState::of(to);
  ASSERT_EQ(s.images.count(id), 1u);
  EXPECT_EQ(s.images[id], std::vector<std::string>{kTag});
  EXPECT_EQ(chain_of(to, id), chain_of(from, id));
  if (same_layer_blobs) {
    EXPECT_EQ(layer_blobs_of(to, id), layer_blobs_of(from, id));
  }
}

TEST_F(ArchiveTest, RoundTripDockerArchive) {
  std::string out = file("rt.tar");
  ASSERT_EQ(env_.berth({"save", "-o", out, "bb:latest"}).status, 0);
  BerthEnv fresh;
  Output o = fresh.berth({"load", "-i", out});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "Loaded image: bb:latest\n");
  expect_round_trip(env_, fresh, id_, false);
  // Layers are stored as the archive had them: uncompressed, named by their diff ids.
  EXPECT_EQ(layer_blobs_of(fresh, id_), img_.diff_ids);
  // Loading again changes nothing and brings no blob.
  StoreState before = StoreState::of(fresh);
  Output again = fresh.berth({"load"}, regtest::read_text(out));
  ASSERT_EQ(again.status, 0) << again.err;
  StoreState after = StoreState::of(fresh);
  EXPECT_EQ(after.images, before.images);
  EXPECT_EQ(after.blobs, before.blobs);
}

TEST_F(ArchiveTest, RoundTripOciArchiveCompressed) {
  std::string out = file("rt-oci.tar");
  ASSERT_EQ(env_.berth({"save", "--format", "oci-archive", "-o", out, "bb"}).status, 0);
  BerthEnv fresh;
  // Through gzip, from stdin.
  std::string gz = storage::testing::compress(regtest::read_text(out), storage::Compression::gzip);
  Output o = fresh.berth({"load", "-q"}, gz);
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "Loaded image: bb:latest\n");
  expect_round_trip(env_, fresh, id_, true);
}

TEST_F(ArchiveTest, LoadMovesATagLikeDocker) {
  std::string out = file("rt.tar");
  ASSERT_EQ(env_.berth({"save", "-o", out, "bb"}).status, 0);
  BerthEnv other;
  Scratch s2;
  ImageOptions o2;
  o2.marker = "older";
  FixtureImage older = make_busybox_image(s2.path(), o2);
  ASSERT_EQ(install_fixture(other, older, {kTag}), older.config_digest);
  Output o = other.berth({"load", "-i", out});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "The image bb:latest already exists, renaming the old one with ID " +
                       older.config_digest + " to empty string\nLoaded image: bb:latest\n");
}

// ---- archives made by other tools ----

TEST_F(ArchiveTest, LoadSkopeoDockerArchive) {
  REQUIRE_TOOL("skopeo");
  std::string out = file("sk.tar");
  Output c = regtest::run(
      {"skopeo", "--insecure-policy", "copy", "--quiet", "oci:" + img_.oci_dir + ":latest",
       "docker-archive:" + out + ":example.com/team/bb:v1"},
      "", 120);
  ASSERT_EQ(c.status, 0) << c.err;
  BerthEnv fresh;
  Output o = fresh.berth({"load", "-i", out});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "Loaded image: example.com/team/bb:v1\n");
  StoreState s = StoreState::of(fresh);
  ASSERT_EQ(s.images.size(), 1u);
  EXPECT_EQ(s.images.begin()->second, std::vector<std::string>{"example.com/team/bb:v1"});
  EXPECT_EQ(chain_of(fresh, s.images.begin()->first), chain_of(env_, id_));
}

TEST_F(ArchiveTest, LoadSkopeoOciArchive) {
  REQUIRE_TOOL("skopeo");
  std::string named = file("sk-oci.tar"), bare = file("sk-bare.tar");
  for (auto [f, ref] : {std::pair{named, "bb:v2"}, std::pair{bare, "v3"}}) {
    Output c = regtest::run({"skopeo", "--insecure-policy", "copy", "--quiet",
                             "oci:" + img_.oci_dir + ":latest", "oci-archive:" + f + ":" + ref},
                            "", 120);
    ASSERT_EQ(c.status, 0) << c.err;
  }
  BerthEnv fresh;
  Output o = fresh.berth({"load", "-i", named});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "Loaded image: bb:v2\n");
  EXPECT_EQ(StoreState::of(fresh).images[id_], std::vector<std::string>{"docker.io/library/bb:v2"});
  EXPECT_EQ(layer_blobs_of(fresh, id_), img_.layer_digests);
  // A bare ref name is a tag of no repository (the OCI spec's reading): no name.
  BerthEnv fresh2;
  o = fresh2.berth({"load", "-i", bare});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "Loaded image ID: " + id_ + "\n");
  EXPECT_EQ(StoreState::of(fresh2).images[id_], std::vector<std::string>{});
}

TEST_F(ArchiveTest, LoadPicksThisMachinesPlatformFromAnIndex) {
  Scratch s2;
  ImageOptions arm;
  arm.arch = "arm64";
  arm.marker = "arm";
  FixtureImage other = make_busybox_image(s2.path(), arm);
  image::Platform host = image::host_platform();
  if (host.architecture != "amd64" && host.architecture != "arm64")
    GTEST_SKIP() << "the fixture index has amd64 and arm64 images; this is " << host.string();
  std::string layout = make_index_layout(s2.path(), {img_, other});
  std::string out = file("index.tar");
  ASSERT_EQ(regtest::run({"tar", "-cf", out, "-C", layout, "."}).status, 0);
  BerthEnv fresh;
  Output o = fresh.berth({"load", "-i", out});
  ASSERT_EQ(o.status, 0) << o.err;
  std::string want = host.architecture == "amd64" ? img_.config_digest : other.config_digest;
  EXPECT_EQ(o.out, "Loaded image ID: " + want + "\n");
  EXPECT_EQ(StoreState::of(fresh).images.size(), 1u);
}

TEST_F(ArchiveTest, LoadPodmanSaveBothFormats) {
  REQUIRE_TOOL("podman");
  Podman podman;
  REQUIRE_TOOL("skopeo");
  Output p =
      regtest::run({"skopeo", "--insecure-policy", "copy", "--quiet",
                    "oci:" + img_.oci_dir + ":latest", podman.storage_ref("example.org/bb:pod")},
                   "", 180);
  ASSERT_EQ(p.status, 0) << p.err;
  for (const char* format : {"docker-archive", "oci-archive"}) {
    SCOPED_TRACE(format);
    std::string out = file(std::string("podman-") + format + ".tar");
    Output s = podman({"save", "--format", format, "-o", out, "example.org/bb:pod"});
    ASSERT_EQ(s.status, 0) << s.err;
    BerthEnv fresh;
    Output o = fresh.berth({"load", "-i", out});
    ASSERT_EQ(o.status, 0) << o.err;
    EXPECT_EQ(o.out, "Loaded image: example.org/bb:pod\n");
    StoreState st = StoreState::of(fresh);
    ASSERT_EQ(st.images.size(), 1u);
    EXPECT_EQ(chain_of(fresh, st.images.begin()->first), chain_of(env_, id_));
  }
}

TEST_F(ArchiveTest, PodmanLoadsBerthsArchives) {
  REQUIRE_TOOL("podman");
  for (const char* format : {"docker-archive", "oci-archive"}) {
    SCOPED_TRACE(format);
    Podman podman;
    std::string out = file(std::string("berth-") + format + ".tar");
    ASSERT_EQ(env_.berth({"save", "--format", format, "-o", out, "bb"}).status, 0);
    Output l = podman({"load", "-i", out});
    ASSERT_EQ(l.status, 0) << l.err << l.out;
    EXPECT_TRUE(contains(l.out, "bb:latest")) << l.out;
    Output i = podman({"image", "inspect", "--format", "{{.Id}} {{.RootFS.Layers}}", "bb:latest"});
    ASSERT_EQ(i.status, 0) << i.err;
    EXPECT_TRUE(contains(i.out, hex(id_))) << i.out;
    EXPECT_TRUE(contains(i.out, img_.diff_ids[2])) << i.out;
  }
}

// The daemon is shared: everything it gets has a name of this test's own, removed after.
TEST_F(ArchiveTest, LoadDockerSave) {
  if (!regtest::have("docker") || regtest::run({"docker", "info"}, "", 30).status != 0)
    GTEST_SKIP() << "no docker daemon answers (docker info fails)";
  std::string tag = "berth-archive-test/bb:" + std::to_string(::getpid());
  BerthEnv env;
  ASSERT_EQ(install_fixture(env, img_, {"docker.io/" + tag}), id_);
  std::string out = file("docker.tar"), back = file("from-docker.tar");
  ASSERT_EQ(env.berth({"save", "-o", out, tag}).status, 0);
  Output dl = regtest::run({"docker", "load", "-i", out}, "", 300);
  ASSERT_EQ(dl.status, 0) << dl.err;
  EXPECT_TRUE(contains(dl.out, "Loaded image: " + tag)) << dl.out;
  Output ds = regtest::run({"docker", "save", "-o", back, tag}, "", 300);
  (void)regtest::run({"docker", "rmi", tag}, "", 60);
  ASSERT_EQ(ds.status, 0) << ds.err;
  BerthEnv fresh;
  Output o = fresh.berth({"load", "-i", back});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "Loaded image: " + tag + "\n");
  EXPECT_EQ(StoreState::of(fresh).images[id_], std::vector<std::string>{"docker.io/" + tag});
  EXPECT_EQ(chain_of(fresh, id_), chain_of(env_, id_));
}

// docker before 25: <v1 id>/layer.tar with json and VERSION beside it, the config as
// <hex>.json, and a layer seen twice linked to the first copy.
TEST_F(ArchiveTest, LoadOldDockerLayoutWithLinkedLayer) {
  const std::string& layer = img_.layer_tars[0];
  Json config = Json::parse(img_.config);
  config["rootfs"]["diff_ids"] = {img_.diff_ids[0], img_.diff_ids[0]};
  std::string cfg = config.dump();
  std::string cfg_name = hex(regtest::sha256_hex(cfg)) + ".json";
  std::string a(64, 'a'), b(64, 'b');
  Json manifest = Json::array({{{"Config", cfg_name},
                                {"RepoTags", {"old/layout:1"}},
                                {"Layers", {a + "/layer.tar", b + "/layer.tar"}}}});
  TarBuilder t;
  t.dir(a).file(a + "/VERSION", "1.0").file(a + "/json", "{}").file(a + "/layer.tar", layer);
  t.dir(b)
      .file(b + "/VERSION", "1.0")
      .file(b + "/json", "{}")
      .symlink(b + "/layer.tar", "../" + a + "/layer.tar");
  t.file(cfg_name, cfg).file("manifest.json", manifest.dump()).file("repositories", "{}");
  Output o = env_.berth({"load"}, t.build());
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "Loaded image: old/layout:1\n");
  std::string id = regtest::sha256_hex(cfg);
  EXPECT_EQ(chain_of(env_, id).size(), 2u);
  EXPECT_EQ(layer_blobs_of(env_, id),
            (std::vector<std::string>{img_.diff_ids[0], img_.diff_ids[0]}));
}

// ---- hostile and broken archives ----

struct Hostile {
  std::string name;
  std::string archive;
  std::string error;
};

// A docker-archive of img built by hand, with one thing changed: `twist` edits manifest.json
// before it is written and may add entries after it (a later entry of the same name wins).
std::string crafted(const FixtureImage& img, const std::function<void(TarBuilder&, Json&)>& twist) {
  Json manifest = Json::array({{{"Config", "blobs/sha256/" + hex(img.config_digest)},
                                {"RepoTags", {"evil:1"}},
                                {"Layers", Json::array()}}});
  TarBuilder t;
  t.dir("blobs").dir("blobs/sha256");
  t.file("blobs/sha256/" + hex(img.config_digest), img.config);
  for (size_t i = 0; i < img.diff_ids.size(); ++i) {
    t.file("blobs/sha256/" + hex(img.diff_ids[i]), img.layer_tars[i]);
    manifest[0]["Layers"].push_back("blobs/sha256/" + hex(img.diff_ids[i]));
  }
  TarBuilder extra;
  twist(extra, manifest);
  t.file("manifest.json", manifest.dump());
  std::string body = t.build(), more = extra.build();
  // Two tars glued: the first one's end-of-archive blocks (and padding) dropped.
  size_t end = body.size();
  while (end >= 512 && body.find_first_not_of('\0', end - 512) >= end) end -= 512;
  return body.substr(0, end) + more;
}

TEST_F(ArchiveTest, LoadRefusesHostileArchivesAndLeavesNothing) {
  std::string good = crafted(img_, [](TarBuilder&, Json&) {});
  Scratch s2;
  ImageOptions o2;
  o2.marker = "hostile";
  FixtureImage fresh_img = make_busybox_image(s2.path(), o2);  // blobs the store lacks
  Json wrong_config = Json::parse(fresh_img.config);
  wrong_config["rootfs"]["diff_ids"][1] = regtest::sha256_hex("not this layer");
  std::string wrong = wrong_config.dump();

  std::vector<Hostile> cases = {
      {"not a tar", regtest::random_bytes(100000, 7), "not a tar archive"},
      {"empty", "", "the archive is empty"},
      {"truncated", crafted(fresh_img, [](TarBuilder&, Json&) {}).substr(0, 20000), "truncated"},
      {"dot-dot name", crafted(fresh_img, [](TarBuilder& t, Json&) { t.file("../evil", "x"); }),
       "path escapes the archive"},
      {"absolute name", crafted(fresh_img, [](TarBuilder& t, Json&) { t.file("/etc/evil", "x"); }),
       "absolute name"},
      {"symlink out",
       crafted(fresh_img, [](TarBuilder& t, Json&) { t.symlink("blobs/l", "/etc/passwd"); }),
       "points outside the archive"},
      {"symlink climbing",
       crafted(fresh_img, [](TarBuilder& t, Json&) { t.symlink("l", "../../x"); }),
       "points outside the archive"},
      {"device", crafted(fresh_img, [](TarBuilder& t, Json&) { t.device("null", 0020000, 1, 3); }),
       "not a file, directory or link"},
      {"manifest config outside",
       crafted(fresh_img, [](TarBuilder&, Json& m) { m[0]["Config"] = "../../etc/passwd"; }),
       "path escapes the archive"},
      {"manifest layer absent",
       crafted(fresh_img, [](TarBuilder&, Json& m) { m[0]["Layers"][1] = "nothing/here"; }),
       "layer \"nothing/here\" is not in the archive"},
      {"garbage manifest",
       crafted(fresh_img, [](TarBuilder& t, Json&) { t.file("manifest.json", "{oops"); }),
       "manifest.json: "},
      {"huge manifest",
       crafted(fresh_img,
               [](TarBuilder& t, Json&) { t.file("manifest.json", std::string(9 << 20, ' ')); }),
       "manifest.json in the archive is too large"},
      {"layer not its diff id",
       [&] {
         TarBuilder t;
         t.file("blobs/sha256/" + hex(regtest::sha256_hex(wrong)), wrong);
         Json m = Json::array({{{"Config", "blobs/sha256/" + hex(regtest::sha256_hex(wrong))},
                                {"RepoTags", {"evil:1"}},
                                {"Layers", Json::array()}}});
         for (size_t i = 0; i < 3; ++i) {
           t.file("blobs/sha256/" + hex(fresh_img.diff_ids[i]), fresh_img.layer_tars[i]);
           m[0]["Layers"].push_back("blobs/sha256/" + hex(fresh_img.diff_ids[i]));
         }
         t.file("manifest.json", m.dump());
         return t.build();
       }(),
       "does not match the image config"},
      {"blob not its name",
       crafted(fresh_img,
               [](TarBuilder& t, Json&) { t.file("blobs/sha256/" + std::string(64, 'c'), "x"); }),
       "digest mismatch"},
      {"no manifest", TarBuilder().file("hello", "x").build(), "not an image archive"},
      {"bad tag",
       crafted(fresh_img, [](TarBuilder&, Json& m) { m[0]["RepoTags"] = {"UPPER:case"}; }),
       "invalid tag \"UPPER:case\""},
  };
  // A compressed layer whose tar is not the config's diff id is only found out while it is
  // unpacked: layers unpacked before it must go too.
  {
    Json cfg = Json::parse(fresh_img.config);
    cfg["rootfs"]["diff_ids"][2] = regtest::sha256_hex("something else");
    std::string c = cfg.dump();
    Json man = Json::parse(fresh_img.manifest);
    man["config"]["digest"] = regtest::sha256_hex(c);
    man["config"]["size"] = c.size();
    std::string m = man.dump();
    Json index = {{"schemaVersion", 2},
                  {"manifests",
                   {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                     {"digest", regtest::sha256_hex(m)},
                     {"size", m.size()},
                     {"annotations", {{"org.opencontainers.image.ref.name", "evil:2"}}}}}}};
    TarBuilder t;
    t.file("oci-layout", R"({"imageLayoutVersion":"1.0.0"})").file("index.json", index.dump());
    t.file("blobs/sha256/" + hex(regtest::sha256_hex(c)), c)
        .file("blobs/sha256/" + hex(regtest::sha256_hex(m)), m);
    for (const auto& d : fresh_img.layer_digests)
      t.file("blobs/sha256/" + hex(d),
             regtest::read_text(fresh_img.oci_dir + "/blobs/sha256/" + hex(d)));
    cases.push_back({"compressed layer not its diff id", t.build(), "sha256:"});
  }

  StoreState before = StoreState::of(env_);
  ASSERT_EQ(before.images.size(), 1u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Output o = env_.berth({"load"}, c.archive);
    expect_one_line_error(o, c.error);
    // BERTH_SHOW_ERRORS=1 prints each message, to review their wording.
    if (::getenv("BERTH_SHOW_ERRORS") != nullptr)
      std::fprintf(stderr, "%-34s %s", c.name.c_str(), o.err.c_str());
    StoreState after = StoreState::of(env_);
    EXPECT_EQ(after.images, before.images);
    EXPECT_EQ(after.blobs, before.blobs);
    EXPECT_EQ(after.layers, before.layers);
    EXPECT_TRUE(fs::is_empty(env_.root() + "/tmp")) << "temp files left";
  }
  // The good archive still loads after all that.
  Output o = env_.berth({"load"}, good);
  EXPECT_EQ(o.status, 0) << o.err;
}

TEST_F(ArchiveTest, LoadMissingFile) {
  expect_one_line_error(env_.berth({"load", "-i", file("absent.tar")}), "absent.tar");
}

// ---- import ----

TEST_F(ArchiveTest, ImportFileWithChangesAndMessage) {
  std::string rootfs = file("rootfs.tar");
  regtest::write_text(rootfs, img_.layer_tars[0]);
  Output o = env_.berth({"import",
                         "-c",
                         "ENV A=1 B=\"two words\"",
                         "-c",
                         "ENV C 3",
                         "-c",
                         "CMD [\"/bin/sh\", \"-c\", \"echo hi\"]",
                         "-c",
                         "ENTRYPOINT /bin/busybox",
                         "-c",
                         "WORKDIR /srv",
                         "-c",
                         "WORKDIR app",
                         "-c",
                         "USER 1000:1000",
                         "-c",
                         "EXPOSE 80 53/udp 9000-9001",
                         "-c",
                         "LABEL team=ml \"x y\"=z",
                         "-c",
                         "VOLUME [\"/data\", \"/cache\"]",
                         "-c",
                         "STOPSIGNAL SIGTERM",
                         "-m",
                         "my rootfs",
                         rootfs,
                         "ml/base:1"});
  ASSERT_EQ(o.status, 0) << o.err;
  ASSERT_TRUE(o.out.starts_with("sha256:")) << o.out;
  std::string id = o.out.substr(0, o.out.size() - 1);
  EXPECT_EQ(StoreState::of(env_).images[id], std::vector<std::string>{"docker.io/ml/base:1"});

  std::string raw = config_of(env_, "docker.io/ml/base:1");
  EXPECT_EQ(regtest::sha256_hex(raw), id);
  auto cfg = image::parse_image_config(raw);
  ASSERT_TRUE(cfg) << cfg.error().message();
  const auto& c = cfg->config;
  EXPECT_EQ(c.env, (std::vector<std::string>{"A=1", "B=two words", "C=3"}));
  // CMD came first: the ENTRYPOINT after it keeps it (docker's cmdSet).
  EXPECT_EQ(c.cmd, (std::vector<std::string>{"/bin/sh", "-c", "echo hi"}));
  EXPECT_EQ(c.entrypoint, (std::vector<std::string>{"/bin/sh", "-c", "/bin/busybox"}));
  EXPECT_EQ(c.working_dir, "/srv/app");
  EXPECT_EQ(c.user, "1000:1000");
  EXPECT_EQ(c.exposed_ports, (std::set<std::string>{"80/tcp", "53/udp", "9000/tcp", "9001/tcp"}));
  EXPECT_EQ(c.labels, (std::map<std::string, std::string>{{"team", "ml"}, {"x y", "z"}}));
  EXPECT_EQ(c.volumes, (std::set<std::string>{"/data", "/cache"}));
  EXPECT_EQ(c.stop_signal, "SIGTERM");
  EXPECT_EQ(cfg->comment, "my rootfs");
  ASSERT_EQ(cfg->history.size(), 1u);
  EXPECT_EQ(cfg->history[0].comment, "my rootfs");
  EXPECT_EQ(cfg->history[0].created, cfg->created);
  EXPECT_EQ(cfg->architecture, image::host_platform().architecture);
  EXPECT_EQ(cfg->os, "linux");
  // One layer, stored as the uncompressed tar: its digest is its diff id.
  ASSERT_EQ(cfg->rootfs.diff_ids.size(), 1u);
  EXPECT_EQ(cfg->rootfs.diff_ids[0].string(), img_.diff_ids[0]);
  EXPECT_EQ(layer_blobs_of(env_, id), std::vector<std::string>{img_.diff_ids[0]});
}

TEST_F(ArchiveTest, ImportCompressedStdin) {
  for (auto c : {storage::Compression::gzip, storage::Compression::zstd}) {
    std::string input = storage::testing::compress(img_.layer_tars[1], c);
    Output o = env_.berth({"import", "--platform", "linux/arm64", "-", "stdin:x"}, input);
    ASSERT_EQ(o.status, 0) << o.err;
    auto cfg = image::parse_image_config(config_of(env_, "docker.io/library/stdin:x"));
    ASSERT_TRUE(cfg);
    EXPECT_EQ(cfg->comment, "Imported from -");
    EXPECT_EQ(cfg->history[0].comment, "Imported from -");
    EXPECT_EQ(cfg->architecture, "arm64");
    EXPECT_EQ(cfg->rootfs.diff_ids[0].string(), img_.diff_ids[1]);
  }
  // Without a name: an untagged image; the history names the file.
  std::string rootfs = file("r.tar");
  regtest::write_text(rootfs, img_.layer_tars[2]);
  Output o = env_.berth({"import", rootfs});
  ASSERT_EQ(o.status, 0) << o.err;
  std::string id = o.out.substr(0, o.out.size() - 1);
  EXPECT_EQ(StoreState::of(env_).images[id], std::vector<std::string>{});
}

TEST_F(ArchiveTest, ImportErrors) {
  StoreState before = StoreState::of(env_);
  expect_one_line_error(env_.berth({"import", "https://example.com/rootfs.tar"}),
                        "importing from a URL is not supported");
  expect_one_line_error(env_.berth({"import", "-c", "RUN rm -rf /", "-"}, img_.layer_tars[0]),
                        "run is not a valid change command");
  expect_one_line_error(env_.berth({"import", "-", "Bad:Name"}, img_.layer_tars[0]),
                        "invalid reference format");
  expect_one_line_error(env_.berth({"import", "-"}, regtest::random_bytes(5000, 3)),
                        "import: the input is not a tar archive");
  expect_one_line_error(
      env_.berth({"import", "-"}, storage::testing::compress("short", storage::Compression::gzip)),
      "import: the input is not a tar archive");
  expect_one_line_error(env_.berth({"import", "-"}, ""), "the input is empty");
  StoreState after = StoreState::of(env_);
  EXPECT_EQ(after.images, before.images);
  EXPECT_EQ(after.blobs, before.blobs);
  EXPECT_EQ(after.layers, before.layers);
}

// ---- the parsers, in process ----

TEST(ArchiveParseTest, CleanArchivePath) {
  struct Case {
    const char* in;
    const char* out;  // nullptr: refused
  } cases[] = {{"a", "a"},        {"./a//b/", "a/b"},     {"a/./b/../c", "a/c"},
               {"../a", nullptr}, {"a/../../b", nullptr}, {"/etc/passwd", nullptr},
               {"", nullptr},     {".", nullptr},         {"blobs/sha256/ab", "blobs/sha256/ab"}};
  for (const auto& c : cases) {
    auto r = images::clean_archive_path(c.in);
    if (c.out == nullptr) {
      EXPECT_FALSE(r) << c.in;
    } else {
      ASSERT_TRUE(r) << c.in << ": " << r.error().message();
      EXPECT_EQ(*r, c.out);
    }
  }
}

TEST(ArchiveParseTest, DockerManifestShapes) {
  auto ok = images::parse_docker_manifest(
      R"([{"Config":"c.json","RepoTags":null,"Layers":["./a/layer.tar"]}])");
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ((*ok)[0].layers, std::vector<std::string>{"a/layer.tar"});
  for (const char* bad :
       {"{}", "[]", "[1]", R"([{"Config":1,"Layers":[]}])", R"([{"Config":"c","Layers":"x"}])",
        R"([{"Config":"c","Layers":[],"RepoTags":[1]}])", R"([{"Config":"/abs","Layers":[]}])", "[",
        "nul\0"}) {
    auto r = images::parse_docker_manifest(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_TRUE(r.error().message().starts_with("manifest.json: ")) << r.error().message();
    }
  }
}

TEST(ArchiveParseTest, ChangesLikeDockerfile) {
  image::ImageConfig::Config c;
  ASSERT_TRUE(images::apply_changes(c, {"ENTRYPOINT [\"/e\"]", "env PATH=/bin", "ONBUILD RUN x"}));
  EXPECT_EQ(c.entrypoint, std::vector<std::string>{"/e"});
  EXPECT_EQ(c.env, std::vector<std::string>{"PATH=/bin"});
  EXPECT_EQ(c.on_build, std::vector<std::string>{"RUN x"});
  for (const char* bad : {"FROM x", "ENV", "EXPOSE 70000", "EXPOSE 80/xyz", "ENV A=\"open",
                          "VOLUME [\"\"]", "ONBUILD FROM x"})
    EXPECT_FALSE(images::apply_changes(c, {bad})) << bad;
}

}  // namespace
}  // namespace berth::imgtest
