#include "images/remove.h"

#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <set>

#include "base/log.h"
#include "image/reference.h"
#include "images/install.h"

namespace berth::images {

namespace {

std::string familiar(const std::string& full) {
  auto ref = image::parse_reference(full);
  return ref ? ref->familiar() : full;
}

// The repository of a stored name: "docker.io/library/ubuntu" for ubuntu:22.04 and
// ubuntu@sha256:....
std::string repo_of(const std::string& full) {
  auto ref = image::parse_reference(full);
  return ref ? ref->name() : full;
}

bool is_hex(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

// docker's isImageIDPrefix: the argument named the image by (a prefix of) its id.
bool names_id(const std::string& id, std::string_view arg) {
  std::string_view hex = arg.starts_with("sha256:") ? arg.substr(7) : arg;
  return is_hex(hex) && id.starts_with("sha256:" + std::string(hex));
}

// Tags and repo digests of an image, sorted like docker's reference store lists them.
std::vector<std::string> names_of(const storage::ImageRecord& r) {
  std::vector<std::string> names = r.tags;
  names.insert(names.end(), r.repo_digests.begin(), r.repo_digests.end());
  std::sort(names.begin(), names.end());
  return names;
}

bool is_digest_name(const std::string& name) {
  return name.find('@') != std::string::npos;
}

// docker's isSingleReference: at most one tag, and every name in that tag's repository.
bool is_single_reference(const std::vector<std::string>& names) {
  if (names.size() <= 1) return names.size() == 1;
  std::set<std::string> repos;
  std::string single;
  for (const auto& n : names) {
    if (!is_digest_name(n)) {
      if (!single.empty()) return false;
      single = n;
    }
    repos.insert(repo_of(n));
  }
  if (single.empty()) single = names.front();
  return repos.size() == 1 && repos.count(repo_of(single)) == 1;
}

// How an argument is shown in "No such image: ...": references as docker normalises them
// ("bb" -> "bb:latest"), anything else as given.
std::string shown(std::string_view arg) {
  auto ref = image::parse_reference(arg);
  return ref ? ref->familiar() : std::string(arg);
}

Result<std::vector<ContainerUse>> users_of(const ContainerUsers& users, const std::string& id) {
  if (!users) return std::vector<ContainerUse>();
  return users(id);
}

Error conflict(const std::string& id, bool forceable, const std::string& why) {
  return Error::invalid("conflict: unable to delete " + std::string(id.substr(7, 12)) + " (" +
                        (forceable ? "must be forced" : "cannot be forced") + ") - " + why);
}

// Deletes an image: the database first, then the files nothing references any more. force
// overrides stopped containers; drop_names removes the names the image still has (else
// they are a conflict). Adds "Untagged" events for those names and the "Deleted" events,
// the image then its layers top first.
Status delete_image(Store& store, const std::string& id, bool force, bool drop_names,
                    const ContainerUsers& users, DeleteReport& report) {
  for (const auto& c : TRY(users_of(users, id))) {
    if (c.running)
      return conflict(id, false, "image is being used by running container " + c.id.substr(0, 12));
    if (!force)
      return conflict(id, true, "image is being used by stopped container " + c.id.substr(0, 12));
  }
  auto rec = TRY(store.db().find_by_id(id));
  if (!rec) return Error::invalid("No such image: " + id);
  std::vector<std::string> names = names_of(*rec);
  if (!names.empty() && !drop_names)
    return conflict(id, true, "image is referenced in multiple repositories");
  std::vector<storage::LayerRecord> layers = TRY(store.db().image_layers(id));

  storage::RemoveResult removed = TRY(store.db().remove_image(id));
  for (const auto& n : names) report.events.push_back({DeleteEvent::untagged, familiar(n)});
  report.events.push_back({DeleteEvent::deleted, id});
  std::set<std::string> gone(removed.unreferenced_layers.begin(),
                             removed.unreferenced_layers.end());
  for (auto it = layers.rbegin(); it != layers.rend(); ++it) {
    if (gone.erase(it->chain_id) == 0) continue;  // shared with another image, or listed twice
    report.events.push_back({DeleteEvent::deleted, it->chain_id});
    report.reclaimed += it->size;
  }
  for (const auto& b : removed.unreferenced_blobs)
    report.reclaimed += static_cast<int64_t>(store.blobs().size(b).value_or(0));
  // The image is gone from the database; files that fail to go are only logged (by
  // delete_unreferenced) and left for `image prune`, which removes orphans.
  (void)store.delete_unreferenced(removed);
  return ok();
}

// rmi by a name: docker's ImageDelete when the argument is a reference.
Status remove_by_name(Store& store, const storage::ImageRecord& rec, const image::Reference& ref,
                      const RemoveOptions& opts, DeleteReport& report) {
  std::string full = ref.digest.empty() ? ref.string() : ref.name() + "@" + ref.digest;
  std::vector<std::string> names = names_of(rec);
  if (!opts.force && is_single_reference(names)) {
    for (const auto& c : TRY(users_of(opts.users, rec.id))) {
      // Untagging would leave a container's image dangling: docker wants -f for that.
      return Error::invalid("conflict: unable to remove repository reference \"" + ref.familiar() +
                            "\" (must force) - container " + c.id.substr(0, 12) +
                            " is using its referenced image " + rec.id.substr(7, 12));
    }
  }
  if (ref.digest.empty()) {
    TRY(store.db().untag(full));
  } else {
    TRY(store.db().remove_repo_digest(full));
  }
  report.events.push_back({DeleteEvent::untagged, ref.familiar()});

  auto now = TRY(store.db().find_by_id(rec.id));
  if (!now) return ok();  // removed meanwhile by another process
  std::vector<std::string> left = names_of(*now);
  if (ref.digest.empty()) {
    // The last tag of a repository takes that repository's digests with it.
    std::string repo = ref.name();
    bool tag_left = std::any_of(left.begin(), left.end(), [&](const std::string& n) {
      return !is_digest_name(n) && repo_of(n) == repo;
    });
    if (!tag_left) {
      std::vector<std::string> keep;
      for (const auto& n : left) {
        if (is_digest_name(n) && repo_of(n) == repo) {
          TRY(store.db().remove_repo_digest(n));
          report.events.push_back({DeleteEvent::untagged, familiar(n)});
        } else {
          keep.push_back(n);
        }
      }
      left = std::move(keep);
    }
  }
  if (!left.empty()) return ok();  // other names keep the image
  return delete_image(store, rec.id, opts.force, /*drop_names=*/false, opts.users, report);
}

// rmi by id: one name (with its repository's digests) goes with the image; several need -f.
Status remove_by_id(Store& store, const storage::ImageRecord& rec, const RemoveOptions& opts,
                    DeleteReport& report) {
  std::vector<std::string> names = names_of(rec);
  bool single = is_single_reference(names);
  return delete_image(store, rec.id, opts.force, opts.force || single, opts.users, report);
}

}  // namespace

namespace {

// docker's rmi deletes the untagged parents a build left (its intermediate images) with the
// image, up the chain, while each has no name, no other child and no container.
Status prune_parents(Store& store, std::string parent, const RemoveOptions& opts,
                     DeleteReport& report) {
  while (!parent.empty()) {
    auto p = TRY(store.db().find_by_id(parent));
    if (!p || !p->tags.empty() || !p->repo_digests.empty()) return ok();
    if (!TRY(store.db().children(p->id)).empty()) return ok();
    if (!TRY(users_of(opts.users, p->id)).empty()) return ok();
    TRY(delete_image(store, p->id, /*force=*/false, /*drop_names=*/true, opts.users, report));
    parent = p->parent;
  }
  return ok();
}

}  // namespace

Result<DeleteReport> remove_image(Store& store, std::string_view arg, const RemoveOptions& opts) {
  auto rec = TRY(store.lookup(arg));
  if (!rec) return Error::invalid("No such image: " + shown(arg));
  DeleteReport report;
  if (names_id(rec->id, arg)) {
    TRY(remove_by_id(store, *rec, opts, report));
  } else {
    image::Reference ref = TRY(image::parse_reference(arg));
    TRY(remove_by_name(store, *rec, ref, opts, report));
  }
  if (!opts.no_prune && !TRY(store.db().find_by_id(rec->id))) TRY(prune_parents(store, rec->parent, opts, report));
  return report;
}

Result<DeleteReport> prune_images(Store& store, bool all, const ContainerUsers& users) {
  DeleteReport report;
  // Rounds: an intermediate build image (untagged, with a child) goes only once its children
  // have gone, so a dangling image takes its untagged parents with it and a tagged one keeps
  // them (the build cache of what is still named).
  for (bool removed = true; removed;) {
    removed = false;
    for (const auto& rec : TRY(store.db().list())) {
      if (!all && (!rec.tags.empty() || !rec.repo_digests.empty())) continue;
      if (!all && !TRY(store.db().children(rec.id)).empty()) continue;
      if (!TRY(users_of(users, rec.id)).empty()) continue;  // prune keeps what containers use
      Status st = delete_image(store, rec.id, /*force=*/false, /*drop_names=*/true, users, report);
      // Another process may have removed the image meanwhile: that is what prune wanted.
      if (!st && TRY(store.db().find_by_id(rec.id))) return std::move(st).error();
      removed = removed || st.ok();
    }
  }
  return report;
}

namespace {

// Blobs some image uses: its config, its manifest, its layer blobs.
Result<std::set<std::string>> referenced_blobs(Store& store) {
  std::set<std::string> out;
  for (const auto& rec : TRY(store.db().list())) {
    out.insert(rec.id);
    if (!rec.manifest_digest.empty()) out.insert(rec.manifest_digest);
    for (const auto& l : TRY(store.db().image_layers(rec.id)))
      if (!l.digest.empty()) out.insert(l.digest);
  }
  return out;
}

bool older_than(const std::string& path, std::chrono::seconds min_age) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return false;
  return st.st_mtime + min_age.count() <= ::time(nullptr);
}

}  // namespace

Result<OrphanReport> remove_orphans(Store& store, std::chrono::seconds min_age) {
  OrphanReport report;
  std::set<std::string> known;
  for (const auto& l : TRY(store.db().layers())) known.insert(l.chain_id);
  for (const auto& chain : TRY(store.layers().list())) {
    std::string dir = store.root() + "/layers/" + chain.substr(7);
    if (known.count(chain) || !older_than(dir, min_age)) continue;
    // A pull or load unpacks a layer under this lock; holding it, check again that no image
    // recorded the layer since the list was read.
    UniqueFd lock = TRY(store.lock(layer_lock_name(chain)));
    if (TRY(store.db().has_layer(chain))) continue;
    int64_t size = tree_content_bytes(dir).value_or(0);
    if (Status st = store.layers().remove_layer(chain); !st) {
      log::warning("removing layer " + chain + ": " + st.error().message());
      continue;
    }
    report.layers.push_back(chain);
    report.bytes += size;
  }
  std::set<std::string> used = TRY(referenced_blobs(store));
  std::vector<std::string> candidates;
  for (const auto& d : TRY(store.blobs().list()))
    if (!used.count(d) && older_than(store.blobs().path(d), min_age)) candidates.push_back(d);
  if (candidates.empty()) return report;
  used = TRY(referenced_blobs(store));  // again: an image may have been recorded meanwhile
  for (const auto& d : candidates) {
    if (used.count(d)) continue;
    int64_t size = static_cast<int64_t>(store.blobs().size(d).value_or(0));
    if (Status st = store.blobs().remove(d); !st) {
      log::warning("removing blob " + d + ": " + st.error().message());
      continue;
    }
    report.blobs.push_back(d);
    report.bytes += size;
  }
  return report;
}

Result<DiskUsage> disk_usage(Store& store, const ContainerUsers& users) {
  DiskUsage du;
  std::map<std::string, int> uses;       // chain id -> images using it
  std::map<std::string, int64_t> sizes;  // chain id -> unpacked bytes
  std::vector<std::vector<std::string>> chains;
  for (auto& rec : TRY(store.db().list())) {
    std::vector<std::string> mine;
    for (const auto& l : TRY(store.db().image_layers(rec.id))) {
      if (std::find(mine.begin(), mine.end(), l.chain_id) != mine.end()) continue;
      mine.push_back(l.chain_id);
      ++uses[l.chain_id];
      sizes[l.chain_id] = l.size;
    }
    ImageUsage u;
    u.containers = static_cast<int>(TRY(users_of(users, rec.id)).size());
    u.record = std::move(rec);
    du.images.push_back(std::move(u));
    chains.push_back(std::move(mine));
  }
  for (const auto& [chain, size] : sizes) du.layers_size += size;
  int64_t used = 0;
  for (size_t i = 0; i < du.images.size(); ++i) {
    ImageUsage& u = du.images[i];
    for (const auto& c : chains[i])
      if (uses[c] > 1) u.shared_size += sizes[c];
    if (u.containers > 0) {
      ++du.active;
      used += u.record.size - u.shared_size;
    }
  }
  du.reclaimable = du.layers_size - used;
  return du;
}

}  // namespace berth::images
