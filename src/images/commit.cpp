// commit.cpp - a container's upper dir becomes a layer, and an image on its parent
// (see commit.h).
#include "images/commit.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <array>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <system_error>
#include <thread>

#include "base/strings.h"
#include "base/time.h"
#include "image/config.h"
#include "image/go_json.h"
#include "image/manifest.h"
#include "image/platform.h"
#include "image/reference.h"
#include "images/archive.h"
#include "images/install.h"
#include "images/tree_tar.h"
#include "oci/json_codec.h"
#include "storage/db.h"
#include "storage/sha256.h"

namespace berth::images {

namespace mt = image::media_type;

namespace {

// What the request resolves to before anything is written.
struct Plan {
  UniqueFd upper;
  std::vector<std::string> tags;
  image::ImageConfig parent;  // empty (host platform) without a parent
  std::string parent_id;
  std::vector<LayerBlob> parent_layers;
  image::ImageConfig::Config config;  // the new config.config
};

Error fail(const Error& e) {
  return Error(e.code(), "commit: " + e.op(), e.object());
}

// config.config from docker's container Config object: parsed as an image config would be
// (unknown fields ignored, types checked).
Result<image::ImageConfig::Config> config_from_json(const nlohmann::json& c) {
  nlohmann::json doc = {{"rootfs", {{"type", "layers"}, {"diff_ids", nlohmann::json::array()}}},
                        {"config", c}};
  image::ImageConfig parsed = TRY(image::parse_image_config(doc.dump()));
  return parsed.config;
}

Result<std::vector<LayerBlob>> parent_blobs(Store& store, const std::string& id) {
  std::vector<LayerBlob> out;
  for (const auto& l : TRY(store.db().image_layers(id))) {
    if (l.digest.empty() || !store.blobs().has(l.digest))
      return Error(ENOENT,
                   "the blob of layer " + l.diff_id + " of image " + id + " is not in the store");
    out.push_back({l.digest, l.compressed_size, l.media_type, l.size});
  }
  return out;
}

Result<Plan> plan(Store& store, const CommitRequest& req) {
  Plan p;
  int fd = ::open(req.upper_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return sys_error("open upper dir", req.upper_dir);
  p.upper = UniqueFd(fd);
  if (!req.tag.empty()) {
    image::Reference ref = TRY(image::parse_reference(req.tag));
    if (!ref.digest.empty())
      return Error::invalid("refusing to create a tag with a digest reference");
    p.tags.push_back(ref.string());
  }
  if (!req.parent_image_id.empty()) {
    storage::ImageRecord rec = TRY(store.find(req.parent_image_id));
    p.parent_id = rec.id;
    p.parent = TRY(image::parse_image_config(rec.config));
    p.parent_layers = TRY(parent_blobs(store, rec.id));
  } else {
    image::Platform host = image::host_platform();
    p.parent.architecture = host.architecture;
    p.parent.os = host.os;
    p.parent.variant = host.variant;
  }
  p.config = req.container_config.is_null() ? p.parent.config
                                            : TRY(config_from_json(req.container_config));
  TRY(apply_changes(p.config, req.changes));
  return p;
}

// Hashes what passes on to the next sink: the layer's digest (= diff id), computed on the
// walking thread while the writer thread stores the bytes.
class HashingSink : public ByteSink {
 public:
  explicit HashingSink(ByteSink& next) : next_(next) {}
  Status write(std::string_view data) override {
    sha_.update(data);
    size_ += data.size();
    return next_.write(data);
  }
  std::string digest() { return sha_.digest(); }
  uint64_t size() const { return size_; }

 private:
  ByteSink& next_;
  storage::Sha256 sha_;
  uint64_t size_ = 0;
};

class WriterSink : public ByteSink {
 public:
  explicit WriterSink(storage::BlobStore::Writer& w) : w_(w) {}
  Status write(std::string_view data) override { return w_.write(data); }

 private:
  storage::BlobStore::Writer& w_;
};

// A ByteSink that hands its bytes to a second thread, which writes them to `next` (the blob
// writer: pwrite and its own hash), so that walking, tar and hashing on this thread overlap
// with the writing. A few fixed 1 MiB buffers go round between the two: no allocation per
// chunk. The first error of the writer fails the next write() and finish().
class ThreadedSink : public ByteSink {
 public:
  explicit ThreadedSink(ByteSink& next) : next_(next) {
    for (auto& b : bufs_) {
      b.reserve(kBuf);
      free_.push_back(&b);
    }
    thread_ = std::thread([this] { run(); });  // throws std::system_error: caller falls back
  }
  ~ThreadedSink() override { (void)finish(); }

  Status write(std::string_view data) override {
    while (!data.empty()) {
      std::string* b = TRY(take_free());
      size_t n = std::min(data.size(), kBuf);
      b->assign(data.data(), n);
      data.remove_prefix(n);
      std::lock_guard<std::mutex> l(mu_);
      ready_.push_back(b);
      cv_.notify_all();
    }
    return ok();
  }
  // Waits for everything written; the writer's error, if any.
  Status finish() {
    {
      std::lock_guard<std::mutex> l(mu_);
      done_ = true;
      cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
    if (error_) return *error_;
    return ok();
  }

 private:
  static constexpr size_t kBuf = size_t{1} << 20;

  Result<std::string*> take_free() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return !free_.empty() || error_; });
    if (error_) return *error_;
    std::string* b = free_.back();
    free_.pop_back();
    return b;
  }
  void run() {
    for (;;) {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return !ready_.empty() || done_; });
      if (ready_.empty()) return;
      std::string* b = ready_.front();
      ready_.pop_front();
      l.unlock();
      Status st = error_ ? ok() : next_.write(*b);
      l.lock();
      if (!st && !error_) error_ = std::move(st).error();
      free_.push_back(b);
      cv_.notify_all();
    }
  }

  ByteSink& next_;
  std::array<std::string, 4> bufs_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string*> free_;
  std::deque<std::string*> ready_;
  std::optional<Error> error_;
  bool done_ = false;
  std::thread thread_;
};

tree::WalkOptions upper_walk(const std::vector<std::string>& exclude, uint32_t uid_shift,
                             uint32_t gid_shift) {
  tree::WalkOptions wo;
  wo.whiteouts = tree::Whiteouts::overlay_to_oci;
  wo.uid_shift = uid_shift;
  wo.gid_shift = gid_shift;
  for (const auto& x : exclude)
    if (auto c = storage::clean_entry_path(x); c.ok() && !c->empty()) wo.exclude.insert(*c);
  return wo;
}

// Walks the upper dir into `out` as a layer tar; returns the number of entries.
Result<uint64_t> write_layer(int upper_fd, const tree::WalkOptions& wo, ByteSink& out) {
  tree::TarSink tar(out);
  TRY(tree::walk(upper_fd, "", wo, tar));
  TRY(tar.finish());
  return tar.entries();
}

// The layer into the blob store: this thread walks, builds the tar and hashes it, a second
// one writes it (the blob writer hashes again to check). An empty layer is not stored.
Result<LayerBlob> store_layer(Store& store, int upper_fd, const std::string& upper_dir,
                              const std::vector<std::string>& exclude) {
  storage::BlobStore::Writer w = TRY(store.blobs().writer());
  tree::WalkOptions wo =
      upper_walk(exclude, store.unpack_options().uid_offset, store.unpack_options().gid_offset);
  WriterSink direct(w);
  std::unique_ptr<ThreadedSink> threaded;
  try {
    threaded = std::make_unique<ThreadedSink>(direct);
  } catch (const std::system_error&) {  // no thread to be had: write on this one
  }
  HashingSink hashed(threaded ? static_cast<ByteSink&>(*threaded) : direct);
  auto entries = write_layer(upper_fd, wo, hashed);
  if (threaded) TRY(threaded->finish());  // the writer's error first: the walk's may follow it
  if (!entries.ok()) {
    const Error& e = entries.error();
    return Error(e.code(), "write layer from upper dir " + upper_dir + ": " + e.op(),
                 e.object());
  }
  if (*entries == 0) {
    w.discard();
    return LayerBlob{};
  }
  std::string digest = hashed.digest();
  TRY(w.commit(digest, static_cast<int64_t>(hashed.size()),
               store.durable() ? Durability::durable : Durability::volatile_ok));
  return LayerBlob{digest, static_cast<int64_t>(hashed.size()), std::string(mt::kDockerLayer), -1};
}

// Whether any image in the store uses the blob (a commit identical to an earlier one).
bool blob_in_use(Store& store, const std::string& digest) {
  auto images = store.db().list();
  if (!images.ok()) return true;
  for (const auto& img : *images) {
    auto layers = store.db().image_layers(img.id);
    if (!layers.ok()) return true;
    for (const auto& l : *layers)
      if (l.digest == digest) return true;
  }
  return false;
}

std::string config_json(const Plan& p, const CommitRequest& req, const LayerBlob& layer) {
  image::ImageConfig c = p.parent;
  std::string now = now_rfc3339();
  c.config = p.config;
  c.created = now;
  c.author = req.author;
  // docker leaves the top-level comment to the history entry (its inspect falls back to it);
  // berth writes both, so every reader shows the message.
  c.comment = req.comment;
  c.container = req.container_id;
  c.docker_version.clear();
  bool empty = layer.digest.empty();
  if (!empty) c.rootfs.diff_ids.push_back(image::parse_digest(layer.digest).value());
  std::vector<std::string> cmd;
  if (req.container_config.is_object() && req.container_config.contains("Cmd") &&
      req.container_config["Cmd"].is_array())
    for (const auto& a : req.container_config["Cmd"])
      if (a.is_string()) cmd.push_back(a.get<std::string>());
  c.history.push_back(image::History{now, req.author, join(cmd, " "), req.comment, empty});
  std::string json = image::serialize(c);
  if (req.container_config.is_null()) return json;
  // container_config: docker's V1Image field, not in berth's model; spliced in last.
  json.pop_back();  // the closing brace
  json += ",\"container_config\":" + image::go_escape(req.container_config.dump()) + "}";
  return json;
}

Result<CommitResult> commit(Store& store, const CommitRequest& req) {
  Plan p = TRY(plan(store, req));
  LayerBlob layer = TRY(store_layer(store, p.upper.get(), req.upper_dir, req.exclude));

  InstallRequest ir;
  ir.config = config_json(p, req, layer);
  ir.layers = p.parent_layers;
  if (!layer.digest.empty()) ir.layers.push_back(layer);
  ir.tags = p.tags;
  auto id = install_image(store, ir);
  if (!id.ok()) {
    if (!layer.digest.empty() && !blob_in_use(store, layer.digest))
      (void)store.blobs().remove(layer.digest);
    return std::move(id).error();
  }
  return CommitResult{*id, layer.digest, static_cast<uint64_t>(std::max<int64_t>(layer.size, 0))};
}

}  // namespace

Result<uint64_t> write_upper_layer(const std::string& upper_dir,
                                   const std::vector<std::string>& exclude, uint32_t uid_shift,
                                   uint32_t gid_shift, ByteSink& out) {
  int fd = ::open(upper_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return sys_error("open upper dir", upper_dir);
  UniqueFd upper(fd);
  return write_layer(upper.get(), upper_walk(exclude, uid_shift, gid_shift), out);
}

std::vector<std::string> placeholder_mount_points(const std::string& upper) {
  std::vector<std::string> out;
  int fd = ::open((upper + "/etc").c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return out;
  UniqueFd etc(fd);
  for (const char* name : {"hostname", "hosts", "resolv.conf"}) {
    struct stat st;
    if (::fstatat(etc.get(), name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
        st.st_size == 0)
      out.push_back(std::string("etc/") + name);
  }
  return out;
}

Result<LayerBlob> store_upper_layer(Store& store, const std::string& upper_dir,
                                    const std::vector<std::string>& exclude) {
  int fd = ::open(upper_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return sys_error("open upper dir", upper_dir);
  UniqueFd upper(fd);
  return store_layer(store, upper.get(), upper_dir, exclude);
}

Result<std::vector<LayerBlob>> image_layer_blobs(Store& store, const std::string& image_id) {
  return parent_blobs(store, image_id);
}

Result<CommitResult> commit_container_ex(Store& store, const CommitRequest& req) {
  auto r = commit(store, req);
  if (!r.ok()) return fail(r.error());
  return r;
}

Result<std::string> commit_container(Store& store, const CommitRequest& req) {
  CommitResult r = TRY(commit_container_ex(store, req));
  return r.image_id;
}

}  // namespace berth::images
