#include "storage/unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "storage/extract.h"
#include "storage/fs_util.h"
#include "storage/sha256.h"
#include "sys/ns.h"

namespace berth::storage {

namespace {

constexpr size_t kPrefetchDepth = 4;

class ChunkReader {
 public:
  virtual ~ChunkReader() = default;
  // The next bytes of the tar stream; empty at its end.
  virtual Result<std::string_view> next() = 0;
};

// Counts (and optionally hashes) the compressed bytes.
class MeteredSource : public ByteSource {
 public:
  MeteredSource(ByteSource& inner, bool hash) : inner_(inner), hash_(hash) {}
  Result<size_t> read(void* buf, size_t n) override {
    size_t got = TRY(inner_.read(buf, n));
    if (hash_) sha_.update(buf, got);
    bytes_ += got;
    return got;
  }
  uint64_t bytes() const { return bytes_; }
  std::string digest() { return hash_ ? sha_.digest() : std::string(); }

 private:
  ByteSource& inner_;
  bool hash_;
  Sha256 sha_;
  uint64_t bytes_ = 0;
};

// The decompressed tar stream, hashed as it passes (the diff id).
class TarBytes : public ChunkReader {
 public:
  TarBytes(ByteSource& src, Compression c, bool hash_compressed)
      : src_(src, hash_compressed), want_(c) {}

  Result<std::string_view> next() override {
    if (!dec_) dec_ = TRY(Decompressor::open(src_, want_));
    std::string_view chunk = TRY(dec_->next());
    hash_.update(chunk);
    size_ += chunk.size();
    return chunk;
  }
  void fill(UnpackResult& r) {
    r.diff_id = hash_.digest();
    r.tar_size = size_;
    r.compressed_digest = src_.digest();
    r.compressed_size = src_.bytes();
    r.compression = dec_ ? dec_->kind() : want_;
  }

 private:
  MeteredSource src_;
  Compression want_;
  std::unique_ptr<Decompressor> dec_;
  Sha256 hash_;
  uint64_t size_ = 0;
};

// Runs another ChunkReader in a thread, a few chunks ahead of the consumer: decompressing
// and hashing overlap with writing files.
class Prefetcher : public ChunkReader {
 public:
  explicit Prefetcher(ChunkReader& inner) : inner_(inner) {}
  ~Prefetcher() override {
    {
      std::lock_guard<std::mutex> l(mu_);
      cancel_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  bool start() {
    try {
      thread_ = std::thread([this] { run(); });
      return true;
    } catch (...) {  // no thread to be had: the caller reads inline
      return false;
    }
  }
  Result<std::string_view> next() override;

 private:
  void run();
  bool produce_one();

  ChunkReader& inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> ready_;
  std::vector<std::string> spare_;
  std::string current_;
  std::optional<Error> error_;
  bool done_ = false;
  bool cancel_ = false;
  std::thread thread_;
};

void Prefetcher::run() {
  while (produce_one()) {
  }
}

bool Prefetcher::produce_one() {
  auto chunk = inner_.next();
  std::unique_lock<std::mutex> l(mu_);
  if (!chunk.ok() || chunk->empty()) {
    if (!chunk.ok()) error_ = std::move(chunk).error();
    done_ = true;
    cv_.notify_all();
    return false;
  }
  cv_.wait(l, [&] { return cancel_ || ready_.size() < kPrefetchDepth; });
  if (cancel_) return false;
  std::string buf;
  if (!spare_.empty()) {
    buf = std::move(spare_.back());
    spare_.pop_back();
  }
  l.unlock();
  buf.assign(chunk->data(), chunk->size());
  l.lock();
  ready_.push_back(std::move(buf));
  cv_.notify_all();
  return true;
}

Result<std::string_view> Prefetcher::next() {
  std::unique_lock<std::mutex> l(mu_);
  if (!current_.empty()) spare_.push_back(std::move(current_));
  current_.clear();
  cv_.notify_all();
  cv_.wait(l, [&] { return !ready_.empty() || done_; });
  if (!ready_.empty()) {
    current_ = std::move(ready_.front());
    ready_.pop_front();
    cv_.notify_all();
    return std::string_view(current_);
  }
  if (error_) return *error_;
  return std::string_view();
}

// What libarchive reads from: the chunks, with the first error kept for the message.
struct TarFeed {
  ChunkReader* chunks;
  std::optional<Error> error;

  static la_ssize_t read(struct archive*, void* self, const void** buf) {
    auto* f = static_cast<TarFeed*>(self);
    auto chunk = f->chunks->next();
    if (!chunk.ok()) {
      if (!f->error) f->error = std::move(chunk).error();
      return -1;
    }
    *buf = chunk->data();
    return static_cast<la_ssize_t>(chunk->size());
  }
};

struct ArchiveFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<struct archive, ArchiveFree>;

// libarchive's failure as an Error: the stream's own error when it had one.
Error archive_failure(struct archive* a, const TarFeed& feed, std::string_view fallback) {
  if (feed.error) return *feed.error;
  const char* msg = archive_error_string(a);
  std::string m = msg ? msg : std::string(fallback);
  if (m.find("Truncated") != std::string::npos || m.find("truncated") != std::string::npos)
    return Error::invalid("truncated tar archive");
  return Error::invalid(std::string(fallback) + ": " + m);
}

class ArchiveData : public EntryData {
 public:
  ArchiveData(struct archive* a, const TarFeed& feed) : a_(a), feed_(feed) {}
  Result<DataBlock> next() override {
    DataBlock b;
    la_int64_t off = 0;
    int r = archive_read_data_block(a_, &b.data, &b.size, &off);
    if (r == ARCHIVE_EOF) {
      b.end = true;
      return b;
    }
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) return archive_failure(a_, feed_, "corrupt tar data");
    b.offset = off;
    return b;
  }

 private:
  struct archive* a_;
  const TarFeed& feed_;
};

const char* entry_name(struct archive_entry* ae) {
  const char* p = archive_entry_pathname(ae);
  return p ? p : archive_entry_pathname_utf8(ae);
}

void read_xattrs(struct archive_entry* ae, TarEntry& e) {
  if (archive_entry_xattr_reset(ae) == 0) return;
  const char* name;
  const void* value;
  size_t size;
  while (archive_entry_xattr_next(ae, &name, &value, &size) == ARCHIVE_OK) {
    if (name == nullptr) continue;
    e.xattrs.emplace_back(name, std::string(static_cast<const char*>(value), size));
  }
}

Result<TarEntry> to_entry(struct archive_entry* ae, const std::string& label) {
  TarEntry e;
  const char* name = entry_name(ae);
  if (name == nullptr) return Error::invalid(label + ": an entry has no readable name");
  e.name = name;
  auto where = [&](std::string_view what) {
    return Error::invalid(label + ": entry " + quote_entry_name(e.name) + ": " + std::string(what));
  };
  auto path = clean_entry_path(e.name);
  if (!path.ok()) return where("path escapes the layer root");
  e.path = std::move(path).value();
  e.type = archive_entry_filetype(ae);
  e.perm = archive_entry_perm(ae) & 07777;
  e.uid = archive_entry_uid(ae);
  e.gid = archive_entry_gid(ae);
  e.rdev = archive_entry_rdev(ae);
  e.size = archive_entry_size(ae);
  e.mtime = {archive_entry_mtime(ae), archive_entry_mtime_nsec(ae)};
  e.atime = archive_entry_atime_is_set(ae)
                ? timespec{archive_entry_atime(ae), archive_entry_atime_nsec(ae)}
                : e.mtime;
  if (const char* l = archive_entry_symlink(ae) ?: archive_entry_symlink_utf8(ae)) e.symlink = l;
  if (const char* h = archive_entry_hardlink(ae) ?: archive_entry_hardlink_utf8(ae)) {
    auto target = clean_entry_path(h);
    if (!target.ok()) return where("hard link target escapes the layer root");
    if (target->empty()) return where("hard link to the layer root");
    e.hardlink = std::move(target).value();
  }
  read_xattrs(ae, e);
  return e;
}

Result<ArchivePtr> open_archive(TarFeed& feed, const std::string& label) {
  ArchivePtr a(archive_read_new());
  if (!a) return Error(ENOMEM, label + ": start tar reader");
  archive_read_support_format_tar(a.get());
  archive_read_support_format_empty(a.get());
  if (archive_read_open(a.get(), &feed, nullptr, &TarFeed::read, nullptr) != ARCHIVE_OK) {
    Error e = archive_failure(a.get(), feed, "corrupt tar header at the start");
    return Error(e.code(), label + ": " + e.op(), e.object());
  }
  return a;
}

Status extract_all(ChunkReader& chunks, int target, const UnpackOptions& o,
                   const std::string& label, uint64_t& entries, uint64_t& content) {
  TarFeed feed{&chunks, {}};
  ArchivePtr a = TRY(open_archive(feed, label));
  Extractor ex(target, o, label);
  std::string prev;
  for (;;) {
    struct archive_entry* ae = nullptr;
    int r = archive_read_next_header(a.get(), &ae);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {  // RETRY too: a damaged header
      std::string where = prev.empty() ? "corrupt tar header at the start"
                                       : "corrupt tar header after entry " + quote_entry_name(prev);
      Error e = archive_failure(a.get(), feed, where);
      return Error(e.code(), label + ": " + e.op(), e.object());
    }
    TarEntry e = TRY(to_entry(ae, label));
    ArchiveData data(a.get(), feed);
    TRY(ex.apply(e, data));
    prev = std::move(e.name);
    ++entries;
  }
  // Whatever follows the end-of-archive blocks still belongs to the diff id, and the
  // compressed stream must end properly (gzip trailer, complete zstd frame).
  for (;;) {
    auto rest = chunks.next();
    if (!rest.ok()) return Error(rest.error().code(), label + ": " + rest.error().op());
    if (rest->empty()) break;
  }
  TRY(ex.finish());
  content = ex.content_bytes();
  return ok();
}

}  // namespace

UnpackOptions UnpackOptions::for_current_user() {
  UnpackOptions o;
  if (!sys::rootless()) return o;
  o.chown = ::geteuid() == 0;  // root in a user namespace
  o.squash_unmapped_owners = true;
  o.trusted_xattrs = false;
  o.opaque = OpaqueXattr::user;
  o.skip_devices = true;
  o.best_effort_xattrs = true;
  return o;
}

Result<UnpackResult> unpack_layer(ByteSource& compressed, Compression c, int target_dir_fd,
                                  const UnpackOptions& opts) {
  std::string label = opts.layer_name.empty() ? "layer" : "layer " + opts.layer_name;
  TarBytes tar(compressed, c, opts.hash_compressed);
  UnpackResult r;
  {
    Prefetcher ahead(tar);
    ChunkReader& chunks =
        opts.decompress_in_thread && ahead.start() ? static_cast<ChunkReader&>(ahead) : tar;
    TRY(extract_all(chunks, target_dir_fd, opts, label, r.entries, r.content_bytes));
  }  // the prefetch thread is joined here, before its results are read
  tar.fill(r);
  return r;
}

Status remove_unpacked(const std::string& dir) {
  return remove_tree(dir);
}

}  // namespace berth::storage
