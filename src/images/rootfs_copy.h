// rootfs_copy.h - `berth export` and `berth cp`: files between a container's root
// filesystem (its merged overlay mount, or any directory) and the host or a tar stream.
//
// Every container path is resolved inside the rootfs by the kernel (openat2 with
// RESOLVE_IN_ROOT): a symlink in the container pointing at /etc or ../../ resolves to the
// rootfs' own /etc, never the host's. Trees are walked with *at calls that do not follow
// symlinks, and written with storage's Extractor (parents resolved in root, final
// components never followed), so nothing outside the rootfs (copy_in) or outside the host
// destination (copy_out) is read or written, whatever the container put there.
//
// docker cp's rules (https://docs.docker.com/reference/cli/docker/container/cp/):
//   SRC a file:  DEST missing -> saved as DEST (DEST ending in "/": error, the directory
//                must exist); DEST a file -> overwritten; DEST a directory -> DEST/basename.
//   SRC a dir:   DEST missing -> created, SRC's content copied into it; DEST a file ->
//                error; DEST a directory -> DEST/basename(SRC), or with SRC ending in "/."
//                SRC's content into DEST itself.
//   SRC "-" (copy_in): a tar stream extracted into DEST, which must be a directory.
//   DEST "-" (copy_out): a tar of SRC on the fd (names start with SRC's base name).
// Owners: copied in, files belong to the container's root (0:0) unless `archive` (-a)
// keeps the source's; copied out, to the calling user unless `archive` keeps the
// container's (root only). follow_link (-L): a symlink SRC is copied as what it points to.
#pragma once

#include <cstdint>
#include <string>

#include "base/error.h"
#include "base/io.h"

namespace berth::images {

struct CopyOptions {
  bool archive = false;      // -a
  bool follow_link = false;  // -L
  // The rootfs' owners are the container's ids plus these (a user-namespaced container):
  // written into the rootfs shifted up, read out of it shifted down.
  uint32_t uid_offset = 0;
  uint32_t gid_offset = 0;
  // Names the container in errors: "Could not find the file /x in container NAME".
  std::string container_name;
};

// Where copy_out writes: a host path, or (tar_fd >= 0) a tar stream on that fd.
struct CopyDest {
  std::string host_path;
  int tar_fd = -1;
};

// What copy_in reads: a host path, or (tar != nullptr) a tar stream (plain or compressed).
struct CopySource {
  std::string host_path;
  ByteSource* tar = nullptr;
};

Status copy_out(const std::string& rootfs, const std::string& container_path, const CopyDest& dest,
                const CopyOptions& opts = {});
Status copy_in(const std::string& rootfs, const CopySource& src, const std::string& container_path,
               const CopyOptions& opts = {});

struct ExportOptions {
  uint32_t uid_offset = 0;  // as in CopyOptions
  uint32_t gid_offset = 0;
};

// docker export: the whole rootfs as one tar on out_fd (every file, owners, modes, mtimes,
// xattrs except overlayfs' own, hard links; sockets are left out, as docker does). The
// caller handles -o FILE (a temp file renamed when this succeeds) or stdout.
Status export_rootfs(const std::string& rootfs_dir, int out_fd, const ExportOptions& opts = {});

}  // namespace berth::images
