// store.h - the image store as berth's commands see it: the blobs, the unpacked layers and
// the metadata database under one root (docs/store.md), plus docker's rules for finding an
// image by name or id. src/image is the pure model (references, manifests, configs);
// src/images (this folder) is what berth does with images: pull, push, save, load, import.
//
// One Store per process and thread: the database connection is not shared between threads
// (the pull pipeline's worker threads use blobs() and layers() only).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "storage/blob_store.h"
#include "storage/db.h"
#include "storage/layer_store.h"
#include "storage/unpack.h"

namespace berth::images {

struct StoreOptions {
  // fsync every blob and syncfs every layer before it becomes visible: survives a power cut,
  // not only a killed process. Off by default, like docker's overlay2 driver.
  bool durable = false;
};

class Store {
 public:
  // Opens (creating, 0700) ROOT with its blobs/, layers/, locks/ and berth.db, and cleans up
  // what killed processes left (temp blobs, partial layers).
  static Result<std::unique_ptr<Store>> open(const std::string& root, StoreOptions opts = {});

  const std::string& root() const { return root_; }
  bool durable() const { return opts_.durable; }
  storage::BlobStore& blobs() { return blobs_; }
  storage::LayerStore& layers() { return layers_; }
  storage::Db& db() { return db_; }
  // How layers are unpacked for the calling user (owners, devices, xattrs).
  const storage::UnpackOptions& unpack_options() const { return unpack_; }

  // docker's lookup of an image argument: a reference ("ubuntu" is
  // docker.io/library/ubuntu:latest; "name@sha256:..." by repo digest), else a full or
  // unique short image id ("1a2b3c", "sha256:1a2b..."). nullopt when nothing matches; an
  // error for an ambiguous id prefix.
  Result<std::optional<storage::ImageRecord>> lookup(std::string_view name_or_id);
  // lookup, with docker's error when nothing matches: "No such image: NAME".
  Result<storage::ImageRecord> find(std::string_view name_or_id);

  // An exclusive flock on ROOT/locks/NAME, waiting for another process that holds it;
  // released when the fd is closed (or the process dies). NAME: [A-Za-z0-9._-]+.
  Result<UniqueFd> lock(std::string_view name);

  // Removes from disk the layers and blobs that Db::remove_image reported unreferenced
  // (the database no longer knows them). Errors are logged and the rest still removed.
  Status delete_unreferenced(const storage::RemoveResult& r);

 private:
  Store(std::string root, StoreOptions opts, storage::BlobStore blobs, storage::LayerStore layers,
        storage::Db db)
      : root_(std::move(root)),
        opts_(opts),
        blobs_(std::move(blobs)),
        layers_(std::move(layers)),
        db_(std::move(db)),
        unpack_(storage::UnpackOptions::for_current_user()) {}

  std::string root_;
  StoreOptions opts_;
  storage::BlobStore blobs_;
  storage::LayerStore layers_;
  storage::Db db_;
  storage::UnpackOptions unpack_;
};

// Human sizes as docker prints them (decimal units, `precision` significant digits, docker's
// units.HumanSizeWithPrecision): "0B", "977B", "1.2kB", "77.8MB", "1.13GB".
std::string human_size(int64_t bytes, int precision = 3);

}  // namespace berth::images
