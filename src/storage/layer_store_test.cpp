// layer_store_test.cpp - layers appear whole or not at all: diff id checks, hostile tars,
// partial directories of killed processes, concurrent adds and removals.
#include "storage/layer_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "base/file.h"
#include "storage/sha256.h"
#include "storage/test_util.h"

namespace berth::storage {
namespace {

using testing::StringSource;
using testing::TarBuilder;

class Layers : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::create("/tmp/berth-layers-");
    ASSERT_TRUE(t.ok());
    tmp_ = std::make_unique<TempDir>(std::move(t).value());
    auto s = LayerStore::open(tmp_->path());
    ASSERT_TRUE(s.ok()) << s.error().message();
    store_ = std::make_unique<LayerStore>(std::move(s).value());
  }

  Result<UnpackResult> add(const std::string& chain, const std::string& tar,
                           const std::string& diff_id) {
    StringSource src(testing::compress(tar, Compression::gzip));
    return store_->add_layer(chain, src, Compression::detect, diff_id,
                             UnpackOptions::for_current_user());
  }
  std::vector<std::string> entries() { return list_dir(tmp_->path() + "/layers").value_or({"?"}); }

  std::unique_ptr<TempDir> tmp_;
  std::unique_ptr<LayerStore> store_;
};

TEST(ChainId, FollowsTheImageSpec) {
  std::string a = sha256_digest("a"), b = sha256_digest("b");
  EXPECT_EQ(chain_id("", a), a);
  EXPECT_EQ(chain_id(a, b), sha256_digest(a + " " + b));
}

TEST_F(Layers, AddListLowerDirRemove) {
  std::string tar = TarBuilder().dir("etc").file("etc/os-release", "ID=test\n").build();
  std::string diff = sha256_digest(tar);
  std::string chain = chain_id("", diff);
  EXPECT_FALSE(store_->has_layer(chain));
  auto r = add(chain, tar, diff);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->diff_id, diff);
  EXPECT_TRUE(store_->has_layer(chain));
  auto lower = store_->lower_dir(chain);
  ASSERT_TRUE(lower.ok());
  EXPECT_EQ(*lower, tmp_->path() + "/layers/" + chain.substr(7) + "/diff");
  EXPECT_EQ(read_file(*lower + "/etc/os-release").value_or(""), "ID=test\n");
  EXPECT_EQ(store_->list().value_or({}), std::vector<std::string>{chain});
  // Adding it again (another pull got there first) keeps one copy.
  ASSERT_TRUE(add(chain, tar, diff).ok());
  EXPECT_EQ(entries(), std::vector<std::string>{chain.substr(7)});
  ASSERT_TRUE(store_->remove_layer(chain).ok());
  EXPECT_FALSE(store_->has_layer(chain));
  EXPECT_TRUE(entries().empty());
  EXPECT_TRUE(store_->remove_layer(chain).ok());
  auto gone = store_->lower_dir(chain);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().message(),
            "layer " + chain + " is not in the store: No such file or directory");
}

TEST_F(Layers, WrongDiffIdStoresNothing) {
  std::string tar = TarBuilder().file("a", "1").build();
  std::string claimed = sha256_digest("something else");
  auto r = add(claimed, tar, claimed);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "layer " + claimed + ": diff id mismatch: the image config says " +
                                     claimed + ", the layer's tar is " + sha256_digest(tar));
  EXPECT_FALSE(store_->has_layer(claimed));
  EXPECT_TRUE(entries().empty());
}

TEST_F(Layers, HostileTarStoresNothingAndEscapesNothing) {
  std::string tar = TarBuilder().file("ok", "1").file("../../escape", "x").build();
  std::string chain = sha256_digest(tar);
  auto r = add(chain, tar, "");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("path escapes the layer root"), std::string::npos);
  EXPECT_TRUE(entries().empty());
  auto top = list_dir(tmp_->path());
  EXPECT_EQ(top.value_or({}), std::vector<std::string>{"layers"});
}

TEST_F(Layers, PartialsOfDeadProcessesGoLiveOnesStay) {
  ASSERT_TRUE(mkdir_all(tmp_->path() + "/layers/tmp-dead/diff/usr/bin").ok());
  ASSERT_TRUE(mkdir_all(tmp_->path() + "/layers/tmp-live/diff").ok());
  auto live = open_fd(tmp_->path() + "/layers/tmp-live", O_RDONLY | O_DIRECTORY);
  ASSERT_TRUE(live.ok());
  ASSERT_EQ(::flock(live->get(), LOCK_EX), 0);
  ASSERT_TRUE(store_->gc_partials().ok());
  EXPECT_EQ(entries(), std::vector<std::string>{"tmp-live"});
  live->reset();
  auto reopened = LayerStore::open(tmp_->path());
  ASSERT_TRUE(reopened.ok());
  EXPECT_TRUE(entries().empty());
}

// A source that hands out a little and then blocks forever, like a stalled download.
class StallingSource : public ByteSource {
 public:
  explicit StallingSource(std::string data) : data_(std::move(data)) {}
  Result<size_t> read(void* buf, size_t n) override {
    if (pos_ >= data_.size() / 2) {
      for (;;) ::pause();
    }
    size_t k = std::min(n, data_.size() / 2 - pos_);
    std::memcpy(buf, data_.data() + pos_, k);
    pos_ += k;
    return k;
  }

 private:
  std::string data_;
  size_t pos_ = 0;
};

TEST_F(Layers, KillMinusNineMidUnpackLeavesOnlyATmpDirCleanedAtOpen) {
  TarBuilder b;
  for (int i = 0; i < 50; ++i) b.file("f" + std::to_string(i), std::string(20000, 'x'));
  std::string tar = b.build();
  std::string chain = sha256_digest(tar);
  pid_t kid = ::fork();
  if (kid == 0) {
    StallingSource src(tar);
    UnpackOptions o = UnpackOptions::for_current_user();
    (void)store_->add_layer(chain, src, Compression::none, chain, o);
    ::_exit(0);
  }
  bool saw_files = false;
  for (int i = 0; i < 500 && !saw_files; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    for (const auto& e : entries())
      saw_files =
          saw_files || !list_dir(tmp_->path() + "/layers/" + e + "/diff").value_or({}).empty();
  }
  ::kill(kid, SIGKILL);
  ::waitpid(kid, nullptr, 0);
  ASSERT_TRUE(saw_files);
  EXPECT_FALSE(store_->has_layer(chain));
  ASSERT_EQ(entries().size(), 1u);
  EXPECT_EQ(entries()[0].rfind("tmp-", 0), 0u);
  auto reopened = LayerStore::open(tmp_->path());
  ASSERT_TRUE(reopened.ok());
  EXPECT_TRUE(entries().empty());
}

}  // namespace
}  // namespace berth::storage
