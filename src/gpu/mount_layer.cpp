// mount_layer.cpp - see mount_layer.h.
#include "gpu/mount_layer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstdio>
#include <functional>
#include <set>

#include "base/file.h"
#include "base/strings.h"
#include "gpu/hook.h"
#include "sys/path_resolve.h"

namespace berth::gpu {
namespace {

// Paths the runtime mounts fresh filesystems on: a mount point there is made in those.
bool under_runtime_mount(const std::string& p) {
  for (std::string_view top : {"/proc", "/dev", "/sys"})
    if (p == top || starts_with(p, std::string(top) + "/")) return true;
  return false;
}

// "/usr/lib/x" -> {"usr", "lib", "x"}.
std::vector<std::string> components(const std::string& path) {
  std::vector<std::string> out;
  for (const auto& c : split(path, '/'))
    if (!c.empty()) out.emplace_back(c);
  return out;
}

}  // namespace

MountLayer MountLayer::of(const ContainerEdits& edits,
                          const std::function<bool(const std::string&)>& is_dir,
                          const std::function<bool(const HookEdit&)>& own_hook) {
  MountLayer layer;
  bool conflict = false;
  auto add = [&](const std::string& raw, Entry e) {
    if (raw.empty() || raw[0] != '/') return;
    std::string path = clean_path(raw);
    if (path == "/" || under_runtime_mount(path)) return;
    auto [it, inserted] = layer.entries_.emplace(path, e);
    if (!inserted && !(it->second == e)) conflict = true;
  };
  for (const auto& m : edits.mounts) {
    if (!m.type.empty() && m.type != "bind") continue;
    add(m.container_path, Entry{.type = is_dir(m.host_path) ? 'd' : 'f'});
  }
  for (const auto& h : edits.hooks) {
    if (h.args.size() < 2 || h.args[1] != "gpu-hook" || !own_hook(h)) continue;
    auto req = parse_hook_args({h.args.begin() + 2, h.args.end()});
    if (!req) continue;  // the hook reports it when it runs
    for (const auto& [link, target] : req->links) add(link, Entry{.type = 'l', .target = target});
  }
  // An entry inside another (a mount point under a mounted file or folder) is left to the
  // runtime: the layer holds leaves only.
  for (const auto& [path, e] : layer.entries_)
    for (std::string dir = dirname_of(path); dir != "/"; dir = dirname_of(dir))
      if (layer.entries_.count(dir)) conflict = true;
  if (conflict) layer.entries_.clear();
  return layer;
}

namespace {

bool is_leaf(char type) { return type == 'd' || type == 'f' || type == 'l'; }

bool plain_name(std::string_view s) {
  return !s.empty() && s != "." && s != ".." && s.find_first_of("/ \n") == std::string_view::npos;
}

Result<uint64_t> parse_number(std::string_view s, int base, uint64_t max) {
  if (s.empty() || s.size() > 12) return Error::invalid("bad number");
  uint64_t v = 0;
  for (char c : s) {
    int d = c - '0';
    if (d < 0 || d >= base) return Error::invalid("bad number");
    v = v * base + static_cast<uint64_t>(d);
  }
  if (v > max) return Error::invalid("bad number");
  return v;
}

}  // namespace

Result<MountLayer> MountLayer::parse(std::string_view text) {
  MountLayer layer;
  for (const auto& line : split(text, '\n')) {
    if (line.empty()) continue;
    auto bad = [&] { return Error::invalid("GPU mount layer manifest: bad line: " + line); };
    auto words = split(line, ' ');
    if (words.size() < 2 || words[0].size() != 1) return bad();
    Entry e{.type = words[0][0]};
    const std::string& path = words[1];
    if (path.empty() || path[0] != '/' || path == "/" || clean_path(path) != path) return bad();
    size_t want = e.type == 'l' ? 3 : e.type == 'p' ? 5 : 2;
    if (!is_leaf(e.type) && e.type != 'p' && e.type != 's') return bad();
    if (words.size() != want) return bad();
    if (e.type == 'l') {
      if (!plain_name(words[2])) return bad();
      e.target = words[2];
    }
    if (e.type == 'p') {
      auto mode = parse_number(words[2], 8, 07777);
      auto uid = parse_number(words[3], 10, 0xfffffffeu);
      auto gid = parse_number(words[4], 10, 0xfffffffeu);
      if (!mode || !uid || !gid) return bad();
      e.mode = static_cast<mode_t>(*mode);
      e.uid = static_cast<uid_t>(*uid);
      e.gid = static_cast<gid_t>(*gid);
    }
    if (!layer.entries_.emplace(path, e).second) return bad();
  }
  // Folders are folders: nothing lies inside a leaf or a symlink.
  for (const auto& [path, e] : layer.entries_)
    for (std::string dir = dirname_of(path); dir != "/"; dir = dirname_of(dir))
      if (auto it = layer.entries_.find(dir); it != layer.entries_.end() && it->second.type != 'p')
        return Error::invalid("GPU mount layer manifest: " + path + " lies inside " + dir);
  if (layer.manifest() != text) return Error::invalid("GPU mount layer manifest: not canonical");
  return layer;
}

bool MountLayer::empty() const {
  for (const auto& [path, e] : entries_)
    if (is_leaf(e.type)) return false;
  return true;
}

std::string MountLayer::manifest() const {
  std::string out;
  for (const auto& [path, e] : entries_) {
    out += e.type;
    out += ' ';
    out += path;
    if (e.type == 'l') out += " " + e.target;
    if (e.type == 'p') {
      char buf[64];
      std::snprintf(buf, sizeof buf, " %o %u %u", static_cast<unsigned>(e.mode), e.uid, e.gid);
      out += buf;
    }
    out += '\n';
  }
  return out;
}

std::string MountLayer::name() const {
  char name[17];
  std::snprintf(name, sizeof name, "%016zx", std::hash<std::string>{}(manifest()));
  return name;
}

namespace {

// Walks a folder path through the image rooted at root_fd, one component at a time, with
// its symlinks followed inside the root (a ".." never leaves it: the walked prefix has no
// symlink, so the lexical clean of a target is exact). Folders of the image on the way go
// into found as 'p' entries, symlinks as 's' entries. Returns the path with no symlink left
// and whether all of it exists.
struct Walked {
  std::string path;
  bool exists;
};

Result<Walked> walk(int root_fd, const std::string& dir, std::map<std::string, MountLayer::Entry>& found) {
  std::vector<std::string> todo = components(clean_path(dir));  // still to walk, next last
  std::reverse(todo.begin(), todo.end());
  std::string cur = "/";
  bool exists = true;
  int links = 0;
  while (!todo.empty()) {
    std::string name = todo.back();
    todo.pop_back();
    std::string next = path_join(cur, name);
    if (!exists) {
      cur = next;
      continue;
    }
    struct stat st;
    if (::fstatat(root_fd, next.c_str() + 1, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno != ENOENT) return sys_error("GPU mount layer: look up", next);
      exists = false;
      cur = next;
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      found[next] = MountLayer::Entry{.type = 'p', .mode = st.st_mode & 07777, .uid = st.st_uid,
                                      .gid = st.st_gid};
      cur = next;
      continue;
    }
    if (!S_ISLNK(st.st_mode)) return Error(ENOTDIR, "GPU mount layer: " + next + " is not a folder");
    if (++links > 40) return Error(ELOOP, "GPU mount layer: too many symlinks at " + next);
    char buf[4096];
    ssize_t n = ::readlinkat(root_fd, next.c_str() + 1, buf, sizeof buf - 1);
    if (n <= 0) return sys_error("GPU mount layer: readlink", next);
    found[next] = MountLayer::Entry{.type = 's'};
    std::string target(buf, static_cast<size_t>(n));
    std::string resolved = clean_path(target[0] == '/' ? target : cur + "/" + target);
    // Restart from the root with the target's components ahead of what was left.
    std::vector<std::string> parts = components(resolved);
    todo.insert(todo.end(), parts.rbegin(), parts.rend());
    cur = "/";
  }
  return Walked{cur, exists};
}

}  // namespace

bool MountLayer::transient(const Error& e) {
  switch (e.code()) {
    case EMFILE: case ENFILE: case ENOMEM: case EAGAIN: case EINTR: case EIO: case ENOSPC:
      return true;
    default:
      return false;
  }
}

Result<MountLayer> MountLayer::resolve(int root_fd) const {
  MountLayer out;
  std::map<std::string, Entry> found;
  for (const auto& [path, e] : entries_) {
    if (!is_leaf(e.type)) continue;
    Walked dir = TRY(walk(root_fd, dirname_of(path), found));
    std::string name = basename_of(path), at = path_join(dir.path, name);
    struct stat st;
    bool exists = dir.exists && ::fstatat(root_fd, at.c_str() + 1, &st, AT_SYMLINK_NOFOLLOW) == 0;
    // The image's own symlink at a link's path is replaced by the hook: the layer's goes over
    // it. Anything else the image has stays the image's.
    if (exists && !(e.type == 'l' && S_ISLNK(st.st_mode))) continue;
    if (auto it = out.entries_.find(at); it != out.entries_.end() && !(it->second == e))
      return Error::invalid("GPU mount layer: two entries meet at " + at);
    out.entries_[at] = e;
  }
  for (const auto& [path, e] : found)
    if (!out.entries_.emplace(path, e).second)
      return Error::invalid("GPU mount layer: an entry at the image's folder " + path);
  // Checked as parse() does (a space or newline in a name fails here): what the tree will
  // hold is what a plan can hold.
  auto checked = MountLayer::parse(out.manifest());
  if (!checked) return std::move(checked).error();
  return out;
}

Result<std::string> MountLayer::ensure(const std::string& dir) const {
  std::string text = manifest();
  std::string base = path_join(dir, name()), tree = path_join(base, "tree");
  auto reuse = [&]() -> Result<std::string> {
    auto have = read_file(path_join(base, "manifest"), 4u << 20);
    if (have && *have == text && is_directory(tree)) return tree;
    return std::string();  // another layer under the same name: go without
  };
  if (path_exists(base)) return reuse();
  TRY(mkdir_all(dir, 0755));
  TempDir tmp = TRY(TempDir::create(path_join(dir, ".tmp-")));
  std::string build = path_join(tmp.path(), "tree");
  // Modes are set explicitly: the umask has no say in what the container sees.
  auto folder = [&](const std::string& p, mode_t mode, uid_t uid, gid_t gid) -> Status {
    if (::mkdir(p.c_str(), 0700) < 0 && errno != EEXIST) return sys_error("mkdir", p);
    if ((uid != ::geteuid() || gid != ::getegid()) && ::lchown(p.c_str(), uid, gid) < 0)
      return sys_error("chown", p);
    if (::chmod(p.c_str(), mode) < 0) return sys_error("chmod", p);
    return ok();
  };
  TRY(folder(build, 0755, ::geteuid(), ::getegid()));
  for (const auto& [path, e] : entries_) {
    if (e.type == 's') continue;
    // Folders the image lacks, outermost first (the image's own come first in the sorted
    // entries, with its mode and owner).
    std::vector<std::string> parents;
    for (std::string d = dirname_of(path); d != "/"; d = dirname_of(d)) parents.push_back(d);
    for (auto it = parents.rbegin(); it != parents.rend(); ++it)
      if (!path_exists(build + *it)) TRY(folder(build + *it, 0755, ::geteuid(), ::getegid()));
    std::string p = build + path;
    if (e.type == 'p') {
      TRY(folder(p, e.mode, e.uid, e.gid));
    } else if (e.type == 'd') {
      TRY(folder(p, 0755, ::geteuid(), ::getegid()));
    } else if (e.type == 'f') {
      UniqueFd f(::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!f) return sys_error("create", p);
      if (::fchmod(f.get(), 0644) < 0) return sys_error("chmod", p);
    } else if (::symlink(e.target.c_str(), p.c_str()) < 0) {
      return sys_error("symlink", p);
    }
  }
  if (::chmod(tmp.path().c_str(), 0755) < 0) return sys_error("chmod", tmp.path());
  // The tree is only ever read: written once, no fsync (run-root state, rebuilt after a crash).
  TRY(write_file_atomic(path_join(tmp.path(), "manifest"), text, 0644, Durability::volatile_ok));
  if (::rename(tmp.path().c_str(), base.c_str()) < 0) {
    if (errno != EEXIST && errno != ENOTEMPTY) return sys_error("rename", base);
    return reuse();  // a concurrent start made it first
  }
  return tree;
}

bool MountLayer::fits(const std::string& dir) const {
  auto same_or_absent = [&](const std::string& path, char type) {
    struct stat st;
    if (::lstat((dir + path).c_str(), &st) < 0) return errno == ENOENT || errno == ENOTDIR;
    if (type == 's') return false;  // the container replaced (or removed) the image's symlink
    if (S_ISCHR(st.st_mode) && st.st_rdev == 0) return true;  // an overlay whiteout
    return type == 'd' || type == 'p' ? S_ISDIR(st.st_mode)
           : type == 'f'              ? S_ISREG(st.st_mode)
                                      : S_ISLNK(st.st_mode);
  };
  std::set<std::string> checked;  // each folder once
  for (const auto& [path, e] : entries_) {
    std::vector<std::string> parents;
    for (std::string d = dirname_of(path); d != "/"; d = dirname_of(d)) parents.push_back(d);
    // Outermost first, so a mismatch stops the walk before a lookup passes a symlink.
    for (auto it = parents.rbegin(); it != parents.rend(); ++it) {
      if (checked.count(*it)) continue;
      auto known = entries_.find(*it);
      if (!same_or_absent(*it, known != entries_.end() ? known->second.type : 'd')) return false;
      checked.insert(*it);
    }
    if (!checked.count(path) && !same_or_absent(path, e.type)) return false;
    checked.insert(path);
  }
  return true;
}

}  // namespace berth::gpu
