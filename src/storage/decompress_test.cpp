// decompress_test.cpp - the gzip/zstd/plain readers on their own: multi-member streams,
// padding, garbage, detection, one-byte reads.
#include "storage/decompress.h"

#include <gtest/gtest.h>

#include "storage/test_util.h"

namespace berth::storage {
namespace {

using testing::StringSource;

Result<std::string> decompress_all(const std::string& blob, Compression c, size_t chunk = 1 << 16) {
  StringSource src(blob, chunk);
  auto d = Decompressor::open(src, c);
  if (!d.ok()) return d.error();
  std::string out;
  for (;;) {
    auto part = (*d)->next();
    if (!part.ok()) return part.error();
    if (part->empty()) return out;
    out.append(*part);
  }
}

std::string sample(size_t n) {
  std::string s;
  for (size_t i = 0; s.size() < n; ++i) s += std::to_string(i * 7919 % 1000) + ",";
  return s;
}

TEST(Decompress, RoundTripsEveryKindAndChunkSize) {
  std::string data = sample(3 << 20);
  for (Compression c : {Compression::none, Compression::gzip, Compression::zstd}) {
    std::string blob = testing::compress(data, c);
    for (size_t chunk : {size_t{1} << 20, size_t{1000}, size_t{1}}) {
      if (chunk == 1 && blob.size() > (1 << 20)) continue;
      auto out = decompress_all(blob, Compression::detect, chunk);
      ASSERT_TRUE(out.ok()) << compression_name(c) << " " << out.error().message();
      EXPECT_EQ(*out == data, true) << compression_name(c) << " chunk " << chunk;
    }
  }
  auto small = decompress_all(testing::compress("hi", Compression::gzip), Compression::gzip, 1);
  EXPECT_EQ(small.value_or("?"), "hi");
}

TEST(Decompress, Detection) {
  EXPECT_EQ(detect_compression("\x1f\x8b\x08"), Compression::gzip);
  EXPECT_EQ(detect_compression(std::string("\x28\xb5\x2f\xfd", 4)), Compression::zstd);
  EXPECT_EQ(detect_compression("ustar"), Compression::none);
  EXPECT_EQ(detect_compression(""), Compression::none);
}

TEST(Decompress, ConcatenatedMembersAndFrames) {
  for (Compression c : {Compression::gzip, Compression::zstd}) {
    std::string blob = testing::compress("first,", c) + testing::compress("second", c);
    auto out = decompress_all(blob, c).value_or("?");
    EXPECT_TRUE(out == "first,second") << compression_name(c) << " " << out.size();
  }
}

TEST(Decompress, GzipPaddingAndGarbage) {
  std::string gz = testing::compress("data", Compression::gzip);
  EXPECT_EQ(decompress_all(gz + std::string(512, '\0'), Compression::gzip).value_or("?"), "data");
  auto garbage = decompress_all(gz + "junk", Compression::gzip);
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.error().message(),
            "corrupt gzip stream: trailing garbage after the compressed data");
}

TEST(Decompress, EmptyAndTruncated) {
  EXPECT_EQ(decompress_all("", Compression::none).value_or("?"), "");
  for (Compression c : {Compression::gzip, Compression::zstd}) {
    std::string name(compression_name(c));
    auto empty = decompress_all("", c);
    ASSERT_FALSE(empty.ok()) << name;
    EXPECT_EQ(empty.error().message(), "truncated " + name + " stream");
    std::string blob = testing::compress(sample(100000), c);
    for (size_t cut = 1; cut < blob.size(); cut += blob.size() / 7 + 1) {
      auto r = decompress_all(blob.substr(0, cut), c, 333);
      ASSERT_FALSE(r.ok()) << name << " cut " << cut;
      EXPECT_EQ(r.error().message(), "truncated " + name + " stream") << cut;
    }
  }
}

}  // namespace
}  // namespace berth::storage
