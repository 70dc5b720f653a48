// extract.h - creates tar entries inside a layer directory, safely (internal to storage).
//
// The Extractor knows nothing about tar parsing: unpack.cpp turns libarchive headers into
// TarEntry values and feeds file contents through EntryData. Every path is taken relative
// to the root fd: parents resolved with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS),
// the final component created or changed with *at calls that do not follow it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "storage/unpack.h"

namespace berth::storage {

struct TarEntry {
  std::string name;  // as the archive spells it (for messages)
  std::string path;  // cleaned, relative to the root; "" is the root itself
  mode_t type = 0;   // S_IFREG, S_IFDIR, S_IFLNK, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK
  mode_t perm = 0;   // 07777 bits
  int64_t uid = 0;
  int64_t gid = 0;
  dev_t rdev = 0;
  struct timespec atime = {};
  struct timespec mtime = {};
  int64_t size = 0;
  std::string symlink;   // symlink target, as is (only followed inside the root)
  std::string hardlink;  // hard link target, cleaned like path; empty when not a hard link
  std::vector<std::pair<std::string, std::string>> xattrs;
};

struct DataBlock {
  const void* data = nullptr;
  size_t size = 0;
  int64_t offset = 0;
  bool end = false;
};

// A regular file's content, block by block (sparse files skip offsets).
class EntryData {
 public:
  virtual ~EntryData() = default;
  virtual Result<DataBlock> next() = 0;
};

// Lexically cleans a name from a tar: leading "/" and "." components dropped, ".." applied.
// nullopt-like error when the name climbs above the root ("../x", "a/../../x").
Result<std::string> clean_entry_path(std::string_view raw);
// The name as shown in errors: quoted, control bytes escaped, cut at 200 bytes.
std::string quote_entry_name(std::string_view raw);

class Extractor {
 public:
  // root_fd: the layer directory (borrowed); label: "layer sha256:...".
  Extractor(int root_fd, const UnpackOptions& opts, std::string label);

  Status apply(const TarEntry& e, EntryData& data);
  // Directory modes and times, set last (creating entries changes a directory's mtime).
  Status finish();
  uint64_t content_bytes() const { return content_bytes_; }

 private:
  struct DirMeta {
    std::string path;
    mode_t perm;
    struct timespec times[2];
  };

  Error fail(int err, std::string_view what) const;
  Error fail(const Error& inner) const;
  Result<int> parent(const std::string& dir);
  Result<UniqueFd> make_parents(const std::string& dir);
  Status clear(int dfd, const std::string& base);
  Status make_dir(int pfd, const std::string& base, const TarEntry& e);
  Status make_file(int pfd, const std::string& base, const TarEntry& e, EntryData& data);
  Status write_content(int fd, const TarEntry& e, EntryData& data);
  Status make_symlink(int pfd, const std::string& base, const TarEntry& e);
  Status make_node(int pfd, const std::string& base, const TarEntry& e);
  Status make_hardlink(int pfd, const std::string& base, const TarEntry& e);
  Status apply_whiteout(const std::string& dir, const std::string& base);
  Status set_opaque(const std::string& dir);
  Status set_owner_at(int pfd, const std::string& base, const TarEntry& e);
  Status set_xattrs(int fd, int pfd, const std::string& base, const TarEntry& e);
  Status set_times_at(int pfd, const std::string& base, const TarEntry& e);
  Result<std::pair<uid_t, gid_t>> owner(const TarEntry& e) const;
  void defer_dir(const TarEntry& e);

  int root_;
  UnpackOptions opts_;
  std::string label_;
  std::string current_;  // quoted name of the entry being applied
  // The last parent directory resolved: tar entries come grouped by directory.
  std::string cache_dir_;
  UniqueFd cache_fd_;
  bool cache_ok_ = false;
  std::vector<DirMeta> dirs_;
  uint64_t content_bytes_ = 0;
};

}  // namespace berth::storage
