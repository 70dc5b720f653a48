// install.h - the last step of every way an image enters the store (pull, load, import,
// and later commit and build): its layer blobs are in the blob store; unpack the layers
// not unpacked yet, store the config and the manifest, and record the image, its layers and
// its names in one database transaction. Until that transaction nothing shows the image,
// so a process killed earlier leaves only reusable blobs and layers behind.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/error.h"
#include "images/store.h"

namespace berth::images {

struct LayerBlob {
  std::string digest;      // "sha256:..." of the blob as stored (compressed or not)
  int64_t size = 0;        // the blob's size
  std::string media_type;  // e.g. application/vnd.oci.image.layer.v1.tar+gzip
  // The layer's unpacked size when the caller has just unpacked it (pull); -1: unknown.
  int64_t unpacked_size = -1;
};

struct InstallRequest {
  std::string config;             // the config JSON as stored: its digest is the image id
  std::vector<LayerBlob> layers;  // bottom first, one per config rootfs.diff_ids entry
  // The manifest the image came with; empty: berth writes a Docker schema2 manifest
  // (what docker does for loaded and imported images).
  std::string manifest;
  std::string manifest_media_type;
  std::vector<std::string> tags;          // full names: "docker.io/library/ubuntu:22.04"
  std::vector<std::string> repo_digests;  // "docker.io/library/ubuntu@sha256:..."
  std::string parent;  // the image a build step started from (docker's Parent), or ""
};

// Reported while layers are unpacked: the layer (its blob digest), and whether it was
// already there.
enum class LayerEvent { already_exists, extracting, done };
using LayerProgress = std::function<void(const std::string& blob_digest, LayerEvent)>;

// The layers' chain ids, bottom first, from the config's diff ids.
Result<std::vector<std::string>> layer_chain_ids(const std::string& config_json);

// Unpacks missing layers (up to four at a time, each one locked against other berth
// processes unpacking it), checks each diff id against the config, then records the image.
// Returns the image id ("sha256:...").
Result<std::string> install_image(Store& store, const InstallRequest& req,
                                  const LayerProgress& progress = {});

// The lock name that serialises work on one layer between processes (pull, load).
std::string layer_lock_name(const std::string& chain_id);

// Sum of the sizes of the regular files under dir (a layer's unpacked size).
Result<int64_t> tree_content_bytes(const std::string& dir);

}  // namespace berth::images
