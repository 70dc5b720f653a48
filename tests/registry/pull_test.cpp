// Pulls from a plain-HTTP docker-registry: manifests, blobs, Range, parallel fetches.
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "fixture.h"
#include "sinks.h"

namespace berth::regtest {
namespace {

using registry::Client;

class PlainPull : public RegistryTest<Variant::plain> {};

TEST_F(PlainPull, AnonymousManifestAndBlobsWithVerifiedDigests) {
  auto c = client();
  EXPECT_EQ(c->endpoint().value(), "http://" + reg_->host());  // https refused, then http
  ASSERT_TRUE(c->ping()) << c->ping().error().message();
  auto m = c->get_manifest(kRepo, "latest");
  ASSERT_TRUE(m) << m.error().trail();
  EXPECT_EQ(m->digest, image_.manifest_digest);
  EXPECT_EQ(m->media_type, "application/vnd.oci.image.manifest.v1+json");
  auto j = nlohmann::json::parse(m->body);
  std::vector<std::pair<std::string, uint64_t>> blobs = {
      {j["config"]["digest"], j["config"]["size"]}};
  for (const auto& l : j["layers"]) blobs.emplace_back(l["digest"], l["size"]);
  ASSERT_EQ(blobs.size(), 2u);
  for (const auto& [digest, size] : blobs) {
    StringSink sink;
    ASSERT_TRUE(c->fetch_blob(kRepo, digest, sink, {.size = size}));
    EXPECT_EQ(sha256_hex(sink.data()), digest);
    EXPECT_EQ(sink.data().size(), size);
    EXPECT_EQ(c->head_blob(kRepo, digest).value().value_or(0), size);
  }
  auto by_digest = c->get_manifest(kRepo, image_.manifest_digest);
  ASSERT_TRUE(by_digest);
  EXPECT_EQ(by_digest->body, m->body);
  auto head = c->head_manifest(kRepo, "latest").value();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->digest, image_.manifest_digest);
  EXPECT_EQ(head->size, m->body.size());
}

TEST_F(PlainPull, UnknownThingsAreDockerStyleErrors) {
  auto c = client();
  auto m = c->get_manifest(kRepo, "no-such-tag");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().message(), "manifest unknown: manifest unknown");
  EXPECT_FALSE(c->head_manifest(kRepo, "no-such-tag").value());
  std::string missing = sha256_hex("nothing");
  EXPECT_FALSE(c->head_blob(kRepo, missing).value());
  StringSink sink;
  Status s = c->fetch_blob(kRepo, missing, sink);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message(), "blob unknown: blob unknown to registry");
  auto unknown_repo = c->get_manifest("no/such-repo", "latest");
  ASSERT_FALSE(unknown_repo);
  EXPECT_NE(unknown_repo.error().message().find("unknown"), std::string::npos);
}

TEST_F(PlainPull, NamesThatDoNotBelongInAUrlAreRefused) {
  auto c = client();
  EXPECT_FALSE(c->get_manifest("../etc", "latest"));
  EXPECT_FALSE(c->get_manifest("Upper/Case", "latest"));
  EXPECT_FALSE(c->get_manifest(kRepo, "tag?x=1"));
  StringSink sink;
  EXPECT_FALSE(c->fetch_blob(kRepo, "sha256:../../x", sink));
  EXPECT_FALSE(Client::create("host/with/slash"));
}

TEST_F(PlainPull, FetchFromAnOffsetUsesRange) {
  auto c = client();
  StringSink sink;
  uint64_t half = image_.layer.size() / 2;
  ASSERT_TRUE(c->fetch_blob(kRepo, image_.layer_digest, sink,
                            {.offset = half, .size = image_.layer.size()}));
  EXPECT_EQ(sink.data(), image_.layer.substr(half));
}

TEST_F(PlainPull, ParallelBlobFetchesShareOneClient) {
  auto c = client();
  std::vector<std::string> datas;
  for (uint32_t i = 0; i < 6; ++i) {
    datas.push_back(random_bytes(3 << 20, i + 1));
    auto r = c->push_blob("test/parallel", blob_of(datas.back(), sha256_hex(datas.back())));
    ASSERT_TRUE(r) << r.error().message();
  }
  std::vector<std::string> got(datas.size());
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (size_t i = 0; i < datas.size(); ++i) {
    threads.emplace_back([&, i] {
      StringSink sink;
      if (!c->fetch_blob("test/parallel", sha256_hex(datas[i]), sink)) ++failures;
      got[i] = sink.data();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  for (size_t i = 0; i < datas.size(); ++i) EXPECT_TRUE(got[i] == datas[i]) << i;
}

// Timing of a 100 MB blob against curl; run with BERTH_REGISTRY_BENCH=1.
TEST_F(PlainPull, Bench100MBBlobAgainstCurl) {
  if (getenv("BERTH_REGISTRY_BENCH") == nullptr) {
    GTEST_SKIP() << "a benchmark: set BERTH_REGISTRY_BENCH=1 to run it";
  }
  auto c = client();
  std::string data = random_bytes(100 << 20, 7);
  std::string digest = sha256_hex(data);
  ASSERT_TRUE(c->push_blob("test/bench", blob_of(data, digest)));
  for (int round = 0; round < 3; ++round) {
    CountSink sink;
    auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(c->fetch_blob("test/bench", digest, sink));
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0);
    ASSERT_EQ(sink.n, data.size());
    auto t1 = std::chrono::steady_clock::now();
    Output o = run({"curl", "-sS", "-o", "/dev/null",
                    "http://" + reg_->host() + "/v2/test/bench/blobs/" + digest});
    auto curl_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1);
    ASSERT_EQ(o.status, 0);
    printf("100 MB blob: berth %.0f ms, curl %.0f ms\n", ms.count(), curl_ms.count());
  }
}

}  // namespace
}  // namespace berth::regtest
