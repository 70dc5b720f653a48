// archive_tar.h - internal to src/images: the tar streams under save, load and import.
//
// TarWriter writes a ustar stream to an fd itself (no libarchive): save's entries are a
// handful of names it makes up, and writing the headers itself lets it copy blobs with
// sendfile and patch a header whose size was unknown when it was written. TarReader reads
// one with libarchive from a stream that cannot seek (stdin), after the input went through
// open_decompressed (gzip and zstd by berth's decompressors, bzip2 and xz by libarchive's).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/error.h"
#include "base/fd.h"
#include "base/io.h"
#include "storage/decompress.h"

struct archive;

namespace berth::images::tar {

inline constexpr size_t kBlock = 512;

class TarWriter {
 public:
  // fd is borrowed. seekable: a regular file (not O_APPEND) whose headers can be patched.
  explicit TarWriter(int fd);
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;

  bool seekable() const { return seekable_; }
  uint64_t bytes_written() const { return pos_ + buf_.size(); }

  Status add_dir(std::string_view name);
  Status add_file(std::string_view name, std::string_view data);
  // size bytes of fd from offset 0, copied by the kernel where it can (sendfile).
  Status add_file_from_fd(std::string_view name, int fd, uint64_t size);

  // A file streamed in pieces: begin_file, write..., end_file. With size < 0 the size is not
  // known yet (seekable() only): end_file rewrites the header with the size written.
  Status begin_file(std::string_view name, int64_t size);
  Status write(std::string_view data);
  // Returns the entry's size.
  Result<uint64_t> end_file();

  // The two zero blocks, and everything buffered written out.
  Status finish();

 private:
  Status put(std::string_view data);
  Status flush();
  Status write_all(std::string_view data);
  Status pad();

  int fd_;
  bool seekable_ = false;
  uint64_t base_ = 0;  // the fd's offset when we started (seekable only)
  uint64_t pos_ = 0;   // bytes handed to the fd so far
  std::string buf_;
  // The entry being streamed.
  std::string name_;
  int64_t announced_ = 0;
  uint64_t entry_bytes_ = 0;
  uint64_t header_pos_ = 0;
  bool open_ = false;
};

// The compression of a whole archive or rootfs tar, by magic: gzip and zstd, or bzip2 and xz.
enum class StreamCompression { none, gzip, zstd, bzip2, xz };
StreamCompression detect_stream_compression(std::string_view first_bytes);

// A ByteSource of the decompressed bytes of src: gzip and zstd through storage's
// decompressors (ISA-L, libzstd), bzip2 and xz through libarchive's filters, anything else
// as it is. src must outlive it.
Result<std::unique_ptr<ByteSource>> open_decompressed(ByteSource& src);

// Decompresses the blob in fd in a second thread, a few 1 MiB chunks ahead of `sink`, which
// runs in this one (save: inflate on one core, hash and write on the other). The first error
// of either side stops both and is returned.
Status decompress_piped(UniqueFd fd, storage::Compression c,
                        const std::function<Status(std::string_view)>& sink);

struct TarHeader {
  std::string name;  // as the archive spells it
  enum class Type { file, dir, symlink, hardlink, other } type = Type::other;
  std::string link;  // symlink or hard link target
  int64_t size = 0;
};

// Reads a tar stream from src (not owned; decompressed already), entry by entry.
class TarReader {
 public:
  static Result<std::unique_ptr<TarReader>> open(ByteSource& src);
  ~TarReader();
  TarReader(const TarReader&) = delete;
  TarReader& operator=(const TarReader&) = delete;

  // The next entry; false at the end of the archive. The previous entry's data not read is
  // skipped.
  Result<bool> next(TarHeader& h);
  // The current entry's data, a piece at a time (valid until the next call); empty at its end.
  Result<std::string_view> read();
  // Bytes of the stream consumed so far (0 for an empty input).
  uint64_t stream_bytes() const { return consumed_; }

 private:
  explicit TarReader(ByteSource& src);
  static long read_cb(struct archive*, void* self, const void** buf);  // NOLINT(runtime/int)
  Error error(std::string_view what);

  ByteSource& src_;
  struct archive* a_ = nullptr;
  std::string chunk_;
  std::unique_ptr<Error> src_error_;
  uint64_t consumed_ = 0;
  bool started_ = false;
  std::string entry_name_;
  uint64_t data_offset_ = 0;
};

}  // namespace berth::images::tar
