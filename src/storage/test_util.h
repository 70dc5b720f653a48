// test_util.h - helpers for the storage tests and fuzz seeds: tars crafted with libarchive's
// writer (any name, including hostile ones), in-memory byte sources, directory snapshots
// for comparing trees, and overlay mounts for the merged-view tests.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/io.h"
#include "storage/decompress.h"

namespace berth::storage::testing {

struct TarItem {
  std::string name;
  mode_t type = 0100000;  // S_IFREG
  mode_t perm = 0644;
  int64_t uid = 0;
  int64_t gid = 0;
  std::string content;   // regular files
  std::string symlink;   // symlink target
  std::string hardlink;  // hard link target
  unsigned major = 0;
  unsigned minor = 0;
  int64_t mtime = 1700000000;
  std::vector<std::pair<std::string, std::string>> xattrs;
};

// Builds a tar in memory, entry by entry, names written exactly as given.
class TarBuilder {
 public:
  TarBuilder& file(std::string name, std::string content, mode_t perm = 0644);
  TarBuilder& dir(std::string name, mode_t perm = 0755);
  TarBuilder& symlink(std::string name, std::string target);
  TarBuilder& hardlink(std::string name, std::string target);
  TarBuilder& fifo(std::string name, mode_t perm = 0644);
  TarBuilder& device(std::string name, mode_t type, unsigned major, unsigned minor,
                     mode_t perm = 0666);
  TarBuilder& add(TarItem item);
  // Changes the entry added last.
  TarBuilder& owner(int64_t uid, int64_t gid);
  TarBuilder& xattr(std::string key, std::string value);
  TarBuilder& mtime(int64_t t);

  // The tar (pax where needed), compressed as asked (gzip, zstd or none).
  std::string build(Compression c = Compression::none) const;

 private:
  std::vector<TarItem> items_;
};

std::string compress(std::string_view data, Compression c);

// A ByteSource over a string, handing out at most `chunk` bytes per read.
class StringSource : public ByteSource {
 public:
  explicit StringSource(std::string data, size_t chunk = 1 << 16)
      : data_(std::move(data)), chunk_(chunk) {}
  Result<size_t> read(void* buf, size_t n) override;

 private:
  std::string data_;
  size_t chunk_;
  size_t pos_ = 0;
};

// path (relative, "" omitted) -> one line describing the node: type, mode, owner and
// content or target, e.g. "f 0644 0:0 hello", "d 0755 0:0", "l -> ../x", "c 0000 0:0 0:0".
std::map<std::string, std::string> snapshot(const std::string& dir, bool with_owner = true);
// Every name under dir, recursively ("a", "a/b").
std::vector<std::string> list_tree(const std::string& dir);

// unshare(CLONE_NEWNS) and make every mount private: mounts made afterwards vanish with
// this process, whatever happens to the test.
Status enter_private_mount_ns();
// A read-only overlay of lowers (top first) on target.
Status mount_overlay(const std::vector<std::string>& lowers_top_first, const std::string& target);

}  // namespace berth::storage::testing
