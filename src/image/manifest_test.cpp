#include "image/manifest.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace berth::image {
namespace {

namespace mt = media_type;

const std::string kCfg = "sha256:b79606fb3afea5bd1609ed40b622142f1c98125abcfe89a76a661b0e8e343910";
const std::string kL1 = "sha256:77ea7eee3d80b1a38f83906dd3048e2689457eb90e18a7d12f839c5ae37106a2";
const std::string kL2 = "sha256:95cf1a2e1698fe3ca1fcc3f653119146b271d0b62e487ec264441e886a11bd06";

// As docker's registry client (distribution's schema2) writes it: 3-space indent.
const std::string kDockerManifest = R"({
   "schemaVersion": 2,
   "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
   "config": {
      "mediaType": "application/vnd.docker.container.image.v1+json",
      "size": 7028,
      "digest": "sha256:b79606fb3afea5bd1609ed40b622142f1c98125abcfe89a76a661b0e8e343910"
   },
   "layers": [
      {
         "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
         "size": 30428923,
         "digest": "sha256:77ea7eee3d80b1a38f83906dd3048e2689457eb90e18a7d12f839c5ae37106a2"
      },
      {
         "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
         "size": 1082,
         "digest": "sha256:95cf1a2e1698fe3ca1fcc3f653119146b271d0b62e487ec264441e886a11bd06",
         "urls": [
            "https://mcr.microsoft.com/v2/x/blobs/sha256:95cf1a2e1698fe3ca1fcc3f653119146b271d0b62e487ec264441e886a11bd06"
         ]
      }
   ]
})";

const std::string kOciManifest =
    R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
    R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
    kCfg +
    R"(","size":1471},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+zstd",)"
    R"("digest":")" +
    kL1 +
    R"(","size":29533422}],"annotations":{"org.opencontainers.image.created":"2024-02-01T10:20:30Z"}})";

std::string entry(std::string_view type, std::string_view hex_seed, std::string_view platform) {
  std::string digest = "sha256:" + std::string(64 - hex_seed.size(), '0') + std::string(hex_seed);
  std::string e =
      R"({"mediaType":")" + std::string(type) + R"(","digest":")" + digest + R"(","size":529)";
  if (!platform.empty()) e += R"(,"platform":)" + std::string(platform);
  return e + "}";
}

// An OCI index as buildx pushes it: three platforms and an attestation.
const std::string kOciIndex =
    R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)" +
    entry(mt::kOciManifest, "a1", R"({"architecture":"amd64","os":"linux"})") + "," +
    entry(mt::kOciManifest, "a2", R"({"architecture":"arm64","os":"linux","variant":"v8"})") + "," +
    entry(mt::kOciManifest, "a3", R"({"architecture":"ppc64le","os":"linux"})") + "," +
    R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + kL2 +
    R"(","size":839,"annotations":{"vnd.docker.reference.digest":")" + kL1 +
    R"(","vnd.docker.reference.type":"attestation-manifest"},)"
    R"("platform":{"architecture":"unknown","os":"unknown"}}]})";

const std::string kDockerList = R"({
   "schemaVersion": 2,
   "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
   "manifests": [
      {
         "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
         "size": 529,
         "digest": "sha256:5861314d7fccb39c2192173240eab44fa35ca66426201ca2acd0630a6258dd51",
         "platform": {
            "architecture": "amd64",
            "os": "linux"
         }
      },
      {
         "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
         "size": 529,
         "digest": "sha256:5ba6c8710dd1369ce61603ab9b7a81b25f92d4a9f74956ab72a7ea75884f07ee",
         "platform": {
            "architecture": "arm",
            "os": "linux",
            "variant": "v7"
         }
      }
   ]
})";

const std::string kSchema1 =
    R"({"schemaVersion":1,"name":"library/hello-world","tag":"latest","architecture":"amd64",)"
    R"("fsLayers":[{"blobSum":")" +
    kL1 + R"("}],"history":[{"v1Compatibility":"{}"}],"signatures":[]})";

const std::string kSchema1Message =
    "schema 1 manifests are not supported (the image is too old): push it again with a current "
    "docker or skopeo";

TEST(Manifest, ParsesDockerSchema2AndSerializesItByteForByte) {
  auto p = parse_manifest(kDockerManifest, mt::kDockerManifest);
  ASSERT_TRUE(p.ok()) << p.error().message();
  ASSERT_EQ(p->kind, ManifestKind::kImage);
  EXPECT_EQ(p->media_type, mt::kDockerManifest);
  const Manifest& m = p->manifest;
  EXPECT_EQ(m.schema_version, 2);
  EXPECT_EQ(m.config.media_type, mt::kDockerConfig);
  EXPECT_EQ(m.config.digest.string(), kCfg);
  EXPECT_EQ(m.config.size, 7028);
  ASSERT_EQ(m.layers.size(), 2u);
  EXPECT_EQ(m.layers[0].size, 30428923);
  EXPECT_EQ(m.layers[1].urls.size(), 1u);
  EXPECT_EQ(serialize(m), kDockerManifest);
  EXPECT_TRUE(check_image_manifest(m).ok());
  EXPECT_TRUE(classify_layer(m.layers[1].media_type)->non_distributable);
}

TEST(Manifest, ParsesOciManifestAndRoundTrips) {
  auto p =
      parse_manifest(kOciManifest, "application/vnd.oci.image.manifest.v1+json; charset=utf-8");
  ASSERT_TRUE(p.ok()) << p.error().message();
  EXPECT_EQ(p->media_type, mt::kOciManifest);
  EXPECT_EQ(p->manifest.annotations.at("org.opencontainers.image.created"), "2024-02-01T10:20:30Z");
  std::string out = serialize(p->manifest);
  // OCI order: digest before size, and size always written.
  EXPECT_LT(out.find("\"digest\""), out.find("\"size\""));
  auto again = parse_manifest(out, p->media_type);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(serialize(again->manifest), out);
  EXPECT_EQ(again->manifest.layers, p->manifest.layers);
}

TEST(Manifest, ParsesIndexesAndManifestLists) {
  auto oci = parse_manifest(kOciIndex, mt::kOciIndex);
  ASSERT_TRUE(oci.ok()) << oci.error().message();
  ASSERT_EQ(oci->kind, ManifestKind::kIndex);
  ASSERT_EQ(oci->index.manifests.size(), 4u);
  EXPECT_EQ(oci->index.manifests[1].platform->variant, "v8");
  EXPECT_TRUE(is_attestation(oci->index.manifests[3]));
  EXPECT_FALSE(is_attestation(oci->index.manifests[0]));

  auto list = parse_manifest(kDockerList, "");
  ASSERT_TRUE(list.ok()) << list.error().message();
  EXPECT_EQ(list->media_type, mt::kDockerManifestList);
  EXPECT_EQ(serialize(list->index), kDockerList);
}

struct Detect {
  std::string name;
  std::string body;
  std::string content_type;
  ManifestKind kind;
  std::string media_type;
};

TEST(Manifest, DetectsTheKindFromContentTypeBodyOrShape) {
  const std::string oci_no_type =
      R"({"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
      kCfg + R"(","size":2},"layers":[]})";
  const std::string index_no_type = R"({"schemaVersion":2,"manifests":[]})";
  const std::vector<Detect> cases = {
      {"content type only", oci_no_type, std::string(mt::kOciManifest), ManifestKind::kImage,
       std::string(mt::kOciManifest)},
      {"docker type, OCI body without mediaType", oci_no_type, std::string(mt::kDockerManifest),
       ManifestKind::kImage, std::string(mt::kDockerManifest)},
      {"no content type: shape", oci_no_type, "", ManifestKind::kImage,
       std::string(mt::kOciManifest)},
      {"generic json: shape", index_no_type, "application/json", ManifestKind::kIndex,
       std::string(mt::kOciIndex)},
      {"octet-stream: body type", kDockerList, "application/octet-stream", ManifestKind::kIndex,
       std::string(mt::kDockerManifestList)},
      {"text/plain: body type", kDockerManifest, "text/plain; charset=utf-8", ManifestKind::kImage,
       std::string(mt::kDockerManifest)},
      {"case and spaces", kOciIndex, "  Application/VND.OCI.Image.Index.v1+JSON ",
       ManifestKind::kIndex, std::string(mt::kOciIndex)},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto p = parse_manifest(c.body, c.content_type);
    ASSERT_TRUE(p.ok()) << p.error().message();
    EXPECT_EQ(p->kind, c.kind);
    EXPECT_EQ(p->media_type, c.media_type);
  }
}

struct Reject {
  std::string name;
  std::string body;
  std::string content_type;
  std::string message_has;
};

std::string with_layer(std::string_view layer_fields) {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
         R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
         kCfg + R"(","size":2},"layers":[)" + std::string(layer_fields) + "]}";
}

std::string layer(std::string_view size, std::string_view digest = "") {
  return R"({"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" +
         std::string(digest.empty() ? std::string_view(kL1) : digest) + R"(","size":)" +
         std::string(size) + "}";
}

TEST(Manifest, RejectsSchema1AndUnknownKinds) {
  const std::vector<Reject> cases = {
      {"schema1 body", kSchema1, "", kSchema1Message},
      {"schema1 body, docker type", kSchema1, std::string(mt::kDockerManifest), kSchema1Message},
      {"schema1 content type", "{}", std::string(mt::kDockerSchema1Signed), kSchema1Message},
      {"schema1 unsigned type", "not even json", std::string(mt::kDockerSchema1), kSchema1Message},
      {"schema1 mediaType", R"({"mediaType":")" + std::string(mt::kDockerSchema1) + R"("})",
       "application/json", kSchema1Message},
      {"unknown content type", kOciManifest, "text/html",
       "manifest: unsupported manifest media type \"text/html\""},
      {"artifact manifest", R"({"mediaType":"application/vnd.oci.artifact.manifest.v1+json"})", "",
       "unsupported manifest media type \"application/vnd.oci.artifact.manifest.v1+json\""},
      {"kind mismatch", kOciManifest, std::string(mt::kOciIndex), "does not match mediaType"},
      {"index body with layers",
       R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[],"layers":[]})",
       "", "an index must not have"},
      {"manifest body with manifests", R"({"schemaVersion":2,"config":{},"manifests":[]})",
       std::string(mt::kOciManifest), "an image manifest must not have"},
      {"shapeless", R"({"schemaVersion":2})", "", "unrecognised document"},
      {"both shapes", R"({"schemaVersion":2,"layers":[],"manifests":[]})", "",
       "unrecognised document"},
      {"schemaVersion 3", R"({"schemaVersion":3,"manifests":[]})", std::string(mt::kOciIndex),
       "unsupported schemaVersion 3"},
      {"no schemaVersion", R"({"manifests":[]})", std::string(mt::kOciIndex),
       "unsupported schemaVersion 0"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto p = parse_manifest(c.body, c.content_type);
    ASSERT_FALSE(p.ok());
    EXPECT_NE(p.error().message().find(c.message_has), std::string::npos) << p.error().message();
    EXPECT_EQ(p.error().message().find('\n'), std::string::npos);
  }
}

TEST(Manifest, RejectsHostileInput) {
  std::string nested(100000, '[');
  std::string many_layers;
  for (int i = 0; i < 10001; ++i) many_layers += (i ? "," : "") + std::string("{}");
  const std::vector<Reject> cases = {
      {"empty", "", "", "manifest: not valid JSON"},
      {"not json", "<html>", "", "manifest: not valid JSON"},
      {"array", "[]", "", "manifest: expected object, got array"},
      {"truncated", kOciManifest.substr(0, 100), "", "manifest: not valid JSON"},
      {"invalid utf-8",
       R"({"schemaVersion":2,"mediaType":"a)"
       "\xff"
       R"("})",
       "", "manifest: not valid JSON"},
      {"deeply nested", nested, "", "nested deeper than"},
      {"too big", std::string(kMaxManifestBytes + 1, ' '), "", "manifest too big"},
      {"too many layers", with_layer(many_layers), "", "too many layers (10001"},
      {"mediaType not a string", R"({"mediaType":5})", "", "mediaType: expected string"},
      {"negative size", with_layer(layer("-1")), "", "layers[0].size: -1 is negative"},
      {"size over 2^53", with_layer(layer("9007199254740993")), "", "layers[0].size: "},
      {"size over int64", with_layer(layer("18446744073709551615")), "", "out of range"},
      {"fractional size", with_layer(layer("1.5")), "", "layers[0].size: expected integer"},
      {"size as string", with_layer(layer("\"12\"")), "", "layers[0].size: expected integer"},
      {"bad digest", with_layer(layer("1", "sha256:abc")), "", "layers[0].digest: invalid digest"},
      {"md5 digest", with_layer(layer("1", "md5:0123456789abcdef0123456789abcdef")), "",
       "unsupported digest algorithm"},
      {"missing digest", with_layer(R"({"mediaType":"x","size":1})"), "",
       "layers[0].digest: missing"},
      {"missing mediaType", with_layer(R"({"digest":")" + kL1 + R"(","size":1})"), "",
       "layers[0].mediaType: missing"},
      {"layer not an object", with_layer("7"), "", "layers[0]: expected object, got number"},
      {"layers not an array", R"({"schemaVersion":2,"layers":{},"config":{}})", "",
       "layers: expected array"},
      {"urls wrong type", with_layer(R"({"mediaType":"x","digest":")" + kL1 + R"(","urls":[1]})"),
       "", "layers[0].urls[0]: expected string"},
      {"annotation wrong type", R"({"schemaVersion":2,"manifests":[],"annotations":{"a":1}})",
       std::string(mt::kOciIndex), "annotations[\"a\"]: expected string"},
      {"huge key in message",
       R"({"schemaVersion":2,"manifests":[],"annotations":{")" + std::string(100000, 'k') +
           R"(":1}})",
       std::string(mt::kOciIndex), "manifest: annotations[\"kkkk"},
      {"huge mediaType", R"({"mediaType":")" + std::string(100000, 'm') + R"("})", "",
       "manifest: unsupported manifest media type \"mmm"},
      {"huge content type", kOciManifest, std::string(100000, 'c'),
       "manifest: unsupported manifest media type \"ccc"},
      {"missing config", R"({"schemaVersion":2,"layers":[]})", "", "config.mediaType: missing"},
      {"index entry bad platform",
       R"({"schemaVersion":2,"manifests":[{"mediaType":"x","digest":")" + kL1 +
           R"(","size":1,"platform":{"os":["linux"]}}]})",
       std::string(mt::kOciIndex), "manifests[0].platform.os: expected string"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto p = parse_manifest(c.body, c.content_type);
    ASSERT_FALSE(p.ok());
    EXPECT_NE(p.error().message().find(c.message_has), std::string::npos) << p.error().message();
    EXPECT_EQ(p.error().message().find('\n'), std::string::npos);
    EXPECT_LT(p.error().message().size(), 400u);
  }
}

TEST(Manifest, AcceptsLimitsExactly) {
  std::string layers;
  for (size_t i = 0; i < kMaxLayers; ++i) layers += (i ? "," : "") + layer("1");
  auto p = parse_manifest(with_layer(layers), "");
  ASSERT_TRUE(p.ok()) << p.error().message();
  EXPECT_EQ(p->manifest.layers.size(), kMaxLayers);
  EXPECT_TRUE(parse_manifest(with_layer(layer("9007199254740992")), "").ok());  // 2^53
  EXPECT_TRUE(parse_manifest(with_layer(layer("0")), "").ok());
}

TEST(Manifest, ClassifiesLayers) {
  struct Case {
    std::string_view type;
    Compression compression;
    bool non_distributable;
  };
  const std::vector<Case> cases = {
      {mt::kDockerLayerGzip, Compression::kGzip, false},
      {mt::kDockerLayerZstd, Compression::kZstd, false},
      {mt::kDockerLayer, Compression::kNone, false},
      {mt::kDockerForeignLayerGzip, Compression::kGzip, true},
      {mt::kOciLayer, Compression::kNone, false},
      {mt::kOciLayerGzip, Compression::kGzip, false},
      {mt::kOciLayerZstd, Compression::kZstd, false},
      {mt::kOciLayerNondistributableGzip, Compression::kGzip, true},
      {mt::kOciLayerNondistributableZstd, Compression::kZstd, true},
      {mt::kOciLayerNondistributable, Compression::kNone, true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.type);
    auto t = classify_layer(c.type);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->compression, c.compression);
    EXPECT_EQ(t->non_distributable, c.non_distributable);
  }
  auto helm = classify_layer("application/vnd.cncf.helm.chart.content.v1.tar+gzip");
  ASSERT_FALSE(helm.ok());
  EXPECT_EQ(helm.error().message(),
            "unsupported layer media type \"application/vnd.cncf.helm.chart.content.v1.tar+gzip\"");
}

TEST(Manifest, ChecksThatAManifestIsAContainerImage) {
  Manifest m;
  m.config.media_type = "application/vnd.cncf.helm.config.v1+json";
  EXPECT_NE(check_image_manifest(m).error().message().find("not a container image"),
            std::string::npos);
  m.config.media_type = mt::kOciConfig;
  EXPECT_TRUE(check_image_manifest(m).ok());
  m.layers.push_back(Descriptor{"application/vnd.in-toto+json", {}, 1, {}, {}, {}});
  EXPECT_FALSE(check_image_manifest(m).ok());
}

TEST(Manifest, SerializesWhatBerthBuilds) {
  Index index;
  index.media_type = mt::kOciIndex;
  Descriptor d{std::string(mt::kOciManifest),           parse_digest(kL1).value(), 0, {}, {},
               Platform{"linux", "arm64", "v8", "", {}}};
  d.annotations["org.opencontainers.image.ref.name"] = "v1";
  d.annotations["org.opencontainers.image.authors"] = "A & B <ab@example.com>\u2028";
  index.manifests.push_back(d);
  std::string json = serialize(index);
  auto back = parse_manifest(json, "");
  ASSERT_TRUE(back.ok()) << back.error().message() << "\n" << json;
  EXPECT_EQ(back->index.manifests[0], d);
  EXPECT_NE(json.find("\"size\": 0"), std::string::npos);  // OCI writes a zero size
  EXPECT_NE(json.find(R"("A \u0026 B \u003cab@example.com\u003e\u2028")"), std::string::npos)
      << json;
  EXPECT_EQ(manifest_accept_header().find(mt::kOciIndex), 0u);
}

}  // namespace
}  // namespace berth::image
