// commit.h - `berth commit`: a container's changes (its overlay upper dir) become a new
// image on top of the image it was created from, as docker commit makes it.
//
// The upper dir is written as one uncompressed OCI layer tar straight into the blob store
// (hashed as it is written: its digest is also its diff id), with overlayfs' whiteouts and
// opaque directories in OCI's form (`.wh.NAME`, `.wh..wh..opq`). The new config is the
// parent's with the diff id appended, the container's config (after -c changes) as
// config.config, a history entry like docker's (created_by: the container's Cmd joined),
// "container" and "container_config". install_image then unpacks the layer from that blob
// through the normal unpacker (exactly what a pull of the image would give) and records the
// image; the parent's layers are shared, not copied.
//
// Like docker: an upper dir with no changes makes no layer (the empty tar is not appended to
// rootfs.diff_ids) and a history entry with empty_layer: true.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/error.h"
#include "images/install.h"
#include "images/store.h"

namespace berth::images {

struct CommitRequest {
  std::string parent_image_id;  // the container's image (id or name); empty: no base
  std::string upper_dir;        // the container's overlay upper dir
  // docker's "Config" object of the container (Cmd, Entrypoint, Env, WorkingDir, User,
  // ExposedPorts, Volumes, Labels, StopSignal, ...): with the changes applied it becomes the
  // image's config.config; as given it is written as "container_config". null: the
  // parent's config.
  nlohmann::json container_config;
  std::string author;                // -a
  std::string comment;               // -m
  std::vector<std::string> changes;  // -c lines: "ENV A=1", "CMD [\"sh\"]" (as import -c)
  std::string tag;                   // "repo:tag", may be empty
  std::string container_id;          // written as "container"
  // Paths relative to the upper dir left out of the layer: mount points the runtime made
  // that docker keeps in its init layer ("etc/hostname", "etc/hosts", "etc/resolv.conf").
  std::vector<std::string> exclude;
};

struct CommitResult {
  std::string image_id;      // "sha256:..."
  std::string layer_digest;  // the new layer's blob (= diff id); empty when no layer
  uint64_t layer_bytes = 0;  // size of the layer tar
};

// Everything that can be wrong with the request (a missing upper dir, an unknown parent, a
// bad -c line or tag) fails before anything is written. A failure later removes the layer
// blob it wrote when no other layer uses it. Errors are one line, starting "commit: ".
Result<CommitResult> commit_container_ex(Store& store, const CommitRequest& req);
// The same, returning the new image id.
Result<std::string> commit_container(Store& store, const CommitRequest& req);

// /etc/hostname, /etc/hosts and /etc/resolv.conf are bind-mount targets: where the image
// has none, the runtime leaves an empty file in the upper dir. docker keeps those in its init
// layer, so commit and build leave them out (relative paths, for `exclude`); a file the
// image had or the container wrote stays.
std::vector<std::string> placeholder_mount_points(const std::string& upper_dir);

// The layer of an overlay upper dir (whiteouts converted, `exclude` left out) written into
// the blob store as an uncompressed tar whose digest is also its diff id; the build makes its
// layers with it. An upper dir with no entries stores nothing and returns an empty digest.
Result<LayerBlob> store_upper_layer(Store& store, const std::string& upper_dir,
                                    const std::vector<std::string>& exclude);
// The layer blobs of an image in the store, bottom first (an error when one is missing).
Result<std::vector<LayerBlob>> image_layer_blobs(Store& store, const std::string& image_id);

// The layer tar of an overlay upper dir, written to out (the part of commit that needs no
// store; tests and `berth diff` style tools). Returns the number of entries.
Result<uint64_t> write_upper_layer(const std::string& upper_dir,
                                   const std::vector<std::string>& exclude, uint32_t uid_shift,
                                   uint32_t gid_shift, ByteSink& out);

}  // namespace berth::images
