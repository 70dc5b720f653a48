// db.h - the store's metadata: images, tags, layers and who references what, in SQLite.
//
// ROOT/berth.db in WAL mode: readers never wait for a writer, and two berth processes
// writing at once wait for each other (busy timeout) instead of failing. Every change is
// one IMMEDIATE transaction, so a process killed at any point leaves the database as it
// was before or after that change, never in between. The schema is in docs/store.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

struct sqlite3;
struct sqlite3_stmt;

namespace berth::storage {

struct LayerRecord {
  std::string chain_id;         // "sha256:..."
  std::string diff_id;          // sha256 of the uncompressed tar
  std::string parent;           // parent chain id; empty for the bottom layer
  int64_t size = 0;             // unpacked bytes (sum of file sizes)
  std::string digest;           // the compressed blob's digest (manifest), may be empty
  int64_t compressed_size = 0;  // that blob's size
  std::string media_type;       // as in the manifest
};

struct ImageRecord {
  std::string id;               // the config's digest, "sha256:..."
  std::string config;           // the config JSON as stored in the blob
  int64_t created = 0;          // the config's "created", unix seconds (0: unknown)
  int64_t added = 0;            // when this store got it, unix seconds (set by put_image)
  int64_t size = 0;             // unpacked size; put_image sums the layers when 0
  std::string manifest_digest;  // the manifest it was pulled or loaded with, may be empty
  std::string manifest_media_type;
  std::string parent;  // the image it was built on by `berth build` ("sha256:..."), or ""
  std::vector<std::string> tags;          // "docker.io/library/ubuntu:16.04"; filled on reads
  std::vector<std::string> repo_digests;  // "docker.io/library/ubuntu@sha256:..."
};

// What `berth build` remembers of a context file to avoid hashing it again.
struct FileHash {
  std::string path;  // absolute
  int64_t dev = 0, ino = 0, size = 0, mtime_ns = 0, ctime_ns = 0;
  std::string hash;  // "sha256:..." of the content
};

struct RemoveResult {
  std::vector<std::string> untagged;             // tags that pointed at the image
  std::vector<std::string> unreferenced_layers;  // chain ids no image uses any more
  std::vector<std::string> unreferenced_blobs;   // config, manifest, layer blobs now unused
};

// A container of the engine: docker's config and host config as JSON (the containers library
// owns their shape), and its recorded state as JSON.
struct ContainerRow {
  std::string id;        // 64 hex digits
  std::string name;      // without docker's leading "/"
  std::string image_id;  // "sha256:..."
  int64_t created = 0;   // unix nanoseconds
  std::string config;    // JSON
  std::string state;     // JSON
};

// A named volume (anonymous ones too: their name is 64 hex digits).
struct VolumeRow {
  std::string name;
  int64_t created = 0;     // unix seconds
  std::string labels;      // JSON object
  bool anonymous = false;
};

// A network (bridge) and the addresses its containers hold (the IPAM).
struct NetworkRow {
  std::string name;
  std::string id;
  int64_t created = 0;  // unix seconds
  std::string config;   // JSON: driver, subnet, gateway, bridge device, labels
};

// One connection. Use it from one thread at a time; open one per thread or process.
class Db {
 public:
  // Opens (creating) the database, sets WAL, foreign keys and a busy timeout, and brings the
  // schema up to date (an error when it was written by a newer berth).
  static Result<Db> open(const std::string& path, int busy_timeout_ms = 30000);
  Db(Db&& o) noexcept;
  Db& operator=(Db&& o) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db();

  Result<int> schema_version();

  // Records an image with its layers (bottom first) and tags, in one transaction. Layers
  // already known are shared; tags move from whatever image had them; putting an image
  // again updates its record and adds the tags and repo digests.
  Status put_image(const ImageRecord& image, const std::vector<LayerRecord>& layers,
                   const std::vector<std::string>& tags);
  Result<std::optional<ImageRecord>> find_by_tag(std::string_view name);
  // By a repo digest, "docker.io/library/ubuntu@sha256:...".
  Result<std::optional<ImageRecord>> find_by_repo_digest(std::string_view name);
  // By full id or a unique hex prefix ("sha256:1a2b", "1a2b"); an ambiguous prefix is an error.
  Result<std::optional<ImageRecord>> find_by_id(std::string_view id_or_prefix);
  // Every image, newest first.
  Result<std::vector<ImageRecord>> list();
  // An image's layers, bottom first.
  Result<std::vector<LayerRecord>> image_layers(std::string_view image_id);

  // Points name at image id (moving it from another image); the image must exist.
  Status tag(std::string_view name, std::string_view image_id);
  // Records a repo digest ("localhost:5000/x@sha256:...") for an image, e.g. after a push;
  // the name moves from another image that had it. false when the image is gone (removed
  // by another process meanwhile).
  Result<bool> add_repo_digest(std::string_view name, std::string_view image_id);
  // Removes a tag; returns the image it pointed at, nullopt when there was no such tag.
  Result<std::optional<std::string>> untag(std::string_view name);
  // Removes a repo digest ("docker.io/library/ubuntu@sha256:..."); returns the image it
  // pointed at, nullopt when there was none (`rmi name@digest`).
  Result<std::optional<std::string>> remove_repo_digest(std::string_view name);
  // When a tag last moved onto the image (unix s, inspect's LastTagTime); 0 when untagged.
  Result<int64_t> last_tag_time(std::string_view image_id);
  // Deletes an image, its tags and repo digests; layers and blobs nothing else references
  // are deleted from the database and returned, for the caller to remove from disk.
  Result<RemoveResult> remove_image(std::string_view image_id);

  // Images built on image_id (their parent is it).
  Result<std::vector<std::string>> children(std::string_view image_id);

  // The build cache (db_build.cpp): a step's key -> the image it made. An entry goes with
  // its image.
  Result<std::optional<std::string>> build_cache_get(std::string_view key);
  Status build_cache_put(std::string_view key, std::string_view image_id);
  // Content hashes of context files by path; put replaces, in one transaction.
  Result<std::vector<FileHash>> file_hashes(const std::vector<std::string>& paths);
  Status put_file_hashes(const std::vector<FileHash>& hashes);
  // `builder prune`: forgets every remembered content hash (the next build hashes again).
  Status clear_file_hashes();

  Result<std::vector<LayerRecord>> layers();
  Result<bool> has_layer(std::string_view chain_id);

  // Containers (db_containers.cpp). put_container fails with EEXIST when the name is taken.
  Status put_container(const ContainerRow& c);
  Status set_container_state(std::string_view id, std::string_view state);
  Status set_container_config(std::string_view id, std::string_view config);
  Status rename_container(std::string_view id, std::string_view new_name);
  Result<bool> remove_container(std::string_view id);
  // docker's lookup: full id, exact name, then a unique id prefix (EINVAL when ambiguous).
  Result<std::optional<ContainerRow>> find_container(std::string_view ref);
  Result<std::vector<ContainerRow>> list_containers();
  Result<std::vector<std::string>> containers_using_image(std::string_view image_id);

  Status put_volume(const VolumeRow& v);  // EEXIST when the name is taken
  Result<std::optional<VolumeRow>> find_volume(std::string_view name);
  Result<std::vector<VolumeRow>> list_volumes();
  Result<bool> remove_volume(std::string_view name);

  Status put_network(const NetworkRow& n);  // EEXIST when the name is taken
  Result<std::optional<NetworkRow>> find_network(std::string_view name_or_id);
  Result<std::vector<NetworkRow>> list_networks();
  Result<bool> remove_network(std::string_view name);
  // The IPAM: addresses held in a network, and taking / releasing one. take_address fails
  // with EEXIST when the address is held.
  Result<std::vector<std::string>> network_addresses(std::string_view network);
  Status take_address(std::string_view network, std::string_view container_id,
                      std::string_view ip);
  Status release_addresses(std::string_view container_id);
  // The one address a container holds on a network (`network disconnect`).
  Status release_address(std::string_view network, std::string_view container_id);

 // The prepared-statement wrapper of the implementation (db_internal.h).
  class Stmt;

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  Status exec(const char* sql);
  Result<Stmt> prepare(const char* sql);
  Error db_error(std::string_view what) const;
  template <class F>
  auto in_transaction(F&& body) -> decltype(body());
  Status migrate();
  Result<ImageRecord> load_image(Stmt& row);
  Result<std::optional<ImageRecord>> find_by_name(const char* table, std::string_view name);
  Status load_names(ImageRecord& r);
  Status put_layers(const std::vector<LayerRecord>& layers);
  Status put_tag(std::string_view name, std::string_view image_id);
  Result<std::vector<std::string>> strings(const char* sql, std::string_view arg);
  Result<std::vector<std::string>> blobs_of(std::string_view image_id);

  sqlite3* db_ = nullptr;
};

}  // namespace berth::storage
