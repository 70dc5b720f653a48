// blob_store_test.cpp - verified, atomic, resumable blob writes.
#include "storage/blob_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include "base/file.h"
#include "storage/sha256.h"
#include "storage/test_util.h"

namespace berth::storage {
namespace {

class Blobs : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::create("/tmp/berth-blobs-");
    ASSERT_TRUE(t.ok());
    tmp_ = std::make_unique<TempDir>(std::move(t).value());
    auto s = BlobStore::open(tmp_->path());
    ASSERT_TRUE(s.ok()) << s.error().message();
    store_ = std::make_unique<BlobStore>(std::move(s).value());
  }
  std::vector<std::string> tmp_files() { return list_dir(tmp_->path() + "/tmp").value_or({"?"}); }

  std::unique_ptr<TempDir> tmp_;
  std::unique_ptr<BlobStore> store_;
};

TEST(Sha256, KnownValuesAndDigestRules) {
  EXPECT_EQ(sha256_digest(""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 h;
  h.update("a");
  h.update("bc");
  EXPECT_EQ(h.digest(), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(is_valid_digest(sha256_digest("x")));
  for (const char* bad : {"", "sha256:", "sha256:../../etc/passwd", "md5:abc",
                          "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
                          "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85"})
    EXPECT_FALSE(is_valid_digest(bad)) << bad;
}

TEST_F(Blobs, PutReadListRemove) {
  auto d = store_->put("{\"config\":1}");
  ASSERT_TRUE(d.ok()) << d.error().message();
  EXPECT_EQ(*d, sha256_digest("{\"config\":1}"));
  EXPECT_TRUE(store_->has(*d));
  EXPECT_EQ(store_->path(*d), tmp_->path() + "/blobs/sha256/" + d->substr(7));
  EXPECT_EQ(store_->read(*d, 100).value_or(""), "{\"config\":1}");
  EXPECT_EQ(store_->size(*d).value_or(0), 12u);
  EXPECT_EQ(store_->list().value_or({}), std::vector<std::string>{*d});
  auto big = store_->read(*d, 5);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().message().find("more than the 5 allowed"), std::string::npos);
  ASSERT_TRUE(store_->remove(*d).ok());
  EXPECT_FALSE(store_->has(*d));
  EXPECT_TRUE(store_->remove(*d).ok());  // already gone: fine
  EXPECT_TRUE(tmp_files().empty());
}

TEST_F(Blobs, HostileDigestsNeverBecomePaths) {
  for (const char* bad : {"sha256:../../../etc/passwd", "sha256:/etc/passwd", "../x", ""}) {
    EXPECT_FALSE(store_->has(bad));
    EXPECT_EQ(store_->path(bad), "");
    EXPECT_FALSE(store_->read(bad, 10).ok());
    EXPECT_FALSE(store_->remove(bad).ok());
    if (*bad != '\0') {
      EXPECT_FALSE(store_->writer(bad).ok()) << bad;
    }
  }
}

TEST_F(Blobs, WriterCommitsOnlyMatchingBytes) {
  std::string data(300000, 'q');
  std::string digest = sha256_digest(data);
  {
    auto w = store_->writer();
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->write(data.substr(0, 1000)).ok());
    ASSERT_TRUE(w->write(data.substr(1000)).ok());
    auto wrong = sha256_digest("something else");
    Status s = w->commit(wrong, static_cast<int64_t>(data.size()));
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().message(),
              "blob " + wrong + ": digest mismatch: the 300000 bytes received are " + digest);
    EXPECT_FALSE(store_->has(wrong));
    EXPECT_FALSE(store_->has(digest));
  }
  EXPECT_TRUE(tmp_files().empty());
  {
    auto w = store_->writer();
    ASSERT_TRUE(w->write(data).ok());
    Status s = w->commit(digest, 5);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().message(),
              "blob " + digest + ": size mismatch: expected 5 bytes, got 300000");
  }
  EXPECT_TRUE(tmp_files().empty());
  auto w = store_->writer();
  ASSERT_TRUE(w->write(data).ok());
  ASSERT_TRUE(w->commit(digest, static_cast<int64_t>(data.size())).ok());
  EXPECT_EQ(store_->read(digest, 1 << 20).value_or("").size(), data.size());
  EXPECT_FALSE(w->write("more").ok());
  EXPECT_TRUE(tmp_files().empty());
}

TEST_F(Blobs, CommitComputedStoresNewContent) {
  auto w = store_->writer();
  ASSERT_TRUE(w->write("new layer").ok());
  auto d = w->commit_computed();
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, sha256_digest("new layer"));
  EXPECT_TRUE(store_->has(*d));
}

TEST_F(Blobs, InterruptedDownloadResumes) {
  std::string data(1 << 20, 'r');
  data += "tail";
  std::string digest = sha256_digest(data);
  {
    auto w = store_->writer(digest);
    ASSERT_TRUE(w.ok());
    EXPECT_EQ(w->resume_offset(), 0u);
    ASSERT_TRUE(w->write(data.substr(0, 700000)).ok());
  }  // connection dropped: no commit
  EXPECT_EQ(tmp_files(), std::vector<std::string>{digest.substr(7) + ".partial"});
  EXPECT_FALSE(store_->has(digest));
  // A new process opening the store keeps the young partial.
  auto reopened = BlobStore::open(tmp_->path());
  ASSERT_TRUE(reopened.ok());
  auto w = reopened->writer(digest);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->resume_offset(), 700000u);
  ASSERT_TRUE(w->write(data.substr(w->resume_offset())).ok());
  ASSERT_TRUE(w->commit(digest, static_cast<int64_t>(data.size())).ok());
  EXPECT_EQ(store_->read(digest, 2 << 20).value_or("") == data, true);
  EXPECT_TRUE(tmp_files().empty());
}

TEST_F(Blobs, BadPartialIsDroppedAtCommit) {
  std::string data = "the real bytes";
  std::string digest = sha256_digest(data);
  {
    auto w = store_->writer(digest);
    ASSERT_TRUE(w->write("garbage!").ok());
  }
  auto w = store_->writer(digest);
  ASSERT_EQ(w->resume_offset(), 8u);
  ASSERT_TRUE(w->write(data.substr(8)).ok());
  EXPECT_FALSE(w->commit(digest).ok());
  EXPECT_TRUE(tmp_files().empty());  // a fresh writer starts from zero next time
  auto again = store_->writer(digest);
  EXPECT_EQ(again->resume_offset(), 0u);
}

TEST_F(Blobs, TwoWritersOfTheSameBlobBothSucceed) {
  std::string data = "shared layer";
  std::string digest = sha256_digest(data);
  auto a = store_->writer(digest);
  auto b = store_->writer(digest);  // a holds the partial: b gets its own temp
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(tmp_files().size(), 2u);
  ASSERT_TRUE(a->write(data).ok());
  ASSERT_TRUE(b->write(data).ok());
  ASSERT_TRUE(b->commit(digest).ok());
  ASSERT_TRUE(a->commit(digest).ok());
  EXPECT_EQ(store_->read(digest, 100).value_or(""), data);
  EXPECT_TRUE(tmp_files().empty());
}

TEST_F(Blobs, OpenRemovesTempsOfDeadWritersOnly) {
  // A writer killed with -9 leaves an unlocked temp file behind.
  ASSERT_TRUE(write_file_atomic(tmp_->path() + "/tmp/blob-dead", "half").ok());
  auto live = store_->writer();
  ASSERT_TRUE(live->write("in progress").ok());
  auto reopened = BlobStore::open(tmp_->path());
  ASSERT_TRUE(reopened.ok());
  auto left = tmp_files();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_NE(left[0], "blob-dead");
  ASSERT_TRUE(live->commit(sha256_digest("in progress")).ok());
}

TEST_F(Blobs, CorruptionOnDiskIsNoticedOnRead) {
  auto d = store_->put("genuine");
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE(write_file_atomic(store_->path(*d), "tampered").ok());
  auto r = store_->read(*d, 100);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "blob " + *d + " is corrupt on disk (its content is " +
                                     sha256_digest("tampered") + ")");
}

TEST_F(Blobs, FdSourceStreamsABlob) {
  auto d = store_->put("stream me");
  auto fd = store_->open_blob(*d);
  ASSERT_TRUE(fd.ok());
  FdSource src(std::move(fd).value());
  char buf[64];
  auto n = src.read(buf, sizeof buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string(buf, *n), "stream me");
  EXPECT_EQ(src.read(buf, sizeof buf).value_or(9), 0u);
}

TEST_F(Blobs, TeeKeepsWhatPassesThrough) {
  std::string data(200000, 't');
  testing::StringSource in(data, 7000);
  auto w = store_->writer();
  TeeSource tee(in, *w);
  char buf[4096];
  size_t total = 0;
  for (;;) {
    auto n = tee.read(buf, sizeof buf);
    ASSERT_TRUE(n.ok());
    if (*n == 0) break;
    total += *n;
  }
  EXPECT_EQ(total, data.size());
  ASSERT_TRUE(w->commit(sha256_digest(data), static_cast<int64_t>(data.size())).ok());
}

}  // namespace
}  // namespace berth::storage
