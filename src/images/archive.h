// archive.h - images in and out of tar archives: `save` (docker-archive, oci-archive),
// `load` (both, and docker's old layout), `import` (a root filesystem tar as a one-layer
// image). The command line (src/cli/berth/archive.cpp) only maps options onto these.
//
// A docker-archive is what docker 25+ writes: an OCI image layout (oci-layout, index.json,
// blobs/sha256/...) with uncompressed layers, plus docker's manifest.json and
// `repositories`, so that docker, podman and skopeo all read it. An oci-archive is an OCI
// image layout with the blobs as stored (compressed) and no manifest.json.
//
// Nothing in an archive is trusted: names are cleaned and may not leave the archive (no
// "../", absolute names, or links pointing out), JSON files are bounded in size, every blob
// is stored under its digest (checked against its name when it has one), layers are checked
// against the config's diff ids. A load that fails leaves no image record, and removes the
// blobs and layers it brought that nothing uses.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/io.h"
#include "image/config.h"
#include "images/store.h"

namespace berth::images {

enum class ArchiveFormat { docker, oci };

// The largest JSON file (manifest.json, index.json, a config, a manifest) load reads into memory.
inline constexpr size_t kMaxArchiveJsonBytes = size_t{8} << 20;

// "docker-archive" / "oci-archive"; an error naming the choices for anything else.
Result<ArchiveFormat> parse_archive_format(std::string_view name);

// --- save ---

// Writes the images named by `names` (docker's rules: "name:tag", a bare "name" is every tag
// of that repository, an id or id prefix is the image without tags, "name@digest" the image
// without a tag) as one archive to out_fd, streaming. Blobs several images share are written
// once. An image that is not in the store fails before anything is written.
Status save_images(Store& store, const std::vector<std::string>& names, ArchiveFormat format,
                   int out_fd);
// The same into a file: written to a temp file beside it and renamed into place, so a failed
// save leaves no half archive (docker's -o does the same). A path that is not a regular file
// (a fifo, /dev/stdout) is written directly.
Status save_images_to_file(Store& store, const std::vector<std::string>& names,
                           ArchiveFormat format, const std::string& path);

// --- load ---

struct LoadedImage {
  std::string id;                 // "sha256:..."
  std::vector<std::string> tags;  // full names: "docker.io/library/busybox:latest"
};

struct LoadOptions {
  // Lines for the user, as they happen: "Loaded image: busybox:latest", "The image ...
  // already exists, renaming the old one ...".
  std::function<void(const std::string&)> print;
};

// Reads a docker-archive or oci-archive (optionally gzip, zstd, bzip2 or xz compressed) from
// `in` in one pass, then installs every image in it. Errors are one line.
Result<std::vector<LoadedImage>> load_images(Store& store, ByteSource& in,
                                             const LoadOptions& opts = {});

// --- import ---

struct ImportOptions {
  std::string source = "-";          // the file name, or "-" for stdin (history comment)
  std::string reference;             // a tag to give the image, may be empty
  std::vector<std::string> changes;  // Dockerfile instructions: "ENV A=1", "CMD [\"sh\"]"
  std::string message;               // the commit message (config and history comment)
  std::string platform;              // "os/arch[/variant]"; empty: this machine's
};

// A root filesystem tar (optionally compressed) becomes a one-layer image: the tar is stored
// uncompressed (its digest is its diff id). Returns the image id.
Result<std::string> import_image(Store& store, ByteSource& in, const ImportOptions& opts);

// --- the parts, exposed for tests and the fuzz target ---

// One image of docker's manifest.json.
struct DockerManifestEntry {
  std::string config;                  // path in the archive, cleaned
  std::vector<std::string> repo_tags;  // as written ("busybox:latest")
  std::vector<std::string> layers;     // paths in the archive, cleaned, bottom first
};

// Parses docker's manifest.json: a JSON array of {"Config", "RepoTags", "Layers"}. Bounded in
// size and entries; every path goes through clean_archive_path. Errors start with
// "manifest.json: ".
Result<std::vector<DockerManifestEntry>> parse_docker_manifest(std::string_view json);

// A name from a tar made relative and lexically clean: "./a//b/" -> "a/b". Names that are
// absolute, empty, or climb above the archive ("../x", "a/../../x") are an error.
Result<std::string> clean_archive_path(std::string_view raw);

// Applies Dockerfile instructions to a config, as `import -c` and `commit -c` do: ENV, CMD,
// ENTRYPOINT, WORKDIR, USER, EXPOSE, LABEL, VOLUME, STOPSIGNAL, ONBUILD. Errors like docker's:
// "run is not a valid change command".
Status apply_changes(image::ImageConfig::Config& config, const std::vector<std::string>& changes);

}  // namespace berth::images
