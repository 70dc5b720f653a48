// decompress.h - streaming decompression of layer blobs: gzip with ISA-L's igzip (several
// times zlib's speed), zstd with libzstd, or none; the kind given or detected by magic.
#pragma once

#include <memory>
#include <string_view>

#include "base/error.h"
#include "base/io.h"

namespace berth::storage {

enum class Compression { detect, none, gzip, zstd };

std::string_view compression_name(Compression c);
// gzip (1f 8b) or zstd (28 b5 2f fd) by their magic; none otherwise.
Compression detect_compression(std::string_view first_bytes);

// Pulls compressed bytes from a ByteSource and hands out decompressed chunks. Checks the
// stream as it goes: a stream that stops before its end (no gzip trailer, an unfinished zstd
// frame) is "truncated ... stream", garbage is "corrupt ... stream: why". Concatenated gzip
// members and zstd frames are read as one stream, like gzip -d and zstd -d do.
class Decompressor {
 public:
  // src must outlive the decompressor. Compression::detect peeks at the first bytes.
  static Result<std::unique_ptr<Decompressor>> open(ByteSource& src, Compression c);
  virtual ~Decompressor() = default;

  // The next decompressed bytes, valid until the next call; empty at the end of the stream.
  virtual Result<std::string_view> next() = 0;
  Compression kind() const { return kind_; }

 protected:
  explicit Decompressor(Compression kind) : kind_(kind) {}

 private:
  Compression kind_;
};

}  // namespace berth::storage
