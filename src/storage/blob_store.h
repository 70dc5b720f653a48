// blob_store.h - content-addressed blobs under ROOT/blobs/sha256/<hex>.
//
// A blob is written to ROOT/tmp/, hashed while it streams in, fsynced, checked against the
// digest and size it was announced with, and only then renamed into place: a file under
// blobs/ always holds the bytes its name says. Downloads interrupted mid-way keep their
// bytes in ROOT/tmp/<hex>.partial so that the next writer for the same digest resumes there.
// Two processes may write the same blob at once; the second rename wins with equal bytes.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "base/file.h"
#include "base/io.h"
#include "storage/sha256.h"

namespace berth::storage {

class BlobStore {
 public:
  class Writer;

  // Opens (creating when needed) the store rooted at root, and removes temp files that no
  // live writer holds (a writer killed with -9 leaves one), and partials older than a week.
  static Result<BlobStore> open(const std::string& root);
  BlobStore(BlobStore&&) noexcept = default;
  BlobStore& operator=(BlobStore&&) noexcept = default;

  const std::string& root() const { return root_; }
  // ROOT/blobs/sha256/<hex>; empty when digest is not a valid sha256 digest.
  std::string path(std::string_view digest) const;
  bool has(std::string_view digest) const;
  Result<uint64_t> size(std::string_view digest) const;
  // The whole blob (at most max_bytes), its digest checked again as it is read.
  Result<std::string> read(std::string_view digest, size_t max_bytes) const;
  // An O_RDONLY fd for streaming a big blob (push, save, unpack from the store).
  Result<UniqueFd> open_blob(std::string_view digest) const;
  // Digests of every stored blob.
  Result<std::vector<std::string>> list() const;
  // Removes a blob; a blob that is not there is not an error.
  Status remove(std::string_view digest);

  // A writer for a new blob. With expected_digest, a partial file left by an earlier writer
  // for that digest is picked up (resume_offset() says how much of it is there); when
  // another live writer holds it, this one starts afresh in a temp file of its own.
  Result<Writer> writer(std::string_view expected_digest = {});
  // Stores data as a blob and returns its digest (configs, manifests).
  Result<std::string> put(std::string_view data);
  // Removes temp files nobody holds; partials too when older than partial_max_age.
  Status gc_tmp(std::chrono::seconds partial_max_age);

 private:
  BlobStore(std::string root, UniqueFd blobs, UniqueFd tmp)
      : root_(std::move(root)), blobs_(std::move(blobs)), tmp_(std::move(tmp)) {}
  Result<Writer> resume_writer(const std::string& hex);

  std::string root_;
  UniqueFd blobs_;  // ROOT/blobs/sha256
  UniqueFd tmp_;    // ROOT/tmp
};

// Receives a blob's bytes. Destroyed without a commit: the temp file is removed, except a
// keyed partial that saw no write error, which stays for the next writer to resume.
class BlobStore::Writer : public ByteSink {
 public:
  Writer(Writer&&) noexcept = default;
  Writer& operator=(Writer&&) = delete;
  ~Writer() override;

  Status write(std::string_view data) override;
  // Bytes already present from an interrupted earlier writer: fetch from this offset on.
  uint64_t resume_offset() const { return resumed_; }
  // Bytes written so far, resumed bytes included.
  uint64_t size() const { return size_; }
  // fsync (Durability::durable), check size (when expected_size >= 0) and digest, rename
  // into place. On a mismatch the temp file is removed and the error names both digests.
  // Durability::volatile_ok skips the fsyncs: the blob survives the process being killed,
  // not a power cut (pulled layer blobs, whose unpacked layers are not synced either).
  Status commit(std::string_view expected_digest, int64_t expected_size = -1,
                Durability d = Durability::durable);
  // A separate read-only fd on the bytes written so far, from offset 0 (a resumed partial
  // is replayed through the unpacker before the rest is fetched).
  Result<UniqueFd> open_written() const;
  // Stores the bytes under whatever digest they have (new content: commit, save); returns it.
  Result<std::string> commit_computed();
  // Drops the temp file now, partial or not.
  void discard();

 private:
  friend class BlobStore;
  Writer(UniqueFd blobs_dir, UniqueFd tmp_dir, std::string tmp_name, UniqueFd fd, bool keyed)
      : blobs_dir_(std::move(blobs_dir)),
        tmp_dir_(std::move(tmp_dir)),
        tmp_name_(std::move(tmp_name)),
        fd_(std::move(fd)),
        keyed_(keyed) {}
  Status finish(const std::string& digest, Durability d = Durability::durable);
  Error fail(Error e);

  UniqueFd blobs_dir_;  // own copies: a writer may outlive the BlobStore it came from
  UniqueFd tmp_dir_;
  std::string tmp_name_;
  UniqueFd fd_;
  bool keyed_;
  bool failed_ = false;
  bool done_ = false;
  Sha256 hash_;
  uint64_t size_ = 0;
  uint64_t resumed_ = 0;
};

// A ByteSource reading an fd (a blob from open_blob, a file given to `load`).
class FdSource : public ByteSource {
 public:
  explicit FdSource(UniqueFd fd) : fd_(std::move(fd)) {}
  Result<size_t> read(void* buf, size_t n) override;

 private:
  UniqueFd fd_;
};

// A ByteSource that copies every byte read through it into a sink: a layer blob can be
// unpacked and kept in the blob store (BlobStore::Writer) in the same pass.
class TeeSource : public ByteSource {
 public:
  TeeSource(ByteSource& in, ByteSink& copy) : in_(in), copy_(copy) {}
  Result<size_t> read(void* buf, size_t n) override;

 private:
  ByteSource& in_;
  ByteSink& copy_;
};

}  // namespace berth::storage
