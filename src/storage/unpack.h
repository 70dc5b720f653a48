// unpack.h - streams a layer blob (gzip, zstd or plain tar) into a directory.
//
// One pass over the bytes: decompress (ISA-L / libzstd) -> hash the tar (the diff id) ->
// read tar headers with libarchive -> create every entry ourselves with *at syscalls
// relative to the target directory. Parent directories are resolved with openat2
// (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) and final components are never followed, so
// no name, symlink, hard link or whiteout in the tar can reach outside the target.
// OCI whiteouts become overlayfs' form, so the directory can be an overlay lower dir:
// `.wh.NAME` -> a 0:0 character device NAME, `.wh..wh..opq` -> trusted.overlay.opaque=y
// (user.overlay.opaque with OpaqueXattr::user, for a rootless overlay with userxattr).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "base/error.h"
#include "base/io.h"
#include "storage/decompress.h"

namespace berth::storage {

enum class OpaqueXattr { trusted, user };

struct UnpackOptions {
  // Names the layer in errors ("sha256:..."); "layer" alone when empty.
  std::string layer_name;
  // Owners are restored as uid + uid_offset, gid + gid_offset (rootless: the start of a
  // subordinate id range). Off (chown = false), files stay owned by the caller.
  bool chown = true;
  uint32_t uid_offset = 0;
  uint32_t gid_offset = 0;
  // In a user namespace that maps only some ids (rootless without a subordinate range), an
  // owner outside the mapping (EINVAL from chown) is squashed: the file stays the caller's.
  bool squash_unmapped_owners = false;
  // trusted.* xattrs from the tar need CAP_SYS_ADMIN; off, they are skipped.
  bool trusted_xattrs = true;
  // Where `.wh..wh..opq` goes.
  OpaqueXattr opaque = OpaqueXattr::trusted;
  // Without CAP_MKNOD, device nodes cannot exist: skip them instead of failing.
  bool skip_devices = false;
  // EPERM from setting an xattr (security.capability without CAP_SETFCAP) is ignored.
  bool best_effort_xattrs = false;
  // Also compute the sha256 of the compressed stream (when the caller does not verify it).
  bool hash_compressed = false;
  // Decompress (and hash) in a second thread while this one writes files.
  bool decompress_in_thread = true;

  // Defaults for the calling user: everything as real root; in a user namespace (rootless
  // berth) owners as mapped, unmapped ones squashed, no devices or trusted xattrs and a
  // user.overlay.opaque marker; for a plain user no owners either.
  static UnpackOptions for_current_user();
};

struct UnpackResult {
  std::string diff_id;            // "sha256:..." of the uncompressed tar stream
  uint64_t tar_size = 0;          // bytes of the uncompressed tar stream
  std::string compressed_digest;  // sha256 of the compressed stream (hash_compressed only)
  uint64_t compressed_size = 0;   // bytes read from the source
  Compression compression = Compression::none;  // what the stream was
  uint64_t entries = 0;                         // tar entries applied (whiteouts included)
  uint64_t content_bytes = 0;                   // sum of the regular files' sizes
};

// Unpacks compressed (a layer blob as it arrives) into target_dir_fd, which should be an
// empty directory. With decompress_in_thread, `compressed` is read from a second thread (one
// thread at a time), joined before this returns. On any error the directory holds a partial
// tree: the caller removes it (remove_unpacked). Errors are one line naming the layer and
// the entry, e.g.
//   layer sha256:ab..: entry "../../etc/passwd": path escapes the layer root
//   layer sha256:ab..: truncated gzip stream
Result<UnpackResult> unpack_layer(ByteSource& compressed, Compression c, int target_dir_fd,
                                  const UnpackOptions& opts = {});

// rm -rf for a (partially) unpacked layer: never follows its symlinks, and copes with the
// read-only directories a layer may hold when not root.
Status remove_unpacked(const std::string& dir);

}  // namespace berth::storage
