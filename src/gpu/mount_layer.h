// mount_layer.h - the mount points of a GPU container's driver files, and the soname links
// its createContainer hook makes, as one small read-only overlay layer put on top of the
// image's layers, instead of files made in the container's upper dir at every start.
//
// A --gpus container gets a few dozen single-file bind mounts (libraries, binaries,
// firmware, sockets). Each needs a mount point: an empty file created in the container's
// upper dir (an ext4 create through overlayfs, ~0.1 ms each) and deleted with it; the hook's
// soname links likewise. The layer holds them once, shared by every container of the same
// image with the same files: the mount points then already exist, the hook finds its links
// made, and nothing of the driver lands in the container's upper dir (so `commit` never
// picks up driver leftovers).
//
// The layer must never hide what the image has (a folder of the layer over the image's
// /lib -> usr/lib symlink would hide every library behind it). So its paths are the image's
// own: resolve() follows the image's symlinks (as the runtime and the hook do when they look
// the paths up) and keeps only what the image lacks. That needs the image's merged view: it is
// done on the first fresh container of an image and remembered as a plan per image.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/error.h"
#include "gpu/edits.h"

namespace berth::gpu {

class MountLayer {
 public:
  struct Entry {
    char type;           // 'd' folder, 'f' empty file, 'l' symlink
    std::string target;  // symlinks only
    bool operator==(const Entry&) const = default;
  };

  // The layer for edits: a file or folder (the host path's type) for each bind mount outside
  // /proc, /dev and /sys, and a symlink for each --link of berth's gpu-hook. is_dir tells a
  // host path's type (injectable for tests). Paths whose types conflict give no layer.
  static MountLayer of(const ContainerEdits& edits,
                       const std::function<bool(const std::string&)>& is_dir);
  // Parses manifest() text; an error for anything else.
  static Result<MountLayer> parse(std::string_view manifest);

  bool empty() const { return entries_.empty(); }
  // One line per entry, sorted by path: "f /usr/bin/nvidia-smi", "d /tmp/nvidia-mps",
  // "l /usr/lib/x/libcuda.so.1 libcuda.so.550.54.15". Names the layer; compared whole on
  // reuse. Parent folders are implied.
  std::string manifest() const;
  // A 16-hex-digit name for the manifest (std::hash).
  std::string name() const;

  // The same entries at the paths the image rooted at root_fd (its merged view, opened
  // O_PATH) gives them: each entry's folder looked up inside the root with the image's
  // symlinks followed, and only what the image lacks kept (an image's own file at a link's
  // path stays the image's; an existing mount point needs no placeholder). An error when a
  // folder cannot be looked up (a file where a folder is needed, a symlink loop).
  Result<MountLayer> resolve(int root_fd) const;

  // The layer's tree under dir (RUNROOT/gpu/layers): dir/<name>/tree, made on first use in a
  // temporary folder renamed into place (concurrent starts race safely), reused while its
  // manifest matches; "" when a folder of that name holds another manifest.
  Result<std::string> ensure(const std::string& dir) const;
  // Whether the layer can go under dir (the container's upper dir, which may have changed
  // since the plan was made) without a type clash: every entry and parent folder is absent
  // there, a whiteout, or of the layer's type.
  bool fits(const std::string& dir) const;

  const std::map<std::string, Entry>& entries() const { return entries_; }

 private:
  std::map<std::string, Entry> entries_;  // container path -> entry
};

}  // namespace berth::gpu
