// A registry that misbehaves (FakeRegistry): 500s, 401 forever, stalls and cuts mid-blob,
// Range ignored, garbage and huge manifests. Each: one clear error or a recovery, no hang.
#include <gtest/gtest.h>

#include <chrono>

#include "fake_registry.h"
#include "registry/client.h"
#include "sinks.h"
#include "util.h"

namespace berth::regtest {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kOci = "application/vnd.oci.image.manifest.v1+json";

class Faults : public ::testing::Test {
 protected:
  void SetUp() override {
    blob_ = random_bytes(200000, 42);
    digest_ = sha256_hex(blob_);
    fake_.add_blob(digest_, blob_);
    manifest_ = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"})";
    fake_.add_manifest("f/repo", "latest", manifest_, kOci);
  }
  registry::ClientOptions options() {
    registry::ClientOptions o;
    o.certs_dirs = {};
    o.connect_timeout = std::chrono::milliseconds(2000);
    o.stall_timeout = std::chrono::milliseconds(1000);
    o.retry_backoff = std::chrono::milliseconds(10);
    o.max_attempts = 3;
    return o;
  }
  std::unique_ptr<registry::Client> client() { return client(options()); }
  std::unique_ptr<registry::Client> client(const registry::ClientOptions& o) {
    return std::move(registry::Client::create(fake_.host(), o)).value();
  }
  int count(const std::string& prefix) {
    int n = 0;
    for (const auto& r : fake_.requests()) n += r.rfind(prefix, 0) == 0;
    return n;
  }

  FakeRegistry fake_;
  std::string blob_, digest_, manifest_;
};

TEST_F(Faults, ServerErrorsAreRetried) {
  auto c = client();
  ASSERT_TRUE(c->endpoint());  // resolve first: the 500s are for the manifest
  fake_.fail_500 = 2;
  auto m = c->get_manifest("f/repo", "latest");
  ASSERT_TRUE(m) << m.error().trail();
  EXPECT_EQ(m->body, manifest_);
  EXPECT_EQ(count("GET /v2/f/repo/manifests/latest"), 3);
}

TEST_F(Faults, PersistentServerErrorsGiveUp) {
  auto c = client();
  ASSERT_TRUE(c->endpoint());
  fake_.fail_500 = 1000;
  auto m = c->get_manifest("f/repo", "latest");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().message(), "unknown: injected failure");
  EXPECT_EQ(count("GET /v2/f/repo/manifests/latest"), 3);
}

TEST_F(Faults, UnauthorizedForeverEndsAfterOneNewToken) {
  fake_.unauthorized = true;
  auto c = client();
  auto m = c->get_manifest("f/repo", "latest");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().message(), "unauthorized: authentication required");
  EXPECT_EQ(count("GET /v2/f/repo/manifests/latest"), 2);
  EXPECT_EQ(fake_.token_requests.load(), 1);
}

TEST_F(Faults, StallMidBlobFailsWithinTheStallTimeout) {
  fake_.stall_after = 5000;
  fake_.stall_blob = 1000;
  auto o = options();
  o.max_attempts = 2;
  auto c = client(o);
  ASSERT_TRUE(c->endpoint());
  StringSink sink;
  auto t0 = Clock::now();
  Status s = c->fetch_blob("f/repo", digest_, sink);
  auto took = Clock::now() - t0;
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message(),
            "registry " + fake_.host() + " stalled: no data for 1s while fetching " + digest_);
  EXPECT_LT(took, std::chrono::seconds(8));
  EXPECT_EQ(sink.data().size(), 10000u);  // 5000 bytes, then 5000 more after a Range resume
  EXPECT_EQ(count("GET /v2/f/repo/blobs/" + digest_ + " bytes=5000-"), 1);
}

TEST_F(Faults, StallThenResumeWithRange) {
  fake_.stall_after = 7000;
  fake_.stall_blob = 1;
  auto c = client();
  StringSink sink;
  Status s = c->fetch_blob("f/repo", digest_, sink, {.size = blob_.size()});
  ASSERT_TRUE(s) << s.error().trail();
  EXPECT_TRUE(sink.data() == blob_);
  EXPECT_EQ(count("GET /v2/f/repo/blobs/" + digest_ + " bytes=7000-"), 1);
}

TEST_F(Faults, BrokenConnectionsResumeWithRange) {
  fake_.cut_after = 50000;
  fake_.cut_blob = 2;
  auto c = client();
  StringSink sink;
  Status s = c->fetch_blob("f/repo", digest_, sink, {.size = blob_.size()});
  ASSERT_TRUE(s) << s.error().trail();
  EXPECT_TRUE(sink.data() == blob_);
  EXPECT_EQ(count("GET /v2/f/repo/blobs/" + digest_ + " bytes=50000-"), 1);
  EXPECT_EQ(count("GET /v2/f/repo/blobs/" + digest_ + " bytes=100000-"), 1);
}

TEST_F(Faults, ARegistryThatIgnoresRangeStillGivesTheRightBytes) {
  fake_.cut_after = 30000;
  fake_.cut_blob = 1;
  fake_.ignore_range = true;
  StringSink sink;
  Status s = client()->fetch_blob("f/repo", digest_, sink);
  ASSERT_TRUE(s) << s.error().trail();
  EXPECT_TRUE(sink.data() == blob_);
}

TEST_F(Faults, BlobSizeIsNotTrusted) {
  auto c = client();
  StringSink small;
  Status more = c->fetch_blob("f/repo", digest_, small, {.size = 1000});
  ASSERT_FALSE(more);
  EXPECT_EQ(more.error().message(),
            "registry sent more than the 1000 bytes expected while fetching " + digest_);
  StringSink big;
  Status less = c->fetch_blob("f/repo", digest_, big, {.size = blob_.size() + 1});
  ASSERT_FALSE(less);
  EXPECT_NE(less.error().message().find("sent 200000 of 200001 bytes"), std::string::npos);
}

TEST_F(Faults, GarbageManifest) {
  fake_.add_manifest("f/repo", "garbage", "\x89PNG not a manifest {", kOci);
  auto m = client()->get_manifest("f/repo", "garbage");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().message(),
            "invalid manifest while fetching manifest f/repo:garbage: not a JSON object");
}

TEST_F(Faults, ManifestThatIsNotWhatTheDigestSays) {
  std::string other = sha256_hex("something else");
  fake_.add_manifest("f/repo", other, manifest_, kOci);
  auto m = client()->get_manifest("f/repo", other);
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message().find("manifest digest mismatch"), std::string::npos);
}

TEST_F(Faults, HugeManifestIsCutOff) {
  std::string huge = "{\"x\":\"" + std::string(5 << 20, 'a') + "\"}";
  fake_.add_manifest("f/repo", "huge", huge, kOci);
  for (bool length : {true, false}) {
    fake_.no_content_length = !length;
    auto m = client()->get_manifest("f/repo", "huge");
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().message(), "registry " + fake_.host() +
                                       " sent too much while fetching manifest f/repo:huge: "
                                       "more than 4194304 bytes");
  }
}

TEST_F(Faults, NobodyListening) {
  auto c = registry::Client::create("127.0.0.1:" + std::to_string(free_port()), options());
  auto t0 = Clock::now();
  auto m = (*c)->get_manifest("f/repo", "latest");
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message().find("Couldn't connect to server"), std::string::npos)
      << m.error().message();
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(5));
}

}  // namespace
}  // namespace berth::regtest
