#include "images/install.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

#include "image/config.h"
#include "image/manifest.h"
#include "image/reference.h"
#include "images/parallel.h"
#include "storage/blob_store.h"

namespace berth::images {

namespace mt = image::media_type;

std::string layer_lock_name(const std::string& chain_id) {
  return "layer-" + chain_id.substr(chain_id.find(':') + 1);
}

Result<int64_t> tree_content_bytes(const std::string& dir) {
  std::error_code ec;
  int64_t total = 0;
  for (auto it = std::filesystem::recursive_directory_iterator(
           dir, std::filesystem::directory_options::none, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st;
    if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode)) total += st.st_size;
  }
  if (ec) return Error(ec.value(), "measure layer", dir);
  return total;
}

Result<std::vector<std::string>> layer_chain_ids(const std::string& config_json) {
  image::ImageConfig config = TRY(image::parse_image_config(config_json));
  return image::chain_ids(config.rootfs.diff_ids);
}

namespace {

std::string docker_layer_type(const std::string& media_type) {
  auto t = image::classify_layer(media_type);
  if (!t) return std::string(mt::kDockerLayerGzip);
  switch (t->compression) {
    case image::Compression::kNone:
      return std::string(mt::kDockerLayer);
    case image::Compression::kZstd:
      return std::string(mt::kDockerLayerZstd);
    default:
      return std::string(mt::kDockerLayerGzip);
  }
}

// A Docker schema2 manifest for an image that came without one (load, import, commit).
std::string make_manifest(const std::string& config, const std::vector<LayerBlob>& layers) {
  image::Manifest m;
  m.schema_version = 2;
  m.media_type = std::string(mt::kDockerManifest);
  m.config.media_type = std::string(mt::kDockerConfig);
  m.config.digest = image::sha256_digest(config);
  m.config.size = static_cast<int64_t>(config.size());
  for (const auto& l : layers) {
    image::Descriptor d;
    d.media_type = docker_layer_type(l.media_type);
    d.digest = image::parse_digest(l.digest).value_or(image::Digest{});
    d.size = l.size;
    m.layers.push_back(std::move(d));
  }
  return image::serialize(m);
}

struct LayerJob {
  size_t index;
  std::string chain_id, diff_id;
  const LayerBlob* blob;
};

// Unpacks one layer from its stored blob, unless it is there already (or another process
// put it there while we waited for the lock). Returns its unpacked size.
Result<int64_t> unpack_one(Store& store, const LayerJob& job, const LayerProgress& progress) {
  UniqueFd lock = TRY(store.lock(layer_lock_name(job.chain_id)));
  if (store.layers().has_layer(job.chain_id)) {
    if (progress) progress(job.blob->digest, LayerEvent::already_exists);
    return tree_content_bytes(TRY(store.layers().lower_dir(job.chain_id)));
  }
  if (progress) progress(job.blob->digest, LayerEvent::extracting);
  UniqueFd fd = TRY(store.blobs().open_blob(job.blob->digest));
  storage::FdSource src(std::move(fd));
  storage::UnpackOptions opts = store.unpack_options();
  opts.layer_name = job.blob->digest;
  storage::UnpackResult r = TRY(
      store.layers().add_layer(job.chain_id, src, storage::Compression::detect, job.diff_id, opts));
  if (progress) progress(job.blob->digest, LayerEvent::done);
  return static_cast<int64_t>(r.content_bytes);
}

}  // namespace

Result<std::string> install_image(Store& store, const InstallRequest& req,
                                  const LayerProgress& progress) {
  image::ImageConfig config = TRY(image::parse_image_config(req.config));
  const auto& diff_ids = config.rootfs.diff_ids;
  if (diff_ids.size() != req.layers.size())
    return Error::invalid("image config lists " + std::to_string(diff_ids.size()) +
                          " layers, the manifest " + std::to_string(req.layers.size()));
  std::vector<std::string> chains = image::chain_ids(diff_ids);
  for (const auto& l : req.layers) {
    if (!store.blobs().has(l.digest))
      return Error(ENOENT, "layer blob " + l.digest + " is not in the store");
  }

  // Layers known to the database are complete on disk (they are recorded only after).
  std::vector<storage::LayerRecord> records(req.layers.size());
  std::vector<LayerJob> jobs;
  for (size_t i = 0; i < req.layers.size(); ++i) {
    auto& r = records[i];
    r.chain_id = chains[i];
    r.diff_id = diff_ids[i].string();
    r.parent = i == 0 ? "" : chains[i - 1];
    r.digest = req.layers[i].digest;
    r.compressed_size = req.layers[i].size;
    r.media_type = req.layers[i].media_type;
    jobs.push_back({i, r.chain_id, r.diff_id, &req.layers[i]});
  }
  auto known = TRY(store.db().layers());
  std::vector<LayerJob> todo;
  for (auto& j : jobs) {
    auto it = std::find_if(known.begin(), known.end(),
                           [&](const auto& k) { return k.chain_id == j.chain_id; });
    if (it != known.end() && store.layers().has_layer(j.chain_id)) {
      records[j.index].size = it->size;
      if (progress) progress(j.blob->digest, LayerEvent::already_exists);
    } else if (j.blob->unpacked_size >= 0 && store.layers().has_layer(j.chain_id)) {
      records[j.index].size = j.blob->unpacked_size;
    } else {
      todo.push_back(j);
    }
  }

  // Up to four layers at a time. Each job writes only its own record.
  Status unpacked = run_parallel(todo.size(), 4, [&](size_t k) -> Status {
    records[todo[k].index].size = TRY(unpack_one(store, todo[k], progress));
    return ok();
  });
  if (!unpacked) return std::move(unpacked).error();

  std::string id = TRY(store.blobs().put(req.config));
  std::string manifest =
      req.manifest.empty() ? make_manifest(req.config, req.layers) : req.manifest;
  std::string manifest_type =
      req.manifest.empty() ? std::string(mt::kDockerManifest) : req.manifest_media_type;
  std::string manifest_digest = TRY(store.blobs().put(manifest));

  storage::ImageRecord rec;
  rec.id = id;
  rec.config = req.config;
  rec.created = config.created.empty() ? 0 : image::parse_rfc3339(config.created).value_or(0);
  rec.manifest_digest = manifest_digest;
  rec.manifest_media_type = manifest_type;
  rec.repo_digests = req.repo_digests;
  rec.parent = req.parent;
  TRY(store.db().put_image(rec, records, req.tags));
  return id;
}

}  // namespace berth::images
