// pull.h - `berth pull`: a reference's manifest (this machine's platform chosen from an
// index), its config, then every layer at once, each streamed exactly once:
//
//   registry --libcurl--> tee --> blob store (tmp/<hex>.partial, hashed as it is written)
//                          \--> BytePipe --> decompress (igzip/zstd) --> sha256 --> unpack
//
// A layer is unpacked into a hidden directory and published under its chain id when its
// diff id matched the config; the blob is renamed into the blob store when its digest
// matched the manifest. The image is recorded (install_image) only when every layer is in
// place. Layers are locked one by one (Store::lock), so two berth processes pulling the
// same image share the work: the second waits for each layer the first is unpacking and
// then finds it there. A download cut off after the client's retries leaves its bytes in
// tmp/<hex>.partial; the next pull replays them through the unpacker and fetches the rest
// with a Range request.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/error.h"
#include "image/platform.h"
#include "image/reference.h"
#include "images/store.h"
#include "registry/client.h"

namespace berth::images {

// What docker shows per layer.
enum class LayerState {
  waiting,            // "Waiting": another layer or another berth process goes first
  pulling,            // "Pulling fs layer"
  already_exists,     // "Already exists"
  downloading,        // "Downloading" current/total (compressed bytes)
  download_complete,  // "Download complete"
  extracting,         // "Extracting": the last bytes are being unpacked
  pull_complete,      // "Pull complete"
};
std::string_view layer_state_text(LayerState s);

struct LayerProgressEvent {
  std::string digest;  // the layer blob's digest
  LayerState state;
  uint64_t current = 0;  // downloading: bytes so far
  uint64_t total = 0;    // the blob's size
};

struct PullOptions {
  image::Platform platform = image::host_platform();
  registry::ClientOptions client;
  // Called once the manifest is known, with the layer digests bottom first (the display
  // draws its lines), then for each layer event. Calls are serialised (never two at once)
  // but come from worker threads.
  std::function<void(const std::vector<std::string>& layer_digests)> on_layers;
  std::function<void(const LayerProgressEvent&)> on_progress;
  // Layers fetched at once; 0: all of them (at most 16).
  int max_parallel = 0;
};

struct PullResult {
  std::string image_id;        // "sha256:..." (the config digest)
  std::string digest;          // what the reference resolved to: an index or a manifest
  std::string name;            // the full reference pulled: "docker.io/library/ubuntu:latest"
  bool downloaded = false;     // false: the tag already pointed at this image ("up to date")
  uint64_t bytes_fetched = 0;  // compressed bytes that came over the network
};

Result<PullResult> pull(Store& store, const image::Reference& ref, const PullOptions& opts);

}  // namespace berth::images
