// tree_tar.h - internal to src/images: directory trees as tar entries, and tar entries
// into trees. Under commit (a container's overlay upper dir becomes an OCI layer), export
// (a merged rootfs as one tar) and cp (between a container's rootfs and the host or a tar
// stream).
//
// The walker never follows a symlink: every node is reached with *at calls relative to its
// parent's fd (O_NOFOLLOW), so a tree that a container controls cannot lead it elsewhere.
// It emits entries in a deterministic order (a directory, then its children sorted by
// name), hard links within the walk as tar hard links to the first name seen, and xattrs
// except overlayfs' own and the host's security labels. In overlay-upper mode, overlayfs'
// whiteouts (0:0 character devices) and opaque directories become OCI's `.wh.NAME` and
// `.wh..wh..opq`.
//
// Sinks: TarSink writes a tar (ustar headers, pax records where ustar cannot say it: long
// names, large ids or sizes, xattrs; mtimes in whole seconds, as docker writes them);
// ExtractSink creates the entries under a root fd through storage's Extractor (parents
// resolved with openat2 RESOLVE_IN_ROOT, final components never followed).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "base/error.h"
#include "base/io.h"
#include "storage/extract.h"

namespace berth::images::tree {

using storage::EntryData;
using storage::TarEntry;

// Receives entries in order. e.name: the name to write (no trailing slash); e.path: the
// same, cleaned. `data`: a regular file's content (S_IFREG without a hard link target).
class EntrySink {
 public:
  virtual ~EntrySink() = default;
  virtual Status add(const TarEntry& e, EntryData& data) = 0;
  virtual Status finish() = 0;
};

enum class Whiteouts {
  keep,            // a merged rootfs or a plain directory: nodes as they are
  overlay_to_oci,  // an overlay upper dir: whiteouts and opaque markers to OCI's form
};

struct WalkOptions {
  Whiteouts whiteouts = Whiteouts::keep;
  // Owners as written: the id on disk minus the shift (a rootfs owned by a subordinate id
  // range); ids below the shift are written as they are.
  uint32_t uid_shift = 0;
  uint32_t gid_shift = 0;
  // Every entry owned by this instead (docker cp without -a).
  std::optional<std::pair<int64_t, int64_t>> owner;
  // Paths relative to the walk's start ("etc/hostname") left out, with what is below them.
  std::set<std::string> exclude;
};

// Emits the node open as node_fd (O_PATH, possibly O_NOFOLLOW: a symlink is emitted as a
// symlink) as out_name ("." or "" for a root without a name of its own), and when it is a
// directory everything below it. out_name "": the node itself is not emitted, only what it
// holds (commit and export: a layer has no entry for its root).
Status walk(int node_fd, const std::string& out_name, const WalkOptions& opts, EntrySink& sink);

// --- sinks ---

// Writes entries as a tar to `out`, buffered (1 MiB). finish() writes the end blocks and
// flushes. entries(): how many entries were written (0: an empty tar).
class TarSink : public EntrySink {
 public:
  explicit TarSink(ByteSink& out);
  Status add(const TarEntry& e, EntryData& data) override;
  Status finish() override;
  uint64_t entries() const { return entries_; }
  uint64_t bytes() const { return bytes_; }

 private:
  Status header(const TarEntry& e);
  Status content(const TarEntry& e, EntryData& data);
  Status put(const void* p, size_t n);
  Status zeros(size_t n);
  Status flush();

  ByteSink& out_;
  std::string buf_;
  uint64_t entries_ = 0;
  uint64_t bytes_ = 0;
};

// A ByteSink onto an fd (stdout, a pipe, a file).
class FdSink : public ByteSink {
 public:
  explicit FdSink(int fd) : fd_(fd) {}
  Status write(std::string_view data) override;

 private:
  int fd_;
};

struct ExtractOptions {
  // Where under the root the entries go: entry "a/b" is created as prefix/a/b, resolved
  // inside the root. "" is the root itself.
  std::string prefix;
  storage::UnpackOptions unpack;  // owners (chown, offsets), xattrs, devices
  // Entries whose cleaned path equals the prefix are not applied (an existing destination
  // directory keeps its own owner and mode).
  bool skip_prefix_itself = true;
  // Every entry owned by this (before unpack's offsets) instead of the tar's owners.
  std::optional<std::pair<int64_t, int64_t>> owner;
  std::string label = "copy";  // errors: "copy: entry \"x\": ..."
};

// Creates entries under root_fd (borrowed). OCI whiteout names (`.wh.*`) are not files a
// copy creates: they are skipped.
class ExtractSink : public EntrySink {
 public:
  ExtractSink(int root_fd, ExtractOptions opts);
  Status add(const TarEntry& e, EntryData& data) override;
  Status finish() override;
  uint64_t skipped_whiteouts() const { return skipped_; }

 private:
  std::string rebase(const std::string& path) const;

  ExtractOptions opts_;
  storage::Extractor ex_;
  uint64_t skipped_ = 0;
};

// Reads a tar stream (gzip, zstd, bzip2 or xz compressed, or plain) from src and hands each
// entry to sink, then finish(). Names that climb above the stream's root are an error.
Status read_tar(ByteSource& src, EntrySink& sink, const std::string& label);

}  // namespace berth::images::tree
