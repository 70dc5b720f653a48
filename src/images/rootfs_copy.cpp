// rootfs_copy.cpp - export and cp (see rootfs_copy.h).
#include "images/rootfs_copy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/file.h"
#include "base/strings.h"
#include "images/tree_tar.h"
#include "storage/unpack.h"
#include "sys/path_resolve.h"

namespace berth::images {

namespace {

// A path as the user typed it, split into what docker's rules look at.
struct PathArg {
  std::string clean;   // absolute, lexically clean ("/" for the root)
  bool slash = false;  // ends in "/" (or "/.")
  bool dot = false;    // ends in "/." : the directory's content, not the directory
  std::string base() const { return clean == "/" ? "." : basename_of(clean); }
  std::string parent() const { return dirname_of(clean); }
};

PathArg parse_path(const std::string& p) {
  PathArg a;
  a.dot = p == "." || p.ends_with("/.");
  a.slash = a.dot || p.ends_with('/');
  a.clean = clean_path(p.starts_with('/') ? p : "/" + p);
  return a;
}

// A path inside the rootfs relative to its root ("" for the root), for the extractor.
std::string rel(const std::string& clean) {
  return clean == "/" ? "" : clean.substr(1);
}

// docker's message; no errno, so the line reads as docker's does.
Error not_found(const std::string& path, const CopyOptions& o) {
  std::string in = o.container_name.empty() ? "container" : "container " + o.container_name;
  return Error::invalid("Could not find the file " + path + " in " + in);
}

// A host path made absolute (relative to the working directory) and clean.
std::string host_abs(const std::string& p) {
  if (p.starts_with('/')) return clean_path(p);
  char cwd[4096];
  if (::getcwd(cwd, sizeof cwd) == nullptr) return clean_path(p);
  return clean_path(std::string(cwd) + "/" + p);
}

Result<UniqueFd> open_rootfs(const std::string& rootfs) {
  int fd = ::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return sys_error("open container rootfs", rootfs);
  return UniqueFd(fd);
}

Result<struct stat> stat_fd(int fd, const std::string& what) {
  struct stat st;
  if (::fstat(fd, &st) < 0) return sys_error("stat", what);
  return st;
}

// Where the entries of a copy go, decided by docker's rules from the destination's state.
struct Target {
  std::string dir;   // the directory that receives them
  std::string name;  // the top entry's name in it ("." : the content goes into dir itself)
};

// exists/is_dir: the destination's state; src_dir: the source is a directory.
Result<Target> decide(const PathArg& src, const PathArg& dst, bool exists, bool is_dir,
                      bool src_dir, const std::string& dst_text) {
  if (exists && is_dir) return Target{dst.clean, src.dot && src_dir ? "." : src.base()};
  if (exists) {
    if (src_dir) return Error::invalid("cannot copy a directory to a file: " + dst_text);
    if (dst.slash) return Error(ENOTDIR, "copy to", dst_text);
    return Target{dst.parent(), dst.base()};
  }
  if (dst.slash && !src_dir)
    return Error::invalid("the destination directory " + dst_text + " must exist");
  return Target{dst.parent(), dst.base()};
}

Status check_source_kind(const PathArg& src, bool is_dir, const std::string& text) {
  if (src.slash && !is_dir) return Error(ENOTDIR, "copy", text);
  return ok();
}

Status copy_out_tar(int src_fd, const PathArg& src, int out_fd, const tree::WalkOptions& wo) {
  tree::FdSink fd_sink(out_fd);
  tree::TarSink tar(fd_sink);
  TRY(tree::walk(src_fd, src.dot ? "." : src.base(), wo, tar));
  return tar.finish();
}

Status copy_out_host(int src_fd, const PathArg& src, bool src_dir, const std::string& host,
                     const CopyOptions& o, const tree::WalkOptions& wo) {
  PathArg dst = parse_path(host);
  dst.clean = host_abs(host);
  struct stat st;
  bool exists = ::stat(dst.clean.c_str(), &st) == 0;
  if (!exists && errno != ENOENT) return sys_error("stat", host);
  Target t = TRY(decide(src, dst, exists, exists && S_ISDIR(st.st_mode), src_dir, host));
  int dfd = ::open(t.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return sys_error("open destination directory", t.dir);
  UniqueFd dir(dfd);
  tree::ExtractOptions eo;
  eo.unpack = storage::UnpackOptions::for_current_user();
  eo.unpack.chown = o.archive && ::geteuid() == 0;  // else: owned by the calling user
  eo.label = "copy to " + host;
  tree::ExtractSink sink(dir.get(), eo);
  TRY(tree::walk(src_fd, t.name, wo, sink));
  return sink.finish();
}

storage::UnpackOptions into_container(const CopyOptions& o) {
  storage::UnpackOptions u = storage::UnpackOptions::for_current_user();
  u.uid_offset = o.uid_offset;
  u.gid_offset = o.gid_offset;
  return u;
}

}  // namespace

Status copy_out(const std::string& rootfs, const std::string& container_path, const CopyDest& dest,
                const CopyOptions& opts) {
  UniqueFd root = TRY(open_rootfs(rootfs));
  PathArg src = parse_path(container_path);
  int nofollow = opts.follow_link || src.slash ? 0 : O_NOFOLLOW;
  auto node = sys::open_in_root(root.get(), src.clean, O_PATH | nofollow);
  if (!node.ok()) {
    int err = node.error().code();
    if (err == ENOENT || err == ENOTDIR) return not_found(container_path, opts);
    return std::move(node).error().context("copy from container");
  }
  struct stat st = TRY(stat_fd(node->get(), container_path));
  TRY(check_source_kind(src, S_ISDIR(st.st_mode), container_path));
  tree::WalkOptions wo;
  wo.uid_shift = opts.uid_offset;
  wo.gid_shift = opts.gid_offset;
  if (dest.tar_fd >= 0) return copy_out_tar(node->get(), src, dest.tar_fd, wo);
  return copy_out_host(node->get(), src, S_ISDIR(st.st_mode), dest.host_path, opts, wo);
}

namespace {

// The container destination: whether it exists (resolved in root) and is a directory; a
// missing one needs its parent.
Status probe_dest(int root, const PathArg& dst, const std::string& text, const CopyOptions& o,
                  bool& exists, bool& is_dir) {
  auto fd = sys::open_in_root(root, dst.clean, O_PATH);
  if (fd.ok()) {
    struct stat st = TRY(stat_fd(fd->get(), text));
    exists = true;
    is_dir = S_ISDIR(st.st_mode);
    return ok();
  }
  if (fd.error().code() != ENOENT) return std::move(fd).error().context("copy to container");
  exists = is_dir = false;
  auto parent = sys::open_in_root(root, dst.parent(), O_PATH | O_DIRECTORY);
  if (!parent.ok()) return not_found(dst.parent(), o);
  return ok();
}

}  // namespace

Status copy_in(const std::string& rootfs, const CopySource& src, const std::string& container_path,
               const CopyOptions& opts) {
  UniqueFd root = TRY(open_rootfs(rootfs));
  PathArg dst = parse_path(container_path);
  bool exists = false, is_dir = false;
  TRY(probe_dest(root.get(), dst, container_path, opts, exists, is_dir));
  tree::ExtractOptions eo;
  eo.unpack = into_container(opts);
  eo.label = "copy to " + container_path;
  if (!opts.archive) eo.owner = std::pair<int64_t, int64_t>(0, 0);

  if (src.tar != nullptr) {
    if (!exists || !is_dir)
      return Error::invalid("destination \"" + container_path + "\" must be a directory");
    eo.prefix = rel(dst.clean);
    tree::ExtractSink sink(root.get(), eo);
    return tree::read_tar(*src.tar, sink, eo.label);
  }
  PathArg from = parse_path(src.host_path);
  from.clean = host_abs(src.host_path);
  int nofollow = opts.follow_link || from.slash ? 0 : O_NOFOLLOW;
  int sfd = ::open(from.clean.c_str(), O_PATH | nofollow | O_CLOEXEC);
  if (sfd < 0) return sys_error("copy: stat", src.host_path);
  UniqueFd node(sfd);
  struct stat st = TRY(stat_fd(node.get(), src.host_path));
  TRY(check_source_kind(from, S_ISDIR(st.st_mode), src.host_path));
  Target t = TRY(decide(from, dst, exists, is_dir, S_ISDIR(st.st_mode), container_path));
  eo.prefix = rel(t.dir);
  tree::ExtractSink sink(root.get(), eo);
  TRY(tree::walk(node.get(), t.name, tree::WalkOptions{}, sink));
  return sink.finish();
}

Status export_rootfs(const std::string& rootfs_dir, int out_fd, const ExportOptions& opts) {
  UniqueFd root = TRY(open_rootfs(rootfs_dir));
  tree::WalkOptions wo;
  wo.uid_shift = opts.uid_offset;
  wo.gid_shift = opts.gid_offset;
  tree::FdSink fd_sink(out_fd);
  tree::TarSink tar(fd_sink);
  Status st = tree::walk(root.get(), "", wo, tar);
  if (!st) return std::move(st).error().context("export " + rootfs_dir);
  return tar.finish();
}

}  // namespace berth::images
