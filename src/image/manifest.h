// manifest.h - image manifests and indexes (Docker schema2 manifest and manifest list, OCI
// image manifest and index): media types, parsing registry responses, choosing a platform
// from an index, and writing manifests for push and save.
//
// A manifest body comes from a registry or an archive and is not trusted: parse_manifest
// bounds its size and layer count and checks every descriptor (digest syntax, size, media
// type). The digest of a pulled manifest is that of the body as received, never of
// serialize()'s output; serialize() is for manifests berth builds itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "image/digest.h"
#include "image/platform.h"

namespace berth::image {

namespace media_type {
// Manifests and indexes.
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerSchema1 =
    "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr std::string_view kDockerSchema1Signed =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
// Image configs.
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciEmpty = "application/vnd.oci.empty.v1+json";
// Layers.
inline constexpr std::string_view kDockerLayer = "application/vnd.docker.image.rootfs.diff.tar";
inline constexpr std::string_view kDockerLayerGzip =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kDockerLayerZstd =
    "application/vnd.docker.image.rootfs.diff.tar.zstd";
inline constexpr std::string_view kDockerForeignLayer =
    "application/vnd.docker.image.rootfs.foreign.diff.tar";
inline constexpr std::string_view kDockerForeignLayerGzip =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
inline constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kOciLayerNondistributable =
    "application/vnd.oci.image.layer.nondistributable.v1.tar";
inline constexpr std::string_view kOciLayerNondistributableGzip =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
inline constexpr std::string_view kOciLayerNondistributableZstd =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";
}  // namespace media_type

// The value of an Accept header that asks a registry for every manifest kind berth reads.
std::string manifest_accept_header();

inline constexpr size_t kMaxManifestBytes = size_t{4} << 20;
inline constexpr size_t kMaxLayers = 10000;
inline constexpr size_t kMaxIndexEntries = 10000;
// Larger sizes cannot be real blobs, and do not survive a trip through a JSON double.
inline constexpr int64_t kMaxBlobSize = int64_t{1} << 53;

struct Descriptor {
  std::string media_type;
  Digest digest;
  int64_t size = 0;
  std::vector<std::string> urls;  // foreign / non-distributable layers: where to fetch them
  std::map<std::string, std::string> annotations;
  std::optional<Platform> platform;  // index entries

  friend bool operator==(const Descriptor&, const Descriptor&) = default;
};

struct Manifest {
  int schema_version = 2;
  std::string media_type;  // as in the body; may be empty for OCI
  Descriptor config;
  std::vector<Descriptor> layers;
  std::map<std::string, std::string> annotations;  // OCI only
};

struct Index {
  int schema_version = 2;
  std::string media_type;  // as in the body; may be empty for OCI
  std::vector<Descriptor> manifests;
  std::map<std::string, std::string> annotations;  // OCI only
};

enum class ManifestKind { kImage, kIndex };

struct ParsedManifest {
  ManifestKind kind = ManifestKind::kImage;
  std::string media_type;  // the kind's media type, from the body, else the content type
  Manifest manifest;       // when kind == kImage
  Index index;             // when kind == kIndex
};

// Parses a registry's manifest response. content_type is the Content-Type header (parameters
// and case ignored); it may be empty or generic (application/json, text/plain,
// application/octet-stream), in which case the body's mediaType, then its shape, decide.
// A content type and a body that disagree on the kind are an error, and so are a manifest with
// "manifests" and an index with "layers" or "config". Schema 1 gets
// "schema 1 manifests are not supported (the image is too old): push it again with a current
// docker or skopeo". Errors start with "manifest: ".
Result<ParsedManifest> parse_manifest(std::string_view body, std::string_view content_type);

// Canonical JSON as docker's registry client writes it (3-space indent; docker media types
// put "size" before "digest", OCI ones after; empty optional fields left out).
std::string serialize(const Manifest& m);
std::string serialize(const Index& index);

// Layers.
enum class Compression { kNone, kGzip, kZstd };
struct LayerType {
  Compression compression = Compression::kNone;
  bool non_distributable = false;  // docker "foreign" or OCI non-distributable: not pushed
};
// Errors for media types that are not image layers: unsupported layer media type "...".
Result<LayerType> classify_layer(std::string_view media_type);
bool is_image_config_type(std::string_view media_type);
// The manifest describes a runnable image: an image config and only layer media types
// classify_layer knows (not, say, a Helm chart or a signature).
Status check_image_manifest(const Manifest& m);

// True for index entries that describe no runnable image: buildkit attestations
// (platform unknown/unknown, or annotation vnd.docker.reference.type=attestation-manifest).
bool is_attestation(const Descriptor& d);

// Chooses the entry of an index for platform `want`, by containerd's rules: os and
// architecture must match, variants by compatible_platforms() order (first entry wins a tie);
// attestations are skipped; an entry without a platform is taken only when it is the only
// candidate (its config decides). Fails with: no image for linux/arm64 in the manifest list
// (available: linux/amd64, linux/ppc64le)
Result<Descriptor> select_platform(const Index& index, const Platform& want);

}  // namespace berth::image
