#include "image/digest.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

namespace berth::image {
namespace {

const std::string kEmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const std::string kAbcSha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const std::string kAbcSha512 =
    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";

TEST(Digest, ParsesSha256AndSha512) {
  auto d = parse_digest("sha256:" + kAbcSha256);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->algorithm, "sha256");
  EXPECT_EQ(d->hex, kAbcSha256);
  EXPECT_EQ(d->string(), "sha256:" + kAbcSha256);
  auto d512 = parse_digest("sha512:" + kAbcSha512);
  ASSERT_TRUE(d512.ok());
  EXPECT_EQ(d512->algorithm, "sha512");
  EXPECT_EQ(Digest{}.string(), "");
}

struct BadDigest {
  std::string input;
  std::string message_has;
};

TEST(Digest, RejectsMalformed) {
  const std::vector<BadDigest> cases = {
      {"", "expected algorithm:hex"},
      {"sha256", "expected algorithm:hex"},
      {":" + kAbcSha256, "expected algorithm:hex"},
      {"sha256:", "64 lowercase hex"},
      {"sha256:abc", "64 lowercase hex"},
      {"sha256:" + kAbcSha256 + "0", "64 lowercase hex"},
      {"sha256:" + std::string(64, 'A'), "64 lowercase hex"},
      {"sha256:" + std::string(64, 'g'), "64 lowercase hex"},
      {"sha256:" + kAbcSha512, "64 lowercase hex"},
      {"sha512:" + kAbcSha256, "128 lowercase hex"},
      {"md5:0123456789abcdef0123456789abcdef", "unsupported digest algorithm \"md5\""},
      {"SHA256:" + kAbcSha256, "unsupported digest algorithm \"SHA256\""},
      {"sha384:" + kAbcSha256, "unsupported digest algorithm \"sha384\""},
      {"sha256:" + kAbcSha256.substr(1) + "\xff", "64 lowercase hex"},
      {std::string("sha256\0:x", 9), "unsupported digest algorithm"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.input);
    auto d = parse_digest(c.input);
    ASSERT_FALSE(d.ok());
    EXPECT_NE(d.error().message().find(c.message_has), std::string::npos) << d.error().message();
  }
}

TEST(Digest, MessagesStayShortAndPrintable) {
  auto d = parse_digest(std::string(100000, '\x01') + ":x");
  ASSERT_FALSE(d.ok());
  EXPECT_LT(d.error().message().size(), 300u);
  EXPECT_EQ(d.error().message().find('\x01'), std::string::npos);
}

TEST(Sha256, KnownVectorsAndStreaming) {
  EXPECT_EQ(sha256_hex(""), kEmptySha256);
  EXPECT_EQ(sha256_hex("abc"), kAbcSha256);
  EXPECT_EQ(sha256_digest("abc").string(), "sha256:" + kAbcSha256);
  Sha256 h;
  h.update("a");
  h.update("");
  h.update("bc");
  EXPECT_EQ(h.hex_digest(), kAbcSha256);
  EXPECT_EQ(h.hex_digest(), kAbcSha256);  // stable once finished
  h.update("more");                       // ignored after finishing
  EXPECT_EQ(h.hex_digest(), kAbcSha256);
  // A million 'a's, in uneven pieces.
  Sha256 big;
  std::string chunk(997, 'a');
  size_t left = 1000000;
  while (left > 0) {
    size_t n = std::min(left, chunk.size());
    big.update(std::string_view(chunk).substr(0, n));
    left -= n;
  }
  EXPECT_EQ(big.hex_digest(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Hasher, Sha512AndUnknown) {
  auto h = Hasher::create("sha512");
  ASSERT_TRUE(h.ok());
  h->update("abc");
  EXPECT_EQ(h->digest().string(), "sha512:" + kAbcSha512);
  EXPECT_FALSE(Hasher::create("md5").ok());
  Hasher moved = std::move(h).value();
  EXPECT_EQ(moved.hex_digest(), kAbcSha512);
}

// Serves a string in pieces of at most `chunk` bytes.
class StringSource : public ByteSource {
 public:
  StringSource(std::string data, size_t chunk) : data_(std::move(data)), chunk_(chunk) {}
  Result<size_t> read(void* buf, size_t n) override {
    if (fail_at_ != std::string::npos && pos_ >= fail_at_)
      return Error(104, "read blob");  // ECONNRESET
    size_t len = std::min({n, chunk_, data_.size() - pos_});
    std::memcpy(buf, data_.data() + pos_, len);
    pos_ += len;
    return len;
  }
  size_t fail_at_ = std::string::npos;

 private:
  std::string data_;
  size_t chunk_;
  size_t pos_ = 0;
};

// Reads src to the end with a small buffer; returns the bytes or the error.
Result<std::string> drain(ByteSource& src) {
  std::string out;
  char buf[7];
  while (true) {
    size_t n = TRY(src.read(buf, sizeof buf));
    if (n == 0) return out;
    out.append(buf, n);
  }
}

Digest digest_of(std::string_view data) {
  return sha256_digest(data);
}

TEST(VerifyingSource, PassesAMatchingBlob) {
  std::string blob(1000, 'x');
  StringSource inner(blob, 13);
  VerifyingSource v(inner, digest_of(blob), static_cast<int64_t>(blob.size()));
  auto got = drain(v);
  ASSERT_TRUE(got.ok()) << got.error().message();
  EXPECT_EQ(*got, blob);
  EXPECT_TRUE(v.verified());
  EXPECT_EQ(v.bytes_read(), 1000u);
  char c;
  EXPECT_EQ(v.read(&c, 1).value(), 0u);  // stays at end
}

TEST(VerifyingSource, UnknownSizeAndEmptyBlob) {
  StringSource inner("", 5);
  VerifyingSource v(inner, digest_of(""));
  ASSERT_TRUE(drain(v).ok());
  EXPECT_TRUE(v.verified());
}

TEST(VerifyingSource, FailsOnWrongDigest) {
  StringSource inner("evil", 3);
  Digest want = digest_of("good");
  VerifyingSource v(inner, want, -1);
  auto got = drain(v);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().message(),
            "digest mismatch for " + want.string() + ": got " + digest_of("evil").string());
  EXPECT_FALSE(v.verified());
  char c;
  EXPECT_FALSE(v.read(&c, 1).ok());  // sticky
}

TEST(VerifyingSource, FailsOnShortAndLongBlobs) {
  std::string blob = "0123456789";
  StringSource short_src(blob, 4);
  VerifyingSource v_short(short_src, digest_of(blob), 11);
  auto got = drain(v_short);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().message(),
            "size mismatch for " + digest_of(blob).string() + ": expected 11 bytes, got 10");

  StringSource long_src(blob, 4);
  VerifyingSource v_long(long_src, digest_of(blob), 5);
  got = drain(v_long);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().message(),
            "size mismatch for " + digest_of(blob).string() + ": expected 5 bytes, got more");
}

TEST(VerifyingSource, PassesInnerErrorsAndZeroLengthReads) {
  StringSource inner("abcdef", 2);
  inner.fail_at_ = 4;
  VerifyingSource v(inner, digest_of("abcdef"), 6);
  char buf[8];
  EXPECT_EQ(v.read(buf, 0).value(), 0u);  // not taken as the end
  EXPECT_FALSE(v.verified());
  auto got = drain(v);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code(), 104);
}

TEST(VerifyingSource, SupportsSha512AndRejectsBadExpectedDigest) {
  StringSource inner("abc", 1);
  VerifyingSource v(inner, parse_digest("sha512:" + kAbcSha512).value(), 3);
  ASSERT_TRUE(drain(v).ok());
  EXPECT_TRUE(v.verified());

  StringSource inner2("abc", 1);
  VerifyingSource bad(inner2, Digest{"md5", "00"}, 3);
  auto got = drain(bad);
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.error().message().find("unsupported digest algorithm"), std::string::npos);
}

}  // namespace
}  // namespace berth::image
