// db_test.cpp - the metadata database: records, tags, references, migrations, and two
// connections or processes writing at once.
#include "storage/db.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "base/file.h"
#include "storage/layer_store.h"
#include "storage/sha256.h"

namespace berth::storage {
namespace {

std::string d(std::string_view seed) {
  return sha256_digest(seed);
}

// An image of `n` layers whose diff ids are d(prefix + i); layers shared when prefixes are.
std::vector<LayerRecord> layers_of(const std::vector<std::string>& diff_seeds) {
  std::vector<LayerRecord> out;
  std::string parent;
  for (const auto& s : diff_seeds) {
    LayerRecord l;
    l.diff_id = d(s);
    l.chain_id = chain_id(parent, l.diff_id);
    l.parent = parent;
    l.size = 1000;
    l.digest = d("blob-" + s);
    l.compressed_size = 400;
    l.media_type = "application/vnd.oci.image.layer.v1.tar+gzip";
    parent = l.chain_id;
    out.push_back(l);
  }
  return out;
}

ImageRecord image(std::string_view config, int64_t created) {
  ImageRecord r;
  r.config = std::string(config);
  r.id = d(config);
  r.created = created;
  r.manifest_digest = d(std::string("manifest-") + std::string(config));
  return r;
}

class DbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::create("/tmp/berth-db-");
    ASSERT_TRUE(t.ok());
    tmp_ = std::make_unique<TempDir>(std::move(t).value());
    path_ = tmp_->path() + "/berth.db";
    auto db = Db::open(path_);
    ASSERT_TRUE(db.ok()) << db.error().message();
    db_ = std::make_unique<Db>(std::move(db).value());
  }
  std::unique_ptr<TempDir> tmp_;
  std::string path_;
  std::unique_ptr<Db> db_;
};

TEST_F(DbTest, SchemaAndReopen) {
  EXPECT_EQ(db_->schema_version().value_or(-1), 3);
  auto again = Db::open(path_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->schema_version().value_or(-1), 3);
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "UPDATE schema_version SET version = 99", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(raw);
  auto newer = Db::open(path_);
  ASSERT_FALSE(newer.ok());
  EXPECT_NE(newer.error().message().find("schema version 99 is newer"), std::string::npos)
      << newer.error().message();
}

TEST_F(DbTest, PutFindListTag) {
  ImageRecord a = image("{\"a\":1}", 100);
  a.repo_digests = {"docker.io/library/a@" + a.manifest_digest};
  auto la = layers_of({"base", "a1"});
  ASSERT_TRUE(db_->put_image(a, la, {"docker.io/library/a:latest"}).ok());
  auto found = db_->find_by_tag("docker.io/library/a:latest");
  ASSERT_TRUE(found.ok() && found->has_value());
  const ImageRecord& f = **found;
  EXPECT_EQ(f.id, a.id);
  EXPECT_EQ(f.config, a.config);
  EXPECT_EQ(f.size, 2000);
  EXPECT_EQ(f.created, 100);
  EXPECT_GT(f.added, 0);
  EXPECT_EQ(f.tags, std::vector<std::string>{"docker.io/library/a:latest"});
  EXPECT_EQ(f.repo_digests, a.repo_digests);
  EXPECT_FALSE(db_->find_by_tag("nope:latest")->has_value());

  EXPECT_EQ(db_->find_by_id(a.id.substr(0, 19))->value().id, a.id);  // sha256: + 12 hex
  EXPECT_EQ(db_->find_by_id(a.id.substr(7, 12))->value().id, a.id);
  EXPECT_FALSE(db_->find_by_id("zzzz")->has_value());
  EXPECT_FALSE(db_->find_by_id("sha256:")->has_value());

  auto layers = db_->image_layers(a.id);
  ASSERT_TRUE(layers.ok());
  ASSERT_EQ(layers->size(), 2u);
  EXPECT_EQ((*layers)[1].chain_id, la[1].chain_id);
  EXPECT_EQ((*layers)[1].parent, la[0].chain_id);
  EXPECT_EQ((*layers)[0].parent, "");
  EXPECT_EQ((*layers)[1].digest, la[1].digest);
  EXPECT_EQ((*layers)[1].media_type, la[1].media_type);

  ImageRecord b = image("{\"b\":1}", 200);
  ASSERT_TRUE(db_->put_image(b, layers_of({"base", "b1"}), {"b:1"}).ok());
  auto all = db_->list();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, b.id);         // newest first
  EXPECT_EQ(db_->layers()->size(), 3u);  // base shared

  // Moving a tag.
  ASSERT_TRUE(db_->tag("docker.io/library/a:latest", b.id).ok());
  EXPECT_EQ(db_->find_by_tag("docker.io/library/a:latest")->value().id, b.id);
  EXPECT_TRUE(db_->find_by_id(a.id)->value().tags.empty());
  auto missing = db_->tag("x:y", d("no such config"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message(), "no such image: " + d("no such config"));
  EXPECT_FALSE(db_->tag("has space", b.id).ok());

  auto untagged = db_->untag("b:1");
  ASSERT_TRUE(untagged.ok());
  EXPECT_EQ(untagged->value_or(""), b.id);
  EXPECT_FALSE(db_->untag("b:1")->has_value());
}

TEST_F(DbTest, AmbiguousPrefix) {
  // Find two configs whose ids share the first hex digit.
  std::vector<ImageRecord> imgs;
  for (int i = 0; imgs.size() < 2 && i < 1000; ++i) {
    ImageRecord r = image("{\"n\":" + std::to_string(i) + "}", i);
    if (imgs.empty() || r.id[7] == imgs[0].id[7]) imgs.push_back(r);
  }
  for (auto& r : imgs) ASSERT_TRUE(db_->put_image(r, {}, {}).ok());
  auto r = db_->find_by_id(imgs[0].id.substr(7, 1));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("is ambiguous"), std::string::npos);
}

TEST_F(DbTest, RemoveReturnsWhatNobodyUses) {
  ImageRecord a = image("{\"a\":1}", 1), b = image("{\"b\":1}", 2);
  auto la = layers_of({"base", "mid", "a"}), lb = layers_of({"base", "mid", "b"});
  ASSERT_TRUE(db_->put_image(a, la, {"a:1", "a:2"}).ok());
  ASSERT_TRUE(db_->put_image(b, lb, {"b:1"}).ok());
  auto r = db_->remove_image(a.id);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->untagged, (std::vector<std::string>{"a:1", "a:2"}));
  EXPECT_EQ(r->unreferenced_layers, std::vector<std::string>{la[2].chain_id});
  std::vector<std::string> blobs = r->unreferenced_blobs;
  std::sort(blobs.begin(), blobs.end());
  std::vector<std::string> want = {a.id, a.manifest_digest, la[2].digest};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(blobs, want);
  EXPECT_FALSE(db_->find_by_tag("a:1")->has_value());
  EXPECT_TRUE(db_->has_layer(la[1].chain_id).value_or(false));
  r = db_->remove_image(b.id);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->unreferenced_layers.size(), 3u);
  EXPECT_EQ(r->unreferenced_blobs.size(), 5u);
  EXPECT_TRUE(db_->layers()->empty());
  auto again = db_->remove_image(b.id);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().message(), "no such image: " + b.id);
}

TEST_F(DbTest, FailedPutChangesNothing) {
  auto layers = layers_of({"base", "top"});
  layers.erase(layers.begin());  // the top layer's parent is unknown: foreign key fails
  auto s = db_->put_image(image("{}", 1), layers, {"x:1"});
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(db_->list()->empty());
  EXPECT_TRUE(db_->layers()->empty());
  EXPECT_FALSE(db_->find_by_tag("x:1")->has_value());
}

TEST_F(DbTest, TwoConnectionsSeeEachOtherAndWaitForTheLock) {
  auto other = Db::open(path_);
  ASSERT_TRUE(other.ok());
  ImageRecord a = image("{\"a\":1}", 1);
  ASSERT_TRUE(db_->put_image(a, layers_of({"l"}), {"a:1"}).ok());
  EXPECT_EQ(other->find_by_tag("a:1")->value().id, a.id);

  // A third connection holds the write lock for a while: writers wait, then succeed.
  sqlite3* holder = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &holder), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(holder, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  std::thread release([holder] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    sqlite3_exec(holder, "COMMIT", nullptr, nullptr, nullptr);
  });
  auto start = std::chrono::steady_clock::now();
  Status s = other->tag("a:2", a.id);
  auto waited = std::chrono::steady_clock::now() - start;
  release.join();
  EXPECT_TRUE(s.ok()) << s.error().message();
  EXPECT_GE(waited, std::chrono::milliseconds(250));
  EXPECT_EQ(db_->find_by_tag("a:2")->value().id, a.id);  // reader did not block meanwhile

  // With a short busy timeout the wait ends in a clear error instead.
  auto impatient = Db::open(path_, 50);
  ASSERT_TRUE(impatient.ok());
  ASSERT_EQ(sqlite3_exec(holder, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  Status busy = impatient->tag("a:3", a.id);
  ASSERT_FALSE(busy.ok());
  EXPECT_NE(busy.error().message().find("database is locked"), std::string::npos)
      << busy.error().message();
  sqlite3_exec(holder, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(holder);
}

TEST_F(DbTest, TwoProcessesWritingAtOnce) {
  ImageRecord a = image("{\"a\":1}", 1), b = image("{\"b\":1}", 2);
  ASSERT_TRUE(db_->put_image(a, layers_of({"x"}), {}).ok());
  ASSERT_TRUE(db_->put_image(b, layers_of({"x", "y"}), {}).ok());
  pid_t kids[2];
  for (int k = 0; k < 2; ++k) {
    kids[k] = ::fork();
    if (kids[k] == 0) {
      auto db = Db::open(path_);
      if (!db.ok()) ::_exit(10);
      for (int i = 0; i < 40; ++i) {
        std::string name = "p" + std::to_string(k) + ":" + std::to_string(i);
        if (!db->tag(name, i % 2 ? a.id : b.id).ok()) ::_exit(11);
        if (!db->tag("shared:latest", k ? a.id : b.id).ok()) ::_exit(12);
      }
      ::_exit(0);
    }
  }
  for (pid_t p : kids) {
    int status = 0;
    ASSERT_EQ(::waitpid(p, &status, 0), p);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
  size_t tags =
      db_->find_by_id(a.id)->value().tags.size() + db_->find_by_id(b.id)->value().tags.size();
  EXPECT_EQ(tags, 81u);
}

TEST_F(DbTest, ProcessKilledMidTransactionLeavesNoTrace) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t kid = ::fork();
  if (kid == 0) {
    sqlite3* raw = nullptr;
    sqlite3_open(path_.c_str(), &raw);
    sqlite3_exec(raw,
                 "BEGIN IMMEDIATE; INSERT INTO images(id, config, added) VALUES "
                 "('sha256:half', '{}', 1);",
                 nullptr, nullptr, nullptr);
    char c = 'x';
    (void)!::write(ready[1], &c, 1);
    ::pause();  // killed here, mid-transaction
    ::_exit(0);
  }
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::kill(kid, SIGKILL);
  ::waitpid(kid, nullptr, 0);
  ::close(ready[0]);
  ::close(ready[1]);
  auto db = Db::open(path_);
  ASSERT_TRUE(db.ok()) << db.error().message();
  EXPECT_TRUE(db->list()->empty());
  EXPECT_TRUE(db->tag("after:crash", "sha256:half").error().message().find("no such image") !=
              std::string::npos);
}

}  // namespace
}  // namespace berth::storage

namespace berth::storage {
namespace {

TEST_F(DbTest, ContainersVolumesNetworksAddresses) {
  ContainerRow c{.id = std::string(64, 'a'), .name = "nb", .image_id = "sha256:x", .created = 1,
                 .config = "{}", .state = "{}"};
  ASSERT_TRUE(db_->put_container(c).ok());
  ContainerRow d = c;
  d.id = std::string(63, 'a') + "b";
  auto dup = db_->put_container(d);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code(), EEXIST) << "the name is taken";
  d.name = "other";
  ASSERT_TRUE(db_->put_container(d).ok());
  EXPECT_EQ(db_->find_container("nb").value()->id, c.id);
  EXPECT_EQ(db_->find_container(c.id).value()->name, "nb");
  auto ambiguous = db_->find_container("aaaa");
  EXPECT_FALSE(ambiguous.ok());
  EXPECT_FALSE(db_->find_container("%").value().has_value()) << "no LIKE wildcards";
  EXPECT_EQ(db_->find_container(std::string(63, 'a') + "b").value()->name, "other");
  ASSERT_TRUE(db_->rename_container(c.id, "nb2").ok());
  EXPECT_EQ(db_->rename_container(c.id, "other").error().code(), EEXIST);
  ASSERT_TRUE(db_->set_container_state(c.id, R"({"Status":"running"})").ok());
  EXPECT_EQ(db_->containers_using_image("sha256:x").value().size(), 2u);
  ASSERT_TRUE(db_->put_network({.name = "net", .id = "abc123", .created = 1, .config = "{}"}).ok());
  EXPECT_EQ(db_->find_network("abc").value()->name, "net");
  ASSERT_TRUE(db_->take_address("net", c.id, "10.0.0.2").ok());
  EXPECT_EQ(db_->take_address("net", d.id, "10.0.0.2").error().code(), EEXIST);
  EXPECT_EQ(db_->network_addresses("net").value(), std::vector<std::string>{"10.0.0.2"});
  EXPECT_TRUE(db_->remove_container(c.id).value());
  EXPECT_TRUE(db_->network_addresses("net").value().empty()) << "released with the container";
  ASSERT_TRUE(db_->put_volume({.name = "v", .created = 1}).ok());
  EXPECT_EQ(db_->put_volume({.name = "v", .created = 1}).error().code(), EEXIST);
  EXPECT_TRUE(db_->find_volume("v").value().has_value());
  EXPECT_EQ(db_->list_volumes().value().size(), 1u);
  EXPECT_TRUE(db_->remove_volume("v").value());
  EXPECT_FALSE(db_->remove_volume("v").value());
}

}  // namespace
}  // namespace berth::storage

namespace berth::storage {
namespace {

// The build's tables: a step's cache entry and an image's parent go with the image.
TEST_F(DbTest, BuildCacheAndParents) {
  ImageRecord base = image("{\"base\":1}", 1);
  ASSERT_TRUE(db_->put_image(base, layers_of({"a"}), {"docker.io/library/base:latest"}).ok());
  ImageRecord step = image("{\"step\":1}", 2);
  step.parent = base.id;
  ASSERT_TRUE(db_->put_image(step, layers_of({"a", "b"}), {}).ok());
  auto found = db_->find_by_id(step.id);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->parent, base.id);
  EXPECT_EQ(db_->children(base.id).value_or({}), std::vector<std::string>{step.id});
  // Putting it again without a parent keeps the one it had.
  step.parent.clear();
  ASSERT_TRUE(db_->put_image(step, layers_of({"a", "b"}), {}).ok());
  EXPECT_EQ(db_->find_by_id(step.id).value()->parent, base.id);

  EXPECT_FALSE(db_->build_cache_get("k1").value().has_value());
  ASSERT_TRUE(db_->build_cache_put("k1", step.id).ok());
  EXPECT_EQ(db_->build_cache_get("k1").value().value_or(""), step.id);
  EXPECT_FALSE(db_->build_cache_put("k2", d("no such image")).ok());  // foreign key
  ASSERT_TRUE(db_->remove_image(step.id).ok());
  EXPECT_FALSE(db_->build_cache_get("k1").value().has_value());
}

TEST_F(DbTest, FileHashes) {
  EXPECT_TRUE(db_->file_hashes({"/x/a"}).value().empty());
  ASSERT_TRUE(db_->put_file_hashes({{"/x/a", 1, 2, 3, 4, 5, "sha256:aa"},
                                    {"/x/b", 1, 3, 3, 4, 5, "sha256:bb"}})
                  .ok());
  ASSERT_TRUE(db_->put_file_hashes({{"/x/a", 1, 2, 9, 4, 5, "sha256:cc"}}).ok());
  auto got = db_->file_hashes({"/x/a", "/x/c", "/x/b"}).value();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].hash, "sha256:cc");
  EXPECT_EQ(got[0].size, 9);
  EXPECT_EQ(got[1].path, "/x/b");
}

}  // namespace
}  // namespace berth::storage
