#include "images/archive_tar.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "storage/blob_store.h"

namespace berth::images::tar {

namespace {

constexpr size_t kBufSize = 1 << 20;
// The largest size the 11 octal digits of a ustar header hold; larger ones are written in
// base-256, which GNU tar, libarchive and Go's archive/tar all read.
constexpr uint64_t kMaxOctalSize = (uint64_t{1} << 33) - 1;

void put_octal(char* field, size_t width, uint64_t v) {
  // width - 1 digits, then NUL.
  std::memset(field, '0', width - 1);
  field[width - 1] = '\0';
  for (size_t i = width - 1; i-- > 0 && v != 0; v >>= 3)
    field[i] = static_cast<char>('0' + (v & 7));
}

void put_size(char* field, uint64_t v) {
  if (v <= kMaxOctalSize) return put_octal(field, 12, v);
  std::memset(field, 0, 12);
  field[0] = static_cast<char>(0x80);
  for (int i = 11; i > 0 && v != 0; --i, v >>= 8) field[i] = static_cast<char>(v & 0xff);
}

// A ustar header. Names are berth's own ("blobs/sha256/<hex>", "manifest.json"): short.
Result<std::string> header(std::string_view name, char type, uint64_t size) {
  if (name.empty() || name.size() > 100)
    return Error::invalid("tar entry name too long", std::string(name));
  std::string h(kBlock, '\0');
  std::memcpy(h.data(), name.data(), name.size());
  put_octal(&h[100], 8, type == '5' ? 0755 : 0644);  // mode
  put_octal(&h[108], 8, 0);                          // uid
  put_octal(&h[116], 8, 0);                          // gid
  put_size(&h[124], size);
  put_octal(&h[136], 12, 0);  // mtime: the epoch, so that saving an image twice gives equal bytes
  h[156] = type;
  std::memcpy(&h[257], "ustar", 6);  // magic, NUL-terminated
  std::memcpy(&h[263], "00", 2);     // version
  std::memset(&h[148], ' ', 8);      // the checksum counts itself as spaces
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  put_octal(&h[148], 7, sum);
  h[155] = ' ';
  return h;
}

}  // namespace

// --- TarWriter ---

TarWriter::TarWriter(int fd) : fd_(fd) {
  buf_.reserve(kBufSize);
  struct stat st;
  int flags = ::fcntl(fd, F_GETFL);
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && flags >= 0 && (flags & O_APPEND) == 0) {
    off_t off = ::lseek(fd, 0, SEEK_CUR);
    if (off >= 0) {
      seekable_ = true;
      base_ = static_cast<uint64_t>(off);
    }
  }
}

Status TarWriter::write_all(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error("write archive");
    }
    data.remove_prefix(static_cast<size_t>(n));
    pos_ += static_cast<uint64_t>(n);
  }
  return ok();
}

Status TarWriter::flush() {
  if (buf_.empty()) return ok();
  Status st = write_all(buf_);
  buf_.clear();
  return st;
}

Status TarWriter::put(std::string_view data) {
  if (buf_.size() + data.size() <= kBufSize) {
    buf_.append(data);
    return ok();
  }
  TRY(flush());
  // Big pieces (decompressed layer chunks) go out without a copy.
  if (data.size() >= kBufSize / 2) return write_all(data);
  buf_.append(data);
  return ok();
}

Status TarWriter::pad() {
  size_t rem = static_cast<size_t>(bytes_written() % kBlock);
  if (rem == 0) return ok();
  static const char zeros[kBlock] = {};
  return put(std::string_view(zeros, kBlock - rem));
}

Status TarWriter::add_dir(std::string_view name) {
  std::string h = TRY(header(name, '5', 0));
  return put(h);
}

Status TarWriter::add_file(std::string_view name, std::string_view data) {
  std::string h = TRY(header(name, '0', data.size()));
  TRY(put(h));
  TRY(put(data));
  return pad();
}

Status TarWriter::add_file_from_fd(std::string_view name, int fd, uint64_t size) {
  std::string h = TRY(header(name, '0', size));
  TRY(put(h));
  TRY(flush());
  uint64_t left = size;
  off_t off = 0;
  bool kernel_copy = true;
  std::vector<char> buf;
  while (left > 0) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(left, 1u << 30));
    ssize_t n;
    if (kernel_copy) {
      n = ::sendfile(fd_, fd, &off, want);
      if (n < 0 && (errno == EINVAL || errno == ENOSYS)) {
        kernel_copy = false;  // an output sendfile cannot write to: copy by hand
        continue;
      }
    } else {
      if (buf.empty()) buf.resize(kBufSize);
      n = ::pread(fd, buf.data(), std::min(want, buf.size()), off);
      if (n > 0) {
        TRY(write_all(std::string_view(buf.data(), static_cast<size_t>(n))));
        off += n;
        left -= static_cast<uint64_t>(n);
        continue;
      }
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error("write archive entry", std::string(name));
    }
    if (n == 0)
      return Error(EIO, "write archive entry " + std::string(name), "file shrank while being read");
    left -= static_cast<uint64_t>(n);
    if (kernel_copy) pos_ += static_cast<uint64_t>(n);
  }
  return pad();
}

Status TarWriter::begin_file(std::string_view name, int64_t size) {
  if (size < 0 && !seekable_)
    return Error::invalid("tar entry of unknown size on a stream", std::string(name));
  TRY(flush());
  header_pos_ = pos_;
  name_ = std::string(name);
  announced_ = size;
  entry_bytes_ = 0;
  open_ = true;
  std::string h = TRY(header(name, '0', size < 0 ? 0 : static_cast<uint64_t>(size)));
  return put(h);
}

Status TarWriter::write(std::string_view data) {
  entry_bytes_ += data.size();
  if (announced_ >= 0 && entry_bytes_ > static_cast<uint64_t>(announced_))
    return Error(EIO, "write archive entry " + name_, "more bytes than its size");
  return put(data);
}

Result<uint64_t> TarWriter::end_file() {
  open_ = false;
  if (announced_ >= 0 && entry_bytes_ != static_cast<uint64_t>(announced_))
    return Error(EIO, "write archive entry " + name_,
                 std::to_string(entry_bytes_) + " bytes instead of " + std::to_string(announced_));
  if (announced_ < 0) {
    TRY(flush());
    std::string h = TRY(header(name_, '0', entry_bytes_));
    if (::pwrite(fd_, h.data(), h.size(), static_cast<off_t>(base_ + header_pos_)) !=
        static_cast<ssize_t>(h.size()))
      return sys_error("write archive header", name_);
  }
  TRY(pad());
  return entry_bytes_;
}

Status TarWriter::finish() {
  TRY(put(std::string(2 * kBlock, '\0')));
  return flush();
}

// --- decompression of whole archives ---

StreamCompression detect_stream_compression(std::string_view b) {
  auto starts = [&](std::string_view magic) { return b.substr(0, magic.size()) == magic; };
  if (starts("\x1f\x8b")) return StreamCompression::gzip;
  if (starts("\x28\xb5\x2f\xfd")) return StreamCompression::zstd;
  if (starts("BZh")) return StreamCompression::bzip2;
  if (starts(std::string_view("\xfd"
                              "7zXZ\0",
                              6)))
    return StreamCompression::xz;
  return StreamCompression::none;
}

namespace {

// Replays the bytes read to detect the compression, then reads on from the source.
class PrefixedSource : public ByteSource {
 public:
  PrefixedSource(ByteSource& src, std::string prefix) : src_(src), prefix_(std::move(prefix)) {}
  Result<size_t> read(void* buf, size_t n) override {
    if (pos_ < prefix_.size()) {
      size_t k = std::min(n, prefix_.size() - pos_);
      std::memcpy(buf, prefix_.data() + pos_, k);
      pos_ += k;
      return k;
    }
    return src_.read(buf, n);
  }

 private:
  ByteSource& src_;
  std::string prefix_;
  size_t pos_ = 0;
};

// storage's decompressors (igzip, zstd) as a ByteSource.
class DecompressedSource : public ByteSource {
 public:
  DecompressedSource(std::unique_ptr<ByteSource> raw, std::unique_ptr<storage::Decompressor> d)
      : raw_(std::move(raw)), d_(std::move(d)) {}
  Result<size_t> read(void* buf, size_t n) override {
    while (pending_.empty()) {
      pending_ = TRY(d_->next());
      if (pending_.empty()) return size_t{0};
    }
    size_t k = std::min(n, pending_.size());
    std::memcpy(buf, pending_.data(), k);
    pending_.remove_prefix(k);
    return k;
  }

 private:
  std::unique_ptr<ByteSource> raw_;  // the decompressor reads from it
  std::unique_ptr<storage::Decompressor> d_;
  std::string_view pending_;
};

// bzip2 and xz through libarchive's filters and its "raw" format: rare enough for archives
// that libarchive's speed is fine, and no other library is needed.
class LibarchiveFilterSource : public ByteSource {
 public:
  static Result<std::unique_ptr<ByteSource>> open(std::unique_ptr<ByteSource> raw) {
    std::unique_ptr<LibarchiveFilterSource> s(new LibarchiveFilterSource(std::move(raw)));
    s->a_ = archive_read_new();
    if (s->a_ == nullptr) return Error(ENOMEM, "archive_read_new");
    archive_read_support_filter_bzip2(s->a_);
    archive_read_support_filter_xz(s->a_);
    archive_read_support_format_raw(s->a_);
    if (archive_read_open(s->a_, s.get(), nullptr, &LibarchiveFilterSource::read_cb, nullptr) !=
        ARCHIVE_OK)
      return s->fail("open compressed stream");
    struct archive_entry* e = nullptr;
    if (archive_read_next_header(s->a_, &e) != ARCHIVE_OK) return s->fail("read compressed stream");
    return std::unique_ptr<ByteSource>(std::move(s));
  }
  ~LibarchiveFilterSource() override {
    if (a_ != nullptr) archive_read_free(a_);
  }
  Result<size_t> read(void* buf, size_t n) override {
    la_ssize_t k = archive_read_data(a_, buf, n);
    if (k < 0) return fail("decompress");
    return static_cast<size_t>(k);
  }

 private:
  explicit LibarchiveFilterSource(std::unique_ptr<ByteSource> raw)
      : raw_(std::move(raw)), buf_(kBufSize) {}
  static la_ssize_t read_cb(struct archive*, void* self, const void** out) {
    auto* s = static_cast<LibarchiveFilterSource*>(self);
    auto n = s->raw_->read(s->buf_.data(), s->buf_.size());
    if (!n) {
      s->error_ = std::make_unique<Error>(std::move(n).error());
      return -1;
    }
    *out = s->buf_.data();
    return static_cast<la_ssize_t>(*n);
  }
  Error fail(std::string_view what) {
    if (error_) return *error_;
    const char* msg = archive_error_string(a_);
    return Error(EIO, std::string(what), msg != nullptr ? msg : "corrupt stream");
  }

  std::unique_ptr<ByteSource> raw_;
  std::vector<char> buf_;
  struct archive* a_ = nullptr;
  std::unique_ptr<Error> error_;
};

}  // namespace

Result<std::unique_ptr<ByteSource>> open_decompressed(ByteSource& src) {
  std::string magic(6, '\0');
  size_t have = 0;
  while (have < magic.size()) {
    size_t n = TRY(src.read(magic.data() + have, magic.size() - have));
    if (n == 0) break;
    have += n;
  }
  magic.resize(have);
  StreamCompression c = detect_stream_compression(magic);
  auto raw = std::make_unique<PrefixedSource>(src, magic);
  switch (c) {
    case StreamCompression::gzip:
    case StreamCompression::zstd: {
      auto kind =
          c == StreamCompression::gzip ? storage::Compression::gzip : storage::Compression::zstd;
      auto d = TRY(storage::Decompressor::open(*raw, kind));
      return std::unique_ptr<ByteSource>(new DecompressedSource(std::move(raw), std::move(d)));
    }
    case StreamCompression::bzip2:
    case StreamCompression::xz:
      return LibarchiveFilterSource::open(std::move(raw));
    case StreamCompression::none:
      break;
  }
  return std::unique_ptr<ByteSource>(std::move(raw));
}

Status decompress_piped(UniqueFd fd, storage::Compression c,
                        const std::function<Status(std::string_view)>& sink) {
  constexpr size_t kChunks = 4;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> full;
  std::vector<std::string> spare(kChunks);
  bool done = false, stop = false;
  std::optional<Error> producer_error;

  std::thread producer([&] {
    auto finish = [&](std::optional<Error> e) {
      std::lock_guard<std::mutex> g(mu);
      producer_error = std::move(e);
      done = true;
      cv.notify_all();
    };
    storage::FdSource src(std::move(fd));
    auto d = storage::Decompressor::open(src, c);
    if (!d) return finish(std::move(d).error());
    for (;;) {
      auto chunk = (*d)->next();
      if (!chunk) return finish(std::move(chunk).error());
      if (chunk->empty()) return finish(std::nullopt);
      std::string buf;
      {
        std::unique_lock<std::mutex> l(mu);
        cv.wait(l, [&] { return !spare.empty() || stop; });
        if (stop) return finish(std::nullopt);
        buf = std::move(spare.back());
        spare.pop_back();
      }
      buf.assign(chunk->data(), chunk->size());
      std::lock_guard<std::mutex> g(mu);
      full.push_back(std::move(buf));
      cv.notify_all();
    }
  });

  Status result = ok();
  for (;;) {
    std::string buf;
    {
      std::unique_lock<std::mutex> l(mu);
      cv.wait(l, [&] { return !full.empty() || done; });
      if (full.empty()) break;
      buf = std::move(full.front());
      full.pop_front();
    }
    result = sink(buf);
    std::lock_guard<std::mutex> g(mu);
    spare.push_back(std::move(buf));
    if (!result) stop = true;
    cv.notify_all();
    if (!result) break;
  }
  producer.join();
  if (!result) return result;
  if (producer_error) return std::move(*producer_error);
  return ok();
}

// --- TarReader ---

TarReader::TarReader(ByteSource& src) : src_(src), chunk_(kBufSize, '\0') {}

TarReader::~TarReader() {
  if (a_ != nullptr) archive_read_free(a_);
}

long TarReader::read_cb(struct archive*, void* self, const void** buf) {  // NOLINT(runtime/int)
  auto* r = static_cast<TarReader*>(self);
  auto n = r->src_.read(r->chunk_.data(), r->chunk_.size());
  if (!n) {
    r->src_error_ = std::make_unique<Error>(std::move(n).error());
    return -1;
  }
  r->consumed_ += *n;
  *buf = r->chunk_.data();
  return static_cast<long>(*n);  // NOLINT(runtime/int)
}

Result<std::unique_ptr<TarReader>> TarReader::open(ByteSource& src) {
  std::unique_ptr<TarReader> r(new TarReader(src));
  r->a_ = archive_read_new();
  if (r->a_ == nullptr) return Error(ENOMEM, "archive_read_new");
  archive_read_support_format_tar(r->a_);
  if (archive_read_open(r->a_, r.get(), nullptr, &TarReader::read_cb, nullptr) != ARCHIVE_OK)
    return r->error("read archive");
  return r;
}

Error TarReader::error(std::string_view what) {
  if (src_error_) return *src_error_;
  if (consumed_ == 0) return Error::invalid("the archive is empty");
  const char* msg = archive_error_string(a_);
  std::string m = msg != nullptr ? msg : "corrupt archive";
  if (m.find("Unrecognized archive format") != std::string::npos ||
      (m.find("Damaged tar archive") != std::string::npos && !started_))
    return Error::invalid("not a tar archive");
  if (m.find("runcated") != std::string::npos) return Error::invalid("truncated archive");
  return Error(EIO, std::string(what), m);
}

Result<bool> TarReader::next(TarHeader& h) {
  struct archive_entry* e = nullptr;
  int rc = archive_read_next_header(a_, &e);
  if (rc == ARCHIVE_EOF) return false;
  if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) return error("read archive");
  started_ = true;
  const char* name = archive_entry_pathname(e);
  h.name = name != nullptr ? name : "";
  entry_name_ = h.name;
  data_offset_ = 0;
  h.link.clear();
  h.size = archive_entry_size(e);
  if (const char* hl = archive_entry_hardlink(e); hl != nullptr) {
    h.type = TarHeader::Type::hardlink;
    h.link = hl;
    return true;
  }
  switch (archive_entry_filetype(e)) {
    case AE_IFREG:
      h.type = TarHeader::Type::file;
      break;
    case AE_IFDIR:
      h.type = TarHeader::Type::dir;
      break;
    case AE_IFLNK: {
      h.type = TarHeader::Type::symlink;
      const char* t = archive_entry_symlink(e);
      h.link = t != nullptr ? t : "";
      break;
    }
    default:
      h.type = TarHeader::Type::other;
      break;
  }
  return true;
}

Result<std::string_view> TarReader::read() {
  const void* buf = nullptr;
  size_t size = 0;
  la_int64_t offset = 0;
  int rc = archive_read_data_block(a_, &buf, &size, &offset);
  if (rc == ARCHIVE_EOF) return std::string_view();
  if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) return error("read archive");
  // Image archives hold no sparse files; a hole would silently shift the bytes.
  if (static_cast<uint64_t>(offset) != data_offset_)
    return Error::invalid("sparse file in the archive", entry_name_);
  data_offset_ += size;
  return std::string_view(static_cast<const char*>(buf), size);
}

}  // namespace berth::images::tar
