#include "registry/codec.h"

#include <gtest/gtest.h>

namespace berth::registry {
namespace {

TEST(Codec, Base64RoundTrips) {
  struct Case {
    std::string plain, encoded;
  } cases[] = {{"", ""},
               {"f", "Zg=="},
               {"fo", "Zm8="},
               {"foo", "Zm9v"},
               {"user:pa:ss", "dXNlcjpwYTpzcw=="},
               {std::string("\0\xff\x10", 3), "AP8Q"}};
  for (const auto& c : cases) {
    EXPECT_EQ(base64_encode(c.plain), c.encoded);
    EXPECT_EQ(base64_decode(c.encoded).value_or("<bad>"), c.plain);
  }
}

TEST(Codec, Base64RejectsJunk) {
  EXPECT_FALSE(base64_decode("Zm9v!"));
  EXPECT_FALSE(base64_decode("Z"));
  EXPECT_FALSE(base64_decode("Zm 9v"));
  EXPECT_EQ(base64_decode("Zm8").value_or(""), "fo");  // padding optional
}

TEST(Codec, UrlEscape) {
  EXPECT_EQ(url_escape("repository:a/b:pull,push"), "repository%3Aa%2Fb%3Apull%2Cpush");
  EXPECT_EQ(url_escape("a-b_c.d~"), "a-b_c.d~");
  EXPECT_EQ(url_escape("x y&z"), "x%20y%26z");
}

TEST(Codec, Sha256) {
  EXPECT_EQ(sha256_digest(""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_digest("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace berth::registry
