// Pushes to docker-registry: HEAD skip, cross-repository mount, monolithic and chunked
// uploads, manifests that skopeo then reads back.
#include <nlohmann/json.hpp>

#include "fixture.h"
#include "sinks.h"

namespace berth::regtest {
namespace {

using registry::PushOutcome;

class PlainPush : public RegistryTest<Variant::plain> {
 protected:
  // Pushes image_ (config, layer, manifest) to repo:tag.
  void push_image(registry::Client& c, const std::string& repo, const std::string& tag,
                  const registry::PushOptions& opts, PushOutcome want) {
    for (const auto* b : {&image_.config, &image_.layer}) {
      auto r = c.push_blob(repo, blob_of(*b, sha256_hex(*b)), opts);
      ASSERT_TRUE(r) << r.error().trail();
      EXPECT_EQ(*r, want);
    }
    auto d =
        c.put_manifest(repo, tag, "application/vnd.oci.image.manifest.v1+json", image_.manifest);
    ASSERT_TRUE(d) << d.error().trail();
    EXPECT_EQ(*d, image_.manifest_digest);
  }
};

TEST_F(PlainPush, UploadThenSkipThenSkopeoReadsIt) {
  auto c = client();
  push_image(*c, "push/a", "v1", {}, PushOutcome::uploaded);
  push_image(*c, "push/a", "v2", {}, PushOutcome::existed);
  Output o = run({"skopeo", "inspect", "--raw", "--tls-verify=false",
                  "docker://" + reg_->host() + "/push/a:v1"});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, image_.manifest);
  Output cfg = run({"skopeo", "inspect", "--config", "--raw", "--tls-verify=false",
                    "docker://" + reg_->host() + "/push/a:v2"});
  ASSERT_EQ(cfg.status, 0) << cfg.err;
  EXPECT_EQ(cfg.out, image_.config);
}

TEST_F(PlainPush, CrossRepositoryMount) {
  auto c = client();
  push_image(*c, "push/source", "v1", {}, PushOutcome::uploaded);
  push_image(*c, "push/target", "v1", {.mount_from = "push/source"}, PushOutcome::mounted);
  EXPECT_TRUE(c->mount_blob("push/third", image_.layer_digest, "push/source").value());
  // Nothing to mount from: the registry starts an upload instead (cancelled here).
  std::string other = random_bytes(1000, 9);
  EXPECT_FALSE(c->mount_blob("push/third", sha256_hex(other), "push/source").value());
}

TEST_F(PlainPush, ChunkedUpload) {
  auto c = client();
  std::string data = random_bytes(300000, 11);
  auto r = c->push_blob("push/chunked", blob_of(data, sha256_hex(data)), {.chunk_size = 65536});
  ASSERT_TRUE(r) << r.error().trail();
  EXPECT_EQ(*r, PushOutcome::uploaded);
  StringSink sink;
  ASSERT_TRUE(c->fetch_blob("push/chunked", sha256_hex(data), sink));
  EXPECT_TRUE(sink.data() == data);
}

TEST_F(PlainPush, WrongDigestIsRejectedByTheRegistry) {
  auto c = client();
  std::string data = "these bytes";
  auto r = c->push_blob("push/bad", blob_of(data, sha256_hex("other bytes")));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("digest invalid"), std::string::npos) << r.error().message();
}

TEST_F(PlainPush, ASourceThatEndsEarlyFailsTheUpload) {
  auto c = client();
  std::string data = "short";
  registry::BlobSource b = blob_of(data, sha256_hex(data + "!"));
  b.size = data.size() + 1;
  auto r = c->push_blob("push/short", b);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("blob source ended"), std::string::npos)
      << r.error().message();
}

class TokenPush : public RegistryTest<Variant::token> {};

TEST_F(TokenPush, MountAcrossRepositoriesAsksForBothScopes) {
  auto o = reg_->options();
  o.auth = registry::AuthConfig{Registry::kUser, Registry::kPassword, ""};
  auto c = client(o);
  std::string data = random_bytes(50000, 5);
  ASSERT_EQ(c->push_blob("mount/from", blob_of(data, sha256_hex(data))).value(),
            PushOutcome::uploaded);
  auto r = c->push_blob("mount/to", blob_of(data, sha256_hex(data)), {.mount_from = "mount/from"});
  ASSERT_TRUE(r) << r.error().trail();
  EXPECT_EQ(*r, PushOutcome::mounted);
}

}  // namespace
}  // namespace berth::regtest
