// mount_layer.cpp - see mount_layer.h.
#include "gpu/mount_layer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <functional>

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

}  // namespace

MountLayer MountLayer::of(const ContainerEdits& edits,
                          const std::function<bool(const std::string&)>& is_dir) {
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
    add(m.container_path, Entry{is_dir(m.host_path) ? 'd' : 'f', ""});
  }
  for (const auto& h : edits.hooks) {
    if (h.args.size() < 2 || h.args[1] != "gpu-hook") continue;
    auto req = parse_hook_args({h.args.begin() + 2, h.args.end()});
    if (!req) continue;  // the hook reports it when it runs
    for (const auto& [link, target] : req->links) add(link, Entry{'l', target});
  }
  // An entry inside another (a mount point under a mounted file or folder) is left to the
  // runtime: the layer holds leaves only.
  for (const auto& [path, e] : layer.entries_)
    for (std::string dir = dirname_of(path); dir != "/"; dir = dirname_of(dir))
      if (layer.entries_.count(dir)) conflict = true;
  if (conflict) layer.entries_.clear();
  return layer;
}

Result<MountLayer> MountLayer::parse(std::string_view text) {
  MountLayer layer;
  for (const auto& line : split(text, '\n')) {
    if (line.empty()) continue;
    auto bad = [&] { return Error::invalid("GPU mount layer manifest: bad line: " + line); };
    if (line.size() < 4 || line[1] != ' ' || line[2] != '/') return bad();
    char type = line[0];
    std::string rest = line.substr(2), target;
    if (type == 'l') {
      auto sp = rest.find(' ');
      if (sp == std::string::npos) return bad();
      target = rest.substr(sp + 1);
      rest = rest.substr(0, sp);
      if (target.empty() || target.find('/') != std::string::npos || target == "." || target == "..")
        return bad();
    } else if (type != 'd' && type != 'f') {
      return bad();
    }
    if (rest.find(' ') != std::string::npos || clean_path(rest) != rest || rest == "/") return bad();
    layer.entries_[rest] = Entry{type, target};
  }
  if (layer.manifest() != text) return Error::invalid("GPU mount layer manifest: not canonical");
  return layer;
}

std::string MountLayer::manifest() const {
  std::string out;
  for (const auto& [path, e] : entries_) {
    out += e.type;
    out += ' ';
    out += path;
    if (e.type == 'l') out += " " + e.target;
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

// A folder's path inside the root, with the root's symlinks followed, and whether it exists.
struct Resolved {
  std::string path;
  bool exists;
};

Result<std::string> fd_target(int fd) {
  char buf[4096];
  ssize_t n = ::readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), buf, sizeof buf - 1);
  if (n <= 0) return sys_error("readlink", "/proc/self/fd/" + std::to_string(fd));
  return std::string(buf, static_cast<size_t>(n));
}

Result<Resolved> resolve_dir(int root_fd, const std::string& root_real, const std::string& dir,
                             int depth = 0) {
  if (depth > 40) return Error(ELOOP, "GPU mount layer: too many symlinks resolving " + dir);
  auto fd = sys::open_in_root(root_fd, dir, O_PATH | O_DIRECTORY);
  if (fd) {
    std::string real = TRY(fd_target(fd->get()));
    if (real == root_real) return Resolved{"/", true};
    if (!starts_with(real, root_real + "/"))
      return Error::invalid("GPU mount layer: " + dir + " resolves outside the root");
    return Resolved{real.substr(root_real.size()), true};
  }
  if (fd.error().code() != ENOENT || dir == "/") return std::move(fd).error();
  Resolved parent = TRY(resolve_dir(root_fd, root_real, dirname_of(dir), depth + 1));
  std::string name = basename_of(dir);
  if (parent.exists) {
    // Missing because it is not there, or a symlink to what is not there yet (a merged-/usr
    // image without /usr/lib: /lib -> usr/lib): then its target, which the runtime reaches
    // once an earlier mount has made the folder.
    UniqueFd pfd = TRY(sys::open_in_root(root_fd, parent.path, O_PATH | O_DIRECTORY));
    struct stat st;
    if (::fstatat(pfd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      if (!S_ISLNK(st.st_mode)) return Error(ENOTDIR, "GPU mount layer: " + dir + " is not a folder");
      char buf[4096];
      ssize_t n = ::readlinkat(pfd.get(), name.c_str(), buf, sizeof buf - 1);
      if (n <= 0) return sys_error("readlink", dir);
      std::string target(buf, static_cast<size_t>(n));
      std::string next = clean_path(target[0] == '/' ? target : parent.path + "/" + target);
      return resolve_dir(root_fd, root_real, next, depth + 1);
    }
  }
  return Resolved{path_join(parent.path, name), false};
}

}  // namespace

Result<MountLayer> MountLayer::resolve(int root_fd) const {
  std::string root_real = TRY(fd_target(root_fd));
  MountLayer out;
  for (const auto& [path, e] : entries_) {
    Resolved dir = TRY(resolve_dir(root_fd, root_real, dirname_of(path)));
    std::string name = basename_of(path);
    struct stat st;
    bool exists = false;
    if (dir.exists) {
      UniqueFd dfd = TRY(sys::open_in_root(root_fd, dir.path, O_PATH | O_DIRECTORY));
      exists = ::fstatat(dfd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
    }
    // The image's own symlink at a link's path is replaced by the hook: the layer's goes over
    // it. Anything else the image has stays the image's.
    if (exists && !(e.type == 'l' && S_ISLNK(st.st_mode))) continue;
    std::string at = path_join(dir.path, name);
    if (out.entries_.count(at) && !(out.entries_[at] == e))
      return Error::invalid("GPU mount layer: two entries meet at " + at);
    out.entries_[at] = e;
  }
  for (const auto& [path, e] : out.entries_)
    for (std::string dir = dirname_of(path); dir != "/"; dir = dirname_of(dir))
      if (out.entries_.count(dir)) return Error::invalid("GPU mount layer: an entry inside " + dir);
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
  if (::mkdir(build.c_str(), 0755) < 0) return sys_error("mkdir", build);
  for (const auto& [path, e] : entries_) {
    std::vector<std::string> parents;
    for (std::string dir = dirname_of(path); dir != "/"; dir = dirname_of(dir)) parents.push_back(dir);
    for (auto it = parents.rbegin(); it != parents.rend(); ++it)
      if (::mkdir((build + *it).c_str(), 0755) < 0 && errno != EEXIST) return sys_error("mkdir", build + *it);
    std::string p = build + path;
    if (e.type == 'd') {
      if (::mkdir(p.c_str(), 0755) < 0) return sys_error("mkdir", p);
    } else if (e.type == 'f') {
      UniqueFd f(::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
      if (!f) return sys_error("create", p);
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
    if (S_ISCHR(st.st_mode) && st.st_rdev == 0) return true;  // an overlay whiteout
    return type == 'd' ? S_ISDIR(st.st_mode) : type == 'f' ? S_ISREG(st.st_mode) : S_ISLNK(st.st_mode);
  };
  for (const auto& [path, e] : entries_) {
    std::vector<std::string> parents;
    for (std::string d = dirname_of(path); d != "/"; d = dirname_of(d)) parents.push_back(d);
    // Outermost first, so a mismatch stops the walk before a lookup passes a symlink.
    for (auto it = parents.rbegin(); it != parents.rend(); ++it)
      if (!same_or_absent(*it, 'd')) return false;
    if (!same_or_absent(path, e.type)) return false;
  }
  return true;
}

}  // namespace berth::gpu
