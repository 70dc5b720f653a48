#include "storage/test_util.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>

#include "base/file.h"

namespace berth::storage::testing {

namespace {

struct WriterFree {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
struct EntryFree {
  void operator()(struct archive_entry* e) const { archive_entry_free(e); }
};

la_ssize_t append_cb(struct archive*, void* out, const void* buf, size_t n) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(buf), n);
  return static_cast<la_ssize_t>(n);
}

void add_filter(struct archive* a, Compression c) {
  if (c == Compression::gzip) archive_write_add_filter_gzip(a);
  if (c == Compression::zstd) archive_write_add_filter_zstd(a);
}

void write_item(struct archive* a, const TarItem& it) {
  std::unique_ptr<struct archive_entry, EntryFree> e(archive_entry_new());
  archive_entry_set_pathname(e.get(), it.name.c_str());
  archive_entry_set_filetype(e.get(), it.hardlink.empty() ? it.type : S_IFREG);
  archive_entry_set_perm(e.get(), it.perm);
  archive_entry_set_uid(e.get(), it.uid);
  archive_entry_set_gid(e.get(), it.gid);
  archive_entry_set_mtime(e.get(), it.mtime, 0);
  if (!it.symlink.empty()) archive_entry_set_symlink(e.get(), it.symlink.c_str());
  if (!it.hardlink.empty()) archive_entry_set_hardlink(e.get(), it.hardlink.c_str());
  if (it.type == S_IFCHR || it.type == S_IFBLK) {
    archive_entry_set_rdevmajor(e.get(), it.major);
    archive_entry_set_rdevminor(e.get(), it.minor);
  }
  bool has_data = it.type == S_IFREG && it.hardlink.empty();
  archive_entry_set_size(e.get(), has_data ? static_cast<la_int64_t>(it.content.size()) : 0);
  for (const auto& [k, v] : it.xattrs)
    archive_entry_xattr_add_entry(e.get(), k.c_str(), v.data(), v.size());
  archive_write_header(a, e.get());
  if (has_data && !it.content.empty()) archive_write_data(a, it.content.data(), it.content.size());
}

}  // namespace

TarBuilder& TarBuilder::file(std::string name, std::string content, mode_t perm) {
  TarItem it;
  it.name = std::move(name);
  it.content = std::move(content);
  it.perm = perm;
  return add(std::move(it));
}

TarBuilder& TarBuilder::dir(std::string name, mode_t perm) {
  TarItem it;
  it.name = std::move(name);
  it.type = S_IFDIR;
  it.perm = perm;
  return add(std::move(it));
}

TarBuilder& TarBuilder::symlink(std::string name, std::string target) {
  TarItem it;
  it.name = std::move(name);
  it.type = S_IFLNK;
  it.perm = 0777;
  it.symlink = std::move(target);
  return add(std::move(it));
}

TarBuilder& TarBuilder::hardlink(std::string name, std::string target) {
  TarItem it;
  it.name = std::move(name);
  it.hardlink = std::move(target);
  return add(std::move(it));
}

TarBuilder& TarBuilder::fifo(std::string name, mode_t perm) {
  TarItem it;
  it.name = std::move(name);
  it.type = S_IFIFO;
  it.perm = perm;
  return add(std::move(it));
}

TarBuilder& TarBuilder::device(std::string name, mode_t type, unsigned major, unsigned minor,
                               mode_t perm) {
  TarItem it;
  it.name = std::move(name);
  it.type = type;
  it.major = major;
  it.minor = minor;
  it.perm = perm;
  return add(std::move(it));
}

TarBuilder& TarBuilder::add(TarItem item) {
  items_.push_back(std::move(item));
  return *this;
}

TarBuilder& TarBuilder::owner(int64_t uid, int64_t gid) {
  items_.back().uid = uid;
  items_.back().gid = gid;
  return *this;
}

TarBuilder& TarBuilder::xattr(std::string key, std::string value) {
  items_.back().xattrs.emplace_back(std::move(key), std::move(value));
  return *this;
}

TarBuilder& TarBuilder::mtime(int64_t t) {
  items_.back().mtime = t;
  return *this;
}

std::string TarBuilder::build(Compression c) const {
  std::string out;
  std::unique_ptr<struct archive, WriterFree> a(archive_write_new());
  archive_write_set_format_pax_restricted(a.get());
  add_filter(a.get(), c);
  archive_write_set_bytes_in_last_block(a.get(), 1);
  archive_write_open(a.get(), &out, nullptr, append_cb, nullptr);
  for (const auto& it : items_) write_item(a.get(), it);
  archive_write_close(a.get());
  return out;
}

std::string compress(std::string_view data, Compression c) {
  if (c == Compression::none || c == Compression::detect) return std::string(data);
  std::string out;
  std::unique_ptr<struct archive, WriterFree> a(archive_write_new());
  archive_write_set_format_raw(a.get());
  add_filter(a.get(), c);
  archive_write_set_bytes_in_last_block(a.get(), 1);
  archive_write_open(a.get(), &out, nullptr, append_cb, nullptr);
  std::unique_ptr<struct archive_entry, EntryFree> e(archive_entry_new());
  archive_entry_set_pathname(e.get(), "data");
  archive_entry_set_filetype(e.get(), S_IFREG);
  archive_entry_set_size(e.get(), static_cast<la_int64_t>(data.size()));
  archive_write_header(a.get(), e.get());
  archive_write_data(a.get(), data.data(), data.size());
  archive_write_close(a.get());
  return out;
}

Result<size_t> StringSource::read(void* buf, size_t n) {
  size_t k = std::min({n, chunk_, data_.size() - pos_});
  std::memcpy(buf, data_.data() + pos_, k);
  pos_ += k;
  return k;
}

namespace {

std::string octal(mode_t m) {
  char b[8];
  std::snprintf(b, sizeof b, "%04o", static_cast<unsigned>(m & 07777));
  return b;
}

std::string describe(const std::string& full, const struct stat& st, bool with_owner) {
  std::string owner =
      with_owner ? " " + std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid) : "";
  switch (st.st_mode & S_IFMT) {
    case S_IFDIR:
      return "d " + octal(st.st_mode) + owner;
    case S_IFLNK: {
      char t[4096];
      ssize_t n = ::readlink(full.c_str(), t, sizeof t);
      return "l -> " + std::string(t, n > 0 ? static_cast<size_t>(n) : 0);
    }
    case S_IFREG: {
      auto data = read_file(full, 1 << 20);
      return "f " + octal(st.st_mode) + owner + " " + data.value_or("<unreadable>");
    }
    case S_IFCHR:
    case S_IFBLK:
      return std::string(S_ISCHR(st.st_mode) ? "c " : "b ") + octal(st.st_mode) + owner + " " +
             std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev));
    case S_IFIFO:
      return "p " + octal(st.st_mode) + owner;
    default:
      return "?";
  }
}

void walk(const std::string& root, const std::string& rel, bool with_owner,
          std::map<std::string, std::string>* out, std::vector<std::string>* names) {
  std::string dir = rel.empty() ? root : root + "/" + rel;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    std::string r = rel.empty() ? n : rel + "/" + n;
    struct stat st;
    if (::lstat((root + "/" + r).c_str(), &st) < 0) continue;
    if (out) (*out)[r] = describe(root + "/" + r, st, with_owner);
    if (names) names->push_back(r);
    if (S_ISDIR(st.st_mode)) walk(root, r, with_owner, out, names);
  }
  ::closedir(d);
}

}  // namespace

std::map<std::string, std::string> snapshot(const std::string& dir, bool with_owner) {
  std::map<std::string, std::string> out;
  walk(dir, "", with_owner, &out, nullptr);
  return out;
}

std::vector<std::string> list_tree(const std::string& dir) {
  std::vector<std::string> names;
  walk(dir, "", false, nullptr, &names);
  return names;
}

Status enter_private_mount_ns() {
  if (::unshare(CLONE_NEWNS) < 0) return sys_error("unshare", "mount namespace");
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0)
    return sys_error("make mounts private", "/");
  return ok();
}

Status mount_overlay(const std::vector<std::string>& lowers, const std::string& target) {
  std::string data = "lowerdir=";
  for (size_t i = 0; i < lowers.size(); ++i) data += (i ? ":" : "") + lowers[i];
  if (::mount("overlay", target.c_str(), "overlay", MS_RDONLY, data.c_str()) < 0)
    return sys_error("mount overlay", target);
  return ok();
}

}  // namespace berth::storage::testing
