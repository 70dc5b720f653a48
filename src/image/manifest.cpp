// manifest.cpp - parse_manifest (kind detection, limits, descriptor checks) and serialize.
// Reading uses the OCI codec's field tables (typed, path-tracking, exception-free); writing is
// by hand because docker and OCI order descriptor fields differently.
#include "image/manifest.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "image/go_json.h"
#include "oci/json_codec.h"

namespace berth::oci::codec {

using image::Descriptor;
using image::Index;
using image::Manifest;
using image::Platform;

namespace {

// A digest field: a string that parse_digest accepts.
Status read_digest(const Json& v, const std::string& path, Descriptor& out) {
  if (!v.is_string()) return type_error(path, "string", v);
  auto d = image::parse_digest(v.get_ref<const std::string&>());
  if (!d.ok()) return path_error(path, d.error().message());
  out.digest = std::move(d).value();
  return ok();
}

}  // namespace

template <>
struct Schema<Platform> {
  static constexpr auto fields = std::tuple{
      field("architecture", &Platform::architecture), field("os", &Platform::os),
      field("os.version", &Platform::os_version), field("os.features", &Platform::os_features),
      field("variant", &Platform::variant)};
};

template <>
struct Schema<Descriptor> {
  static constexpr auto fields = std::tuple{field("mediaType", &Descriptor::media_type),
                                            custom<Descriptor>("digest", &read_digest, nullptr),
                                            field("size", &Descriptor::size),
                                            field("urls", &Descriptor::urls),
                                            field("annotations", &Descriptor::annotations),
                                            field("platform", &Descriptor::platform)};
};

template <>
struct Schema<Manifest> {
  static constexpr auto fields =
      std::tuple{field("schemaVersion", &Manifest::schema_version),
                 field("mediaType", &Manifest::media_type), field("config", &Manifest::config),
                 field("layers", &Manifest::layers), field("annotations", &Manifest::annotations)};
};

template <>
struct Schema<Index> {
  static constexpr auto fields = std::tuple{
      field("schemaVersion", &Index::schema_version), field("mediaType", &Index::media_type),
      field("manifests", &Index::manifests), field("annotations", &Index::annotations)};
};

}  // namespace berth::oci::codec

namespace berth::image {
namespace {

namespace codec = oci::codec;
using codec::Json;
using codec::OJson;
namespace mt = media_type;

constexpr std::string_view kSchema1Error =
    "schema 1 manifests are not supported (the image is too old): push it again with a current "
    "docker or skopeo";

constexpr size_t kMaxMessage = 300;  // input ends up in messages: keep them one short line

// msg cut to kMaxMessage bytes, on a UTF-8 character boundary.
std::string shorten(std::string_view msg) {
  if (msg.size() <= kMaxMessage) return std::string(msg);
  size_t cut = kMaxMessage;
  while (cut > 0 && (static_cast<unsigned char>(msg[cut]) & 0xC0) == 0x80) --cut;
  return std::string(msg.substr(0, cut)) + "...";
}

Error manifest_error(std::string_view msg) {
  return Error::invalid("manifest: " + shorten(msg));
}

// What a media type says about the document. kGeneric: says nothing (absent, JSON, text).
enum class TypeKind { kGeneric, kImage, kIndex, kSchema1, kUnknown };

TypeKind kind_of(std::string_view type) {
  if (type.empty() || type == "application/json" || type == "text/plain" ||
      type == "application/octet-stream" || type == "binary/octet-stream")
    return TypeKind::kGeneric;
  if (type == mt::kDockerManifest || type == mt::kOciManifest) return TypeKind::kImage;
  if (type == mt::kDockerManifestList || type == mt::kOciIndex) return TypeKind::kIndex;
  if (type == mt::kDockerSchema1 || type == mt::kDockerSchema1Signed) return TypeKind::kSchema1;
  return TypeKind::kUnknown;
}

// "Application/JSON; charset=utf-8" -> "application/json".
std::string normalize_content_type(std::string_view ct) {
  ct = ct.substr(0, ct.find(';'));
  while (!ct.empty() && (ct.front() == ' ' || ct.front() == '\t')) ct.remove_prefix(1);
  while (!ct.empty() && (ct.back() == ' ' || ct.back() == '\t')) ct.remove_suffix(1);
  std::string out(ct);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

Error unsupported_type(std::string_view type) {
  return manifest_error("unsupported manifest media type " + codec::quote(type));
}

// Reads the two fields that decide what the body is, without trusting their types.
struct BodyHeader {
  std::string media_type;
  bool schema1 = false;  // "schemaVersion": 1
};

Result<BodyHeader> read_header(const Json& doc) {
  if (!doc.is_object()) return manifest_error(codec::type_error("", "object", doc).message());
  BodyHeader h;
  auto type = doc.find("mediaType");
  if (type != doc.end() && !type->is_null()) {
    if (!type->is_string())
      return manifest_error(codec::type_error("mediaType", "string", *type).message());
    h.media_type = type->get<std::string>();
  }
  auto version = doc.find("schemaVersion");
  if (version != doc.end()) {
    if (version->is_number_unsigned())
      h.schema1 = version->get<uint64_t>() == 1;
    else if (version->is_number_integer())
      h.schema1 = version->get<int64_t>() == 1;
  }
  return h;
}

// Decides image or index from the content type, the body's mediaType and its shape.
Result<ManifestKind> decide_kind(const Json& doc, std::string_view ct, const BodyHeader& h) {
  TypeKind by_ct = kind_of(ct);
  TypeKind by_body = h.media_type.empty() ? TypeKind::kGeneric : kind_of(h.media_type);
  if (by_ct == TypeKind::kSchema1 || by_body == TypeKind::kSchema1 || h.schema1)
    return Error::invalid(std::string(kSchema1Error));
  if (by_ct == TypeKind::kUnknown) return unsupported_type(ct);
  if (!h.media_type.empty() && (by_body == TypeKind::kUnknown || by_body == TypeKind::kGeneric))
    return unsupported_type(h.media_type);
  bool has_manifests = doc.contains("manifests");
  bool has_layers = doc.contains("layers") || doc.contains("config");
  if (by_ct != TypeKind::kGeneric && by_body != TypeKind::kGeneric && by_ct != by_body)
    return manifest_error("content type " + codec::quote(ct) + " does not match mediaType " +
                          codec::quote(h.media_type));
  TypeKind kind = by_body != TypeKind::kGeneric ? by_body : by_ct;
  if (kind == TypeKind::kGeneric) {
    if (has_manifests == has_layers)
      return manifest_error("unrecognised document: no mediaType, and not a manifest or an index");
    kind = has_manifests ? TypeKind::kIndex : TypeKind::kImage;
  }
  if (kind == TypeKind::kImage && has_manifests)
    return manifest_error("an image manifest must not have \"manifests\"");
  if (kind == TypeKind::kIndex && has_layers)
    return manifest_error("an index must not have \"layers\" or \"config\"");
  return kind == TypeKind::kIndex ? ManifestKind::kIndex : ManifestKind::kImage;
}

std::string resolved_type(ManifestKind kind, std::string_view ct, const BodyHeader& h) {
  if (!h.media_type.empty()) return h.media_type;
  if (kind_of(ct) == TypeKind::kImage || kind_of(ct) == TypeKind::kIndex) return std::string(ct);
  return std::string(kind == ManifestKind::kIndex ? mt::kOciIndex : mt::kOciManifest);
}

Status check_descriptor(const Descriptor& d, const std::string& path) {
  if (d.media_type.empty()) return manifest_error(codec::key_path(path, "mediaType") + ": missing");
  if (d.digest.empty()) return manifest_error(codec::key_path(path, "digest") + ": missing");
  std::string size_path = codec::key_path(path, "size");
  if (d.size < 0) return manifest_error(size_path + ": " + std::to_string(d.size) + " is negative");
  if (d.size > kMaxBlobSize)
    return manifest_error(size_path + ": " + std::to_string(d.size) + " is too large");
  return ok();
}

Status check_schema_version(int version) {
  if (version == 2) return ok();
  return manifest_error("unsupported schemaVersion " + std::to_string(version) + " (expected 2)");
}

Status check_array_size(const Json& doc, const char* key, size_t max) {
  auto it = doc.find(key);
  if (it == doc.end() || !it->is_array() || it->size() <= max) return ok();
  return manifest_error(std::string("too many ") + key + " (" + std::to_string(it->size()) +
                        ", at most " + std::to_string(max) + ")");
}

Result<Manifest> read_manifest(const Json& doc) {
  TRY(check_array_size(doc, "layers", kMaxLayers));
  Manifest m;
  m.schema_version = 0;  // required: absent is an error
  Status st = codec::read_value(doc, "", m);
  if (!st.ok()) return manifest_error(st.error().message());
  TRY(check_schema_version(m.schema_version));
  TRY(check_descriptor(m.config, "config"));
  for (size_t i = 0; i < m.layers.size(); ++i)
    TRY(check_descriptor(m.layers[i], codec::index_path("layers", i)));
  return m;
}

Result<Index> read_index(const Json& doc) {
  TRY(check_array_size(doc, "manifests", kMaxIndexEntries));
  Index index;
  index.schema_version = 0;
  Status st = codec::read_value(doc, "", index);
  if (!st.ok()) return manifest_error(st.error().message());
  TRY(check_schema_version(index.schema_version));
  for (size_t i = 0; i < index.manifests.size(); ++i)
    TRY(check_descriptor(index.manifests[i], codec::index_path("manifests", i)));
  return index;
}

// ---- writing ------------------------------------------------------------------------------

bool is_docker_type(std::string_view type) {
  return type.starts_with("application/vnd.docker.");
}

OJson platform_json(const Platform& p) {
  OJson j = OJson::object();
  j["architecture"] = p.architecture;
  j["os"] = p.os;
  if (!p.os_version.empty()) j["os.version"] = p.os_version;
  if (!p.os_features.empty()) j["os.features"] = p.os_features;
  if (!p.variant.empty()) j["variant"] = p.variant;
  return j;
}

// distribution.Descriptor (docker) puts size before digest and omits a zero size;
// OCI's v1.Descriptor puts it after and always writes it.
OJson descriptor_json(const Descriptor& d, bool docker) {
  OJson j = OJson::object();
  j["mediaType"] = d.media_type;
  if (docker) {
    if (d.size != 0) j["size"] = d.size;
    j["digest"] = d.digest.string();
  } else {
    j["digest"] = d.digest.string();
    j["size"] = d.size;
  }
  if (!d.urls.empty()) j["urls"] = d.urls;
  if (!d.annotations.empty()) j["annotations"] = d.annotations;
  if (d.platform) j["platform"] = platform_json(*d.platform);
  return j;
}

// As Go's json.MarshalIndent(v, "", "   ") writes it.
std::string dump(const OJson& j) {
  return go_escape(j.dump(3, ' ', false, OJson::error_handler_t::replace));
}

}  // namespace

std::string manifest_accept_header() {
  return std::string(mt::kOciIndex) + ", " + std::string(mt::kDockerManifestList) + ", " +
         std::string(mt::kOciManifest) + ", " + std::string(mt::kDockerManifest);
}

Result<ParsedManifest> parse_manifest(std::string_view body, std::string_view content_type) {
  if (body.size() > kMaxManifestBytes)
    return manifest_error("manifest too big (" + std::to_string(body.size()) + " bytes, at most " +
                          std::to_string(kMaxManifestBytes) + ")");
  std::string ct = normalize_content_type(content_type);
  if (kind_of(ct) == TypeKind::kSchema1) return Error::invalid(std::string(kSchema1Error));
  auto doc = codec::parse_document(body);
  if (!doc.ok()) return manifest_error(doc.error().message());
  BodyHeader header = TRY(read_header(*doc));
  ParsedManifest out;
  out.kind = TRY(decide_kind(*doc, ct, header));
  out.media_type = resolved_type(out.kind, ct, header);
  if (out.kind == ManifestKind::kIndex)
    out.index = TRY(read_index(*doc));
  else
    out.manifest = TRY(read_manifest(*doc));
  return out;
}

std::string serialize(const Manifest& m) {
  bool docker = is_docker_type(m.media_type);
  OJson j = OJson::object();
  j["schemaVersion"] = m.schema_version;
  if (!m.media_type.empty()) j["mediaType"] = m.media_type;
  j["config"] = descriptor_json(m.config, docker);
  OJson layers = OJson::array();
  for (const auto& l : m.layers) layers.push_back(descriptor_json(l, docker));
  j["layers"] = std::move(layers);
  if (!m.annotations.empty()) j["annotations"] = m.annotations;
  return dump(j);
}

std::string serialize(const Index& index) {
  bool docker = is_docker_type(index.media_type);
  OJson j = OJson::object();
  j["schemaVersion"] = index.schema_version;
  if (!index.media_type.empty()) j["mediaType"] = index.media_type;
  OJson manifests = OJson::array();
  for (const auto& d : index.manifests) manifests.push_back(descriptor_json(d, docker));
  j["manifests"] = std::move(manifests);
  if (!index.annotations.empty()) j["annotations"] = index.annotations;
  return dump(j);
}

Result<LayerType> classify_layer(std::string_view type) {
  struct Known {
    std::string_view type;
    LayerType layer;
  };
  static constexpr std::array<Known, 11> kKnown{{
      {mt::kDockerLayerGzip, {Compression::kGzip, false}},
      {mt::kDockerLayerZstd, {Compression::kZstd, false}},
      {mt::kDockerLayer, {Compression::kNone, false}},
      {mt::kDockerForeignLayerGzip, {Compression::kGzip, true}},
      {mt::kDockerForeignLayer, {Compression::kNone, true}},
      {mt::kOciLayerGzip, {Compression::kGzip, false}},
      {mt::kOciLayerZstd, {Compression::kZstd, false}},
      {mt::kOciLayer, {Compression::kNone, false}},
      {mt::kOciLayerNondistributableGzip, {Compression::kGzip, true}},
      {mt::kOciLayerNondistributableZstd, {Compression::kZstd, true}},
      {mt::kOciLayerNondistributable, {Compression::kNone, true}},
  }};
  for (const auto& k : kKnown)
    if (k.type == type) return k.layer;
  return Error::invalid("unsupported layer media type " + codec::quote(type));
}

bool is_image_config_type(std::string_view type) {
  return type == mt::kDockerConfig || type == mt::kOciConfig;
}

Status check_image_manifest(const Manifest& m) {
  if (!is_image_config_type(m.config.media_type))
    return Error::invalid("not a container image: config media type " +
                          codec::quote(m.config.media_type));
  for (const auto& layer : m.layers) {
    auto type = classify_layer(layer.media_type);
    if (!type.ok()) return Error::invalid("not a container image: " + type.error().message());
  }
  return ok();
}

bool is_attestation(const Descriptor& d) {
  auto it = d.annotations.find("vnd.docker.reference.type");
  if (it != d.annotations.end() && it->second == "attestation-manifest") return true;
  return d.platform && d.platform->os == "unknown" && d.platform->architecture == "unknown";
}

}  // namespace berth::image
