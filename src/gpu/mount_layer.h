// mount_layer.h - the mount points of a GPU container's driver files, and the soname links
// its createContainer hook makes, as one small read-only overlay layer put on top of the
// image's layers, instead of files made in the container's upper dir at every start.
//
// A --gpus container gets a few dozen single-file bind mounts (libraries, binaries,
// firmware, sockets). Each needs a mount point: an empty file created in the container's
// upper dir (an ext4 create through overlayfs, ~0.1 ms each) and deleted with it; the hook's
// soname links likewise. The layer holds them once, shared by every container of the same
// image with the same files: the mount points then already exist, the hook finds its links
// made, and none of them land in the container's upper dir (so `commit` does not pick them
// up).
//
// The layer must never hide or change what the image has: a folder of the layer over the
// image's /lib -> usr/lib symlink would hide every library behind it, and in an overlay a
// folder takes its mode and owner from the topmost layer that has it (/tmp must stay 1777).
// So the layer is made from the image: resolve() follows the image's symlinks (as the runtime
// and the hook do when they look the paths up), keeps only what the image lacks, and gives
// each folder the image also has the image's mode and owner. That needs the image's merged
// view: it is done on the first fresh container of an image and kept as a plan per image.
#pragma once

#include <sys/types.h>

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
    // Leaves: 'd' an empty folder, 'f' an empty file, 'l' a symlink to target.
    // Resolved layers also hold 'p', a folder the image has (made with its mode, uid, gid),
    // and 's', a symlink of the image the paths were resolved through (the container's upper
    // dir must not have replaced it).
    char type;
    std::string target;  // 'l' only
    mode_t mode = 0;     // 'p' only: permission bits (07777)
    uid_t uid = 0;
    gid_t gid = 0;
    bool operator==(const Entry&) const = default;
  };

  // The layer for edits: a file or folder (the host path's type) for each bind mount outside
  // /proc, /dev and /sys, and a symlink for each --link of a hook for which own_hook is true
  // (berth's gpu-hook). is_dir tells a host path's type. Paths whose types conflict give no
  // layer.
  static MountLayer of(const ContainerEdits& edits,
                       const std::function<bool(const std::string&)>& is_dir,
                       const std::function<bool(const HookEdit&)>& own_hook);
  // Parses manifest() text; an error for anything else.
  static Result<MountLayer> parse(std::string_view manifest);

  bool empty() const;  // no leaf
  // One line per entry, sorted by path: "f /usr/bin/nvidia-smi", "d /tmp/nvidia-mps",
  // "l /usr/lib/x/libcuda.so.1 libcuda.so.550.54.15", "p /tmp 1777 0 0", "s /lib". Names the
  // layer; compared whole on reuse. Folders not listed are new ones (0755, root).
  std::string manifest() const;
  // A 16-hex-digit name for the manifest (std::hash).
  std::string name() const;

  // The layer as the image rooted at root_fd (its merged view, opened O_PATH) needs it: each
  // leaf's folder looked up inside the root with the image's symlinks followed (a dangling
  // one to its target), only what the image lacks kept (the image's own file at a link's
  // path stays the image's; an existing mount point needs no placeholder), the image's
  // folders on the way recorded with their mode and owner, its symlinks on the way recorded.
  // An error when a path cannot be placed (a file where a folder is needed, a symlink loop,
  // a name with a newline or space); transient() tells a failure worth retrying later.
  Result<MountLayer> resolve(int root_fd) const;
  static bool transient(const Error& e);

  // The layer's tree under dir (RUNROOT/gpu/layers): dir/<name>/tree, made on first use in a
  // temporary folder renamed into place (concurrent starts race safely), reused while its
  // manifest matches; "" when a folder of that name holds another manifest.
  Result<std::string> ensure(const std::string& dir) const;
  // Whether the layer can go under dir (the container's upper dir, which may have changed
  // since the plan was made): every leaf and folder is absent there, a whiteout, or of the
  // layer's type, and every symlink the plan went through is absent there.
  bool fits(const std::string& dir) const;

  const std::map<std::string, Entry>& entries() const { return entries_; }

 private:
  std::map<std::string, Entry> entries_;  // container path -> entry
};

}  // namespace berth::gpu
