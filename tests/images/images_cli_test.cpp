// The image listing and management verbs end to end: the berth binary with a private store,
// fixture images installed in process (no registry): images / image ls, tag, rmi / image rm,
// inspect / image inspect, history, image prune and system df, with docker's output.
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "cli/berth/format.h"
#include "images/store.h"
#include "images_fixture.h"

namespace berth::imgtest {
namespace {

namespace fs = std::filesystem;

bool contains(const std::string& s, const std::string& what) {
  return s.find(what) != std::string::npos;
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t nl = s.find('\n', start);
    if (nl == std::string::npos) nl = s.size();
    out.push_back(s.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

// A table line's cells: docker pads columns with at least 3 spaces, and values hold at most
// single spaces ("2 years ago").
std::vector<std::string> cells(const std::string& line) {
  std::vector<std::string> out;
  std::regex sep("  +");
  std::string trimmed = line;
  while (!trimmed.empty() && trimmed.back() == ' ') trimmed.pop_back();
  for (std::sregex_token_iterator it(trimmed.begin(), trimmed.end(), sep, -1), end; it != end; ++it)
    out.push_back(*it);
  return out;
}

// Every row's cells start where the header's titles start (ASCII tables).
void expect_aligned(const std::vector<std::string>& table) {
  ASSERT_FALSE(table.empty());
  std::vector<size_t> starts = {0};
  const std::string& h = table[0];
  for (size_t i = 1; i < h.size(); ++i)
    if (h[i] != ' ' && h[i - 1] == ' ' && i >= 2 && h[i - 2] == ' ') starts.push_back(i);
  for (size_t r = 1; r < table.size(); ++r) {
    for (size_t s : starts) {
      if (s >= table[r].size() && s == starts.back()) continue;  // an empty last cell
      ASSERT_LT(s, table[r].size()) << table[r];
      EXPECT_NE(table[r][s], ' ') << "row " << r << " col at " << s << ": " << table[r];
      if (s > 0) {
        EXPECT_EQ(table[r][s - 1], ' ') << table[r];
      }
    }
  }
}

std::string hex(const std::string& digest) {
  return digest.substr(7);
}

class ImagesCli : public ::testing::Test {
 protected:
  void SetUp() override {
    one_ = make_busybox_image(dir_ / "one");
    two_ = make_busybox_image(dir_ / "two", ImageOptions{.marker = "two"});
  }

  // Installs image one as bb:latest, bb:v1 and localhost:5000/x/y:2, image two untagged.
  void install_both() {
    id1_ = install_fixture(
        env_, one_,
        {"docker.io/library/bb:latest", "docker.io/library/bb:v1", "localhost:5000/x/y:2"});
    id2_ = install_fixture(env_, two_, {});
    ASSERT_FALSE(id1_.empty());
    ASSERT_FALSE(id2_.empty());
  }

  std::unique_ptr<images::Store> store() {
    auto s = images::Store::open(env_.root());
    EXPECT_TRUE(s) << s.error().message();
    return s ? std::move(*s) : nullptr;
  }

  std::vector<storage::LayerRecord> layers_of(const std::string& id) {
    auto s = store();
    auto l = s->db().image_layers(id);
    EXPECT_TRUE(l) << l.error().message();
    return l ? *l : std::vector<storage::LayerRecord>();
  }

  int64_t size_of(const std::string& id) {
    auto r = store()->db().find_by_id(id);
    EXPECT_TRUE(r && *r);
    return r && *r ? (*r)->size : -1;
  }

  // Records a repo digest for an image (as a pull by digest would).
  void add_repo_digest(const std::string& id, const std::string& name) {
    auto s = store();
    auto rec = s->db().find_by_id(id);
    ASSERT_TRUE(rec && *rec);
    storage::ImageRecord r = **rec;
    r.repo_digests = {name};
    auto layers = s->db().image_layers(id);
    ASSERT_TRUE(layers);
    auto st = s->db().put_image(r, *layers, {});
    ASSERT_TRUE(st) << st.error().message();
  }

  Output berth(const std::vector<std::string>& args, const std::string& input = "") {
    return env_.berth(args, input);
  }

  bool has_layer_dir(const std::string& chain) {
    return fs::is_directory(env_.root() + "/layers/" + hex(chain) + "/diff");
  }
  bool has_blob(const std::string& digest) {
    return fs::exists(env_.root() + "/blobs/sha256/" + hex(digest));
  }

  Scratch dir_{"/tmp/berth-imgcli-"};
  BerthEnv env_;
  FixtureImage one_, two_;
  std::string id1_, id2_;
};

// ---- images / image ls -------------------------------------------------------------------

TEST_F(ImagesCli, ImagesListsEveryTagAndUntaggedImages) {
  install_both();
  Output o = berth({"images"});
  ASSERT_EQ(o.status, 0) << o.err;
  auto t = lines(o.out);
  ASSERT_EQ(t.size(), 5u) << o.out;
  // The widest repository, localhost:5000/x/y, and 3 spaces set the first column's width.
  EXPECT_EQ(t[0].substr(0, 53), "REPOSITORY           TAG       IMAGE ID       CREATED");
  EXPECT_EQ(cells(t[0]),
            (std::vector<std::string>{"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"}));
  expect_aligned(t);
  std::set<std::string> names;
  for (size_t i = 1; i < t.size(); ++i) {
    auto c = cells(t[i]);
    ASSERT_EQ(c.size(), 5u) << t[i];
    names.insert(c[0] + ":" + c[1]);
    EXPECT_TRUE(std::regex_match(c[3], std::regex("[0-9]+ (years|months) ago"))) << c[3];
    std::string id = c[0] == "<none>" ? id2_ : id1_;
    EXPECT_EQ(c[2], hex(id).substr(0, 12));
    EXPECT_EQ(c[4], images::human_size(size_of(id)));
  }
  EXPECT_EQ(names,
            (std::set<std::string>{"bb:latest", "bb:v1", "localhost:5000/x/y:2", "<none>:<none>"}));
  Output same = berth({"image", "ls"});
  EXPECT_EQ(same.out, o.out);
  EXPECT_EQ(berth({"image", "list"}).out, o.out);
}

TEST_F(ImagesCli, ImagesQuietAndNoTrunc) {
  install_both();
  Output q = berth({"images", "-q"});
  ASSERT_EQ(q.status, 0) << q.err;
  // Both images were created at the same time: any order, each id once.
  auto ids = lines(q.out);
  std::sort(ids.begin(), ids.end());
  std::vector<std::string> want = {hex(id1_).substr(0, 12), hex(id2_).substr(0, 12)};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(ids, want);
  Output full = berth({"images", "-q", "--no-trunc"});
  auto fids = lines(full.out);
  std::sort(fids.begin(), fids.end());
  std::vector<std::string> fwant = {id1_, id2_};
  std::sort(fwant.begin(), fwant.end());
  EXPECT_EQ(fids, fwant);
  EXPECT_EQ(berth({"images", "-a", "-q"}).out, q.out);  // no intermediate images to add
  Output nt = berth({"images", "--no-trunc", "bb:v1"});
  EXPECT_TRUE(contains(nt.out, id1_)) << nt.out;
}

TEST_F(ImagesCli, ImagesFilters) {
  install_both();
  auto rows = [&](const std::vector<std::string>& args) {
    std::vector<std::string> a = {"images", "--format", "{{.Repository}}:{{.Tag}}"};
    a.insert(a.end(), args.begin(), args.end());
    Output o = berth(a);
    EXPECT_EQ(o.status, 0) << o.err;
    auto l = lines(o.out);
    std::sort(l.begin(), l.end());
    return l;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(rows({"bb"}), (V{"bb:latest", "bb:v1"}));
  EXPECT_EQ(rows({"bb:v1"}), (V{"bb:v1"}));
  EXPECT_EQ(rows({"docker.io/library/bb:latest"}), (V{"bb:latest"}));
  EXPECT_EQ(rows({"localhost:5000/x/y"}), (V{"localhost:5000/x/y:2"}));
  EXPECT_EQ(rows({"nothing"}), V{});
  EXPECT_EQ(rows({"--filter", "reference=b*"}), (V{"bb:latest", "bb:v1"}));
  EXPECT_EQ(rows({"--filter", "reference=*:v1"}), (V{"bb:v1"}));
  EXPECT_EQ(rows({"-f", "dangling=true"}), (V{"<none>:<none>"}));
  EXPECT_EQ(rows({"-f", "dangling=false"}), (V{"bb:latest", "bb:v1", "localhost:5000/x/y:2"}));
  EXPECT_EQ(rows({"-f", "label=org.berth.test=yes", "-f", "dangling=true"}), (V{"<none>:<none>"}));
  EXPECT_EQ(rows({"-f", "label=org.berth.test=no"}), V{});
  EXPECT_EQ(rows({"-f", "label=org.berth.test"}).size(), 4u);
  EXPECT_EQ(rows({"-f", "before=bb"}), V{});  // both were created at the same second
  EXPECT_EQ(rows({"-f", "since=bb"}), V{});
  Output nosuch = berth({"images", "-f", "since=nosuch"});
  EXPECT_EQ(nosuch.err, "Error: No such image: nosuch\n");

  Output bad = berth({"images", "--filter", "bogus=1"});
  EXPECT_EQ(bad.status, 125);
  EXPECT_EQ(bad.err, "Error: invalid filter 'bogus'\n");
  Output bad2 = berth({"images", "--filter", "dangling"});
  EXPECT_EQ(bad2.err, "Error: bad format of filter (expected name=value)\n");
  Output bad3 = berth({"images", "--filter", "dangling=maybe"});
  EXPECT_EQ(bad3.err, "Error: invalid filter 'dangling=maybe'\n");
}

TEST_F(ImagesCli, ImagesDigestsColumn) {
  install_both();
  std::string digest = one_.manifest_digest;
  add_repo_digest(id1_, "docker.io/library/bb@" + digest);
  Output o = berth({"images", "--digests", "bb"});
  ASSERT_EQ(o.status, 0) << o.err;
  auto t = lines(o.out);
  ASSERT_EQ(t.size(), 3u) << o.out;
  EXPECT_EQ(cells(t[0]), (std::vector<std::string>{"REPOSITORY", "TAG", "DIGEST", "IMAGE ID",
                                                   "CREATED", "SIZE"}));
  for (size_t i = 1; i < t.size(); ++i) EXPECT_EQ(cells(t[i])[2], digest) << t[i];
  expect_aligned(t);
  // Without --digests the repo digest adds no row of its own.
  EXPECT_EQ(lines(berth({"images", "bb"}).out).size(), 3u);
  Output untagged = berth({"images", "--digests", "--format", "{{.Tag}} {{.Digest}}"});
  EXPECT_TRUE(contains(untagged.out, "<none> <none>\n")) << untagged.out;
}

TEST_F(ImagesCli, ImagesFormats) {
  install_both();
  Output j = berth({"images", "--format", "json", "bb:latest"});
  ASSERT_EQ(j.status, 0) << j.err;
  auto l = lines(j.out);
  ASSERT_EQ(l.size(), 1u);
  EXPECT_TRUE(contains(l[0], R"("Digest":"\u003cnone\u003e")")) << l[0];
  auto row = nlohmann::ordered_json::parse(l[0]);
  std::vector<std::string> keys;
  for (auto it = row.begin(); it != row.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"Containers", "CreatedAt", "CreatedSince", "Digest",
                                            "ID", "Repository", "SharedSize", "Size", "Tag",
                                            "UniqueSize", "VirtualSize"}));
  EXPECT_EQ(row["Repository"], "bb");
  EXPECT_EQ(row["Tag"], "latest");
  EXPECT_EQ(row["ID"], hex(id1_).substr(0, 12));
  EXPECT_EQ(row["Containers"], "N/A");
  EXPECT_EQ(row["Size"], images::human_size(size_of(id1_)));
  EXPECT_EQ(row["VirtualSize"], cli::human_size(size_of(id1_), 4));
  EXPECT_TRUE(std::regex_match(row["CreatedAt"].get<std::string>(),
                               std::regex(R"(2024-05-01 \d\d:00:00 [+-]\d{4} \S+)")))
      << row["CreatedAt"];
  EXPECT_EQ(berth({"images", "--format", "{{json .}}", "bb:latest"}).out, j.out);

  Output tab = berth({"images", "--format", "{{.Repository}}\\t{{.Tag}}", "bb:v1"});
  EXPECT_EQ(tab.out, "bb\tv1\n");
  Output table = berth({"images", "--format", "table {{.ID}}\\t{{.Tag}}", "bb:v1"});
  EXPECT_EQ(table.out, "IMAGE ID       TAG\n" + hex(id1_).substr(0, 12) + "   v1\n");
  Output bad = berth({"images", "--format", "{{range .}}{{.}}{{end}}"});
  EXPECT_EQ(bad.status, 125);
  EXPECT_TRUE(contains(bad.err, "template parsing error: unsupported action {{range .}}"))
      << bad.err;
  Output unknown = berth({"images", "--format", "{{.Nope}}"});
  EXPECT_EQ(unknown.status, 125);
  EXPECT_TRUE(contains(unknown.err, "can't evaluate field Nope")) << unknown.err;
}

TEST_F(ImagesCli, EmptyStoreListsHeaderOnly) {
  Output o = berth({"images"});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n");
  EXPECT_EQ(berth({"images", "-q"}).out, "");
}

// ---- tag ------------------------------------------------------------------------------------

TEST_F(ImagesCli, TagByNameAndId) {
  install_both();
  Output a = berth({"tag", "bb", "new:1"});
  ASSERT_EQ(a.status, 0) << a.err;
  EXPECT_EQ(a.out, "");
  Output b = berth({"tag", hex(id2_).substr(0, 8), "localhost:5000/two"});
  ASSERT_EQ(b.status, 0) << b.err;
  Output c = berth({"image", "tag", id2_, "Docker.io/Ignored:x"});  // uppercase: a domain
  EXPECT_EQ(c.status, 125);
  auto r = berth({"images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", "new"});
  EXPECT_EQ(r.out, "new:1 " + hex(id1_).substr(0, 12) + "\n");
  r = berth({"images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", "localhost:5000/two"});
  EXPECT_EQ(r.out, "localhost:5000/two:latest " + hex(id2_).substr(0, 12) + "\n");
  // Tagging moves a name: bb:v1 now names image two; image one keeps its other names.
  ASSERT_EQ(berth({"tag", id2_, "bb:v1"}).status, 0);
  r = berth({"images", "--format", "{{.Tag}} {{.ID}}", "bb"});
  auto l = lines(r.out);
  std::sort(l.begin(), l.end());
  EXPECT_EQ(l, (std::vector<std::string>{"latest " + hex(id1_).substr(0, 12),
                                         "v1 " + hex(id2_).substr(0, 12)}));
}

TEST_F(ImagesCli, TagErrorsLikeDocker) {
  install_both();
  Output nosuch = berth({"tag", "nosuch", "x"});
  EXPECT_EQ(nosuch.status, 125);
  EXPECT_EQ(nosuch.err, "Error: No such image: nosuch:latest\n");
  Output upper = berth({"tag", "bb", "UPPER"});
  EXPECT_EQ(upper.status, 125);
  EXPECT_EQ(upper.err,
            "Error: Error parsing reference: \"UPPER\" is not a valid repository/tag: invalid "
            "reference format: repository name must be lowercase\n");
  Output bad = berth({"tag", "bb", "a::b"});
  EXPECT_EQ(bad.err,
            "Error: Error parsing reference: \"a::b\" is not a valid repository/tag: invalid "
            "reference format\n");
  Output digest = berth({"tag", "bb", "x@" + one_.manifest_digest});
  EXPECT_EQ(digest.err, "Error: refusing to create a tag with a digest reference\n");
  Output usage = berth({"tag", "bb"});
  EXPECT_NE(usage.status, 0);
}

// ---- ambiguous ids -------------------------------------------------------------------------

TEST_F(ImagesCli, AmbiguousIdPrefixIsAnError) {
  // Among 17 images two ids share their first hex digit; install until that happens.
  std::map<char, std::string> by_first;
  std::string prefix;
  for (int i = 0; i < 17 && prefix.empty(); ++i) {
    auto img = make_busybox_image(dir_ / ("m" + std::to_string(i)),
                                  ImageOptions{.marker = "m" + std::to_string(i)});
    std::string id = install_fixture(env_, img, {});
    ASSERT_FALSE(id.empty());
    char first = hex(id)[0];
    if (by_first.count(first)) prefix = std::string(1, first);
    by_first[first] = id;
  }
  ASSERT_FALSE(prefix.empty());
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"rmi", prefix}, {"tag", prefix, "x"}, {"history", prefix}}) {
    Output o = berth(args);
    EXPECT_EQ(o.status, 125) << args[0];
    EXPECT_EQ(o.err, "Error: image id prefix " + prefix + " is ambiguous\n") << args[0];
  }
  Output i = berth({"image", "inspect", prefix});
  EXPECT_EQ(i.status, 1);
  EXPECT_EQ(i.out, "[]\n");
  EXPECT_EQ(i.err, "Error: image id prefix " + prefix + " is ambiguous\n");
}

// ---- rmi / image rm --------------------------------------------------------------------------

TEST_F(ImagesCli, RmiByTagOnlyUntagsWhileOtherNamesRemain) {
  install_both();
  Output o = berth({"rmi", "bb:v1"});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "Untagged: bb:v1\n");
  o = berth({"image", "rm", "localhost:5000/x/y:2"});
  EXPECT_EQ(o.out, "Untagged: localhost:5000/x/y:2\n");
  for (const auto& c : layers_of(id1_)) EXPECT_TRUE(has_layer_dir(c.chain_id));
  EXPECT_EQ(berth({"images", "-q", "bb"}).out, hex(id1_).substr(0, 12) + "\n");
}

TEST_F(ImagesCli, RmiByIdWithSeveralNamesNeedsForce) {
  install_both();
  Output o = berth({"rmi", hex(id1_).substr(0, 12)});
  EXPECT_EQ(o.status, 125);
  EXPECT_EQ(o.err, "Error: conflict: unable to delete " + hex(id1_).substr(0, 12) +
                       " (must be forced) - image is referenced in multiple repositories\n");
  EXPECT_EQ(o.out, "");
  EXPECT_EQ(lines(berth({"images", "-q", "bb"}).out).size(), 1u);  // nothing removed
}

TEST_F(ImagesCli, RmiForceRemovesNamesImageAndUnsharedFiles) {
  install_both();
  add_repo_digest(id1_, "docker.io/library/bb@" + one_.manifest_digest);
  auto layers1 = layers_of(id1_);
  auto layers2 = layers_of(id2_);
  std::set<std::string> chains2, blobs2 = {id2_};
  for (const auto& l : layers2) chains2.insert(l.chain_id), blobs2.insert(l.digest);
  ASSERT_EQ(layers1.size(), 3u);
  ASSERT_TRUE(chains2.count(layers1[0].chain_id));  // the busybox layer is shared
  ASSERT_FALSE(chains2.count(layers1[2].chain_id));

  Output o = berth({"rmi", "-f", id1_});
  ASSERT_EQ(o.status, 0) << o.err;
  std::string want = "Untagged: bb:latest\nUntagged: bb:v1\nUntagged: bb@" + one_.manifest_digest +
                     "\nUntagged: localhost:5000/x/y:2\nDeleted: " + id1_ + "\n";
  for (auto it = layers1.rbegin(); it != layers1.rend(); ++it)
    if (!chains2.count(it->chain_id)) want += "Deleted: " + it->chain_id + "\n";
  EXPECT_EQ(o.out, want);

  for (const auto& l : layers1) {
    EXPECT_EQ(has_layer_dir(l.chain_id), chains2.count(l.chain_id) == 1) << l.chain_id;
    EXPECT_EQ(has_blob(l.digest), blobs2.count(l.digest) == 1) << l.digest;
  }
  EXPECT_FALSE(has_blob(id1_));
  EXPECT_FALSE(has_blob(one_.manifest_digest));
  EXPECT_TRUE(has_blob(id2_));
  for (const auto& l : layers2) EXPECT_TRUE(has_layer_dir(l.chain_id) && has_blob(l.digest));
  EXPECT_EQ(berth({"images", "-q", "--no-trunc"}).out, id2_ + "\n");
}

TEST_F(ImagesCli, RmiLastNameDeletesTheImage) {
  id2_ = install_fixture(env_, two_, {"docker.io/library/two:latest"});
  add_repo_digest(id2_, "docker.io/library/two@" + two_.manifest_digest);
  Output o = berth({"rmi", "two"});
  ASSERT_EQ(o.status, 0) << o.err;
  auto l = lines(o.out);
  ASSERT_GE(l.size(), 6u) << o.out;
  EXPECT_EQ(l[0], "Untagged: two:latest");
  EXPECT_EQ(l[1], "Untagged: two@" + two_.manifest_digest);  // the repository's digests go too
  EXPECT_EQ(l[2], "Deleted: " + id2_);
  EXPECT_EQ(l.size(), 6u);                          // and its three layers, top first
  EXPECT_EQ(l[5], "Deleted: " + two_.diff_ids[0]);  // the bottom layer's chain id
  EXPECT_EQ(berth({"images", "-q"}).out, "");
  EXPECT_TRUE(fs::is_empty(env_.root() + "/layers"));
  EXPECT_TRUE(fs::is_empty(env_.root() + "/blobs/sha256"));
}

TEST_F(ImagesCli, RmiByDigestAndSingleNameById) {
  install_both();
  ASSERT_EQ(berth({"tag", id2_, "two:x"}).status, 0);
  add_repo_digest(id2_, "docker.io/library/two@" + two_.manifest_digest);
  // By id: one tag and that repository's digest go with the image, no -f needed.
  Output o = berth({"rmi", hex(id2_).substr(0, 10)});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(lines(o.out)[0], "Untagged: two:x");
  EXPECT_EQ(lines(o.out)[1], "Untagged: two@" + two_.manifest_digest);
  EXPECT_EQ(lines(o.out)[2], "Deleted: " + id2_);
  // By a digest name: only that name goes while tags remain.
  add_repo_digest(id1_, "docker.io/library/bb@" + one_.manifest_digest);
  o = berth({"rmi", "bb@" + one_.manifest_digest});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "Untagged: bb@" + one_.manifest_digest + "\n");
}

TEST_F(ImagesCli, RmiErrorsGoOnWithTheOtherImages) {
  install_both();
  Output o = berth({"rmi", "nosuch", "bb:v1", "sha256:" + std::string(64, 'f')});
  EXPECT_EQ(o.status, 125);
  EXPECT_EQ(o.out, "Untagged: bb:v1\n");
  EXPECT_EQ(o.err, "Error: No such image: nosuch:latest\nError: No such image: sha256:" +
                       std::string(64, 'f') + "\n");
}

// ---- inspect --------------------------------------------------------------------------------

TEST_F(ImagesCli, InspectShowsDockersJson) {
  install_both();
  Output o = berth({"image", "inspect", "bb"});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out.substr(0, 30), "[\n    {\n        \"Id\": \"sha256:");
  auto arr = nlohmann::ordered_json::parse(o.out);
  ASSERT_EQ(arr.size(), 1u);
  auto& j = arr[0];
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"Id", "RepoTags", "RepoDigests", "Parent", "Comment",
                                            "Created", "DockerVersion", "Author", "Config",
                                            "Architecture", "Os", "Size", "GraphDriver", "RootFS",
                                            "Metadata"}));
  EXPECT_EQ(j["Id"], id1_);
  EXPECT_EQ(j["RepoTags"], nlohmann::json({"bb:latest", "bb:v1", "localhost:5000/x/y:2"}));
  EXPECT_EQ(j["RepoDigests"], nlohmann::json::array());
  EXPECT_EQ(j["Created"], "2024-05-01T10:00:00Z");
  EXPECT_EQ(j["Author"], "berth tests");
  EXPECT_EQ(j["Architecture"], "amd64");
  EXPECT_EQ(j["Size"], size_of(id1_));
  auto& c = j["Config"];
  EXPECT_EQ(c["Hostname"], "");
  EXPECT_EQ(c["AttachStdin"], false);
  EXPECT_EQ(c["ExposedPorts"], nlohmann::json({{"8888/tcp", nlohmann::json::object()}}));
  EXPECT_EQ(c["Env"][1], "A=1");
  EXPECT_EQ(c["Cmd"], nlohmann::json({"/bin/sh"}));
  EXPECT_TRUE(c["Entrypoint"].is_null());
  EXPECT_TRUE(c["OnBuild"].is_null());
  EXPECT_EQ(c["Volumes"], nlohmann::json({{"/vol", nlohmann::json::object()}}));
  EXPECT_EQ(c["WorkingDir"], "/data");
  EXPECT_EQ(c["Labels"]["org.berth.test"], "yes");
  EXPECT_EQ(c["StopSignal"], "SIGINT");
  EXPECT_FALSE(c.contains("Shell"));
  auto layers = layers_of(id1_);
  auto& gd = j["GraphDriver"];
  EXPECT_EQ(gd["Name"], "overlay2");
  std::string dir = env_.root() + "/layers/";
  EXPECT_EQ(gd["Data"]["UpperDir"], dir + hex(layers[2].chain_id) + "/diff");
  EXPECT_EQ(gd["Data"]["LowerDir"],
            dir + hex(layers[1].chain_id) + "/diff:" + dir + hex(layers[0].chain_id) + "/diff");
  EXPECT_TRUE(fs::is_directory(gd["Data"]["UpperDir"].get<std::string>()));
  EXPECT_EQ(j["RootFS"]["Type"], "layers");
  EXPECT_EQ(j["RootFS"]["Layers"], nlohmann::json(one_.diff_ids));
  EXPECT_TRUE(std::regex_match(j["Metadata"]["LastTagTime"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d))")));
  // Untagged: no tag time, Go's zero time.
  auto two = nlohmann::json::parse(berth({"inspect", id2_}).out);
  EXPECT_EQ(two[0]["Metadata"]["LastTagTime"], "0001-01-01T00:00:00Z");
  EXPECT_EQ(two[0]["RepoTags"], nlohmann::json::array());
  // Several names: one array, in the order asked.
  auto both = nlohmann::json::parse(berth({"inspect", id2_, "bb:v1"}).out);
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[1]["Id"], id1_);
}

TEST_F(ImagesCli, InspectFormatTemplates) {
  install_both();
  auto f = [&](const std::string& tmpl) {
    Output o = berth({"inspect", "-f", tmpl, "bb"});
    EXPECT_EQ(o.status, 0) << tmpl << ": " << o.err;
    return o.out;
  };
  EXPECT_EQ(f("{{.Id}}"), id1_ + "\n");
  EXPECT_EQ(f("{{.Config.Env}}"),
            "[PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin A=1]\n");
  EXPECT_EQ(f("{{json .Config.Cmd}}"), "[\"/bin/sh\"]\n");
  EXPECT_EQ(f("{{.Config.Entrypoint}}"), "[]\n");
  EXPECT_EQ(f("{{json .Config.Entrypoint}}"), "null\n");
  EXPECT_EQ(f("{{index .Config.Labels \"org.berth.test\"}}"), "yes\n");
  EXPECT_EQ(f("{{.Os}}/{{.Architecture}}"), "linux/amd64\n");
  EXPECT_EQ(f("{{.GraphDriver.Name}}"), "overlay2\n");
  EXPECT_EQ(f("{{.Config.Healthcheck}}"), "<no value>\n");
  auto cfg = nlohmann::json::parse(f("{{json .Config}}"));
  EXPECT_EQ(cfg["WorkingDir"], "/data");
  Output o = berth({"image", "inspect", "--format", "{{.Id}}", "bb", id2_});
  EXPECT_EQ(o.out, id1_ + "\n" + id2_ + "\n");
  Output bad = berth({"inspect", "-f", "{{if .Id}}x{{end}}", "bb"});
  EXPECT_EQ(bad.status, 125);
  EXPECT_TRUE(contains(bad.err, "template parsing error")) << bad.err;
}

TEST_F(ImagesCli, InspectUnknownNames) {
  install_both();
  Output o = berth({"image", "inspect", "nosuch"});
  EXPECT_EQ(o.status, 1);
  EXPECT_EQ(o.out, "[]\n");
  EXPECT_EQ(o.err, "Error: No such image: nosuch\n");
  o = berth({"inspect", "bb", "nosuch"});
  EXPECT_EQ(o.status, 1);
  EXPECT_EQ(nlohmann::json::parse(o.out).size(), 1u);
  EXPECT_EQ(o.err, "Error: No such object: nosuch\n");
  o = berth({"inspect", "--type", "image", "nosuch"});
  EXPECT_EQ(o.err, "Error: No such image: nosuch\n");
  o = berth({"inspect", "--type", "volume", "bb"});
  EXPECT_EQ(o.status, 1);
  EXPECT_EQ(o.err, "Error: No such volume: bb\n");
  o = berth({"inspect", "--type", "bogus", "bb"});
  EXPECT_EQ(o.status, 125);
  EXPECT_EQ(o.err, "Error: \"bogus\" is not a valid value for --type\n");
}

// ---- history --------------------------------------------------------------------------------

TEST_F(ImagesCli, HistoryNewestFirst) {
  install_both();
  auto layers = layers_of(id1_);
  Output o = berth({"history", "bb"});
  ASSERT_EQ(o.status, 0) << o.err;
  auto t = lines(o.out);
  ASSERT_EQ(t.size(), 5u) << o.out;
  EXPECT_EQ(cells(t[0]),
            (std::vector<std::string>{"IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"}));
  EXPECT_EQ(t[0].substr(0, 29), "IMAGE          CREATED       ");
  expect_aligned(t);
  auto top = cells(t[1]);
  ASSERT_EQ(top.size(), 5u) << t[1];
  EXPECT_EQ(top[0], hex(id1_).substr(0, 12));
  EXPECT_TRUE(std::regex_match(top[1], std::regex("[0-9]+ (years|months) ago"))) << top[1];
  EXPECT_EQ(top[2], "COPY data /data");
  EXPECT_EQ(top[3], images::human_size(layers[2].size));
  EXPECT_EQ(top[4], "last layer");
  auto env = cells(t[2]);
  EXPECT_EQ(env[0], "<missing>");
  EXPECT_EQ(env[2], "ENV A=1");
  EXPECT_EQ(env[3], "0B");
  EXPECT_EQ(cells(t[3])[3], images::human_size(layers[1].size));
  EXPECT_EQ(cells(t[4])[2], "ADD busybox /bin/");
  EXPECT_EQ(cells(t[4])[3], images::human_size(layers[0].size));

  EXPECT_EQ(berth({"history", "-q", "bb"}).out,
            hex(id1_).substr(0, 12) + "\n<missing>\n<missing>\n<missing>\n");
  EXPECT_EQ(lines(berth({"history", "--no-trunc", "-q", "bb"}).out)[0], id1_);
  EXPECT_EQ(berth({"image", "history", "-q", "bb"}).out, berth({"history", "-q", "bb"}).out);
  EXPECT_EQ(berth({"history", "-H", "bb"}).out, o.out);

  Output raw = berth({"history", "--human=false", "--format", "{{.Size}} {{.CreatedSince}}", "bb"});
  ASSERT_EQ(raw.status, 0) << raw.err;
  auto r = lines(raw.out);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_TRUE(std::regex_match(r[0], std::regex(std::to_string(layers[2].size) +
                                                R"( 2024-05-01T\d\d:00:03(Z|[+-]\d\d:\d\d))")))
      << r[0];
  EXPECT_EQ(r[1].substr(0, 2), "0 ");
}

TEST_F(ImagesCli, HistoryJsonAndErrors) {
  install_both();
  Output o = berth({"history", "--format", "json", id2_});
  ASSERT_EQ(o.status, 0) << o.err;
  auto l = lines(o.out);
  ASSERT_EQ(l.size(), 4u);
  auto j = nlohmann::ordered_json::parse(l[0]);
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"Comment", "CreatedAt", "CreatedBy", "CreatedSince",
                                            "ID", "Size"}));
  EXPECT_EQ(j["CreatedBy"], "COPY data /data");
  EXPECT_EQ(nlohmann::json::parse(l[1])["ID"], "<missing>");
  Output bad = berth({"history", "nosuch"});
  EXPECT_EQ(bad.status, 125);
  EXPECT_EQ(bad.err, "Error: No such image: nosuch:latest\n");
}

// ---- image prune ----------------------------------------------------------------------------

TEST_F(ImagesCli, PruneAsksAndRemovesDanglingImages) {
  install_both();
  Output no = berth({"image", "prune"}, "n\n");
  ASSERT_EQ(no.status, 0) << no.err;
  EXPECT_EQ(no.out,
            "WARNING! This will remove all dangling images.\nAre you sure you want to continue? "
            "[y/N] ");
  EXPECT_EQ(lines(berth({"images", "-q"}).out).size(), 2u);
  EXPECT_EQ(berth({"image", "prune"}, "").out.find("Deleted"), std::string::npos);  // EOF: no

  auto layers2 = layers_of(id2_);
  Output yes = berth({"image", "prune"}, "y\n");
  ASSERT_EQ(yes.status, 0) << yes.err;
  auto l = lines(yes.out);
  ASSERT_GE(l.size(), 5u) << yes.out;
  EXPECT_TRUE(contains(yes.out, "[y/N] Deleted Images:\ndeleted: " + id2_ + "\n")) << yes.out;
  // Two of its layers were its own; the busybox layer is image one's too.
  EXPECT_TRUE(contains(yes.out, "deleted: " + layers2[2].chain_id + "\ndeleted: " +
                                    layers2[1].chain_id + "\n\nTotal reclaimed space: "))
      << yes.out;
  EXPECT_FALSE(contains(yes.out, layers2[0].chain_id));
  EXPECT_EQ(berth({"images", "-q", "--no-trunc"}).out, id1_ + "\n");
  Output again = berth({"image", "prune", "-f"});
  EXPECT_EQ(again.out, "Total reclaimed space: 0B\n");
}

TEST_F(ImagesCli, PruneAllAndOrphans) {
  install_both();
  // What a pull killed before recording its image leaves: a layer and a blob nobody names.
  // Old ones go; fresh ones may belong to a pull still running and stay.
  std::string old_layer = std::string(64, 'a'), new_layer = std::string(64, 'b');
  for (const auto& h : {old_layer, new_layer}) {
    fs::create_directories(env_.root() + "/layers/" + h + "/diff");
    regtest::write_text(env_.root() + "/layers/" + h + "/diff/file", "12345");
  }
  std::string old_blob = regtest::sha256_hex("old orphan"), new_blob = regtest::sha256_hex("new");
  regtest::write_text(env_.root() + "/blobs/sha256/" + hex(old_blob), "old orphan");
  regtest::write_text(env_.root() + "/blobs/sha256/" + hex(new_blob), "new");
  struct timespec two_hours_ago[2] = {{::time(nullptr) - 7200, 0}, {::time(nullptr) - 7200, 0}};
  for (const auto& p :
       {env_.root() + "/layers/" + old_layer, env_.root() + "/blobs/sha256/" + hex(old_blob)})
    ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), two_hours_ago, 0), 0) << p;

  Output o = berth({"image", "prune", "-a"}, "y\n");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_TRUE(contains(o.out,
                       "WARNING! This will remove all images without at least one container "
                       "associated to them.\nAre you sure you want to continue? [y/N] "))
      << o.out;
  EXPECT_TRUE(contains(o.out,
                       "untagged: bb:latest\nuntagged: bb:v1\nuntagged: localhost:5000/x/y:2\n"
                       "deleted: " +
                           id1_ + "\n"))
      << o.out;
  EXPECT_TRUE(contains(o.out, "deleted: " + id2_ + "\n")) << o.out;
  EXPECT_TRUE(std::regex_search(o.out, std::regex("\n\nTotal reclaimed space: [0-9.]+[kM]B\n$")))
      << o.out;
  EXPECT_EQ(berth({"images", "-q"}).out, "");
  std::set<std::string> layers_left, blobs_left;
  for (const auto& e : fs::directory_iterator(env_.root() + "/layers"))
    layers_left.insert(e.path().filename());
  for (const auto& e : fs::directory_iterator(env_.root() + "/blobs/sha256"))
    blobs_left.insert(e.path().filename());
  EXPECT_EQ(layers_left, std::set<std::string>{new_layer});
  EXPECT_EQ(blobs_left, std::set<std::string>{hex(new_blob)});
}

// ---- system df ------------------------------------------------------------------------------

TEST_F(ImagesCli, SystemDfCountsSharedLayersOnce) {
  install_both();
  int64_t total = 0, shared = 0;
  std::set<std::string> seen;
  auto l1 = layers_of(id1_);
  for (const auto& l : l1) seen.insert(l.chain_id), total += l.size;
  for (const auto& l : layers_of(id2_)) {
    if (seen.count(l.chain_id)) {
      shared += l.size;
    } else {
      total += l.size;
    }
  }
  ASSERT_GT(shared, 0);
  Output o = berth({"system", "df"});
  ASSERT_EQ(o.status, 0) << o.err;
  auto t = lines(o.out);
  ASSERT_EQ(t.size(), 5u) << o.out;
  EXPECT_EQ(t[0], "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE");
  expect_aligned(t);
  EXPECT_EQ(cells(t[1]), (std::vector<std::string>{"Images", "2", "0", cli::human_size(total, 4),
                                                   cli::human_size(total, 4) + " (100%)"}));
  EXPECT_EQ(t[2], "Containers      0         0         0B        0B");
  EXPECT_EQ(t[3], "Local Volumes   0         0         0B        0B");
  EXPECT_EQ(t[4], "Build Cache     0         0         0B        0B");

  Output v = berth({"system", "df", "-v"});
  ASSERT_EQ(v.status, 0) << v.err;
  EXPECT_EQ(v.out.substr(0, 21), "Images space usage:\n\n");
  auto vl = lines(v.out);
  EXPECT_EQ(cells(vl[2]),
            (std::vector<std::string>{"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE",
                                      "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"}));
  bool found = false;
  for (const auto& line : vl) {
    auto c = cells(line);
    if (c.size() == 8 && c[0] == "<none>") {
      found = true;
      EXPECT_EQ(c[5], images::human_size(shared));
      EXPECT_EQ(c[6], images::human_size(size_of(id2_) - shared));
      EXPECT_EQ(c[7], "0");
    }
  }
  EXPECT_TRUE(found) << v.out;
  EXPECT_TRUE(contains(v.out, "\nContainers space usage:\n\nCONTAINER ID   IMAGE")) << v.out;
  EXPECT_TRUE(contains(v.out, "\nBuild cache usage: 0B\n")) << v.out;

  Output j = berth({"system", "df", "--format", "json"});
  auto first = nlohmann::json::parse(lines(j.out)[0]);
  EXPECT_EQ(first["Type"], "Images");
  EXPECT_EQ(first["TotalCount"], "2");
}

}  // namespace
}  // namespace berth::imgtest
