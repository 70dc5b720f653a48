// digest.h - content digests ("sha256:<hex>"): parsing, hashing, and a ByteSource that
// verifies a blob's digest and size while it streams through.
//
// Every blob berth takes from a registry or an archive passes through a VerifyingSource, so
// nothing downstream (decompressor, unpacker, blob store) can see bytes that were not the
// blob the manifest named without the stream failing at its end.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/error.h"
#include "base/io.h"

namespace berth::image {

struct Digest {
  std::string algorithm;  // "sha256" or "sha512"
  std::string hex;        // lowercase, 64 or 128 characters

  // "sha256:<hex>", or "" for a default-constructed Digest.
  std::string string() const;
  bool empty() const { return algorithm.empty() && hex.empty(); }
  friend bool operator==(const Digest&, const Digest&) = default;
  friend auto operator<=>(const Digest&, const Digest&) = default;
};

// Accepts "sha256:" + 64 lowercase hex digits and "sha512:" + 128. Anything else fails with a
// message that quotes the input: unsupported digest algorithm "md5" in "md5:...".
Result<Digest> parse_digest(std::string_view text);

// A streaming hash over one of the algorithms parse_digest accepts. Move-only.
class Hasher {
 public:
  // algorithm: "sha256" or "sha512".
  static Result<Hasher> create(std::string_view algorithm);

  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  ~Hasher();

  const std::string& algorithm() const { return algorithm_; }
  void update(std::string_view data);
  // Finishes the hash (later updates are ignored) and returns it as lowercase hex; calling it
  // again returns the same value.
  std::string hex_digest();
  Digest digest() { return {algorithm_, hex_digest()}; }

 protected:
  explicit Hasher(std::string algorithm);

 private:
  struct State;
  std::string algorithm_;
  std::unique_ptr<State> state_;
};

class Sha256 : public Hasher {
 public:
  Sha256() : Hasher("sha256") {}
};

// Lowercase hex SHA-256 of data.
std::string sha256_hex(std::string_view data);
// {"sha256", sha256_hex(data)}.
Digest sha256_digest(std::string_view data);

// Wraps a ByteSource (not owned; it must outlive this), hashing every byte read. At the end
// of the stream it checks what it saw: when the size is wrong the read fails with
// "size mismatch for <digest>: expected N bytes, got M" (as soon as the stream runs past N),
// and when the hash is wrong with "digest mismatch for <digest>: got sha256:<actual>".
// Errors are sticky: later reads repeat them.
class VerifyingSource : public ByteSource {
 public:
  // expected_size < 0: the size is not known and not checked.
  VerifyingSource(ByteSource& inner, Digest expected, int64_t expected_size = -1);

  Result<size_t> read(void* buf, size_t n) override;

  uint64_t bytes_read() const { return read_; }
  // True once the whole stream has been read and matched.
  bool verified() const { return verified_; }

 private:
  Status finish();
  Error fail(Error e);  // records e as the sticky error

  ByteSource& inner_;
  Digest expected_;
  int64_t expected_size_;
  Result<Hasher> hasher_;
  uint64_t read_ = 0;
  bool verified_ = false;
  std::unique_ptr<Error> error_;
};

}  // namespace berth::image
