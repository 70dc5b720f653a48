#include "image/reference.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace berth::image {
namespace {

const std::string kHex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const std::string kSha = "sha256:" + kHex64;

struct Good {
  std::string input;
  std::string domain;
  std::string path;
  std::string tag;
  std::string digest;
  std::string familiar;
};

// Cases from docker's behaviour (distribution/reference's normalize and reference tests).
const std::vector<Good> kGood = {
    {"ubuntu", "docker.io", "library/ubuntu", "latest", "", "ubuntu:latest"},
    {"ubuntu:16.04", "docker.io", "library/ubuntu", "16.04", "", "ubuntu:16.04"},
    {"docker.io/ubuntu", "docker.io", "library/ubuntu", "latest", "", "ubuntu:latest"},
    {"docker.io/library/ubuntu", "docker.io", "library/ubuntu", "latest", "", "ubuntu:latest"},
    {"index.docker.io/ubuntu:18.04", "docker.io", "library/ubuntu", "18.04", "", "ubuntu:18.04"},
    {"index.docker.io/library/busybox", "docker.io", "library/busybox", "latest", "",
     "busybox:latest"},
    {"library/ubuntu", "docker.io", "library/ubuntu", "latest", "", "ubuntu:latest"},
    {"user/repo", "docker.io", "user/repo", "latest", "", "user/repo:latest"},
    {"docker.io/user/repo:v1", "docker.io", "user/repo", "v1", "", "user/repo:v1"},
    {"library/a/b", "docker.io", "library/a/b", "latest", "", "library/a/b:latest"},
    {"localhost/foo", "localhost", "foo", "latest", "", "localhost/foo:latest"},
    {"localhost:5000/x", "localhost:5000", "x", "latest", "", "localhost:5000/x:latest"},
    {"127.0.0.1:5000/x:tag", "127.0.0.1:5000", "x", "tag", "", "127.0.0.1:5000/x:tag"},
    {"[::1]:5000/x", "[::1]:5000", "x", "latest", "", "[::1]:5000/x:latest"},
    {"[2001:db8::1]/team/app", "[2001:db8::1]", "team/app", "latest", "",
     "[2001:db8::1]/team/app:latest"},
    {"myreg:5000/x/y:v1", "myreg:5000", "x/y", "v1", "", "myreg:5000/x/y:v1"},
    {"nvcr.io/nvidia/pytorch:24.01-py3", "nvcr.io", "nvidia/pytorch", "24.01-py3", "",
     "nvcr.io/nvidia/pytorch:24.01-py3"},
    {"ghcr.io/o/i@" + kSha, "ghcr.io", "o/i", "", kSha, "ghcr.io/o/i@" + kSha},
    {"repo@" + kSha, "docker.io", "library/repo", "", kSha, "repo@" + kSha},
    {"repo:tag@" + kSha, "docker.io", "library/repo", "tag", kSha, "repo:tag@" + kSha},
    {"Foo/bar", "Foo", "bar", "latest", "", "Foo/bar:latest"},  // uppercase: a domain
    {"ubuntu:TAG_1.x-y", "docker.io", "library/ubuntu", "TAG_1.x-y", "", "ubuntu:TAG_1.x-y"},
    {"repo:_tag", "docker.io", "library/repo", "_tag", "", "repo:_tag"},
    {"localhost:5000", "docker.io", "library/localhost", "5000", "", "localhost:5000"},
    {"localhost", "docker.io", "library/localhost", "latest", "", "localhost:latest"},
    {"example.com", "docker.io", "library/example.com", "latest", "", "example.com:latest"},
    {"a.b.c:123/x", "a.b.c:123", "x", "latest", "", "a.b.c:123/x:latest"},
    {"foo--bar/a__b/c.d/e_f/g-h", "docker.io", "foo--bar/a__b/c.d/e_f/g-h", "latest", "",
     "foo--bar/a__b/c.d/e_f/g-h:latest"},
    {"my-registry.example.com/a/b/c/d", "my-registry.example.com", "a/b/c/d", "latest", "",
     "my-registry.example.com/a/b/c/d:latest"},
    {"docker.io/foo.bar/baz", "docker.io", "foo.bar/baz", "latest", "",
     "docker.io/foo.bar/baz:latest"},  // "foo.bar/baz" would read as a domain
    {"docker.io/localhost/x", "docker.io", "localhost/x", "latest", "",
     "docker.io/localhost/x:latest"},
    {"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde", "docker.io",
     "library/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde", "latest", "",
     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde:latest"},  // 63 hex
    {"index.docker.io/library/" + kHex64, "docker.io", "library/" + kHex64, "latest", "",
     "docker.io/library/" + kHex64 + ":latest"},  // the short form would read as an image id
    {"repo@sha512:" + kHex64 + kHex64, "docker.io", "library/repo", "", "sha512:" + kHex64 + kHex64,
     "repo@sha512:" + kHex64 + kHex64},
};

TEST(Reference, ParsesAndNormalisesLikeDocker) {
  for (const auto& c : kGood) {
    SCOPED_TRACE(c.input);
    auto r = parse_reference(c.input);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->domain, c.domain);
    EXPECT_EQ(r->path, c.path);
    EXPECT_EQ(r->tag, c.tag);
    EXPECT_EQ(r->digest, c.digest);
    EXPECT_EQ(r->familiar(), c.familiar);
    EXPECT_EQ(r->repository_path(), c.path);
    EXPECT_EQ(r->name(), c.domain + "/" + c.path);
    // string() and familiar() both read back as the same reference.
    auto again = parse_reference(r->string());
    ASSERT_TRUE(again.ok()) << r->string();
    EXPECT_EQ(*again, *r);
    auto from_familiar = parse_reference(r->familiar());
    ASSERT_TRUE(from_familiar.ok()) << r->familiar();
    EXPECT_EQ(*from_familiar, *r);
  }
}

TEST(Reference, StringIsTheFullForm) {
  EXPECT_EQ(parse_reference("ubuntu")->string(), "docker.io/library/ubuntu:latest");
  EXPECT_EQ(parse_reference("repo:tag@" + kSha)->string(), "docker.io/library/repo:tag@" + kSha);
  EXPECT_EQ(parse_reference("repo@" + kSha)->string(), "docker.io/library/repo@" + kSha);
  EXPECT_EQ(parse_reference("ubuntu")->familiar_name(), "ubuntu");
  EXPECT_EQ(parse_reference("repo@" + kSha)->manifest_ref(), kSha);
  EXPECT_EQ(parse_reference("repo:v2")->manifest_ref(), "v2");
}

TEST(Reference, NormalizedNamedHasNoDefaultTag) {
  auto r = parse_normalized_named("ubuntu");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->tag, "");
  EXPECT_EQ(r->string(), "docker.io/library/ubuntu");
  EXPECT_EQ(r->familiar(), "ubuntu");
  EXPECT_EQ(parse_normalized_named_with_default_tag("ubuntu")->tag, "latest");
}

const std::string kBad = "invalid reference format";
const std::string kUpper = "invalid reference format: repository name must be lowercase";

struct Bad {
  std::string input;
  std::string message;
};

const std::vector<Bad> kBadCases = {
    {"", kBad},
    {"/", kBad},
    {"//", kBad},
    {"ubuntu/", kBad},
    {"/ubuntu", kBad},
    {"ubuntu:", kBad},
    {":tag", kBad},
    {"ubuntu@", kBad},
    {"@" + kSha, kBad},
    {"ubuntu:tag:more", kBad},
    {"ubuntu:.tag", kBad},
    {"ubuntu:-tag", kBad},
    {"ubuntu:" + std::string(129, 'a'), kBad},
    {"ubuntu:t@g", kBad},
    {"foo___bar", kBad},
    {"foo..bar", kBad},
    {"foo._bar", kBad},
    {"foo-_bar", kBad},
    {"-foo", kBad},
    {"foo-", kBad},
    {"_foo", kBad},
    {".foo", kBad},
    {"foo/../bar", kBad},
    {"a//b", kBad},
    {" ubuntu", kBad},
    {"ubuntu ", kBad},
    {"ubu ntu", kBad},
    {"ubuntu\n", kBad},
    {std::string("ubu\0ntu", 7), kBad},
    {"ubuntu\xc3\xa9", kBad},
    {"repo@sha256:abc", kBad},
    {"repo@sha256:" + std::string(64, 'A'), kBad},
    {"repo@sha256:" + kHex64 + "0", kBad},
    {"repo@md5:0123456789abcdef0123456789abcdef", kBad},
    {"repo@sha256:" + kHex64 + "@" + kSha, kBad},
    {kHex64, kBad},  // an image ID, not a name
    {"-host.com/x", kBad},
    {"host-.com/x", kBad},
    {"foo_bar.com:8080/x", kBad},
    {"example.com:abc/x", kBad},
    {"example.com:/x", kBad},
    {"example.com:5000:6000/x", kBad},
    {"[::1]:/x", kBad},
    {"[]/x", kBad},
    {"[::1]x/y", kBad},
    {"[fe80::1%eth0]:5000/x", kBad},
    {"[::g]/x", kBad},
    {"localhost:5000/", kBad},
    {"localhost:5000/x:", kBad},
    {std::string(238, 'a'), kBad},  // docker.io/library/ + 238 > 255
    {"registry.example.com/" + std::string(250, 'a'), kBad},
    {"UPPERCASE", kUpper},
    {"Uppercase:tag", kUpper},
    {"docker.io/Foo", kUpper},
    {"user/Repo", kUpper},
    {"localhost:5000/Repo", kUpper},
    {"REPO@" + kSha, kUpper},
};

TEST(Reference, RejectsWithDockersMessage) {
  for (const auto& c : kBadCases) {
    SCOPED_TRACE(c.input);
    auto r = parse_reference(c.input);
    ASSERT_FALSE(r.ok()) << r->string();
    EXPECT_EQ(r.error().message(), c.message);
  }
}

TEST(Reference, LengthLimits) {
  EXPECT_TRUE(parse_reference(std::string(237, 'a')).ok());  // exactly 255 with the prefix
  EXPECT_TRUE(parse_reference("ubuntu:" + std::string(128, 'a')).ok());
  std::string deep = "a";
  for (int i = 0; i < 100; ++i) deep += "/a";
  EXPECT_TRUE(parse_reference(deep).ok());
  EXPECT_FALSE(parse_reference(std::string(1 << 20, 'a')).ok());
  EXPECT_FALSE(parse_reference(std::string(1 << 20, '/')).ok());
}

TEST(Reference, ValidTags) {
  EXPECT_TRUE(is_valid_tag("latest"));
  EXPECT_TRUE(is_valid_tag("1.0"));
  EXPECT_TRUE(is_valid_tag("A_b-c.D"));
  EXPECT_FALSE(is_valid_tag(""));
  EXPECT_FALSE(is_valid_tag(".x"));
  EXPECT_FALSE(is_valid_tag("a/b"));
  EXPECT_FALSE(is_valid_tag("a:b"));
}

}  // namespace
}  // namespace berth::image
