#include "storage/decompress.h"

#include <isa-l/igzip_lib.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace berth::storage {

namespace {

constexpr size_t kInSize = 256 << 10;
constexpr size_t kOutSize = 1 << 20;

// Compressed input buffered from the source.
class Input {
 public:
  explicit Input(ByteSource& src) : src_(src), buf_(kInSize) {}

  const uint8_t* data() const { return buf_.data() + pos_; }
  size_t avail() const { return end_ - pos_; }
  bool eof() const { return eof_; }
  void consume(size_t n) { pos_ += n; }

  // Moves what is left to the front and reads once more from the source.
  Status refill() {
    if (eof_) return ok();
    if (pos_ > 0) {
      std::memmove(buf_.data(), buf_.data() + pos_, avail());
      end_ -= pos_;
      pos_ = 0;
    }
    if (end_ == buf_.size()) return ok();
    size_t n = TRY(src_.read(buf_.data() + end_, buf_.size() - end_));
    if (n == 0) eof_ = true;
    end_ += n;
    return ok();
  }
  // Reads until at least n bytes are buffered or the source ends.
  Status fill(size_t n) {
    while (avail() < n && !eof_) TRY(refill());
    return ok();
  }

 private:
  ByteSource& src_;
  std::vector<uint8_t> buf_;
  size_t pos_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
};

class PlainReader : public Decompressor {
 public:
  explicit PlainReader(std::unique_ptr<Input> in)
      : Decompressor(Compression::none), in_(std::move(in)) {}

  Result<std::string_view> next() override {
    if (in_->avail() > 0) {  // bytes peeked while detecting
      std::string_view v(reinterpret_cast<const char*>(in_->data()), in_->avail());
      in_->consume(in_->avail());
      return v;
    }
    if (in_->eof()) return std::string_view();
    return TRY(read_some());
  }

 private:
  Result<std::string_view> read_some();
  std::unique_ptr<Input> in_;
};

class GzipReader : public Decompressor {
 public:
  explicit GzipReader(std::unique_ptr<Input> in)
      : Decompressor(Compression::gzip),
        in_(std::move(in)),
        out_(kOutSize),
        st_(std::make_unique<inflate_state>()) {
    start_member();
  }
  Result<std::string_view> next() override;

 private:
  // isal_inflate_init clears the output window too: keep filling the same chunk.
  void start_member() {
    uint8_t* next_out = st_->next_out;
    uint32_t avail_out = st_->avail_out;
    isal_inflate_init(st_.get());
    st_->crc_flag = ISAL_GZIP;
    st_->next_out = next_out;
    st_->avail_out = avail_out;
    in_member_ = true;
  }
  Status between_members();
  Status inflate_some();

  std::unique_ptr<Input> in_;
  std::vector<uint8_t> out_;
  std::unique_ptr<inflate_state> st_;
  bool in_member_ = false;
  bool finished_ = false;
};

class ZstdReader : public Decompressor {
 public:
  explicit ZstdReader(std::unique_ptr<Input> in)
      : Decompressor(Compression::zstd),
        in_(std::move(in)),
        out_(kOutSize),
        ds_(ZSTD_createDStream()) {}
  ~ZstdReader() override { ZSTD_freeDStream(ds_); }
  bool ready() const { return ds_ != nullptr; }
  Result<std::string_view> next() override;

 private:
  std::unique_ptr<Input> in_;
  std::vector<char> out_;
  ZSTD_DStream* ds_;
  bool frame_open_ = true;  // nothing read yet: an empty stream is a truncated one
  bool finished_ = false;
};

Error truncated(std::string_view kind) {
  return Error::invalid("truncated " + std::string(kind) + " stream");
}

Error corrupt(std::string_view kind, std::string_view why) {
  return Error::invalid("corrupt " + std::string(kind) + " stream: " + std::string(why));
}

std::string_view isal_error_name(int r) {
  switch (r) {
    case ISAL_INVALID_BLOCK:
      return "invalid deflate block";
    case ISAL_INVALID_SYMBOL:
      return "invalid deflate symbol";
    case ISAL_INVALID_LOOKBACK:
      return "invalid deflate distance";
    case ISAL_INVALID_WRAPPER:
      return "invalid gzip header";
    case ISAL_UNSUPPORTED_METHOD:
      return "unsupported compression method";
    case ISAL_INCORRECT_CHECKSUM:
      return "checksum mismatch";
    case ISAL_NEED_DICT:
      return "needs a preset dictionary";
    default:
      return "inflate error";
  }
}

// --- gzip ---

// After a member's trailer: another member, zero padding (tolerated, as gzip -d does), or
// the end of the stream.
Status GzipReader::between_members() {
  TRY(in_->fill(2));
  if (in_->avail() == 0) {
    finished_ = true;
    return ok();
  }
  const uint8_t* p = in_->data();
  if (in_->avail() >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
    start_member();
    return ok();
  }
  for (size_t i = 0; i < in_->avail(); ++i) {
    if (p[i] != 0) return corrupt("gzip", "trailing garbage after the compressed data");
  }
  in_->consume(in_->avail());
  return ok();
}

Status GzipReader::inflate_some() {
  if (in_->avail() == 0) TRY(in_->refill());
  size_t avail_in = in_->avail();
  uint32_t avail_out = st_->avail_out;
  st_->next_in = const_cast<uint8_t*>(in_->data());
  st_->avail_in = static_cast<uint32_t>(avail_in);
  int r = isal_inflate(st_.get());
  in_->consume(avail_in - st_->avail_in);
  if (r != ISAL_DECOMP_OK) return corrupt("gzip", isal_error_name(r));
  if (st_->block_state == ISAL_BLOCK_FINISH) {
    in_member_ = false;
    return ok();
  }
  bool progress = st_->avail_in != avail_in || st_->avail_out != avail_out;
  if (!progress && in_->avail() == 0 && in_->eof()) return truncated("gzip");
  return ok();
}

Result<std::string_view> GzipReader::next() {
  st_->next_out = out_.data();
  st_->avail_out = static_cast<uint32_t>(out_.size());
  while (st_->avail_out > 0 && !finished_) {
    if (in_member_) {
      TRY(inflate_some());
    } else {
      TRY(between_members());
    }
  }
  size_t produced = out_.size() - st_->avail_out;
  return std::string_view(reinterpret_cast<const char*>(out_.data()), produced);
}

// --- zstd ---

Result<std::string_view> ZstdReader::next() {
  ZSTD_outBuffer out{out_.data(), out_.size(), 0};
  while (out.pos < out.size && !finished_) {
    if (in_->avail() == 0) TRY(in_->refill());
    ZSTD_inBuffer in{in_->data(), in_->avail(), 0};
    size_t before = out.pos;
    size_t r = ZSTD_decompressStream(ds_, &out, &in);
    in_->consume(in.pos);
    if (ZSTD_isError(r)) return corrupt("zstd", ZSTD_getErrorName(r));
    bool progress = in.pos > 0 || out.pos != before;
    if (progress) frame_open_ = r != 0;  // 0: a frame just ended
    if (!progress && in_->avail() == 0 && in_->eof()) {
      if (frame_open_) return truncated("zstd");
      finished_ = true;
    }
  }
  return std::string_view(out_.data(), out.pos);
}

}  // namespace

Result<std::string_view> PlainReader::read_some() {
  TRY(in_->refill());
  std::string_view v(reinterpret_cast<const char*>(in_->data()), in_->avail());
  in_->consume(in_->avail());
  return v;
}

std::string_view compression_name(Compression c) {
  switch (c) {
    case Compression::detect:
      return "detect";
    case Compression::none:
      return "none";
    case Compression::gzip:
      return "gzip";
    case Compression::zstd:
      return "zstd";
  }
  return "unknown";
}

Compression detect_compression(std::string_view b) {
  if (b.size() >= 2 && b[0] == '\x1f' && b[1] == '\x8b') return Compression::gzip;
  if (b.size() >= 4 && b.substr(0, 4) == std::string_view("\x28\xb5\x2f\xfd", 4))
    return Compression::zstd;
  return Compression::none;
}

Result<std::unique_ptr<Decompressor>> Decompressor::open(ByteSource& src, Compression c) {
  auto in = std::make_unique<Input>(src);
  if (c == Compression::detect) {
    TRY(in->fill(4));
    c = detect_compression({reinterpret_cast<const char*>(in->data()), in->avail()});
  }
  switch (c) {
    case Compression::gzip:
      return std::unique_ptr<Decompressor>(new GzipReader(std::move(in)));
    case Compression::zstd: {
      auto z = std::make_unique<ZstdReader>(std::move(in));
      if (!z->ready()) return Error(ENOMEM, "create zstd decompressor");
      return std::unique_ptr<Decompressor>(std::move(z));
    }
    default:
      return std::unique_ptr<Decompressor>(new PlainReader(std::move(in)));
  }
}

}  // namespace berth::storage
