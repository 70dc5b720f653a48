#include "images/store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <cerrno>
#include <cmath>
#include <cstdio>

#include "base/file.h"
#include "base/log.h"
#include "image/reference.h"
#include "sys/ns.h"

namespace berth::images {

namespace {

bool is_lock_name(std::string_view name) {
  if (name.empty() || name.size() > 200 || name[0] == '.') return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool is_hex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return !s.empty();
}

// overlayfs cannot keep a container's writable layer (or, rootless, its user.overlay.*
// markers) on these filesystems: refuse the store before anything is pulled into it.
Status check_store_filesystem(const std::string& root) {
  std::string at = root;
  struct statfs st;
  while (::statfs(at.c_str(), &st) < 0) {
    if (errno != ENOENT || at.size() <= 1) return ok();
    at = dirname_of(at);
  }
  static constexpr struct {
    unsigned long magic;
    const char* name;
  } kUnsuitable[] = {{0x6969, "NFS"},          {0xFF534D42, "CIFS"},     {0xFE534D42, "SMB2"},
                     {0x794c7630, "overlayfs"}, {0x65735546, "FUSE"},     {0xf15f, "eCryptfs"},
                     {0x4d44, "FAT"},           {0x2011BAB0, "exFAT"},    {0x5346544e, "NTFS"},
                     {0x01021997, "9p"},        {0x73717368, "squashfs"}};
  for (const auto& fs : kUnsuitable)
    if (static_cast<unsigned long>(st.f_type) == fs.magic)
      return Error::invalid("the store " + root + " is on " + fs.name +
                            ", where overlayfs cannot keep containers' writable layers; put it "
                            "on a local filesystem (ext4, xfs, btrfs, tmpfs) with --root DIR" +
                            (sys::rootless() ? " or XDG_DATA_HOME" : "") +
                            " (docs/rootless.md)");
  return ok();
}

}  // namespace

Result<std::unique_ptr<Store>> Store::open(const std::string& root, StoreOptions opts) {
  TRY(check_store_filesystem(root));
  TRY_CTX(mkdir_all(root, 0700), "image store " + root);
  TRY_CTX(mkdir_all(root + "/locks", 0700), "image store " + root);
  storage::BlobStore blobs = TRY_CTX(storage::BlobStore::open(root), "image store " + root);
  storage::LayerStore layers =
      TRY_CTX(storage::LayerStore::open(root, opts.durable), "image store " + root);
  storage::Db db = TRY_CTX(storage::Db::open(root + "/berth.db"), "image store " + root);
  return std::unique_ptr<Store>(
      new Store(root, opts, std::move(blobs), std::move(layers), std::move(db)));
}

Result<std::optional<storage::ImageRecord>> Store::lookup(std::string_view name_or_id) {
  std::string_view s = name_or_id;
  // A full id, with or without "sha256:".
  if (s.starts_with("sha256:") && is_hex(s.substr(7))) return db_.find_by_id(s);
  if (s.size() == 64 && is_hex(s)) return db_.find_by_id(s);
  if (auto ref = image::parse_reference(s); ref) {
    if (!ref->digest.empty()) {
      auto r = TRY(db_.find_by_repo_digest(ref->name() + "@" + ref->digest));
      if (r || ref->tag.empty()) return r;
      // name:tag@digest: the tag must point at that digest's image.
      auto t = TRY(db_.find_by_tag(ref->name() + ":" + ref->tag));
      if (t && t->manifest_digest == ref->digest) return t;
      return std::optional<storage::ImageRecord>();
    }
    if (auto r = TRY(db_.find_by_tag(ref->string())); r) return r;
  }
  // A short id: docker searches ids when the name is not a known reference.
  if (is_hex(s) || (s.starts_with("sha256:") && is_hex(s.substr(7)))) return db_.find_by_id(s);
  return std::optional<storage::ImageRecord>();
}

Result<storage::ImageRecord> Store::find(std::string_view name_or_id) {
  auto r = TRY(lookup(name_or_id));
  if (!r) return Error::invalid("No such image: " + std::string(name_or_id));
  return std::move(*r);
}

Result<UniqueFd> Store::lock(std::string_view name) {
  if (!is_lock_name(name)) return Error::invalid("lock name " + std::string(name));
  std::string path = root_ + "/locks/" + std::string(name);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return sys_error("open", path);
  UniqueFd f(fd);
  while (::flock(f.get(), LOCK_EX) < 0) {
    if (errno != EINTR) return sys_error("lock", path);
  }
  return f;
}

Status Store::delete_unreferenced(const storage::RemoveResult& r) {
  Status first = ok();
  for (const auto& chain : r.unreferenced_layers) {
    if (Status st = layers_.remove_layer(chain); !st) {
      log::warning("removing " + chain + ": " + st.error().message());
      if (first) first = std::move(st);
    }
  }
  for (const auto& digest : r.unreferenced_blobs) {
    if (Status st = blobs_.remove(digest); !st) {
      log::warning("removing blob " + digest + ": " + st.error().message());
      if (first) first = std::move(st);
    }
  }
  return first;
}

std::string human_size(int64_t bytes, int precision) {
  static const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
  double v = static_cast<double>(bytes);
  size_t i = 0;
  while (v >= 1000.0 && i + 1 < std::size(kUnits)) {
    v /= 1000.0;
    ++i;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g%s", precision, v, kUnits[i]);
  return buf;
}

}  // namespace berth::images
