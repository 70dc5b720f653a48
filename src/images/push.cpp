#include "images/push.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "base/log.h"
#include "base/strings.h"
#include "image/manifest.h"
#include "image/reference.h"
#include "images/parallel.h"
#include "storage/blob_store.h"

namespace berth::images {

std::string push_state_text(PushState s, const std::string& from) {
  switch (s) {
    case PushState::preparing:
      return "Preparing";
    case PushState::waiting:
      return "Waiting";
    case PushState::pushing:
      return "Pushing";
    case PushState::pushed:
      return "Pushed";
    case PushState::existed:
      return "Layer already exists";
    case PushState::mounted:
      return "Mounted from " + from;
    case PushState::skipped:
      return "Skipped foreign layer";
  }
  return "";
}

bool is_final(PushState s) {
  return s == PushState::pushed || s == PushState::existed || s == PushState::mounted ||
         s == PushState::skipped;
}

Result<uint64_t> chunk_size_from_env() {
  const char* v = std::getenv("BERTH_PUSH_CHUNK_SIZE");
  if (v == nullptr || *v == '\0') return uint64_t{0};
  auto n = parse_uint(v);
  if (!n) return Error::invalid("BERTH_PUSH_CHUNK_SIZE: not a number of bytes: " + std::string(v));
  return *n;
}

namespace {

// docker's mount attempts per blob (distribution's maxMountAttempts).
constexpr size_t kMaxMountCandidates = 3;
// Bytes between two progress reports of one upload: enough for a smooth bar, few locks.
constexpr uint64_t kReportEvery = 256 << 10;

// Forwards to the caller's PushProgress one call at a time (the upload threads report
// concurrently; renderers should not have to care).
class Reporter {
 public:
  explicit Reporter(PushProgress* p) : p_(p) {}
  void repository(const std::string& name) {
    std::lock_guard<std::mutex> g(mu_);
    if (p_ != nullptr) p_->repository(name);
  }
  void layers(const std::vector<std::string>& ids) {
    std::lock_guard<std::mutex> g(mu_);
    if (p_ != nullptr) p_->layers(ids);
  }
  void update(const PushLayerUpdate& u) {
    std::lock_guard<std::mutex> g(mu_);
    if (p_ != nullptr) p_->update(u);
  }
  void tag_done(const PushedTag& t) {
    std::lock_guard<std::mutex> g(mu_);
    if (p_ != nullptr) p_->tag_done(t);
  }

 private:
  PushProgress* p_;
  std::mutex mu_;
};

// A blob's bytes from the store, counting what the client has read (= sent).
class CountingSource : public ByteSource {
 public:
  CountingSource(UniqueFd fd, std::function<void(uint64_t)> on_sent)
      : src_(std::move(fd)), on_sent_(std::move(on_sent)) {}
  Result<size_t> read(void* buf, size_t n) override {
    size_t got = TRY(src_.read(buf, n));
    sent_ += got;
    if (on_sent_ && (got == 0 || sent_ - reported_ >= kReportEvery)) {
      reported_ = sent_;
      on_sent_(sent_);
    }
    return got;
  }

 private:
  storage::FdSource src_;
  std::function<void(uint64_t)> on_sent_;
  uint64_t sent_ = 0, reported_ = 0;
};

// One image to push under one tag.
struct Target {
  std::string tag;
  storage::ImageRecord image;
};

// A blob to send, and the layers (by index in the manifest) that it is.
struct BlobJob {
  std::string digest;
  uint64_t size = 0;
  std::vector<size_t> layers;
};

struct Outcome {
  PushState state = PushState::pushed;
  std::string from;  // mounted: the source repository
};

Result<image::Reference> parse_push_name(const PushRequest& req) {
  image::Reference ref = TRY(image::parse_normalized_named(req.name));
  if (!ref.digest.empty()) return Error::invalid("cannot push a digest reference");
  if (req.all_tags && !ref.tag.empty())
    return Error::invalid("tag can't be used with --all-tags/-a");
  return ref;
}

Error not_found(const image::Reference& ref) {
  return Error::invalid("An image does not exist locally with the tag: " + ref.familiar_name());
}

// The images to push: the tag asked for ("latest" when none), or every tag of the repository.
Result<std::vector<Target>> find_targets(Store& store, const image::Reference& ref, bool all) {
  std::vector<Target> out;
  if (!all) {
    std::string tag = ref.tag.empty() ? std::string(image::kDefaultTag) : ref.tag;
    auto rec = TRY(store.db().find_by_tag(ref.name() + ":" + tag));
    if (!rec) return not_found(ref);
    out.push_back({tag, std::move(*rec)});
    return out;
  }
  std::string prefix = ref.name() + ":";
  for (auto& rec : TRY(store.db().list())) {
    for (const auto& t : rec.tags) {
      if (starts_with(t, prefix)) out.push_back({t.substr(prefix.size()), rec});
    }
  }
  if (out.empty()) return not_found(ref);
  std::sort(out.begin(), out.end(), [](const Target& a, const Target& b) { return a.tag < b.tag; });
  return out;
}

// Repositories of the same registry the image is known by (where it was pulled from or
// pushed to), which may hold its blobs: the registry can link them instead of an upload.
std::vector<std::string> mount_candidates(const storage::ImageRecord& img,
                                          const image::Reference& target) {
  std::vector<std::string> out;
  auto consider = [&](const std::string& name) {
    auto r = image::parse_reference(name);
    if (!r || r->domain != target.domain || r->path == target.path) return;
    if (std::find(out.begin(), out.end(), r->path) != out.end()) return;
    if (out.size() < kMaxMountCandidates) out.push_back(r->path);
  };
  for (const auto& d : img.repo_digests) consider(d);
  for (const auto& t : img.tags) consider(t);
  return out;
}

// The id docker shows for layer i: its diff id, shortened; the blob digest when the
// database's layer list does not line up with the manifest.
std::string layer_id(const std::vector<storage::LayerRecord>& records,
                     const std::vector<image::Descriptor>& layers, size_t i) {
  std::string d = records.size() == layers.size() && !records[i].diff_id.empty()
                      ? records[i].diff_id
                      : layers[i].digest.string();
  return d.substr(d.find(':') + 1, 12);
}

// Pushes the images of one repository; one instance per push_image call.
class Pusher {
 public:
  Pusher(Store& store, registry::Client& client, const image::Reference& ref,
         const PushRequest& req, Reporter& rep)
      : store_(store), client_(client), ref_(ref), req_(req), rep_(rep) {}

  Result<PushedTag> push(const Target& t) {
    const storage::ImageRecord& img = t.image;
    if (img.manifest_digest.empty())
      return Error::invalid("image " + img.id + " has no manifest in the store");
    std::string body = TRY_CTX(store_.blobs().read(img.manifest_digest, image::kMaxManifestBytes),
                               "manifest of image " + img.id);
    image::ParsedManifest pm = TRY(image::parse_manifest(body, img.manifest_media_type));
    if (pm.kind != image::ManifestKind::kImage)
      return Error::invalid("image " + img.id + ": its stored manifest is an index");
    const image::Manifest& m = pm.manifest;
    auto records = TRY(store_.db().image_layers(img.id));
    candidates_ = mount_candidates(img, ref_);

    TRY(push_layers(m, records));
    Outcome config = TRY(push_blob(m.config.digest.string(), static_cast<uint64_t>(m.config.size)));
    (void)config;
    std::string media_type =
        img.manifest_media_type.empty() ? pm.media_type : img.manifest_media_type;
    std::string digest = TRY(client_.put_manifest(ref_.path, t.tag, media_type, body));
    if (digest != img.manifest_digest) {
      return Error::invalid("registry " + ref_.domain + " stored the manifest of " + img.id +
                            " as " + digest + ", not " + img.manifest_digest);
    }
    bool recorded = TRY(store_.db().add_repo_digest(ref_.name() + "@" + digest, img.id));
    if (!recorded) log::warning("image " + img.id + " was removed while it was pushed");
    PushedTag done{ref_.name() + ":" + t.tag, t.tag, digest, static_cast<int64_t>(body.size())};
    rep_.tag_done(done);
    return done;
  }

 private:
  Status push_layers(const image::Manifest& m, const std::vector<storage::LayerRecord>& records);
  Status run_jobs(const std::vector<BlobJob>& jobs, const std::vector<std::string>& ids);
  Result<Outcome> push_blob(const std::string& digest, uint64_t size,
                            const std::function<void(uint64_t)>& on_sent = {});

  Store& store_;
  registry::Client& client_;
  const image::Reference& ref_;
  const PushRequest& req_;
  Reporter& rep_;
  std::vector<std::string> candidates_;
};

Status Pusher::push_layers(const image::Manifest& m,
                           const std::vector<storage::LayerRecord>& records) {
  std::vector<std::string> ids;
  for (size_t i = 0; i < m.layers.size(); ++i) ids.push_back(layer_id(records, m.layers, i));
  std::vector<std::string> top_first(ids.rbegin(), ids.rend());
  rep_.layers(top_first);

  // One job per distinct distributable blob (an image may list the same blob twice).
  std::vector<BlobJob> jobs;
  std::map<std::string, size_t> by_digest;
  for (size_t i = m.layers.size(); i-- > 0;) {
    const auto& l = m.layers[i];
    image::LayerType type = TRY(image::classify_layer(l.media_type));
    if (type.non_distributable) {
      rep_.update({.id = ids[i], .state = PushState::skipped});
      continue;
    }
    rep_.update({.id = ids[i], .state = PushState::preparing});
    std::string d = l.digest.string();
    auto [it, added] = by_digest.try_emplace(d, jobs.size());
    if (added) jobs.push_back({d, static_cast<uint64_t>(l.size), {}});
    jobs[it->second].layers.push_back(i);
  }
  for (size_t k = static_cast<size_t>(std::max(1, req_.parallel)); k < jobs.size(); ++k) {
    for (size_t i : jobs[k].layers) rep_.update({.id = ids[i], .state = PushState::waiting});
  }
  return run_jobs(jobs, ids);
}

// Up to req.parallel uploads at once, top layer first; the first error stops handing out
// new ones (the ones in flight finish or fail on their own).
Status Pusher::run_jobs(const std::vector<BlobJob>& jobs, const std::vector<std::string>& ids) {
  auto report = [&](const BlobJob& j, PushLayerUpdate u) {
    for (size_t i : j.layers) {
      u.id = ids[i];
      rep_.update(u);
    }
  };
  size_t n = static_cast<size_t>(std::max(1, req_.parallel));
  return run_parallel(jobs.size(), n, [&](size_t k) -> Status {
    const BlobJob& j = jobs[k];
    auto on_sent = [&](uint64_t sent) {
      report(j, {.state = PushState::pushing, .sent = sent, .total = j.size});
    };
    auto r = TRY(push_blob(j.digest, j.size, on_sent));
    report(j, {.state = r.state, .total = j.size, .mounted_from = r.from});
    return ok();
  });
}

// One blob: skipped when the registry has it, mounted when a candidate repository does, else
// uploaded from the store. A failed mount (the registry refuses, or the user may not read
// the source) is not an error: docker falls back to the upload too.
Result<Outcome> Pusher::push_blob(const std::string& digest, uint64_t size,
                                  const std::function<void(uint64_t)>& on_sent) {
  if (!store_.blobs().has(digest)) {
    return Error::invalid("blob " + digest + " is not in the store (the image is incomplete)");
  }
  if (!candidates_.empty()) {
    auto have = TRY(client_.head_blob(ref_.path, digest));
    if (have) return Outcome{PushState::existed, ""};
    for (const auto& from : candidates_) {
      auto mounted = client_.mount_blob(ref_.path, digest, from);
      if (mounted && *mounted) return Outcome{PushState::mounted, from};
      if (!mounted)
        log::debug("mount of " + digest + " from " + from + ": " + mounted.error().message());
    }
  }
  registry::BlobSource src{
      .digest = digest,
      .size = size,
      .open = [this, digest, on_sent]() -> Result<std::unique_ptr<ByteSource>> {
        UniqueFd fd = TRY(store_.blobs().open_blob(digest));
        return std::unique_ptr<ByteSource>(new CountingSource(std::move(fd), on_sent));
      }};
  if (req_.chunk_size > 0 && size > req_.chunk_size) {
    log::debug("pushing " + digest + " (" + std::to_string(size) + " bytes) in chunks of " +
               std::to_string(req_.chunk_size) + " bytes");
  }
  registry::PushOutcome o = TRY(client_.push_blob(ref_.path, src, {.chunk_size = req_.chunk_size}));
  switch (o) {
    case registry::PushOutcome::existed:
      return Outcome{PushState::existed, ""};
    case registry::PushOutcome::mounted:
      return Outcome{PushState::mounted, ""};
    case registry::PushOutcome::uploaded:
      break;
  }
  return Outcome{PushState::pushed, ""};
}

}  // namespace

Result<std::vector<PushedTag>> push_image(Store& store, const PushRequest& req,
                                          const registry::ClientOptions& client_options,
                                          PushProgress* progress) {
  image::Reference ref = TRY(parse_push_name(req));
  std::vector<Target> targets = TRY(find_targets(store, ref, req.all_tags));
  auto client = TRY(registry::Client::create(ref.domain, client_options));
  Reporter rep(progress);
  rep.repository(ref.name());
  Pusher pusher(store, *client, ref, req, rep);
  std::vector<PushedTag> out;
  for (const auto& t : targets) out.push_back(TRY(pusher.push(t)));
  return out;
}

}  // namespace berth::images
