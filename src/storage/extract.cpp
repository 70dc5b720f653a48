#include "storage/extract.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <unordered_map>

#include "base/strings.h"
#include "storage/fs_util.h"
#include "sys/path_resolve.h"

namespace berth::storage {

namespace {

constexpr size_t kMaxShown = 200;
constexpr std::string_view kWhiteout = ".wh.";
constexpr std::string_view kWhiteoutMeta = ".wh..wh.";
constexpr std::string_view kOpaque = ".wh..wh..opq";
constexpr int64_t kMaxId = 0xfffffffe;

std::pair<std::string, std::string> split_parent(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return {"", path};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

// xattrs a tar may restore. overlay's own (trusted.overlay.*, user.overlay.*) never: a layer
// could otherwise plant redirects or opaque markers that overlayfs would act on.
bool xattr_allowed(std::string_view name, const UnpackOptions& o) {
  if (starts_with(name, "trusted.overlay.") || starts_with(name, "user.overlay.")) return false;
  if (starts_with(name, "user.")) return true;
  if (name == "security.capability") return true;
  if (starts_with(name, "trusted.")) return o.trusted_xattrs;
  return false;  // security.selinux and friends belong to the host's policy
}

// lsetxattr on dfd/name without following name: setxattrat (Linux 6.13) or /proc/self/fd.
int set_xattr_nofollow(int dfd, const std::string& name, const std::string& key,
                       const std::string& value) {
#if defined(__x86_64__) || defined(__aarch64__)
  struct {
    uint64_t value;
    uint32_t size;
    uint32_t flags;
  } args = {reinterpret_cast<uintptr_t>(value.data()), static_cast<uint32_t>(value.size()), 0};
  constexpr long kSetxattrat = 463;
  if (::syscall(kSetxattrat, dfd, name.c_str(), AT_SYMLINK_NOFOLLOW, key.c_str(), &args,
                sizeof args) == 0)
    return 0;
  if (errno != ENOSYS) return -1;
#endif
  std::string via_proc = sys::fd_path(dfd) + "/" + name;
  return ::lsetxattr(via_proc.c_str(), key.c_str(), value.data(), value.size(), 0);
}

// chmod of dfd/name without following it (fchmodat2, Linux 6.6); the node was just created
// by us, so the plain fchmodat fallback cannot be redirected either.
int chmod_nofollow(int dfd, const std::string& name, mode_t mode) {
  constexpr long kFchmodat2 = 452;
  if (::syscall(kFchmodat2, dfd, name.c_str(), mode, AT_SYMLINK_NOFOLLOW) == 0) return 0;
  if (errno != ENOSYS && errno != EOPNOTSUPP) return -1;
  return ::fchmodat(dfd, name.c_str(), mode, 0);
}

}  // namespace

Result<std::string> clean_entry_path(std::string_view raw) {
  std::vector<std::string_view> parts;
  for (size_t start = 0; start <= raw.size();) {
    size_t slash = raw.find('/', start);
    if (slash == std::string_view::npos) slash = raw.size();
    std::string_view part = raw.substr(start, slash - start);
    start = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (parts.empty()) return Error::invalid("path escapes the layer root");
      parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  std::string out;
  for (auto p : parts) {
    if (!out.empty()) out += '/';
    out += p;
  }
  return out;
}

std::string quote_entry_name(std::string_view raw) {
  std::string out = "\"";
  static const char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < raw.size() && i < kMaxShown; ++i) {
    unsigned char c = static_cast<unsigned char>(raw[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (raw.size() > kMaxShown) out += "...";
  return out + "\"";
}

Extractor::Extractor(int root_fd, const UnpackOptions& opts, std::string label)
    : root_(root_fd), opts_(opts), label_(std::move(label)) {}

Error Extractor::fail(int err, std::string_view what) const {
  return Error(err, label_ + ": entry " + current_ + ": " + std::string(what));
}

Error Extractor::fail(const Error& inner) const {
  return Error(inner.code(), label_ + ": entry " + current_ + ": " + inner.op(), inner.object());
}

Status Extractor::apply(const TarEntry& e, EntryData& data) {
  current_ = quote_entry_name(e.name);
  if (e.path.empty()) {  // "./": the layer root itself
    if (e.type != S_IFDIR) return fail(0, "a non-directory cannot replace the layer root");
    if (opts_.chown) TRY(set_owner_at(root_, ".", e));
    if (!e.xattrs.empty()) {
      auto fd = sys::open_in_root(root_, ".", O_RDONLY | O_DIRECTORY);
      if (!fd.ok()) return fail(fd.error().code(), "open the layer root");
      TRY(set_xattrs(fd->get(), root_, ".", e));
    }
    defer_dir(e);
    return ok();
  }
  auto [dir, base] = split_parent(e.path);
  if (starts_with(base, kWhiteout)) return apply_whiteout(dir, base);
  int pfd = TRY(parent(dir));
  if (!e.hardlink.empty()) return make_hardlink(pfd, base, e);
  switch (e.type) {
    case S_IFDIR:
      return make_dir(pfd, base, e);
    case S_IFREG:
      return make_file(pfd, base, e, data);
    case S_IFLNK:
      return make_symlink(pfd, base, e);
    case S_IFCHR:
    case S_IFBLK:
    case S_IFIFO:
      return make_node(pfd, base, e);
    default:
      return ok();  // sockets: nothing to restore
  }
}

// The directory dir (relative to the root) as an O_PATH fd, created (0755) when missing.
Result<int> Extractor::parent(const std::string& dir) {
  if (dir.empty()) return root_;
  if (cache_ok_ && cache_dir_ == dir) return cache_fd_.get();
  auto fd = sys::open_in_root(root_, dir, O_PATH | O_DIRECTORY);
  if (!fd.ok() && fd.error().code() == ENOENT) fd = make_parents(dir);
  if (!fd.ok()) return fail(fd.error().code(), "parent directory " + quote_entry_name(dir));
  cache_fd_ = std::move(fd).value();
  cache_dir_ = dir;
  cache_ok_ = true;
  return cache_fd_.get();
}

Result<UniqueFd> Extractor::make_parents(const std::string& dir) {
  UniqueFd cur;
  std::string prefix;
  for (const auto& part : split(dir, '/')) {
    prefix += prefix.empty() ? part : "/" + part;
    auto next = sys::open_in_root(root_, prefix, O_PATH | O_DIRECTORY);
    if (!next.ok() && next.error().code() == ENOENT) {
      int at = cur.valid() ? cur.get() : root_;
      if (::mkdirat(at, part.c_str(), 0755) < 0) return sys_error("mkdir");
      if (opts_.chown && (opts_.uid_offset != 0 || opts_.gid_offset != 0) &&
          ::fchownat(at, part.c_str(), opts_.uid_offset, opts_.gid_offset, AT_SYMLINK_NOFOLLOW) < 0)
        return sys_error("chown");
      next = sys::open_in_root(root_, prefix, O_PATH | O_DIRECTORY);
    }
    if (!next.ok()) return std::move(next).error();
    cur = std::move(next).value();
  }
  return cur;
}

// Removes whatever dfd/base is (a tar entry replaces what an earlier one made there).
Status Extractor::clear(int dfd, const std::string& base) {
  struct stat st;
  if (::fstatat(dfd, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT) return ok();
    return fail(errno, "stat existing");
  }
  if (S_ISDIR(st.st_mode)) {
    if (Status s = remove_tree_at(dfd, base); !s) return fail(s.error());
  } else if (::unlinkat(dfd, base.c_str(), 0) < 0) {
    return fail(errno, "replace existing");
  }
  // The cached parent may have been reached through the directory or symlink just removed
  // (also through a symlink elsewhere that pointed at it): resolve it afresh next time.
  if (S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode)) cache_ok_ = false;
  return ok();
}

Status Extractor::make_dir(int pfd, const std::string& base, const TarEntry& e) {
  if (::mkdirat(pfd, base.c_str(), 0700) < 0) {
    if (errno != EEXIST) return fail(errno, "mkdir");
    struct stat st;
    if (::fstatat(pfd, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) return fail(errno, "stat");
    if (!S_ISDIR(st.st_mode)) {
      TRY(clear(pfd, base));
      if (::mkdirat(pfd, base.c_str(), 0700) < 0) return fail(errno, "mkdir");
    }
  }
  if (opts_.chown) TRY(set_owner_at(pfd, base, e));
  if (!e.xattrs.empty()) {
    int fd = ::openat(pfd, base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return fail(errno, "open directory");
    UniqueFd guard(fd);
    TRY(set_xattrs(fd, pfd, base, e));
  }
  defer_dir(e);
  return ok();
}

Status Extractor::make_file(int pfd, const std::string& base, const TarEntry& e, EntryData& data) {
  constexpr int kFlags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  int fd = ::openat(pfd, base.c_str(), kFlags, 0600);
  if (fd < 0 && errno == EEXIST) {
    TRY(clear(pfd, base));
    fd = ::openat(pfd, base.c_str(), kFlags, 0600);
  }
  if (fd < 0) return fail(errno, "create");
  UniqueFd f(fd);
  TRY(write_content(fd, e, data));
  if (opts_.chown) {
    auto [uid, gid] = TRY(owner(e));
    if (::fchown(fd, uid, gid) < 0 && !(errno == EINVAL && opts_.squash_unmapped_owners))
      return fail(errno, "chown");
  }
  if (::fchmod(fd, e.perm) < 0) return fail(errno, "chmod");
  TRY(set_xattrs(fd, pfd, base, e));
  struct timespec times[2] = {e.atime, e.mtime};
  if (::futimens(fd, times) < 0) return fail(errno, "set times");
  content_bytes_ += static_cast<uint64_t>(std::max<int64_t>(e.size, 0));
  return ok();
}

Status Extractor::write_content(int fd, const TarEntry& e, EntryData& data) {
  int64_t end = 0;
  for (;;) {
    auto block = data.next();
    if (!block.ok()) return fail(block.error());
    if (block->end) break;
    if (block->offset < 0) return fail(EINVAL, "negative data offset");
    Status st = pwrite_all(fd, block->data, block->size, block->offset, "");
    if (!st) return fail(st.error().code(), "write");
    end = std::max<int64_t>(end, block->offset + static_cast<int64_t>(block->size));
  }
  // A sparse file's last hole, or a header that says more than the data held.
  if (e.size > end && ::ftruncate(fd, e.size) < 0) return fail(errno, "truncate");
  return ok();
}

Status Extractor::make_symlink(int pfd, const std::string& base, const TarEntry& e) {
  if (::symlinkat(e.symlink.c_str(), pfd, base.c_str()) < 0) {
    if (errno != EEXIST) return fail(errno, "symlink");
    TRY(clear(pfd, base));
    if (::symlinkat(e.symlink.c_str(), pfd, base.c_str()) < 0) return fail(errno, "symlink");
  }
  if (opts_.chown) TRY(set_owner_at(pfd, base, e));
  TRY(set_xattrs(-1, pfd, base, e));
  return set_times_at(pfd, base, e);
}

Status Extractor::make_node(int pfd, const std::string& base, const TarEntry& e) {
  dev_t dev = e.type == S_IFIFO ? 0 : e.rdev;
  if (::mknodat(pfd, base.c_str(), e.type | 0600, dev) < 0) {
    if (errno == EPERM && opts_.skip_devices && e.type != S_IFIFO) return ok();
    if (errno != EEXIST) return fail(errno, "mknod");
    TRY(clear(pfd, base));
    if (::mknodat(pfd, base.c_str(), e.type | 0600, dev) < 0) return fail(errno, "mknod");
  }
  if (opts_.chown) TRY(set_owner_at(pfd, base, e));
  if (chmod_nofollow(pfd, base, e.perm) < 0) return fail(errno, "chmod");
  TRY(set_xattrs(-1, pfd, base, e));
  return set_times_at(pfd, base, e);
}

Status Extractor::make_hardlink(int pfd, const std::string& base, const TarEntry& e) {
  auto [tdir, tbase] = split_parent(e.hardlink);
  auto tfd = sys::open_in_root(root_, tdir.empty() ? "." : tdir, O_PATH | O_DIRECTORY);
  if (!tfd.ok())
    return fail(tfd.error().code(), "hard link target " + quote_entry_name(e.hardlink));
  if (::linkat(tfd->get(), tbase.c_str(), pfd, base.c_str(), 0) < 0) {
    if (errno != EEXIST) return fail(errno, "hard link to " + quote_entry_name(e.hardlink));
    TRY(clear(pfd, base));
    if (::linkat(tfd->get(), tbase.c_str(), pfd, base.c_str(), 0) < 0)
      return fail(errno, "hard link to " + quote_entry_name(e.hardlink));
  }
  return ok();
}

Status Extractor::apply_whiteout(const std::string& dir, const std::string& base) {
  if (base == kOpaque) return set_opaque(dir);
  if (starts_with(base, kWhiteoutMeta)) return ok();  // aufs bookkeeping (.wh..wh.plnk)
  std::string name = base.substr(kWhiteout.size());
  if (name.empty() || name == "." || name == "..") return fail(0, "invalid whiteout name");
  int pfd = TRY(parent(dir));
  TRY(clear(pfd, name));
  if (::mknodat(pfd, name.c_str(), S_IFCHR, makedev(0, 0)) < 0) return fail(errno, "whiteout");
  return ok();
}

Status Extractor::set_opaque(const std::string& dir) {
  if (!dir.empty()) TRY(parent(dir));  // creates it when the tar did not
  auto fd = sys::open_in_root(root_, dir.empty() ? "." : dir, O_RDONLY | O_DIRECTORY);
  if (!fd.ok()) return fail(fd.error().code(), "open opaque directory");
  const char* key =
      opts_.opaque == OpaqueXattr::user ? "user.overlay.opaque" : "trusted.overlay.opaque";
  if (::fsetxattr(fd->get(), key, "y", 1, 0) < 0) return fail(errno, "set opaque directory");
  return ok();
}

Result<std::pair<uid_t, gid_t>> Extractor::owner(const TarEntry& e) const {
  int64_t uid = e.uid + opts_.uid_offset;
  int64_t gid = e.gid + opts_.gid_offset;
  if (e.uid < 0 || e.gid < 0 || uid > kMaxId || gid > kMaxId)
    return fail(0,
                "owner " + std::to_string(e.uid) + ":" + std::to_string(e.gid) + " out of range");
  return std::pair<uid_t, gid_t>(static_cast<uid_t>(uid), static_cast<gid_t>(gid));
}

Status Extractor::set_owner_at(int pfd, const std::string& base, const TarEntry& e) {
  auto [uid, gid] = TRY(owner(e));
  if (::fchownat(pfd, base.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) < 0 &&
      !(errno == EINVAL && opts_.squash_unmapped_owners))
    return fail(errno, "chown");
  return ok();
}

Status Extractor::set_xattrs(int fd, int pfd, const std::string& base, const TarEntry& e) {
  for (const auto& [key, value] : e.xattrs) {
    if (!xattr_allowed(key, opts_)) continue;
    int r = fd >= 0 ? ::fsetxattr(fd, key.c_str(), value.data(), value.size(), 0)
                    : set_xattr_nofollow(pfd, base, key, value);
    if (r == 0 || errno == ENOTSUP) continue;  // ENOTSUP: this filesystem cannot hold it
    if (errno == EPERM && opts_.best_effort_xattrs) continue;
    return fail(errno, "set xattr " + key);
  }
  return ok();
}

Status Extractor::set_times_at(int pfd, const std::string& base, const TarEntry& e) {
  struct timespec times[2] = {e.atime, e.mtime};
  if (::utimensat(pfd, base.c_str(), times, AT_SYMLINK_NOFOLLOW) < 0)
    return fail(errno, "set times");
  return ok();
}

void Extractor::defer_dir(const TarEntry& e) {
  dirs_.push_back({e.path, e.perm, {e.atime, e.mtime}});
}

Status Extractor::finish() {
  // The last entry for a directory wins; paths replaced or whited out since are skipped.
  std::unordered_map<std::string, size_t> last;
  for (size_t i = 0; i < dirs_.size(); ++i) last[dirs_[i].path] = i;
  for (size_t i = 0; i < dirs_.size(); ++i) {
    const DirMeta& d = dirs_[i];
    if (last[d.path] != i) continue;
    current_ = quote_entry_name(d.path.empty() ? "./" : d.path);
    auto fd = sys::open_in_root(root_, d.path.empty() ? "." : d.path,
                                O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (!fd.ok()) {
      int err = fd.error().code();
      if (err == ENOENT || err == ELOOP || err == ENOTDIR) continue;
      return fail(err, "open directory");
    }
    if (::fchmod(fd->get(), d.perm) < 0) return fail(errno, "chmod");
    if (::futimens(fd->get(), d.times) < 0) return fail(errno, "set times");
  }
  dirs_.clear();
  return ok();
}

}  // namespace berth::storage
