// remove.h - taking images out of the store the way docker does: `rmi` (untag or delete,
// with docker's conflict rules), `image prune`, the orphans a killed pull leaves, and what
// `system df` reports. Each removal is Db::remove_image (one transaction) followed by
// Store::delete_unreferenced for the layers and blobs no image uses any more.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "images/store.h"

namespace berth::images {

// A container that uses an image. Containers do not exist yet: the engine's container
// store will supply them through ContainerUsers.
struct ContainerUse {
  std::string id;
  bool running = false;
};
// The containers created from image_id (a "sha256:..." id).
using ContainerUsers =
    std::function<Result<std::vector<ContainerUse>>(const std::string& image_id)>;

// One line of docker's delete report: "Untagged: ubuntu:22.04" or "Deleted: sha256:...".
struct DeleteEvent {
  enum Kind { untagged, deleted } kind;
  std::string what;  // the familiar reference, or the image id / layer chain id
};

struct DeleteReport {
  std::vector<DeleteEvent> events;
  int64_t reclaimed = 0;  // bytes: unpacked layers and blobs removed from disk
};

struct RemoveOptions {
  bool force = false;    // -f: remove every name of the image, and the image
  ContainerUsers users;  // may be empty: no containers
  bool no_prune = false;  // --no-prune: keep the untagged parents (a build's intermediate images)
};

// `rmi NAME`: by a name, untags it (and the repo digests of that repository when no tag of
// it remains) and deletes the image once no name is left; by id, deletes the image, which
// with several names needs force. Errors are docker's lines ("No such image: x:latest",
// "conflict: unable to delete 1a2b3c4d5e6f (must be forced) - image is referenced in
// multiple repositories").
Result<DeleteReport> remove_image(Store& store, std::string_view name_or_id,
                                  const RemoveOptions& opts);

// `image prune`: images without tags (all: every image no container uses), each with all its
// names. Images that containers use are kept.
Result<DeleteReport> prune_images(Store& store, bool all, const ContainerUsers& users);

// Unpacked layers and blobs that no image names: left by a pull or load killed before it
// recorded its image, or by a removal killed before it deleted the files. Only those older
// than min_age are removed, so a pull running now (which records its image only at the end)
// keeps what it has written.
struct OrphanReport {
  std::vector<std::string> layers;  // chain ids
  std::vector<std::string> blobs;   // digests
  int64_t bytes = 0;
};
Result<OrphanReport> remove_orphans(Store& store, std::chrono::seconds min_age);

// `system df`: every image with the size of its layers other images share too.
struct ImageUsage {
  storage::ImageRecord record;
  int64_t shared_size = 0;  // bytes in layers that another image also uses
  int containers = 0;
};
struct DiskUsage {
  std::vector<ImageUsage> images;  // newest first
  int64_t layers_size = 0;         // every layer once
  int active = 0;                  // images used by a container
  int64_t reclaimable = 0;         // docker's: layers_size minus what active images alone hold
};
Result<DiskUsage> disk_usage(Store& store, const ContainerUsers& users);

}  // namespace berth::images
