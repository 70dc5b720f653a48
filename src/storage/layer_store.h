// layer_store.h - unpacked layers, shared between images, keyed by chain id.
//
// ROOT/layers/<chain-id hex>/diff is a layer's tree in overlayfs form, ready to be a lower
// dir. A layer is unpacked into ROOT/layers/tmp-<random>/diff (locked with flock while it
// is being written) and renamed to <hex> only when complete and its diff id checked, so a
// process killed mid-unpack leaves only a tmp-* directory, which the next open removes.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "base/io.h"
#include "storage/unpack.h"

namespace berth::storage {

// The chain id of a layer: its diff id for the bottom layer, else
// sha256(parent chain id + " " + diff id), as the OCI image spec defines it.
std::string chain_id(std::string_view parent_chain_id, std::string_view diff_id);

class LayerStore {
 public:
  // Opens (creating) ROOT/layers and removes partial layers nobody is writing (gc_partials).
  // durable: syncfs() each layer before it becomes visible, so it survives a power cut too.
  static Result<LayerStore> open(const std::string& root, bool durable = false);
  LayerStore(LayerStore&&) noexcept = default;
  LayerStore& operator=(LayerStore&&) noexcept = default;

  bool has_layer(std::string_view chain_id) const;
  // ROOT/layers/<hex>/diff; an error when the layer is not stored.
  Result<std::string> lower_dir(std::string_view chain_id) const;
  // Chain ids of every complete layer.
  Result<std::vector<std::string>> list() const;

  // Unpacks a layer blob as layer chain_id. With expected_diff_id (from the image config),
  // a tar whose sha256 differs is refused and nothing is stored. A layer another process
  // stored meanwhile is kept, and this result is still returned. Errors name the layer by
  // opts.layer_name (the blob digest users know), else by its chain id.
  Result<UnpackResult> add_layer(std::string_view chain_id, ByteSource& blob, Compression c,
                                 std::string_view expected_diff_id, const UnpackOptions& opts);
  // Hides the layer first (renamed to tmp-*), then deletes it: never half a layer visible.
  Status remove_layer(std::string_view chain_id);
  // Removes tmp-* directories that no live process holds locked.
  Status gc_partials();

 private:
  LayerStore(std::string root, UniqueFd layers, bool durable)
      : root_(std::move(root)), layers_(std::move(layers)), durable_(durable) {}
  Result<std::pair<std::string, UniqueFd>> make_tmp();
  Result<UnpackResult> fill(const std::string& tmp, int tmp_fd, ByteSource& blob, Compression c,
                            const UnpackOptions& opts);
  Status publish(const std::string& tmp, const std::string& hex);

  std::string root_;
  UniqueFd layers_;  // ROOT/layers
  bool durable_;
};

}  // namespace berth::storage
