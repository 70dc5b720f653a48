// archive_import.cpp - `import`: a root filesystem tar becomes a one-layer image, with a
// config like docker's import makes (this machine's platform, created now, one history entry).
#include "base/time.h"
#include "image/manifest.h"
#include "image/platform.h"
#include "image/reference.h"
#include "images/archive.h"
#include "images/archive_tar.h"
#include "images/install.h"
#include "storage/sha256.h"

namespace berth::images {

namespace mt = image::media_type;

namespace {

// Whether block is a tar header: its checksum (the sum of its bytes, the checksum field
// counted as spaces) matches. True of every tar format, old v7 ones included.
bool is_tar_header(std::string_view block) {
  if (block.size() < 512) return false;
  unsigned sum = 0;
  for (size_t i = 0; i < 512; ++i)
    sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(block[i]);
  std::string_view field = block.substr(148, 8);
  unsigned stored = 0;
  bool digits = false;
  for (char c : field) {
    if (c >= '0' && c <= '7') {
      stored = stored * 8 + static_cast<unsigned>(c - '0');
      digits = true;
    } else if (digits || (c != ' ' && c != '\0')) {
      break;
    }
  }
  return digits && stored == sum;
}

// The tar, decompressed, into the blob store; returns its digest and size. `brought`: the
// blob was not there before.
Error not_a_tar() {
  return Error::invalid(
      "import: the input is not a tar archive (plain, or gzip, zstd, bzip2 or xz compressed)");
}

Result<LayerBlob> store_layer(Store& store, ByteSource& in, bool& brought) {
  auto src = TRY(tar::open_decompressed(in));
  storage::BlobStore::Writer w = TRY(store.blobs().writer());
  storage::Sha256 hash;
  std::string buf(1 << 20, '\0');
  uint64_t size = 0;
  std::string first;  // the first block, checked before the rest is stored
  for (;;) {
    size_t n = TRY(src->read(buf.data(), buf.size()));
    if (n == 0) break;
    std::string_view chunk(buf.data(), n);
    if (first.size() < 512) {
      first.append(chunk.substr(0, 512 - first.size()));
      if (first.size() == 512 && !is_tar_header(first)) return not_a_tar();
    }
    TRY(w.write(chunk));
    hash.update(chunk);
    size += n;
  }
  if (size == 0) return Error::invalid("import: the input is empty");
  if (first.size() < 512) return not_a_tar();
  std::string digest = hash.digest();
  brought = !store.blobs().has(digest);
  TRY(w.commit(digest, static_cast<int64_t>(size),
               store.durable() ? Durability::durable : Durability::volatile_ok));
  return LayerBlob{digest, static_cast<int64_t>(size), std::string(mt::kDockerLayer)};
}

}  // namespace

Result<std::string> import_image(Store& store, ByteSource& in, const ImportOptions& opts) {
  // Everything that can be wrong with the options fails before the input is read.
  if (opts.source.starts_with("http://") || opts.source.starts_with("https://"))
    return Error::invalid("importing from a URL is not supported: download " + opts.source +
                          " and import the file");
  image::Platform platform =
      opts.platform.empty() ? image::host_platform() : TRY(image::parse_platform(opts.platform));
  std::vector<std::string> tags;
  if (!opts.reference.empty()) {
    image::Reference ref = TRY(image::parse_reference(opts.reference));
    if (!ref.digest.empty())
      return Error::invalid("refusing to create a tag with a digest reference");
    tags.push_back(ref.string());
  }
  image::ImageConfig config;
  TRY(apply_changes(config.config, opts.changes));

  bool brought = false;
  LayerBlob layer = TRY(store_layer(store, in, brought));
  std::string msg = opts.message.empty() ? "Imported from " + opts.source : opts.message;
  std::string created = now_rfc3339();
  config.architecture = platform.architecture;
  config.os = platform.os;
  config.variant = platform.variant;
  config.created = created;
  config.comment = msg;
  config.rootfs.diff_ids = {TRY(image::parse_digest(layer.digest))};
  config.history = {image::History{created, "", "", msg, false}};

  InstallRequest req;
  req.config = image::serialize(config);
  req.layers = {layer};
  req.tags = tags;
  auto id = install_image(store, req);
  if (!id && brought) (void)store.blobs().remove(layer.digest);
  if (!id) return std::move(id).error().context("import " + opts.source);
  return id;
}

}  // namespace berth::images
