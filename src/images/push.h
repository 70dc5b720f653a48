// push.h - `berth push`: an image of the store sent to a registry, as docker does it.
//
// For each tag pushed: the layer blobs a few at a time (a blob the registry has is skipped
// after a HEAD, one another repository of the same registry may hold is mounted from it),
// then the config, then the manifest exactly as it is stored, so the digest the registry
// reports is the one the image was pulled or loaded with. Non-distributable (foreign) layers
// are never uploaded. After a push the image gets the repo digest NAME@DIGEST.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"
#include "images/store.h"
#include "registry/client.h"

namespace berth::images {

// A layer's state as docker's push output names it.
enum class PushState {
  preparing,  // "Preparing"
  waiting,    // "Waiting": queued behind the uploads in flight
  pushing,    // "Pushing" with bytes sent so far
  pushed,     // "Pushed"
  existed,    // "Layer already exists"
  mounted,    // "Mounted from REPO"
  skipped,    // "Skipped foreign layer"
};

// docker's words for a state ("Layer already exists"); mounted gets "Mounted from " + from.
std::string push_state_text(PushState s, const std::string& from = {});
// The final states: nothing more is reported for the layer after one of these.
bool is_final(PushState s);

struct PushLayerUpdate {
  std::string id;  // 12 hex digits of the layer's diff id, as docker shows it
  PushState state = PushState::preparing;
  uint64_t sent = 0;         // pushing: bytes sent of this attempt
  uint64_t total = 0;        // the blob's size
  std::string mounted_from;  // mounted: the source repository ("library/busybox")
};

struct PushedTag {
  std::string name;    // the full name pushed: "localhost:5000/x:v1"
  std::string tag;     // "v1"
  std::string digest;  // the manifest's digest
  int64_t size = 0;    // the manifest's size in bytes
};

// What the CLI renders. The push calls these from several threads, but never two at once.
class PushProgress {
 public:
  virtual ~PushProgress() = default;
  // Once, before anything is sent: the repository ("localhost:5000/x").
  virtual void repository(const std::string& name) { (void)name; }
  // Once per tag: its layers' ids, top layer first (the order docker prints them in).
  virtual void layers(const std::vector<std::string>& ids) { (void)ids; }
  virtual void update(const PushLayerUpdate& u) { (void)u; }
  // The tag's manifest is in the registry.
  virtual void tag_done(const PushedTag& t) { (void)t; }
};

struct PushRequest {
  std::string name;         // as typed: "x", "localhost:5000/x:v1"
  bool all_tags = false;    // -a: every local tag of the repository (NAME must have no tag)
  uint64_t chunk_size = 0;  // 0: each blob in one PUT; else PATCH chunks of this many bytes
  int parallel = 3;         // layer uploads at once
};

// Pushes req.name (its tag, "latest" when it has none, or with all_tags every tag of the
// repository). Errors are docker's one line: "An image does not exist locally with the tag:
// x", "tag can't be used with --all-tags/-a", the registry's "unauthorized: ..." line.
Result<std::vector<PushedTag>> push_image(Store& store, const PushRequest& req,
                                          const registry::ClientOptions& client_options,
                                          PushProgress* progress = nullptr);

// BERTH_PUSH_CHUNK_SIZE (bytes; unset or empty: 0 = monolithic uploads).
Result<uint64_t> chunk_size_from_env();

}  // namespace berth::images
