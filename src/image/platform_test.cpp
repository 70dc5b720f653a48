#include "image/platform.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "image/manifest.h"

namespace berth::image {
namespace {

TEST(Platform, FromUnameMachine) {
  struct Case {
    std::string machine;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"x86_64", "linux/amd64"},    {"aarch64", "linux/arm64/v8"},    {"armv7l", "linux/arm/v7"},
      {"armv6l", "linux/arm/v6"},   {"armv5tel", "linux/arm/v5"},     {"armv8l", "linux/arm/v8"},
      {"i686", "linux/386"},        {"ppc64le", "linux/ppc64le"},     {"s390x", "linux/s390x"},
      {"riscv64", "linux/riscv64"}, {"loongarch64", "linux/loong64"}, {"mystery", "linux/mystery"},
  };
  for (const auto& c : cases) EXPECT_EQ(platform_for_machine(c.machine).string(), c.want);
  Platform host = host_platform();
  EXPECT_EQ(host.os, "linux");
  EXPECT_FALSE(host.architecture.empty());
}

TEST(Platform, Parses) {
  struct Case {
    std::string text;
    std::string want;  // "" = error
  };
  const std::vector<Case> cases = {
      {"linux/amd64", "linux/amd64"},
      {"linux/arm64/v8", "linux/arm64/v8"},
      {"linux/arm/v7", "linux/arm/v7"},
      {"Linux/AMD64", "linux/amd64"},
      {"linux/x86_64", "linux/amd64"},
      {"linux/aarch64", "linux/arm64"},
      {"linux/armhf", "linux/arm/v7"},
      {"linux/armel", "linux/arm/v6"},
      {"linux/amd64/v3", "linux/amd64/v3"},
      {"arm64", "linux/arm64"},
      {"windows/amd64", "windows/amd64"},
      {"", ""},
      {"/", ""},
      {"linux/", ""},
      {"/amd64", ""},
      {"linux//v7", ""},
      {"linux/arm/v7/extra", ""},
      {"linux/am d64", ""},
      {"nonsense", ""},
      {"linux/arm64/v8\n", ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    auto p = parse_platform(c.text);
    if (c.want.empty()) {
      ASSERT_FALSE(p.ok()) << p->string();
      EXPECT_EQ(p.error().message().rfind("invalid platform \"", 0), 0u);
    } else {
      ASSERT_TRUE(p.ok()) << p.error().message();
      EXPECT_EQ(p->string(), c.want);
    }
  }
  auto linux_only = parse_platform("linux");
  ASSERT_TRUE(linux_only.ok());
  EXPECT_EQ(linux_only->architecture, host_platform().architecture);
}

TEST(Platform, NormalisesLikeContainerd) {
  struct Case {
    Platform in;
    std::string want;
  };
  const std::vector<Case> cases = {
      {{"linux", "amd64", "v1", "", {}}, "linux/amd64"},
      {{"linux", "x86_64", "", "", {}}, "linux/amd64"},
      {{"linux", "i386", "", "", {}}, "linux/386"},
      {{"linux", "aarch64", "v8", "", {}}, "linux/arm64"},
      {{"linux", "arm64", "8", "", {}}, "linux/arm64"},
      {{"linux", "arm64", "9.0", "", {}}, "linux/arm64/v9"},
      {{"linux", "arm", "", "", {}}, "linux/arm/v7"},
      {{"linux", "arm", "6", "", {}}, "linux/arm/v6"},
      {{"LINUX", "ARM", "V5", "", {}}, "linux/arm/v5"},
      {{"linux", "armhf", "", "", {}}, "linux/arm/v7"},
  };
  for (const auto& c : cases) EXPECT_EQ(normalize_platform(c.in).string(), c.want);
}

std::vector<std::string> names(const std::vector<Platform>& ps) {
  std::vector<std::string> out;
  for (const auto& p : ps) out.push_back(p.string());
  return out;
}

TEST(Platform, CompatibleVectorsFollowContainerd) {
  using V = std::vector<std::string>;
  EXPECT_EQ(names(compatible_platforms({"linux", "amd64", "", "", {}})),
            (V{"linux/amd64", "linux/386"}));
  EXPECT_EQ(names(compatible_platforms({"linux", "amd64", "v3", "", {}})),
            (V{"linux/amd64/v3", "linux/amd64/v2", "linux/amd64", "linux/386"}));
  EXPECT_EQ(names(compatible_platforms({"linux", "arm", "v7", "", {}})),
            (V{"linux/arm/v7", "linux/arm/v6", "linux/arm/v5"}));
  EXPECT_EQ(names(compatible_platforms({"linux", "arm64", "v8", "", {}})),
            (V{"linux/arm64", "linux/arm/v8", "linux/arm/v7", "linux/arm/v6", "linux/arm/v5"}));
  EXPECT_EQ(names(compatible_platforms({"linux", "ppc64le", "", "", {}})), (V{"linux/ppc64le"}));
  EXPECT_TRUE(platform_matches({"linux", "arm64", "", "", {}}, {"linux", "arm64", "v8", "", {}}));
  EXPECT_FALSE(platform_matches({"linux", "arm", "v6", "", {}}, {"linux", "arm", "v7", "", {}}));
  EXPECT_FALSE(platform_matches({"linux", "amd64", "", "", {}}, {"windows", "amd64", "", "", {}}));
}

Descriptor entry(char seed, std::optional<Platform> platform) {
  Descriptor d;
  d.media_type = std::string(media_type::kOciManifest);
  d.digest = Digest{"sha256", std::string(64, seed)};
  d.size = 100;
  d.platform = std::move(platform);
  return d;
}

Platform P(std::string os, std::string arch, std::string variant = "") {
  return Platform{std::move(os), std::move(arch), std::move(variant), "", {}};
}

struct Select {
  std::string name;
  std::vector<Descriptor> entries;
  Platform want;
  char chosen;  // 0: an error
};

TEST(Platform, SelectsFromAnIndex) {
  const Descriptor attestation = [] {
    Descriptor d = entry('f', P("unknown", "unknown"));
    d.annotations["vnd.docker.reference.type"] = "attestation-manifest";
    return d;
  }();
  const std::vector<Select> cases = {
      {"exact amd64",
       {entry('a', P("linux", "amd64")), entry('b', P("linux", "arm64", "v8"))},
       P("linux", "amd64"),
       'a'},
      {"arm64 without variant matches v8",
       {entry('a', P("linux", "amd64")), entry('b', P("linux", "arm64", "v8"))},
       P("linux", "arm64"),
       'b'},
      {"arm64/v8 matches an entry without variant",
       {entry('a', P("linux", "amd64")), entry('b', P("linux", "arm64"))},
       P("linux", "arm64", "v8"),
       'b'},
      {"arm v7 preferred over v6 whatever the order",
       {entry('a', P("linux", "arm", "v6")), entry('b', P("linux", "arm", "v7"))},
       P("linux", "arm", "v7"),
       'b'},
      {"arm v7 falls back to v5",
       {entry('a', P("linux", "arm", "v5"))},
       P("linux", "arm", "v7"),
       'a'},
      {"arm v6 does not run v7", {entry('a', P("linux", "arm", "v7"))}, P("linux", "arm", "v6"), 0},
      {"arm64 runs 32-bit arm",
       {entry('a', P("linux", "arm", "v7"))},
       P("linux", "arm64", "v8"),
       'a'},
      {"amd64/v3 takes the best level",
       {entry('a', P("linux", "amd64")), entry('b', P("linux", "amd64", "v2")),
        entry('c', P("linux", "amd64", "v4"))},
       P("linux", "amd64", "v3"),
       'b'},
      {"amd64 does not run v2", {entry('a', P("linux", "amd64", "v2"))}, P("linux", "amd64"), 0},
      {"amd64 falls back to 386", {entry('a', P("linux", "386"))}, P("linux", "amd64"), 'a'},
      {"first of equals wins",
       {entry('a', P("linux", "amd64")), entry('b', P("linux", "amd64"))},
       P("linux", "amd64"),
       'a'},
      {"os must match", {entry('a', P("windows", "amd64"))}, P("linux", "amd64"), 0},
      {"attestations are skipped", {attestation}, P("unknown", "unknown"), 0},
      {"single entry without platform",
       {entry('a', std::nullopt), attestation},
       P("linux", "amd64"),
       'a'},
      {"two entries without platform",
       {entry('a', std::nullopt), entry('b', std::nullopt)},
       P("linux", "amd64"),
       0},
      {"empty index", {}, P("linux", "amd64"), 0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Index index;
    index.manifests = c.entries;
    auto d = select_platform(index, c.want);
    if (c.chosen == 0) {
      EXPECT_FALSE(d.ok());
    } else {
      ASSERT_TRUE(d.ok()) << d.error().message();
      EXPECT_EQ(d->digest.hex, std::string(64, c.chosen));
    }
  }
}

TEST(Platform, SelectErrorListsWhatIsAvailable) {
  Index index;
  Descriptor att = entry('f', P("unknown", "unknown"));
  index.manifests = {entry('a', P("linux", "amd64")), att, entry('b', P("linux", "ppc64le")),
                     entry('c', P("linux", "amd64"))};
  auto d = select_platform(index, P("linux", "arm64"));
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().message(),
            "no image for linux/arm64 in the manifest list (available: linux/amd64, "
            "linux/ppc64le)");
  d = select_platform(Index{}, P("linux", "arm", "v7"));
  EXPECT_EQ(d.error().message(),
            "no image for linux/arm/v7 in the manifest list (available: none)");
}

}  // namespace
}  // namespace berth::image
