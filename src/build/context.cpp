// context.cpp - the build context: sources expanded with .dockerignore, content digests with
// a stat-keyed hash cache (see context.h).
#include "build/context.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>

#include "base/file.h"
#include "storage/decompress.h"
#include "storage/sha256.h"
#include "sys/path_resolve.h"

namespace berth::build {
namespace {

// A context path in messages and patterns: cleaned, relative, "." for the root.
std::string rel_clean(std::string_view p) {
  std::string c = clean_path(p);
  while (c.rfind("../", 0) == 0) c = c.substr(3);  // ".." cannot leave the context
  if (c == "..") c = ".";
  if (!c.empty() && c[0] == '/') c = c.size() == 1 ? "." : c.substr(1);
  return c;
}

std::string join_rel(const std::string& dir, const std::string& name) {
  return dir == "." || dir.empty() ? name : dir + "/" + name;
}

// The names in a directory, sorted (stable digests and copy order).
Result<std::vector<std::string>> dir_names(int dfd) {
  int fd = ::openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return sys_error("open directory");
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    return sys_error("read directory");
  }
  std::vector<std::string> out;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(std::move(n));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

// Every path under dir (relative to the context) that the ignore rules keep, depth first.
Status walk_rel(const BuildContext& ctx, int dfd, const std::string& rel,
                std::vector<std::pair<std::string, struct stat>>& out, int depth) {
  if (depth > 256) return Error::invalid("the build context is nested too deeply", rel);
  for (const auto& name : TRY(dir_names(dfd))) {
    std::string child = join_rel(rel, name);
    struct stat st;
    if (::fstatat(dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      return sys_error("stat", child);
    bool skip = ctx.excluded(child);
    if (!skip) out.emplace_back(child, st);
    if (S_ISDIR(st.st_mode) && (!skip || ctx.ignore().may_include_under(child))) {
      int sub = ::openat(dfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0) return sys_error("open", child);
      UniqueFd subfd(sub);
      TRY(walk_rel(ctx, sub, child, out, depth + 1));
    }
  }
  return ok();
}

Result<std::string> hash_fd(int fd, const std::string& name) {
  storage::Sha256 sha;
  std::string buf(1 << 20, '\0');
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error("read", name);
    }
    if (n == 0) break;
    sha.update(buf.data(), static_cast<size_t>(n));
  }
  return sha.digest();
}

int64_t ns(const struct timespec& t) {
  return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

}  // namespace

bool looks_like_archive(std::string_view h) {
  if (storage::detect_compression(h) != storage::Compression::none) return true;
  if (h.substr(0, 3) == "BZh" || h.substr(0, 6) == std::string_view("\xfd" "7zXZ\0", 6)) return true;
  return h.size() >= 262 && h.substr(257, 5) == "ustar";
}

Result<BuildContext> BuildContext::open(const std::string& dir, const std::string& dockerfile_rel) {
  BuildContext c;
  c.dir_ = dir;
  c.fd_ = TRY(open_fd(dir, O_PATH | O_DIRECTORY | O_CLOEXEC));
  c.dockerfile_rel_ = dockerfile_rel.empty() ? std::string() : rel_clean(dockerfile_rel);
  std::string ignore_path = path_join(dir, ".dockerignore");
  if (path_exists(ignore_path)) {
    std::string text = TRY(read_file(ignore_path, 16u << 20));
    c.ignore_ = TRY(IgnoreMatcher::parse(text));
  }
  return c;
}

bool BuildContext::excluded(const std::string& rel) const {
  if (rel == "." || rel.empty()) return false;
  // docker sends the Dockerfile and .dockerignore whatever the patterns say; COPY of them
  // is still refused when excluded, but the builder itself reads them.
  return ignore_.excluded(rel);
}

Result<std::vector<std::string>> BuildContext::expand(const std::vector<std::string>& patterns) const {
  if (patterns.empty()) return Error::invalid("no source files were specified");
  std::vector<std::string> out;
  std::vector<std::pair<std::string, struct stat>> all;
  bool walked = false;
  for (const auto& raw : patterns) {
    std::string p = rel_clean(raw);
    if (!has_glob(p)) {
      auto fd = sys::open_in_root(fd_.get(), p, O_PATH | O_CLOEXEC);
      if (!fd || excluded(p))
        return Error(ENOENT, "file not found in build context or excluded by .dockerignore: stat " +
                                 p + ": file does not exist");
      out.push_back(p);
      continue;
    }
    if (!walked) {
      TRY(walk_rel(*this, fd_.get(), ".", all, 0));
      walked = true;
    }
    size_t before = out.size();
    for (const auto& [rel, st] : all) {
      auto m = path_match(p, rel);
      if (!m) return Error::invalid("invalid source pattern '" + raw + "': " + m.error().message());
      if (*m) out.push_back(rel);
    }
    if (out.size() == before)
      return Error(ENOENT, "lstat " + p + ": no source files were specified (the pattern matches "
                           "nothing in the build context, or only excluded files)");
  }
  return out;
}

Result<std::string> BuildContext::content_digest(const std::vector<std::string>& paths,
                                                 storage::Db& db) const {
  // Every entry under every path, in copy order: (relative name, stat). A source given as a
  // symlink is followed (its target is what COPY copies); symlinks below it are not.
  std::vector<std::pair<std::string, struct stat>> items;
  for (const auto& p : paths) {
    UniqueFd node = TRY(sys::open_in_root(fd_.get(), p, O_PATH | O_CLOEXEC));
    struct stat st;
    if (::fstat(node.get(), &st) != 0) return sys_error("stat", p);
    items.emplace_back(p, st);
    if (!S_ISDIR(st.st_mode)) continue;
    int dfd = ::openat(node.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return sys_error("open", p);
    UniqueFd dir(dfd);
    TRY(walk_rel(*this, dfd, p, items, 0));
  }
  // Cached content hashes of the regular files, by absolute path.
  std::vector<std::string> abs;
  for (const auto& [rel, st] : items)
    if (S_ISREG(st.st_mode)) abs.push_back(path_join(dir_, rel));
  std::map<std::string, storage::FileHash> cached;
  for (auto& h : TRY(db.file_hashes(abs))) cached.emplace(h.path, std::move(h));
  std::vector<storage::FileHash> fresh;
  storage::Sha256 total;
  for (const auto& [rel, st] : items) {
    std::string line = rel + '\0' + std::to_string(st.st_mode) + '\0';
    if (S_ISREG(st.st_mode)) {
      std::string path = path_join(dir_, rel);
      storage::FileHash h{path, static_cast<int64_t>(st.st_dev), static_cast<int64_t>(st.st_ino),
                          st.st_size, ns(st.st_mtim), ns(st.st_ctim), ""};
      auto c = cached.find(path);
      if (c != cached.end() && c->second.dev == h.dev && c->second.ino == h.ino &&
          c->second.size == h.size && c->second.mtime_ns == h.mtime_ns &&
          c->second.ctime_ns == h.ctime_ns) {
        h.hash = c->second.hash;
      } else {
        UniqueFd f = TRY(sys::open_in_root(fd_.get(), rel, O_RDONLY | O_CLOEXEC));
        h.hash = TRY(hash_fd(f.get(), rel));
        fresh.push_back(h);
      }
      line += h.hash;
    } else if (S_ISLNK(st.st_mode)) {
      std::string parent = rel.find('/') == std::string::npos ? "." : rel.substr(0, rel.rfind('/'));
      UniqueFd pfd = TRY(sys::open_in_root(fd_.get(), parent, O_PATH | O_DIRECTORY | O_CLOEXEC));
      char target[4096];
      ssize_t n = ::readlinkat(pfd.get(), rel.substr(rel.rfind('/') + 1).c_str(), target, sizeof target);
      if (n > 0) line.append(target, static_cast<size_t>(n));
    }
    line += '\n';
    total.update(line);
  }
  TRY(db.put_file_hashes(fresh));
  return total.digest();
}

}  // namespace berth::build
