// archive.cpp - what save, load and import share: format names, archive paths, and docker's
// manifest.json. The verbs are in archive_save.cpp, archive_load.cpp, archive_import.cpp.
#include "images/archive.h"

#include "image/manifest.h"
#include "oci/json_codec.h"

namespace berth::images {

namespace {

constexpr size_t kMaxManifestEntries = 10000;
constexpr size_t kMaxPathBytes = 4096;

}  // namespace

Result<ArchiveFormat> parse_archive_format(std::string_view name) {
  if (name.empty() || name == "docker-archive") return ArchiveFormat::docker;
  if (name == "oci-archive") return ArchiveFormat::oci;
  return Error::invalid("unsupported archive format \"" + std::string(name) +
                        "\": use docker-archive or oci-archive");
}

Result<std::string> clean_archive_path(std::string_view raw) {
  auto bad = [&](std::string_view why) {
    return Error::invalid("archive entry " + oci::codec::quote(raw.substr(0, 200)) + ": " +
                          std::string(why));
  };
  if (raw.size() > kMaxPathBytes) return bad("name too long");
  if (raw.starts_with('/')) return bad("absolute name");
  if (raw.find('\0') != std::string_view::npos) return bad("NUL in name");
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i <= raw.size()) {
    size_t j = raw.find('/', i);
    if (j == std::string_view::npos) j = raw.size();
    std::string_view part = raw.substr(i, j - i);
    if (part == "..") {
      if (parts.empty()) return bad("path escapes the archive");
      parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    i = j + 1;
  }
  if (parts.empty()) return bad("empty name");
  std::string out;
  for (auto p : parts) {
    if (!out.empty()) out += '/';
    out += p;
  }
  return out;
}

Result<std::vector<DockerManifestEntry>> parse_docker_manifest(std::string_view json) {
  auto fail = [](std::string_view why) {
    return Error::invalid("manifest.json: " + std::string(why));
  };
  if (json.size() > kMaxArchiveJsonBytes) return fail("too large");
  auto doc = oci::codec::parse_document(json);
  if (!doc) return fail(doc.error().message());
  if (!doc->is_array()) return fail("expected a JSON array of images");
  if (doc->size() > kMaxManifestEntries) return fail("too many images");
  if (doc->empty()) return fail("no images in it");
  std::vector<DockerManifestEntry> out;
  for (size_t i = 0; i < doc->size(); ++i) {
    const auto& e = (*doc)[i];
    std::string where = "[" + std::to_string(i) + "]";
    if (!e.is_object()) return fail(where + ": expected an object");
    DockerManifestEntry entry;
    auto config = e.find("Config");
    if (config == e.end() || !config->is_string())
      return fail(where + ".Config: expected a string");
    auto cfg = clean_archive_path(config->get_ref<const std::string&>());
    if (!cfg) return fail(where + ".Config: " + cfg.error().message());
    entry.config = std::move(*cfg);
    if (auto tags = e.find("RepoTags"); tags != e.end() && !tags->is_null()) {
      if (!tags->is_array() || tags->size() > kMaxManifestEntries)
        return fail(where + ".RepoTags: expected an array of strings");
      for (const auto& t : *tags) {
        if (!t.is_string()) return fail(where + ".RepoTags: expected an array of strings");
        entry.repo_tags.push_back(t.get<std::string>());
      }
    }
    auto layers = e.find("Layers");
    if (layers == e.end() || !layers->is_array())
      return fail(where + ".Layers: expected an array of strings");
    if (layers->size() > image::kMaxLayers) return fail(where + ".Layers: too many layers");
    for (const auto& l : *layers) {
      if (!l.is_string()) return fail(where + ".Layers: expected an array of strings");
      auto p = clean_archive_path(l.get_ref<const std::string&>());
      if (!p) return fail(where + ".Layers: " + p.error().message());
      entry.layers.push_back(std::move(*p));
    }
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace berth::images
