// archive_load.cpp - `load`: a docker-archive (docker's old layout or docker 25's) or an
// oci-archive, read as one stream (stdin cannot seek).
//
// Three steps: (1) every regular file that could be a blob goes into the blob store as it
// streams past, under its digest (small JSON files are also kept in memory); (2) manifest.json
// or index.json says which files are which image's config and layers, checked before
// anything is installed; (3) install_image unpacks and records each image. Whatever happens,
// blobs this load brought that no image uses are removed at the end; after a failure so are
// layers it unpacked that no image records.
#include <unistd.h>

#include <chrono>
#include <map>
#include <optional>
#include <set>

#include "base/file.h"
#include "base/log.h"
#include "image/manifest.h"
#include "image/platform.h"
#include "image/reference.h"
#include "images/archive.h"
#include "images/archive_tar.h"
#include "images/install.h"
#include "oci/json_codec.h"
#include "storage/layer_store.h"
#include "storage/sha256.h"

namespace berth::images {

namespace mt = image::media_type;

namespace {

constexpr size_t kMaxEntries = 1 << 20;
constexpr size_t kMaxKeptJson = size_t{64} << 20;  // small files kept in memory, in all
constexpr int kMaxLinkHops = 16;
constexpr int kMaxIndexDepth = 4;
constexpr std::string_view kAnnotationRefName = "org.opencontainers.image.ref.name";
constexpr std::string_view kAnnotationImageName = "io.containerd.image.name";

struct ArchiveFile {
  std::string digest;
  int64_t size = 0;
};

// One image to install, resolved and checked.
struct Candidate {
  std::string config;
  std::vector<LayerBlob> layers;
  std::string manifest, manifest_media_type;  // empty for docker-archive: berth writes one
  std::vector<image::Reference> tags;
};

std::string quote_name(std::string_view s) {
  return oci::codec::quote(s.substr(0, 200));
}

bool is_metadata_file(std::string_view path) {
  return path == "manifest.json" || path == "index.json" || path == "repositories" ||
         path == "oci-layout";
}

// docker's old layout keeps v1 metadata beside each layer.tar: <id>/json, <id>/VERSION.
bool is_legacy_metadata(std::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos || path.starts_with("blobs/")) return false;
  std::string_view base = path.substr(slash + 1);
  return base == "json" || base == "VERSION";
}

// "blobs/sha256/<hex>": the digest the file must have.
std::optional<std::string> digest_from_name(std::string_view path) {
  if (!path.starts_with("blobs/sha256/")) return std::nullopt;
  std::string digest = "sha256:" + std::string(path.substr(13));
  if (!storage::is_valid_digest(digest)) return std::nullopt;
  return digest;
}

bool looks_like_json(std::string_view s) {
  for (char c : s) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    return c == '{' || c == '[';
  }
  return false;
}

class Loader {
 public:
  Loader(Store& store, const LoadOptions& opts) : store_(store), opts_(opts) {}

  Status read_stream(ByteSource& in);
  Result<std::vector<Candidate>> resolve();
  Result<std::vector<LoadedImage>> install(const std::vector<Candidate>& candidates);
  void cleanup(bool failed);

 private:
  Status read_entry(tar::TarReader& r, const tar::TarHeader& h, const std::string& path);
  Status read_small_file(tar::TarReader& r, const tar::TarHeader& h, const std::string& path,
                         std::string& out);
  Status store_blob(tar::TarReader& r, const tar::TarHeader& h, const std::string& path);
  Result<ArchiveFile> file(const std::string& path, std::string_view what);
  Result<std::string> json_blob(const std::string& digest, std::string_view what);
  Result<Candidate> docker_image(const DockerManifestEntry& e, size_t index);
  Result<std::vector<Candidate>> resolve_docker();
  Result<std::vector<Candidate>> resolve_oci();
  Result<std::optional<image::Descriptor>> image_descriptor(const image::Descriptor& d, int depth);
  Result<Candidate> oci_image(const image::Descriptor& d);
  void print(const std::string& line) {
    if (opts_.print) opts_.print(line);
  }

  Store& store_;
  const LoadOptions& opts_;
  std::map<std::string, ArchiveFile> files_;  // archive path -> blob
  std::map<std::string, std::string> links_;  // archive path -> target path
  std::map<std::string, std::string> json_;   // digest -> content, small files
  size_t json_bytes_ = 0;
  std::optional<std::string> manifest_json_, index_json_;
  std::set<std::string> brought_;     // blobs not in the store before this load
  std::set<std::string> new_layers_;  // chain ids not unpacked before this load
};

Status Loader::read_stream(ByteSource& in) {
  auto src = TRY(tar::open_decompressed(in));
  auto reader = TRY(tar::TarReader::open(*src));
  tar::TarHeader h;
  size_t entries = 0;
  for (;;) {
    auto more = reader->next(h);
    if (!more) {
      if (reader->stream_bytes() == 0) return Error::invalid("the archive is empty");
      return std::move(more).error();
    }
    if (!*more) break;
    if (++entries > kMaxEntries) return Error::invalid("too many entries in the archive");
    // `tar -C dir .` puts the archive's root itself in it: "./".
    if (h.type == tar::TarHeader::Type::dir &&
        h.name.find_first_not_of("./") == std::string::npos &&
        h.name.find("..") == std::string::npos)
      continue;
    std::string path = TRY(clean_archive_path(h.name));
    TRY(read_entry(*reader, h, path));
  }
  if (entries == 0) return Error::invalid("the archive is empty");
  return ok();
}

Status Loader::read_entry(tar::TarReader& r, const tar::TarHeader& h, const std::string& path) {
  using Type = tar::TarHeader::Type;
  switch (h.type) {
    case Type::dir:
      return ok();
    case Type::symlink: {
      // docker's old layout links a layer.tar seen twice to the first one: ../<id>/layer.tar.
      if (h.link.starts_with('/'))
        return Error::invalid("archive entry " + quote_name(h.name) + ": symlink to " +
                              quote_name(h.link) + " points outside the archive");
      std::string dir = path.find('/') == std::string::npos ? "" : dirname_of(path) + "/";
      auto target = clean_archive_path(dir + h.link);
      if (!target)
        return Error::invalid("archive entry " + quote_name(h.name) + ": symlink to " +
                              quote_name(h.link) + " points outside the archive");
      links_[path] = *target;
      return ok();
    }
    case Type::hardlink:
      links_[path] = TRY(clean_archive_path(h.link));
      return ok();
    case Type::other:
      return Error::invalid("archive entry " + quote_name(h.name) +
                            ": not a file, directory or link");
    case Type::file:
      break;
  }
  if (is_metadata_file(path)) {
    std::string content;
    TRY(read_small_file(r, h, path, content));
    if (path == "manifest.json") manifest_json_ = std::move(content);
    if (path == "index.json") index_json_ = std::move(content);
    return ok();
  }
  if (is_legacy_metadata(path)) return ok();  // its data is skipped by the next header
  return store_blob(r, h, path);
}

Status Loader::read_small_file(tar::TarReader& r, const tar::TarHeader& h, const std::string& path,
                               std::string& out) {
  if (h.size < 0 || static_cast<uint64_t>(h.size) > kMaxArchiveJsonBytes)
    return Error::invalid(path + " in the archive is too large (" + std::to_string(h.size) +
                          " bytes, at most " + std::to_string(kMaxArchiveJsonBytes >> 20) +
                          " MiB)");
  for (;;) {
    std::string_view chunk = TRY(r.read());
    if (chunk.empty()) return ok();
    out.append(chunk);
  }
}

// A file that may be a blob: into the store under its digest, checked against its name when
// the name is one (blobs/sha256/<hex>), hashed here otherwise (<id>/layer.tar, <hex>.json).
Status Loader::store_blob(tar::TarReader& r, const tar::TarHeader& h, const std::string& path) {
  std::optional<std::string> expected = digest_from_name(path);
  bool keep = h.size >= 0 && static_cast<uint64_t>(h.size) <= kMaxArchiveJsonBytes &&
              json_bytes_ + static_cast<uint64_t>(h.size) <= kMaxKeptJson;
  std::string content;
  if (expected && store_.blobs().has(*expected)) {
    // Already stored (an image that shares layers): ours are those bytes, by their name.
    for (;;) {
      std::string_view chunk = TRY(r.read());
      if (chunk.empty()) break;
      if (keep) content.append(chunk);
    }
    if (keep && looks_like_json(content) && storage::sha256_digest(content) == *expected) {
      json_bytes_ += content.size();
      json_[*expected] = std::move(content);
    }
    files_[path] = {*expected, h.size};
    return ok();
  }
  storage::BlobStore::Writer w = TRY(store_.blobs().writer());
  std::optional<storage::Sha256> hash;
  if (!expected) hash.emplace();
  for (;;) {
    std::string_view chunk = TRY(r.read());
    if (chunk.empty()) break;
    TRY(w.write(chunk));
    if (hash) hash->update(chunk);
    if (keep) content.append(chunk);
  }
  std::string digest = expected ? *expected : hash->digest();
  bool existed = store_.blobs().has(digest);
  TRY_CTX(
      w.commit(digest, h.size, store_.durable() ? Durability::durable : Durability::volatile_ok),
      "archive entry " + path);
  if (!existed) brought_.insert(digest);
  if (keep && looks_like_json(content)) {
    json_bytes_ += content.size();
    json_[digest] = std::move(content);
  }
  files_[path] = {digest, h.size};
  return ok();
}

Result<ArchiveFile> Loader::file(const std::string& path, std::string_view what) {
  std::string p = path;
  for (int hop = 0; hop <= kMaxLinkHops; ++hop) {
    if (auto f = files_.find(p); f != files_.end()) return f->second;
    auto l = links_.find(p);
    if (l == links_.end()) break;
    p = l->second;
  }
  return Error::invalid(std::string(what) + " " + quote_name(path) + " is not in the archive");
}

Result<std::string> Loader::json_blob(const std::string& digest, std::string_view what) {
  if (auto it = json_.find(digest); it != json_.end()) return it->second;
  if (!store_.blobs().has(digest))
    return Error::invalid(std::string(what) + " " + digest + " is not in the archive");
  auto size = TRY(store_.blobs().size(digest));
  if (size > kMaxArchiveJsonBytes)
    return Error::invalid(std::string(what) + " " + digest + " is too large (" +
                          std::to_string(size) + " bytes)");
  return store_.blobs().read(digest, kMaxArchiveJsonBytes);
}

Result<storage::Compression> blob_compression(Store& store, const std::string& digest) {
  UniqueFd fd = TRY(store.blobs().open_blob(digest));
  char magic[4] = {};
  ssize_t n = ::pread(fd.get(), magic, sizeof magic, 0);
  if (n < 0) return sys_error("read blob", digest);
  return storage::detect_compression(std::string_view(magic, static_cast<size_t>(n)));
}

Result<image::Reference> parse_tag(std::string_view text, std::string_view where) {
  auto ref = image::parse_reference(text);
  if (!ref || ref->tag.empty() || !ref->digest.empty())
    return Error::invalid("invalid tag " + quote_name(text) + " in " + std::string(where) +
                          (ref ? "" : ": " + ref.error().message()));
  return std::move(*ref);
}

Result<Candidate> Loader::docker_image(const DockerManifestEntry& e, size_t index) {
  std::string where = "manifest.json[" + std::to_string(index) + "]";
  Candidate c;
  ArchiveFile cfg = TRY_CTX(file(e.config, "config"), where);
  c.config = TRY(json_blob(cfg.digest, "config"));
  image::ImageConfig config = TRY_CTX(image::parse_image_config(c.config), where);
  const auto& diff_ids = config.rootfs.diff_ids;
  if (diff_ids.size() != e.layers.size())
    return Error::invalid(where + ": the config lists " + std::to_string(diff_ids.size()) +
                          " layers, Layers " + std::to_string(e.layers.size()));
  for (size_t i = 0; i < e.layers.size(); ++i) {
    ArchiveFile f = TRY_CTX(file(e.layers[i], "layer"), where);
    storage::Compression comp = TRY(blob_compression(store_, f.digest));
    // An uncompressed layer is its own diff id: check it now, before anything is unpacked.
    if (comp == storage::Compression::none && f.digest != diff_ids[i].string())
      return Error::invalid("layer " + quote_name(e.layers[i]) +
                            " does not match the image config: it is " + f.digest +
                            ", the config says " + diff_ids[i].string());
    std::string_view type = comp == storage::Compression::gzip   ? mt::kDockerLayerGzip
                            : comp == storage::Compression::zstd ? mt::kDockerLayerZstd
                                                                 : mt::kDockerLayer;
    c.layers.push_back({f.digest, f.size, std::string(type)});
  }
  for (const auto& t : e.repo_tags) c.tags.push_back(TRY(parse_tag(t, where)));
  return c;
}

void merge(std::vector<Candidate>& out, Candidate c) {
  for (auto& o : out) {
    if (o.config == c.config && o.manifest == c.manifest) {
      for (auto& t : c.tags)
        if (std::find(o.tags.begin(), o.tags.end(), t) == o.tags.end()) o.tags.push_back(t);
      return;
    }
  }
  out.push_back(std::move(c));
}

Result<std::vector<Candidate>> Loader::resolve_docker() {
  std::vector<DockerManifestEntry> entries = TRY(parse_docker_manifest(*manifest_json_));
  std::vector<Candidate> out;
  for (size_t i = 0; i < entries.size(); ++i) merge(out, TRY(docker_image(entries[i], i)));
  return out;
}

// The image manifest an index.json entry stands for: itself, or this machine's platform of a
// (nested) index. nullopt for entries that are no image (signatures, attestations, artifacts).
Result<std::optional<image::Descriptor>> Loader::image_descriptor(const image::Descriptor& d,
                                                                  int depth) {
  if (image::is_attestation(d)) return std::optional<image::Descriptor>();
  if (d.media_type == mt::kOciManifest || d.media_type == mt::kDockerManifest)
    return std::optional(d);
  if (d.media_type != mt::kOciIndex && d.media_type != mt::kDockerManifestList)
    return std::optional<image::Descriptor>();
  if (depth >= kMaxIndexDepth) return Error::invalid("index.json: indexes nested too deep");
  std::string body = TRY(json_blob(d.digest.string(), "index"));
  auto parsed = TRY_CTX(image::parse_manifest(body, d.media_type), "index " + d.digest.string());
  if (parsed.kind != image::ManifestKind::kIndex)
    return Error::invalid("index " + d.digest.string() + " is not an index");
  image::Descriptor chosen = TRY(image::select_platform(parsed.index, image::host_platform()));
  return image_descriptor(chosen, depth + 1);
}

Result<Candidate> Loader::oci_image(const image::Descriptor& d) {
  std::string digest = d.digest.string();
  std::string body = TRY(json_blob(digest, "manifest"));
  if (static_cast<int64_t>(body.size()) != d.size)
    return Error::invalid("manifest " + digest + ": " + std::to_string(body.size()) +
                          " bytes, index.json says " + std::to_string(d.size));
  auto parsed = TRY_CTX(image::parse_manifest(body, d.media_type), "manifest " + digest);
  if (parsed.kind != image::ManifestKind::kImage)
    return Error::invalid("manifest " + digest + " is not an image manifest");
  TRY_CTX(image::check_image_manifest(parsed.manifest), "manifest " + digest);
  Candidate c;
  c.config = TRY(json_blob(parsed.manifest.config.digest.string(), "config"));
  c.manifest = std::move(body);
  c.manifest_media_type = parsed.media_type;
  for (const auto& l : parsed.manifest.layers) {
    std::string ld = l.digest.string();
    if (!storage::is_valid_digest(ld) || !store_.blobs().has(ld))
      return Error::invalid("layer " + ld + " is not in the archive");
    uint64_t size = TRY(store_.blobs().size(ld));
    if (static_cast<int64_t>(size) != l.size)
      return Error::invalid("layer " + ld + ": " + std::to_string(size) +
                            " bytes, its manifest says " + std::to_string(l.size));
    c.layers.push_back({ld, l.size, l.media_type});
  }
  image::ImageConfig config = TRY_CTX(image::parse_image_config(c.config), "manifest " + digest);
  if (config.rootfs.diff_ids.size() != c.layers.size())
    return Error::invalid("manifest " + digest + ": the config lists " +
                          std::to_string(config.rootfs.diff_ids.size()) + " layers, the manifest " +
                          std::to_string(c.layers.size()));
  for (size_t i = 0; i < c.layers.size(); ++i) {
    storage::Compression comp = TRY(blob_compression(store_, c.layers[i].digest));
    if (comp == storage::Compression::none &&
        c.layers[i].digest != config.rootfs.diff_ids[i].string())
      return Error::invalid("layer " + c.layers[i].digest +
                            " does not match the image config: the config says " +
                            config.rootfs.diff_ids[i].string());
  }
  return c;
}

// The name an index.json entry gives its image. containerd's full name wins; the OCI ref name
// is a tag by the spec, so a bare one ("latest") names no repository and is not used.
Result<std::optional<image::Reference>> entry_name(const image::Descriptor& d) {
  std::string text;
  if (auto it = d.annotations.find(std::string(kAnnotationImageName)); it != d.annotations.end()) {
    text = it->second;
  } else if (auto r = d.annotations.find(std::string(kAnnotationRefName));
             r != d.annotations.end()) {
    if (r->second.find_first_of("/:") == std::string::npos)
      return std::optional<image::Reference>();
    text = r->second;
  } else {
    return std::optional<image::Reference>();
  }
  image::Reference ref = TRY(parse_tag(text, "index.json"));
  return std::optional(std::move(ref));
}

Result<std::vector<Candidate>> Loader::resolve_oci() {
  auto parsed = TRY_CTX(image::parse_manifest(*index_json_, mt::kOciIndex), "index.json");
  if (parsed.kind != image::ManifestKind::kIndex)
    return Error::invalid("index.json is not an image index");
  // Manifests listed side by side for several platforms under one name: this machine's.
  std::map<std::string, image::Index> by_name;
  std::vector<std::pair<std::optional<image::Reference>, image::Descriptor>> picked;
  for (const auto& d : parsed.index.manifests) {
    auto name = TRY(entry_name(d));
    auto desc = TRY(image_descriptor(d, 0));
    if (!desc) continue;
    if (desc->platform && d.digest == desc->digest) {
      by_name[name ? name->string() : ""].manifests.push_back(*desc);
      continue;
    }
    picked.emplace_back(name, *desc);
  }
  for (auto& [name, index] : by_name) {
    image::Descriptor d = index.manifests.size() == 1
                              ? index.manifests[0]
                              : TRY(image::select_platform(index, image::host_platform()));
    std::optional<image::Reference> ref;
    if (!name.empty()) ref = TRY(parse_tag(name, "index.json"));
    picked.emplace_back(ref, d);
  }
  if (picked.empty()) return Error::invalid("index.json names no image");
  std::vector<Candidate> out;
  for (const auto& [name, d] : picked) {
    Candidate c = TRY(oci_image(d));
    if (name) c.tags.push_back(*name);
    merge(out, std::move(c));
  }
  return out;
}

Result<std::vector<Candidate>> Loader::resolve() {
  if (manifest_json_) return resolve_docker();
  if (index_json_) return resolve_oci();
  return Error::invalid("not an image archive: it has neither manifest.json nor index.json");
}

Result<std::vector<LoadedImage>> Loader::install(const std::vector<Candidate>& candidates) {
  std::vector<LoadedImage> out;
  for (const auto& c : candidates) {
    InstallRequest req;
    req.config = c.config;
    req.layers = c.layers;
    req.manifest = c.manifest;
    req.manifest_media_type = c.manifest_media_type;
    std::string id = storage::sha256_digest(c.config);
    std::vector<std::string> renamed;
    for (const auto& t : c.tags) {
      req.tags.push_back(t.string());
      auto prev = TRY(store_.db().find_by_tag(t.string()));
      if (prev && prev->id != id)
        renamed.push_back("The image " + t.familiar() +
                          " already exists, renaming the old one with ID " + prev->id +
                          " to empty string");
    }
    for (const auto& chain : TRY(layer_chain_ids(c.config)))
      if (!store_.layers().has_layer(chain)) new_layers_.insert(chain);
    id = TRY(install_image(store_, req));
    for (const auto& line : renamed) print(line);
    LoadedImage li{id, req.tags};
    if (c.tags.empty()) print("Loaded image ID: " + id);
    for (const auto& t : c.tags) print("Loaded image: " + t.familiar());
    out.push_back(std::move(li));
  }
  return out;
}

void Loader::cleanup(bool failed) {
  std::set<std::string> used;
  auto images = store_.db().list();
  if (!images) {
    log::warning("load: cannot list images to clean up: " + images.error().message());
    return;
  }
  for (const auto& rec : *images) {
    used.insert(rec.id);
    used.insert(rec.manifest_digest);
    if (auto layers = store_.db().image_layers(rec.id); layers) {
      for (const auto& l : *layers) used.insert(l.digest);
    } else {
      return;  // unsure what is used: remove nothing
    }
  }
  for (const auto& b : brought_) {
    if (used.count(b)) continue;
    if (Status st = store_.blobs().remove(b); !st) log::warning("load: " + st.error().message());
  }
  if (!failed) return;
  for (const auto& chain : new_layers_) {
    auto lock = store_.lock(layer_lock_name(chain));
    if (!lock) continue;
    auto known = store_.db().has_layer(chain);
    if (known && !*known && store_.layers().has_layer(chain))
      (void)store_.layers().remove_layer(chain);
  }
}

}  // namespace

Result<std::vector<LoadedImage>> load_images(Store& store, ByteSource& in,
                                             const LoadOptions& opts) {
  Loader loader(store, opts);
  auto start = std::chrono::steady_clock::now();
  auto since = [&] {
    return std::to_string(
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()) +
           " s";
  };
  auto run = [&]() -> Result<std::vector<LoadedImage>> {
    TRY(loader.read_stream(in));
    log::debug("load: archive read and blobs stored after " + since());
    std::vector<Candidate> candidates = TRY(loader.resolve());
    auto images = TRY(loader.install(candidates));
    log::debug("load: images installed after " + since());
    return images;
  };
  auto result = run();
  loader.cleanup(!result.ok());
  return result;
}

}  // namespace berth::images
