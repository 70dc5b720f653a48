#include "storage/blob_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include "base/file.h"
#include "base/strings.h"
#include "storage/fs_util.h"

namespace berth::storage {

namespace {

constexpr std::string_view kPartialSuffix = ".partial";
constexpr size_t kReadChunk = 1 << 20;

std::string blob_label(std::string_view digest) {
  return "blob " + std::string(digest.substr(0, 80));
}

Result<UniqueFd> dup_fd(int fd) {
  int d = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (d < 0) return sys_error("dup", "store directory");
  return UniqueFd(d);
}

// Hashes everything already in fd (a partial from an earlier writer); returns its size.
Result<uint64_t> hash_existing(int fd, Sha256& hash, const std::string& what) {
  std::string buf(kReadChunk, '\0');
  uint64_t total = 0;
  for (;;) {
    ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(total));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_error("read", what);
    if (n == 0) return total;
    hash.update(buf.data(), static_cast<size_t>(n));
    total += static_cast<uint64_t>(n);
  }
}

// Opens tmp_dir/name, creating it, and takes its lock without waiting. EWOULDBLOCK: another
// live writer holds it. Retries when a cleaner unlinked the file between open and lock.
Result<UniqueFd> open_locked(int tmp_dir, const std::string& name, int extra_flags) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    int fd = ::openat(tmp_dir, name.c_str(),
                      O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | extra_flags, 0600);
    if (fd < 0) return sys_error("create temp file", name);
    UniqueFd f(fd);
    TRY(lock_exclusive(f.get(), false, name));
    if (still_linked(tmp_dir, name, f.get())) return f;
  }
  return Error(EAGAIN, "create temp file", name);
}

bool is_partial(std::string_view name) {
  return name.size() > kPartialSuffix.size() &&
         name.substr(name.size() - kPartialSuffix.size()) == kPartialSuffix;
}

}  // namespace

Result<BlobStore> BlobStore::open(const std::string& root) {
  TRY(mkdir_all(root + "/blobs/sha256", 0700));
  TRY(mkdir_all(root + "/tmp", 0700));
  UniqueFd blobs = TRY(open_dir(root + "/blobs/sha256"));
  UniqueFd tmp = TRY(open_dir(root + "/tmp"));
  BlobStore store(root, std::move(blobs), std::move(tmp));
  TRY(store.gc_tmp(std::chrono::hours(24 * 7)));
  return store;
}

std::string BlobStore::path(std::string_view digest) const {
  if (!is_valid_digest(digest)) return {};
  return root_ + "/blobs/sha256/" + std::string(digest.substr(7));
}

bool BlobStore::has(std::string_view digest) const {
  if (!is_valid_digest(digest)) return false;
  struct stat st;
  std::string hex(digest.substr(7));
  return ::fstatat(blobs_.get(), hex.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

Result<uint64_t> BlobStore::size(std::string_view digest) const {
  std::string hex = TRY(digest_hex(digest));
  struct stat st;
  if (::fstatat(blobs_.get(), hex.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0)
    return sys_error("stat", blob_label(digest));
  return static_cast<uint64_t>(st.st_size);
}

Result<UniqueFd> BlobStore::open_blob(std::string_view digest) const {
  std::string hex = TRY(digest_hex(digest));
  int fd = ::openat(blobs_.get(), hex.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return sys_error("open", blob_label(digest));
  return UniqueFd(fd);
}

Result<std::string> BlobStore::read(std::string_view digest, size_t max_bytes) const {
  UniqueFd fd = TRY(open_blob(digest));
  struct stat st;
  if (::fstat(fd.get(), &st) < 0) return sys_error("stat", blob_label(digest));
  if (static_cast<uint64_t>(st.st_size) > max_bytes)
    return Error::invalid(blob_label(digest) + ": " + std::to_string(st.st_size) +
                          " bytes, more than the " + std::to_string(max_bytes) + " allowed");
  std::string data(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < data.size()) {
    ssize_t n = ::read(fd.get(), data.data() + got, data.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_error("read", blob_label(digest));
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  data.resize(got);
  if (std::string actual = sha256_digest(data); actual != digest)
    return Error::invalid(blob_label(digest) + " is corrupt on disk (its content is " + actual +
                          ")");
  return data;
}

Result<std::vector<std::string>> BlobStore::list() const {
  std::vector<std::string> out;
  for (auto& name : TRY(list_dir(root_ + "/blobs/sha256"))) {
    if (is_valid_digest("sha256:" + name)) out.push_back("sha256:" + name);
  }
  return out;
}

Status BlobStore::remove(std::string_view digest) {
  std::string hex = TRY(digest_hex(digest));
  if (::unlinkat(blobs_.get(), hex.c_str(), 0) < 0 && errno != ENOENT)
    return sys_error("remove", blob_label(digest));
  return ok();
}

Result<BlobStore::Writer> BlobStore::writer(std::string_view expected_digest) {
  if (!expected_digest.empty()) {
    std::string hex = TRY(digest_hex(expected_digest));
    auto w = resume_writer(hex);
    if (w.ok() || w.error().code() != EWOULDBLOCK) return w;
    // Another process is writing this very blob: write our own copy beside it.
  }
  std::string name = "blob-" + random_name();
  UniqueFd fd = TRY(open_locked(tmp_.get(), name, O_EXCL));
  return Writer(TRY(dup_fd(blobs_.get())), TRY(dup_fd(tmp_.get())), name, std::move(fd), false);
}

Result<BlobStore::Writer> BlobStore::resume_writer(const std::string& hex) {
  std::string name = hex + std::string(kPartialSuffix);
  UniqueFd fd = TRY(open_locked(tmp_.get(), name, 0));
  Writer w(TRY(dup_fd(blobs_.get())), TRY(dup_fd(tmp_.get())), name, std::move(fd), true);
  auto have = hash_existing(w.fd_.get(), w.hash_, name);
  if (!have.ok()) return w.fail(std::move(have).error());
  w.size_ = w.resumed_ = *have;
  return w;
}

Result<std::string> BlobStore::put(std::string_view data) {
  std::string digest = sha256_digest(data);
  if (has(digest)) return digest;
  Writer w = TRY(writer());
  TRY(w.write(data));
  TRY(w.commit(digest, static_cast<int64_t>(data.size())));
  return digest;
}

Status BlobStore::gc_tmp(std::chrono::seconds partial_max_age) {
  auto names = TRY(list_dir(root_ + "/tmp"));
  time_t now = ::time(nullptr);
  for (const auto& name : names) {
    int fd = ::openat(tmp_.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) continue;
    UniqueFd f(fd);
    if (!lock_exclusive(f.get(), false, name).ok()) continue;  // a live writer holds it
    struct stat st;
    if (::fstat(f.get(), &st) < 0) continue;
    if (is_partial(name) && now - st.st_mtime < partial_max_age.count()) continue;
    if (still_linked(tmp_.get(), name, f.get())) ::unlinkat(tmp_.get(), name.c_str(), 0);
  }
  return ok();
}

// --- Writer ---

BlobStore::Writer::~Writer() {
  // A failed writer removed its file already; a keyed one stays for the next to resume.
  if (done_ || failed_ || keyed_ || !fd_.valid()) return;
  ::unlinkat(tmp_dir_.get(), tmp_name_.c_str(), 0);
}

void BlobStore::Writer::discard() {
  if (done_ || !fd_.valid()) return;
  ::unlinkat(tmp_dir_.get(), tmp_name_.c_str(), 0);
  done_ = true;
}

// A write or check failed: the bytes are of no use, not even to resume from.
Error BlobStore::Writer::fail(Error e) {
  if (!failed_ && !done_ && fd_.valid()) ::unlinkat(tmp_dir_.get(), tmp_name_.c_str(), 0);
  failed_ = true;
  return e;
}

Status BlobStore::Writer::write(std::string_view data) {
  if (failed_ || done_) return Error::invalid("write blob: the writer already failed or finished");
  Status st = pwrite_all(fd_.get(), data.data(), data.size(), static_cast<off_t>(size_),
                         "blob temp file " + tmp_name_);
  if (!st) return fail(std::move(st).error());
  hash_.update(data);
  size_ += data.size();
  return ok();
}

Result<UniqueFd> BlobStore::Writer::open_written() const {
  int fd = ::openat(tmp_dir_.get(), tmp_name_.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return sys_error("open", "blob temp file " + tmp_name_);
  return UniqueFd(fd);
}

Status BlobStore::Writer::commit(std::string_view expected_digest, int64_t expected_size,
                                 Durability d) {
  if (!is_valid_digest(expected_digest)) return fail(digest_hex(expected_digest).error());
  if (failed_ || done_)
    return Error::invalid(blob_label(expected_digest) + ": writer already failed");
  if (expected_size >= 0 && size_ != static_cast<uint64_t>(expected_size))
    return fail(Error::invalid(blob_label(expected_digest) + ": size mismatch: expected " +
                               std::to_string(expected_size) + " bytes, got " +
                               std::to_string(size_)));
  std::string actual = hash_.digest();
  if (actual != expected_digest)
    return fail(Error::invalid(blob_label(expected_digest) + ": digest mismatch: the " +
                               std::to_string(size_) + " bytes received are " + actual));
  return finish(actual, d);
}

Result<std::string> BlobStore::Writer::commit_computed() {
  if (failed_ || done_) return Error::invalid("store blob: writer already failed");
  std::string digest = hash_.digest();
  TRY(finish(digest));
  return digest;
}

Status BlobStore::Writer::finish(const std::string& digest, Durability d) {
  std::string hex = digest.substr(7);
  ::fchmod(fd_.get(), 0644);
  bool sync = d == Durability::durable;
  if (Status st = sync ? fsync_fd(fd_.get(), blob_label(digest)) : ok(); !st)
    return fail(std::move(st).error());
  if (::renameat(tmp_dir_.get(), tmp_name_.c_str(), blobs_dir_.get(), hex.c_str()) < 0)
    return fail(sys_error("rename into place", blob_label(digest)));
  done_ = true;
  if (!sync) return ok();
  return fsync_fd(blobs_dir_.get(), "blobs directory");
}

// --- FdSource ---

Result<size_t> FdSource::read(void* buf, size_t n) {
  for (;;) {
    ssize_t got = ::read(fd_.get(), buf, n);
    if (got >= 0) return static_cast<size_t>(got);
    if (errno != EINTR) return sys_error("read");
  }
}

Result<size_t> TeeSource::read(void* buf, size_t n) {
  size_t got = TRY(in_.read(buf, n));
  if (got > 0) TRY(copy_.write({static_cast<const char*>(buf), got}));
  return got;
}

}  // namespace berth::storage
