// tree_tar.cpp - the tree walker and the tar sink (see tree_tar.h). The extract sink and the
// tar stream reader are in tree_extract.cpp.
#include "images/tree_tar.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <vector>

#include "base/strings.h"
#include "sys/path_resolve.h"

namespace berth::images::tree {

namespace {

constexpr size_t kChunk = size_t{1} << 20;
constexpr size_t kBlock = 512;
using Xattrs = std::vector<std::pair<std::string, std::string>>;

// xattrs a layer or a copy carries: user.* and trusted.* but never overlayfs' own (they
// would steer the overlay that mounts the layer), and security.capability; the host's
// security labels (security.selinux, ...) stay behind.
bool xattr_kept(std::string_view name) {
  if (starts_with(name, "trusted.overlay.") || starts_with(name, "user.overlay.")) return false;
  return starts_with(name, "user.") || starts_with(name, "trusted.") ||
         name == "security.capability";
}

Result<std::vector<std::string>> xattr_names(int fd) {
  std::string list(1024, '\0');
  for (;;) {
    ssize_t n = ::flistxattr(fd, list.data(), list.size());
    if (n >= 0) {
      list.resize(static_cast<size_t>(n));
      break;
    }
    if (errno == ENOTSUP) return std::vector<std::string>{};
    if (errno != ERANGE) return sys_error("list xattrs");
    list.resize(list.size() * 4);
  }
  std::vector<std::string> names;
  for (size_t i = 0; i < list.size();) {
    size_t end = list.find('\0', i);
    if (end == std::string::npos) end = list.size();
    if (end > i) names.emplace_back(list.substr(i, end - i));
    i = end + 1;
  }
  std::sort(names.begin(), names.end());
  return names;
}

Result<std::string> xattr_value(int fd, const std::string& name) {
  std::string v(256, '\0');
  for (;;) {
    ssize_t n = ::fgetxattr(fd, name.c_str(), v.data(), v.size());
    if (n >= 0) {
      v.resize(static_cast<size_t>(n));
      return v;
    }
    if (errno != ERANGE || v.size() > (size_t{1} << 20)) return sys_error("read xattr", name);
    v.resize(v.size() * 8);
  }
}

// A node of the tree: its stat, and an fd to read it (regular files, directories) or its
// target (symlinks).
struct Node {
  struct stat st = {};
  UniqueFd fd;
  std::string link;
};

Result<std::string> read_link(int dfd, const char* name) {
  std::string buf(256, '\0');
  for (;;) {
    ssize_t n = ::readlinkat(dfd, name, buf.data(), buf.size());
    if (n < 0) return sys_error("readlink");
    if (static_cast<size_t>(n) < buf.size()) {
      buf.resize(static_cast<size_t>(n));
      return buf;
    }
    buf.resize(buf.size() * 4);
  }
}

// Opens what the node needs; `how` opens it for reading given the flags.
template <class OpenFn>
Status open_node(Node& n, OpenFn how) {
  if (S_ISREG(n.st.st_mode)) {
    // O_NONBLOCK: a fifo swapped in since the stat must not hang the walk.
    n.fd = UniqueFd(how(O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!n.fd) return sys_error("open");
    struct stat now;
    if (::fstat(n.fd.get(), &now) < 0) return sys_error("stat");
    if (!S_ISREG(now.st_mode)) return Error(EAGAIN, "file changed type while being read");
    n.st = now;
  } else if (S_ISDIR(n.st.st_mode)) {
    n.fd = UniqueFd(how(O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!n.fd) return sys_error("open directory");
  }
  return ok();
}

Result<Node> open_child(int dfd, const std::string& name) {
  Node n;
  if (::fstatat(dfd, name.c_str(), &n.st, AT_SYMLINK_NOFOLLOW) < 0) return sys_error("stat");
  TRY(open_node(n, [&](int flags) { return ::openat(dfd, name.c_str(), flags); }));
  if (S_ISLNK(n.st.st_mode)) n.link = TRY(read_link(dfd, name.c_str()));
  return n;
}

// The top of a walk, given as an O_PATH fd (which may be a symlink itself).
Result<Node> open_top(int node_fd) {
  Node n;
  if (::fstat(node_fd, &n.st) < 0) return sys_error("stat");
  std::string self = sys::fd_path(node_fd);
  TRY(open_node(n, [&](int flags) {
    // Reopening our own fd through /proc names exactly this inode; NOFOLLOW would refuse
    // the magic link itself.
    return ::open(self.c_str(), flags & ~O_NOFOLLOW);
  }));
  if (S_ISLNK(n.st.st_mode)) n.link = TRY(read_link(node_fd, ""));
  return n;
}

// A regular file's content, read in 1 MiB blocks, never more than its size when stat'd.
class FdData : public EntryData {
 public:
  FdData(int fd, int64_t size) : fd_(fd), size_(size) {}
  Result<storage::DataBlock> next() override {
    storage::DataBlock b;
    if (fd_ < 0 || off_ >= size_) {
      b.end = true;
      return b;
    }
    if (buf_.empty()) buf_.resize(kChunk);
    size_t want = static_cast<size_t>(std::min<int64_t>(size_ - off_, kChunk));
    ssize_t n;
    do {
      n = ::read(fd_, buf_.data(), want);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return sys_error("read");
    if (n == 0) {  // the file shrank since its stat: the sink pads
      b.end = true;
      return b;
    }
    b.data = buf_.data();
    b.size = static_cast<size_t>(n);
    b.offset = off_;
    off_ += n;
    return b;
  }

 private:
  int fd_;
  int64_t size_;
  int64_t off_ = 0;
  std::string buf_;
};

class Walker {
 public:
  Walker(const WalkOptions& o, EntrySink& sink) : o_(o), sink_(sink) {}

  Status top(int node_fd, const std::string& out) {
    Node n = TRY(open_top(node_fd));
    if (out.empty()) {
      if (!S_ISDIR(n.st.st_mode)) return Error(ENOTDIR, "walk: the root is not a directory");
      return children(n.fd.get(), "", "");
    }
    return node(n, out, "", "");
  }

 private:
  Status children(int dfd, const std::string& out, const std::string& rel);
  Status node(Node& n, const std::string& out, const std::string& rel, const std::string& name);
  Status emit(const TarEntry& e, int fd);
  Result<bool> overlay_dir_is_opaque(int fd, const std::string& rel);
  TarEntry entry(const struct stat& st, const std::string& out);
  Result<Xattrs> xattrs(int fd, const std::string& rel);

  const WalkOptions& o_;
  EntrySink& sink_;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;
};

std::string child_name(const std::string& parent, const std::string& name) {
  return parent.empty() ? name : parent + "/" + name;
}

Result<std::vector<std::string>> list_names(int dfd) {
  int dup = ::openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dup < 0) return sys_error("open directory");
  DIR* d = ::fdopendir(dup);
  if (d == nullptr) {
    ::close(dup);
    return sys_error("open directory");
  }
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* de = ::readdir(d)) {
    if (std::strcmp(de->d_name, ".") != 0 && std::strcmp(de->d_name, "..") != 0)
      names.emplace_back(de->d_name);
    errno = 0;
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) return Error(err, "read directory");
  std::sort(names.begin(), names.end());
  return names;
}

Status Walker::children(int dfd, const std::string& out, const std::string& rel) {
  for (const auto& name : TRY(list_names(dfd))) {
    std::string child_rel = child_name(rel, name);
    if (!o_.exclude.empty() && o_.exclude.count(child_rel)) continue;
    auto n = open_child(dfd, name);
    if (!n.ok() && n.error().code() == ENOENT) continue;  // removed while we walked
    if (!n.ok()) return Error(n.error().code(), n.error().op(), child_rel);
    TRY(node(*n, child_name(out, name), child_rel, name));
  }
  return ok();
}

TarEntry Walker::entry(const struct stat& st, const std::string& out) {
  TarEntry e;
  e.name = out;
  e.path = storage::clean_entry_path(out).value_or(out);
  e.type = st.st_mode & S_IFMT;
  e.perm = st.st_mode & 07777;
  e.uid = st.st_uid >= o_.uid_shift ? st.st_uid - o_.uid_shift : st.st_uid;
  e.gid = st.st_gid >= o_.gid_shift ? st.st_gid - o_.gid_shift : st.st_gid;
  if (o_.owner) std::tie(e.uid, e.gid) = *o_.owner;
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) e.rdev = st.st_rdev;
  e.mtime = st.st_mtim;
  e.atime = st.st_mtim;
  e.size = S_ISREG(st.st_mode) ? st.st_size : 0;
  return e;
}

Result<Xattrs> Walker::xattrs(int fd, const std::string& rel) {
  Xattrs out;
  for (const auto& name : TRY(xattr_names(fd))) {
    bool overlay = o_.whiteouts == Whiteouts::overlay_to_oci;
    if (overlay && (name.ends_with(".overlay.redirect") || name.ends_with(".overlay.metacopy")))
      return Error::invalid("overlay " + name.substr(name.rfind('.') + 1) +
                                " cannot be expressed in a layer (mount the container with "
                                "redirect_dir=off,metacopy=off)",
                            rel);
    if (!xattr_kept(name)) continue;
    auto v = xattr_value(fd, name);
    if (!v.ok() && v.error().code() == ENODATA) continue;
    if (!v.ok()) return Error(v.error().code(), v.error().op(), rel);
    out.emplace_back(name, std::move(v).value());
  }
  return out;
}

Result<bool> Walker::overlay_dir_is_opaque(int fd, const std::string& rel) {
  for (const char* key : {"trusted.overlay.opaque", "user.overlay.opaque"}) {
    auto v = xattr_value(fd, key);
    if (v.ok()) {
      if (*v == "y") return true;
      continue;
    }
    int err = v.error().code();
    if (err != ENODATA && err != ENOTSUP && err != EPERM)
      return Error(err, "read opaque marker", rel);
  }
  return false;
}

Status Walker::emit(const TarEntry& e, int fd) {
  FdData data(fd, e.size);
  return sink_.add(e, data);
}

Status Walker::node(Node& n, const std::string& out, const std::string& rel,
                    const std::string& name) {
  const struct stat& st = n.st;
  if (S_ISSOCK(st.st_mode)) return ok();  // a tar cannot hold a socket (docker skips them)
  bool overlay = o_.whiteouts == Whiteouts::overlay_to_oci;
  TarEntry e = entry(st, out);
  if (overlay && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0) && !name.empty()) {
    // Checked before hard links: overlayfs links its whiteouts to one shared inode.
    std::string parent = out.size() > name.size() ? out.substr(0, out.size() - name.size()) : "";
    e.name = parent + ".wh." + name;
    e.path = storage::clean_entry_path(e.name).value_or(e.name);
    e.type = S_IFREG;
    e.rdev = 0;
    return emit(e, -1);
  }
  if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
    auto [it, fresh] = links_.try_emplace({st.st_dev, st.st_ino}, e.path);
    if (!fresh) {
      e.hardlink = it->second;
      e.size = 0;
      return emit(e, -1);
    }
  }
  if (S_ISLNK(st.st_mode)) e.symlink = n.link;
  if (n.fd) e.xattrs = TRY(xattrs(n.fd.get(), rel.empty() ? out : rel));
  TRY(emit(e, S_ISREG(st.st_mode) ? n.fd.get() : -1));
  if (!S_ISDIR(st.st_mode)) return ok();
  if (overlay && TRY(overlay_dir_is_opaque(n.fd.get(), rel))) {
    TarEntry opq = entry(st, child_name(out, ".wh..wh..opq"));
    opq.type = S_IFREG;
    opq.perm = 0;
    TRY(emit(opq, -1));
  }
  return children(n.fd.get(), out, rel);
}

// --- tar headers ---

// An octal field of `width` bytes: width-1 digits and a NUL. False when v does not fit.
bool put_octal(char* field, size_t width, uint64_t v) {
  if (width < 2 || (width - 1 < 22 && v >= (uint64_t{1} << (3 * (width - 1))))) return false;
  for (size_t i = width - 1; i-- > 0;) {
    field[i] = static_cast<char>('0' + (v & 7));
    v >>= 3;
  }
  field[width - 1] = '\0';
  return true;
}

void add_record(std::string& pax, std::string_view key, std::string_view value) {
  size_t body = key.size() + value.size() + 3;  // ' ', '=', '\n'
  size_t len = body + 1;
  while (std::to_string(len).size() + body != len) len = std::to_string(len).size() + body;
  pax += std::to_string(len);
  pax += ' ';
  pax += key;
  pax += '=';
  pax += value;
  pax += '\n';
}

char type_flag(const TarEntry& e) {
  if (!e.hardlink.empty()) return '1';
  switch (e.type) {
    case S_IFLNK:
      return '2';
    case S_IFCHR:
      return '3';
    case S_IFBLK:
      return '4';
    case S_IFDIR:
      return '5';
    case S_IFIFO:
      return '6';
    default:
      return '0';
  }
}

// ustar's name + prefix for a name, when it fits.
bool split_name(const std::string& name, std::string& prefix, std::string& base) {
  if (name.size() <= 100) {
    prefix.clear();
    base = name;
    return true;
  }
  for (size_t i = std::min<size_t>(name.size() - 1, 155); i > 0; --i) {
    if (name[i] == '/' && name.size() - i - 1 <= 100 && name.size() - i - 1 > 0) {
      prefix = name.substr(0, i);
      base = name.substr(i + 1);
      return true;
    }
  }
  return false;
}

struct Header {
  char b[kBlock] = {};

  void text(size_t off, size_t width, std::string_view s) {
    if (!s.empty()) std::memcpy(b + off, s.data(), std::min(width, s.size()));
  }
  void checksum() {
    std::memset(b + 148, ' ', 8);
    unsigned sum = 0;
    for (unsigned char c : b) sum += c;
    put_octal(b + 148, 7, sum);  // six digits, NUL, then the space already there
  }
};

Header make_header(std::string_view name, char flag, const TarEntry& e, uint64_t size,
                   std::string_view link, std::string& pax) {
  Header h;
  std::string prefix, base;
  if (!split_name(std::string(name), prefix, base)) {
    add_record(pax, "path", name);
    base = std::string(name.substr(0, 100));
    prefix.clear();
  }
  h.text(0, 100, base);
  put_octal(h.b + 100, 8, e.perm & 07777);
  if (!put_octal(h.b + 108, 8, static_cast<uint64_t>(e.uid))) {
    add_record(pax, "uid", std::to_string(e.uid));
    put_octal(h.b + 108, 8, 0);
  }
  if (!put_octal(h.b + 116, 8, static_cast<uint64_t>(e.gid))) {
    add_record(pax, "gid", std::to_string(e.gid));
    put_octal(h.b + 116, 8, 0);
  }
  if (!put_octal(h.b + 124, 12, size)) {
    add_record(pax, "size", std::to_string(size));
    put_octal(h.b + 124, 12, 0);
  }
  int64_t mtime = e.mtime.tv_sec;
  if (mtime < 0 || !put_octal(h.b + 136, 12, static_cast<uint64_t>(mtime))) {
    add_record(pax, "mtime", std::to_string(mtime));
    put_octal(h.b + 136, 12, 0);
  }
  h.b[156] = flag;
  if (link.size() > 100) add_record(pax, "linkpath", link);
  h.text(157, 100, link);
  h.text(257, 6, std::string_view("ustar\0", 6));
  h.text(263, 2, "00");
  if (flag == '3' || flag == '4') {
    put_octal(h.b + 329, 8, major(e.rdev));
    put_octal(h.b + 337, 8, minor(e.rdev));
  }
  h.text(345, 155, prefix);
  return h;
}

}  // namespace

Status walk(int node_fd, const std::string& out_name, const WalkOptions& opts, EntrySink& sink) {
  Walker w(opts, sink);
  return w.top(node_fd, out_name);
}

// --- TarSink ---

TarSink::TarSink(ByteSink& out) : out_(out) {
  buf_.reserve(kChunk + kBlock * 4);
}

Status TarSink::flush() {
  if (buf_.empty()) return ok();
  TRY(out_.write(buf_));
  buf_.clear();
  return ok();
}

Status TarSink::put(const void* p, size_t n) {
  bytes_ += n;
  if (n >= kChunk / 4) {  // big blocks of file data go out as they are
    TRY(flush());
    return out_.write(std::string_view(static_cast<const char*>(p), n));
  }
  buf_.append(static_cast<const char*>(p), n);
  if (buf_.size() >= kChunk) return flush();
  return ok();
}

Status TarSink::zeros(size_t n) {
  static const char kZero[kBlock * 8] = {};
  while (n > 0) {
    size_t k = std::min(n, sizeof kZero);
    TRY(put(kZero, k));
    n -= k;
  }
  return ok();
}

Status TarSink::header(const TarEntry& e) {
  char flag = type_flag(e);
  std::string name = e.name;
  if (flag == '5' && !name.ends_with('/')) name += '/';
  uint64_t size = flag == '0' ? static_cast<uint64_t>(std::max<int64_t>(e.size, 0)) : 0;
  std::string_view link = flag == '1'   ? std::string_view(e.hardlink)
                          : flag == '2' ? std::string_view(e.symlink)
                                        : std::string_view();
  std::string pax;
  Header h = make_header(name, flag, e, size, link, pax);
  for (const auto& [k, v] : e.xattrs) add_record(pax, "SCHILY.xattr." + k, v);
  if (!pax.empty()) {
    std::string base = name;
    while (base.ends_with('/')) base.pop_back();
    base = base.substr(base.rfind('/') + 1);
    TarEntry pe;
    pe.perm = 0644;
    pe.mtime = e.mtime;
    std::string unused;
    Header ph = make_header("PaxHeaders.0/" + base.substr(0, 80), 'x', pe, pax.size(), "", unused);
    ph.checksum();
    TRY(put(ph.b, kBlock));
    TRY(put(pax.data(), pax.size()));
    TRY(zeros((kBlock - pax.size() % kBlock) % kBlock));
  }
  h.checksum();
  return put(h.b, kBlock);
}

Status TarSink::content(const TarEntry& e, EntryData& data) {
  uint64_t size = static_cast<uint64_t>(std::max<int64_t>(e.size, 0));
  uint64_t written = 0;
  for (;;) {
    storage::DataBlock b = TRY(data.next());
    if (b.end) break;
    if (b.offset < 0) return Error::invalid("negative data offset");
    uint64_t off = static_cast<uint64_t>(b.offset);
    if (off >= size) continue;  // grew since its stat: the header said less
    if (off > written) {        // a hole
      TRY(zeros(off - written));
      written = off;
    }
    if (off < written) continue;  // overlapping blocks: not from any reader we use
    size_t n = static_cast<size_t>(std::min<uint64_t>(b.size, size - written));
    TRY(put(b.data, n));
    written += n;
  }
  TRY(zeros(size - written));  // shrank since its stat, or a final hole
  return zeros((kBlock - size % kBlock) % kBlock);
}

Status TarSink::add(const TarEntry& e, EntryData& data) {
  TRY(header(e));
  ++entries_;
  if (type_flag(e) == '0') return content(e, data);
  return ok();
}

Status TarSink::finish() {
  TRY(zeros(kBlock * 2));
  return flush();
}

// --- FdSink ---

Status FdSink::write(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_error("write tar");
    data.remove_prefix(static_cast<size_t>(n));
  }
  return ok();
}

}  // namespace berth::images::tree
