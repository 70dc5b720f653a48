#include "images/pull.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>

#include "base/log.h"
#include "image/config.h"
#include "image/digest.h"
#include "image/manifest.h"
#include "images/install.h"
#include "images/parallel.h"
#include "images/pipe.h"
#include "storage/blob_store.h"

namespace berth::images {

std::string_view layer_state_text(LayerState s) {
  switch (s) {
    case LayerState::waiting:
      return "Waiting";
    case LayerState::pulling:
      return "Pulling fs layer";
    case LayerState::already_exists:
      return "Already exists";
    case LayerState::downloading:
      return "Downloading";
    case LayerState::download_complete:
      return "Download complete";
    case LayerState::extracting:
      return "Extracting";
    case LayerState::pull_complete:
      return "Pull complete";
  }
  return "";
}

namespace {

using Clock = std::chrono::steady_clock;

// Serialises the caller's callbacks: worker threads report at once.
class Progress {
 public:
  explicit Progress(const PullOptions& o) : o_(o) {}
  void emit(const std::string& digest, LayerState s, uint64_t current = 0, uint64_t total = 0) {
    if (!o_.on_progress) return;
    std::lock_guard<std::mutex> g(mu_);
    o_.on_progress({digest, s, current, total});
  }

 private:
  const PullOptions& o_;
  std::mutex mu_;
};

// Copies a download into the blob writer and (when unpacking) the pipe, counting bytes and
// reporting "Downloading" about ten times a second.
class TeeSink : public ByteSink {
 public:
  TeeSink(ByteSink& blob, ByteSink* pipe, Progress& p, std::string digest, uint64_t already,
          uint64_t total, std::atomic<uint64_t>& fetched)
      : blob_(blob),
        pipe_(pipe),
        p_(p),
        digest_(std::move(digest)),
        done_(already),
        total_(total),
        fetched_(fetched) {}
  Status write(std::string_view data) override {
    TRY(blob_.write(data));
    if (pipe_ != nullptr) TRY(pipe_->write(data));
    done_ += data.size();
    fetched_ += data.size();
    auto now = Clock::now();
    if (now - last_ >= std::chrono::milliseconds(100)) {
      last_ = now;
      p_.emit(digest_, LayerState::downloading, done_, total_);
    }
    return ok();
  }

 private:
  ByteSink& blob_;
  ByteSink* pipe_;
  Progress& p_;
  std::string digest_;
  uint64_t done_;
  uint64_t total_;
  std::atomic<uint64_t>& fetched_;
  Clock::time_point last_{};
};

// At most `limit` bytes of a source: the part of a partial blob that was there before this
// pull started appending to the same file.
class LimitedSource : public ByteSource {
 public:
  LimitedSource(ByteSource& in, uint64_t limit) : in_(in), left_(limit) {}
  Result<size_t> read(void* buf, size_t n) override {
    if (left_ == 0) return size_t{0};
    size_t got = TRY(in_.read(buf, std::min<uint64_t>(n, left_)));
    if (got == 0) return Error::invalid("partial blob shorter than recorded");
    left_ -= got;
    return got;
  }

 private:
  ByteSource& in_;
  uint64_t left_;
};

class StringSink : public ByteSink {
 public:
  explicit StringSink(size_t limit) : limit_(limit) {}
  Status write(std::string_view d) override {
    if (data.size() + d.size() > limit_)
      return Error::invalid("image config larger than " + std::to_string(limit_) + " bytes");
    data.append(d);
    return ok();
  }
  std::string data;

 private:
  size_t limit_;
};

struct LayerJob {
  image::Descriptor desc;
  std::string chain_id;
  std::string diff_id;
  int64_t unpacked_size = -1;
};

struct PullContext {
  Store& store;
  registry::Client& client;
  std::string repo;
  Progress& progress;
  std::atomic<uint64_t>& fetched;
  Durability durability;
};

// The blob only (its layer is unpacked already, say from an image with other compression).
Status fetch_blob_only(PullContext& c, const LayerJob& job) {
  std::string digest = job.desc.digest.string();
  auto writer = TRY(c.store.blobs().writer(digest));
  TeeSink tee(writer, nullptr, c.progress, digest, writer.resume_offset(),
              static_cast<uint64_t>(job.desc.size), c.fetched);
  TRY(c.client.fetch_blob(c.repo, digest, tee,
                          {writer.resume_offset(), static_cast<uint64_t>(job.desc.size)}));
  return writer.commit(digest, job.desc.size, c.durability);
}

// Downloads, stores and unpacks one layer in one pass (see pull.h).
Status stream_layer(PullContext& c, LayerJob& job) {
  std::string digest = job.desc.digest.string();
  uint64_t size = static_cast<uint64_t>(job.desc.size);
  auto writer = TRY(c.store.blobs().writer(digest));
  uint64_t offset = writer.resume_offset();
  std::optional<storage::FdSource> partial;
  std::optional<LimitedSource> prefix;
  if (offset > 0) {
    partial.emplace(TRY(writer.open_written()));
    prefix.emplace(*partial, offset);
    log::debug("layer " + digest + ": resuming at byte " + std::to_string(offset));
  }

  BytePipe pipe;
  TeeSink tee(writer, &pipe.sink(), c.progress, digest, offset, size, c.fetched);
  Status fetched = ok();
  std::thread fetcher([&] {
    fetched = c.client.fetch_blob(c.repo, digest, tee, {offset, size});
    pipe.close(fetched);
    if (fetched) c.progress.emit(digest, LayerState::download_complete, size, size);
  });
  ConcatSource src(prefix ? &*prefix : nullptr, pipe.source());
  storage::UnpackOptions opts = c.store.unpack_options();
  opts.layer_name = digest;
  auto unpacked = c.store.layers().add_layer(job.chain_id, src, storage::Compression::detect,
                                             job.diff_id, opts);
  bool reader_failed = !unpacked;
  if (reader_failed) pipe.abort(unpacked.error());
  fetcher.join();

  // A download that failed by itself (after the client's retries) keeps its partial blob
  // for the next pull to resume; a layer that is bad in itself (not a tar, a wrong diff
  // id, a hostile name) is of no use to resume from.
  if (!fetched && !pipe.writer_saw_abort()) return std::move(fetched).error();
  if (reader_failed) {
    writer.discard();
    return std::move(unpacked).error();
  }
  if (!fetched) return std::move(fetched).error();
  c.progress.emit(digest, LayerState::extracting, size, size);
  TRY(writer.commit(digest, job.desc.size, c.durability));
  job.unpacked_size = static_cast<int64_t>(unpacked->content_bytes);
  return ok();
}

Status pull_layer(PullContext& c, LayerJob& job) {
  std::string digest = job.desc.digest.string();
  // Another berth process pulling the same layer holds this lock until the layer and its
  // blob are in place; then this one finds them there.
  UniqueFd lock = TRY(c.store.lock(layer_lock_name(job.chain_id)));
  bool have_layer = c.store.layers().has_layer(job.chain_id);
  bool have_blob = c.store.blobs().has(digest);
  if (have_layer && have_blob) {
    c.progress.emit(digest, LayerState::already_exists);
    return ok();
  }
  if (have_layer) {
    TRY(fetch_blob_only(c, job));
    c.progress.emit(digest, LayerState::pull_complete);
    return ok();
  }
  if (have_blob) {
    c.progress.emit(digest, LayerState::extracting);
    storage::FdSource src(TRY(c.store.blobs().open_blob(digest)));
    storage::UnpackOptions opts = c.store.unpack_options();
    opts.layer_name = digest;
    auto r = TRY(c.store.layers().add_layer(job.chain_id, src, storage::Compression::detect,
                                            job.diff_id, opts));
    job.unpacked_size = static_cast<int64_t>(r.content_bytes);
  } else {
    TRY(stream_layer(c, job));
  }
  c.progress.emit(digest, LayerState::pull_complete);
  return ok();
}

Result<std::string> fetch_config(registry::Client& client, Store& store, const std::string& repo,
                                 const image::Descriptor& d) {
  std::string digest = d.digest.string();
  if (store.blobs().has(digest)) return store.blobs().read(digest, image::kMaxConfigBytes);
  if (d.size > static_cast<int64_t>(image::kMaxConfigBytes))
    return Error::invalid("image config " + digest + " is " + std::to_string(d.size) +
                          " bytes, more than the " + std::to_string(image::kMaxConfigBytes) +
                          " allowed");
  StringSink sink(image::kMaxConfigBytes);
  TRY(client.fetch_blob(repo, digest, sink, {0, static_cast<uint64_t>(d.size)}));
  if (image::sha256_digest(sink.data) != d.digest)
    return Error::invalid("image config " + digest + ": digest mismatch: got " +
                          image::sha256_digest(sink.data).string());
  return std::move(sink.data);
}

}  // namespace

Result<PullResult> pull(Store& store, const image::Reference& ref, const PullOptions& opts) {
  PullResult result;
  result.name = ref.string();
  auto client = TRY(registry::Client::create(ref.domain, opts.client));
  std::string repo = ref.repository_path();

  auto got = client->get_manifest(repo, ref.manifest_ref());
  if (!got) {
    // docker's wording, which users search for.
    std::string msg = got.error().message();
    if (msg.starts_with("manifest unknown") || msg.starts_with("not found"))
      return Error::invalid("manifest for " + ref.familiar() + " not found: " + msg);
    if (msg.find("denied") != std::string::npos || msg.find("unauthorized") != std::string::npos)
      return Error::invalid("pull access denied for " + ref.familiar_name() +
                            ", repository does not exist or may require 'berth login': " + msg);
    return std::move(got).error();
  }
  registry::Manifest top = std::move(*got);
  result.digest = top.digest;
  image::ParsedManifest pm = TRY(image::parse_manifest(top.body, top.media_type));
  registry::Manifest chosen = top;
  if (pm.kind == image::ManifestKind::kIndex) {
    image::Descriptor d = TRY(image::select_platform(pm.index, opts.platform));
    chosen = TRY(client->get_manifest(repo, d.digest.string()));
    pm = TRY(image::parse_manifest(chosen.body, chosen.media_type));
    if (pm.kind != image::ManifestKind::kImage)
      return Error::invalid("manifest list entry " + d.digest.string() +
                            " is itself a manifest list");
  }
  const image::Manifest& m = pm.manifest;
  TRY(image::check_image_manifest(m));

  std::string config = TRY(fetch_config(*client, store, repo, m.config));
  image::ImageConfig cfg = TRY(image::parse_image_config(config));
  if (cfg.rootfs.diff_ids.size() != m.layers.size())
    return Error::invalid("image config lists " + std::to_string(cfg.rootfs.diff_ids.size()) +
                          " layers, the manifest " + std::to_string(m.layers.size()));
  image::Platform have{cfg.os, cfg.architecture, cfg.variant, "", {}};
  if (!cfg.architecture.empty() && !image::platform_matches(opts.platform, have))
    log::warning("the image's platform (" + have.string() + ") does not match the requested " +
                 opts.platform.string());
  result.image_id = image::sha256_digest(config).string();
  std::vector<std::string> chains = image::chain_ids(cfg.rootfs.diff_ids);

  std::vector<LayerJob> jobs;
  for (size_t i = 0; i < m.layers.size(); ++i)
    jobs.push_back({m.layers[i], chains[i], cfg.rootfs.diff_ids[i].string()});

  // Up to date: the tag names this image already, and its layers are all there.
  std::vector<std::string> tags;
  if (!ref.tag.empty()) tags.push_back(ref.name() + ":" + ref.tag);
  bool complete = std::all_of(jobs.begin(), jobs.end(), [&](const LayerJob& j) {
    return store.layers().has_layer(j.chain_id) && store.blobs().has(j.desc.digest.string());
  });
  std::optional<storage::ImageRecord> current;
  if (!tags.empty())
    current = TRY(store.db().find_by_tag(tags[0]));
  else
    current = TRY(store.db().find_by_id(result.image_id));
  result.downloaded = !(complete && current && current->id == result.image_id);

  if (result.downloaded) {
    if (opts.on_layers) {
      std::vector<std::string> digests;
      for (const auto& j : jobs) digests.push_back(j.desc.digest.string());
      opts.on_layers(digests);
    }
    Progress progress(opts);
    std::atomic<uint64_t> fetched{0};
    PullContext c{store,   *client,
                  repo,    progress,
                  fetched, store.durable() ? Durability::durable : Durability::volatile_ok};
    for (const auto& j : jobs) progress.emit(j.desc.digest.string(), LayerState::pulling);

    size_t parallel = opts.max_parallel > 0 ? static_cast<size_t>(opts.max_parallel) : 16;
    TRY(run_parallel(jobs.size(), parallel, [&](size_t k) { return pull_layer(c, jobs[k]); }));
    result.bytes_fetched = fetched;
  }

  InstallRequest req;
  req.config = std::move(config);
  for (const auto& j : jobs)
    req.layers.push_back({j.desc.digest.string(), j.desc.size, j.desc.media_type, j.unpacked_size});
  req.manifest = chosen.body;
  req.manifest_media_type = pm.media_type.empty() ? chosen.media_type : pm.media_type;
  req.tags = tags;
  req.repo_digests = {ref.name() + "@" + top.digest};
  std::string id = TRY(install_image(store, req));
  if (id != result.image_id)
    return Error::invalid("internal: image id " + id + " != " + result.image_id);
  return result;
}

}  // namespace berth::images
