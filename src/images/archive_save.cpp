// archive_save.cpp - `save`: images from the store as one tar stream, docker-archive (docker
// 25's layout: OCI layout with uncompressed layers + manifest.json + repositories) or
// oci-archive (the stored blobs as they are).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "base/file.h"
#include "image/manifest.h"
#include "image/reference.h"
#include "images/archive.h"
#include "images/archive_tar.h"
#include "storage/sha256.h"

namespace berth::images {

namespace mt = image::media_type;
using OJson = nlohmann::ordered_json;

namespace {

constexpr std::string_view kAnnotationRefName = "org.opencontainers.image.ref.name";
constexpr std::string_view kAnnotationImageName = "io.containerd.image.name";

struct SaveItem {
  storage::ImageRecord rec;
  std::vector<image::Reference> tags;  // in the order asked for
};

// Decompression errors name no blob: put the layer in front ("layer sha256:..: truncated gzip
// stream"), as pull's do.
Error in_layer(std::string_view blob, const Error& e) {
  return Error::invalid("layer " + std::string(blob) + ": " + e.message());
}

std::string blob_path(std::string_view digest) {
  return "blobs/sha256/" + std::string(digest.substr(digest.find(':') + 1));
}

void add_item(std::vector<SaveItem>& items, const storage::ImageRecord& rec,
              const std::optional<image::Reference>& tag) {
  auto it = std::find_if(items.begin(), items.end(),
                         [&](const SaveItem& s) { return s.rec.id == rec.id; });
  if (it == items.end()) {
    items.push_back({rec, {}});
    it = std::prev(items.end());
  }
  if (tag && std::find(it->tags.begin(), it->tags.end(), *tag) == it->tags.end())
    it->tags.push_back(*tag);
}

// docker's tarexport parseNames: which images, and which of their tags, each argument means.
Result<std::vector<SaveItem>> resolve(Store& store, const std::vector<std::string>& names) {
  std::vector<SaveItem> items;
  std::optional<std::vector<storage::ImageRecord>> all;  // listed once, when a bare name needs it
  for (const auto& name : names) {
    auto named = image::parse_normalized_named(name);
    if (named && named->tag.empty() && named->digest.empty()) {
      // A bare repository name: every tag of it; else it may be an id prefix.
      if (!all) all = TRY(store.db().list());
      bool found = false;
      for (const auto& rec : *all) {
        for (const auto& t : rec.tags) {
          auto ref = image::parse_reference(t);
          if (ref && ref->name() == named->name()) {
            add_item(items, rec, *ref);
            found = true;
          }
        }
      }
      if (found) continue;
    }
    storage::ImageRecord rec = TRY(store.find(name));
    std::optional<image::Reference> tag;
    if (named && !named->tag.empty() && named->digest.empty() &&
        std::find(rec.tags.begin(), rec.tags.end(), named->string()) != rec.tags.end())
      tag = *named;
    add_item(items, rec, tag);
  }
  return items;
}

OJson descriptor_json(std::string_view media_type, std::string_view digest, uint64_t size,
                      const std::optional<image::Reference>& tag) {
  OJson d = {{"mediaType", media_type}, {"digest", digest}, {"size", size}};
  if (tag) {
    d["annotations"] = {{kAnnotationImageName, tag->string()}, {kAnnotationRefName, tag->tag}};
  }
  return d;
}

class Saver {
 public:
  Saver(Store& store, int fd) : store_(store), tw_(fd) {}

  Status begin() {
    TRY(tw_.add_dir("blobs/"));
    return tw_.add_dir("blobs/sha256/");
  }

  Status save_docker(const SaveItem& item);
  Status save_oci(const SaveItem& item);
  Status finish(ArchiveFormat format);

 private:
  Status put_small(std::string_view digest, std::string_view data) {
    if (!written_.insert(std::string(digest)).second) return ok();
    return tw_.add_file(blob_path(digest), data);
  }
  Status put_stored(std::string_view digest);
  Result<uint64_t> put_uncompressed(std::string_view blob, std::string_view diff_id);
  Status add_index_entries(std::string_view media_type, const std::string& digest, uint64_t size,
                           const SaveItem& item);

  Store& store_;
  tar::TarWriter tw_;
  std::set<std::string> written_;
  std::map<std::string, uint64_t> tar_sizes_;  // diff id -> uncompressed size written
  OJson index_ = OJson::array();
  OJson docker_manifest_ = OJson::array();
  OJson repositories_ = OJson::object();
};

// A stored blob as it is, copied by the kernel.
Status Saver::put_stored(std::string_view digest) {
  if (written_.count(std::string(digest))) return ok();
  UniqueFd fd = TRY(store_.blobs().open_blob(digest));
  struct stat st;
  if (::fstat(fd.get(), &st) < 0) return sys_error("stat blob", std::string(digest));
  TRY(tw_.add_file_from_fd(blob_path(digest), fd.get(), static_cast<uint64_t>(st.st_size)));
  written_.insert(std::string(digest));
  return ok();
}

// A layer as the uncompressed tar its diff id names. A compressed blob is decompressed on the
// way and hashed: the archive must hold what the config says, whatever the store holds.
Result<uint64_t> Saver::put_uncompressed(std::string_view blob, std::string_view diff_id) {
  if (auto it = tar_sizes_.find(std::string(diff_id)); it != tar_sizes_.end()) return it->second;
  UniqueFd fd = TRY(store_.blobs().open_blob(blob));
  char magic[4] = {};
  ssize_t got = ::pread(fd.get(), magic, sizeof magic, 0);
  if (got < 0) return sys_error("read blob", std::string(blob));
  storage::Compression c =
      storage::detect_compression(std::string_view(magic, static_cast<size_t>(got)));
  std::string name = blob_path(diff_id);
  uint64_t size = 0;
  if (c == storage::Compression::none) {
    if (blob != diff_id)
      return Error::invalid("layer " + std::string(blob) +
                            " is not the tar the image config names (" + std::string(diff_id) +
                            ")");
    struct stat st;
    if (::fstat(fd.get(), &st) < 0) return sys_error("stat blob", std::string(blob));
    size = static_cast<uint64_t>(st.st_size);
    TRY(tw_.add_file_from_fd(name, fd.get(), size));
  } else {
    int64_t announced = -1;
    if (!tw_.seekable()) {
      // A pipe: the header must say the size before the bytes, so count them first.
      UniqueFd again = TRY(store_.blobs().open_blob(blob));
      storage::FdSource src(std::move(again));
      auto d = TRY(storage::Decompressor::open(src, c));
      announced = 0;
      for (;;) {
        auto chunk = d->next();
        if (!chunk) return in_layer(blob, chunk.error());
        if (chunk->empty()) break;
        announced += static_cast<int64_t>(chunk->size());
      }
    }
    storage::Sha256 hash;
    TRY(tw_.begin_file(name, announced));
    Status st = tar::decompress_piped(std::move(fd), c, [&](std::string_view chunk) {
      hash.update(chunk);
      return tw_.write(chunk);
    });
    if (!st) return in_layer(blob, st.error());
    size = TRY(tw_.end_file());
    if (std::string got_digest = hash.digest(); got_digest != diff_id)
      return Error::invalid("layer " + std::string(blob) + " decompresses to " + got_digest +
                            ", not to the image config's " + std::string(diff_id));
  }
  written_.insert(std::string(diff_id));
  tar_sizes_[std::string(diff_id)] = size;
  return size;
}

Status Saver::add_index_entries(std::string_view media_type, const std::string& digest,
                                uint64_t size, const SaveItem& item) {
  if (item.tags.empty()) index_.push_back(descriptor_json(media_type, digest, size, std::nullopt));
  for (const auto& t : item.tags) index_.push_back(descriptor_json(media_type, digest, size, t));
  return ok();
}

Status Saver::save_docker(const SaveItem& item) {
  const auto& rec = item.rec;
  image::ImageConfig config = TRY_CTX(image::parse_image_config(rec.config), "image " + rec.id);
  auto layers = TRY(store_.db().image_layers(rec.id));
  const auto& diff_ids = config.rootfs.diff_ids;
  if (layers.size() != diff_ids.size())
    return Error::invalid("image " + rec.id + ": the store lists " + std::to_string(layers.size()) +
                          " layers, its config " + std::to_string(diff_ids.size()));
  TRY(put_small(rec.id, rec.config));

  image::Manifest m;
  m.media_type = std::string(mt::kOciManifest);
  m.config = {std::string(mt::kOciConfig), TRY(image::parse_digest(rec.id)),
              static_cast<int64_t>(rec.config.size())};
  OJson layer_paths = OJson::array();
  for (size_t i = 0; i < layers.size(); ++i) {
    std::string diff = diff_ids[i].string();
    uint64_t size = TRY(put_uncompressed(layers[i].digest, diff));
    image::Descriptor d;
    d.media_type = std::string(mt::kOciLayer);
    d.digest = diff_ids[i];
    d.size = static_cast<int64_t>(size);
    m.layers.push_back(std::move(d));
    layer_paths.push_back(blob_path(diff));
  }
  std::string body = image::serialize(m);
  std::string digest = storage::sha256_digest(body);
  TRY(put_small(digest, body));
  TRY(add_index_entries(mt::kOciManifest, digest, body.size(), item));

  OJson tags = OJson::array();
  for (const auto& t : item.tags) {
    tags.push_back(t.familiar());
    if (!diff_ids.empty()) repositories_[t.familiar_name()][t.tag] = diff_ids.back().hex;
  }
  docker_manifest_.push_back({{"Config", blob_path(rec.id)},
                              {"RepoTags", item.tags.empty() ? OJson(nullptr) : tags},
                              {"Layers", layer_paths}});
  return ok();
}

// The stored manifest, as an OCI one: a Docker schema2 manifest gets OCI media types (its
// blobs are the same), as podman's oci-archive does.
Result<std::pair<std::string, std::string>> oci_manifest(Store& store,
                                                         const storage::ImageRecord& rec) {
  std::string body = TRY(store.blobs().read(rec.manifest_digest, image::kMaxManifestBytes));
  auto parsed = TRY_CTX(image::parse_manifest(body, rec.manifest_media_type), "image " + rec.id);
  if (parsed.kind != image::ManifestKind::kImage)
    return Error::invalid("image " + rec.id + ": its manifest is an index");
  if (parsed.manifest.config.digest.string() != rec.id)
    return Error::invalid("image " + rec.id + ": its manifest names config " +
                          parsed.manifest.config.digest.string());
  if (parsed.media_type == mt::kOciManifest) return std::pair{body, std::string(mt::kOciManifest)};
  image::Manifest m = parsed.manifest;
  m.media_type = std::string(mt::kOciManifest);
  m.config.media_type = std::string(mt::kOciConfig);
  for (auto& l : m.layers) {
    image::LayerType t = TRY(image::classify_layer(l.media_type));
    switch (t.compression) {
      case image::Compression::kNone:
        l.media_type = t.non_distributable ? mt::kOciLayerNondistributable : mt::kOciLayer;
        break;
      case image::Compression::kGzip:
        l.media_type = t.non_distributable ? mt::kOciLayerNondistributableGzip : mt::kOciLayerGzip;
        break;
      case image::Compression::kZstd:
        l.media_type = t.non_distributable ? mt::kOciLayerNondistributableZstd : mt::kOciLayerZstd;
        break;
    }
  }
  return std::pair{image::serialize(m), std::string(mt::kOciManifest)};
}

Status Saver::save_oci(const SaveItem& item) {
  const auto& rec = item.rec;
  auto [body, media_type] = TRY(oci_manifest(store_, rec));
  auto m = TRY(image::parse_manifest(body, media_type));
  TRY(put_small(rec.id, rec.config));
  for (const auto& l : m.manifest.layers) TRY(put_stored(l.digest.string()));
  std::string digest = storage::sha256_digest(body);
  TRY(put_small(digest, body));
  return add_index_entries(media_type, digest, body.size(), item);
}

Status Saver::finish(ArchiveFormat format) {
  OJson index = {{"schemaVersion", 2}, {"mediaType", mt::kOciIndex}, {"manifests", index_}};
  TRY(tw_.add_file("index.json", index.dump()));
  if (format == ArchiveFormat::docker) {
    TRY(tw_.add_file("manifest.json", docker_manifest_.dump()));
    TRY(tw_.add_file("repositories", repositories_.dump()));
  }
  TRY(tw_.add_file("oci-layout", R"({"imageLayoutVersion":"1.0.0"})"));
  return tw_.finish();
}

}  // namespace

Status save_images(Store& store, const std::vector<std::string>& names, ArchiveFormat format,
                   int out_fd) {
  std::vector<SaveItem> items = TRY(resolve(store, names));
  Saver saver(store, out_fd);
  TRY(saver.begin());
  for (const auto& item : items)
    TRY(format == ArchiveFormat::docker ? saver.save_docker(item) : saver.save_oci(item));
  return saver.finish(format);
}

Status save_images_to_file(Store& store, const std::vector<std::string>& names,
                           ArchiveFormat format, const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    if (S_ISDIR(st.st_mode)) return Error(EISDIR, "open output file", path);
    UniqueFd fd = TRY(open_fd(path, O_WRONLY | O_CLOEXEC));
    return save_images(store, names, format, fd.get());
  }
  std::string tmpl = path_join(dirname_of(path.find('/') == std::string::npos ? "./" + path : path),
                               ".berth-save-XXXXXX");
  int raw = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (raw < 0) return sys_error("create output file", path);
  UniqueFd fd(raw);
  mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(fd.get(), 0666 & ~mask);
  Status st2 = save_images(store, names, format, fd.get());
  if (st2 && ::rename(tmpl.c_str(), path.c_str()) < 0) st2 = sys_error("rename output file", path);
  if (!st2) ::unlink(tmpl.c_str());
  return st2;
}

}  // namespace berth::images
