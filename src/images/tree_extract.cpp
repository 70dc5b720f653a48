// tree_extract.cpp - entries into a tree (ExtractSink) and tar streams into entries
// (read_tar); see tree_tar.h.
#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <memory>
#include <optional>
#include <tuple>

#include "base/strings.h"
#include "images/archive_tar.h"
#include "images/tree_tar.h"

namespace berth::images::tree {

namespace {

std::string join_rel(const std::string& prefix, const std::string& path) {
  if (prefix.empty()) return path;
  if (path.empty()) return prefix;
  return prefix + "/" + path;
}

bool is_whiteout_name(const std::string& path) {
  return starts_with(path.substr(path.rfind('/') + 1), ".wh.");
}

}  // namespace

ExtractSink::ExtractSink(int root_fd, ExtractOptions opts)
    : opts_(std::move(opts)), ex_(root_fd, opts_.unpack, opts_.label) {
  opts_.prefix = storage::clean_entry_path(opts_.prefix).value_or("");
}

std::string ExtractSink::rebase(const std::string& path) const {
  return join_rel(opts_.prefix, path);
}

Status ExtractSink::add(const TarEntry& e, EntryData& data) {
  if (e.path.empty() && opts_.skip_prefix_itself) return ok();
  if (is_whiteout_name(e.path)) {
    ++skipped_;
    return ok();
  }
  TarEntry r = e;
  r.path = rebase(e.path);
  if (!e.hardlink.empty()) r.hardlink = rebase(e.hardlink);
  if (opts_.owner) std::tie(r.uid, r.gid) = *opts_.owner;
  return ex_.apply(r, data);
}

Status ExtractSink::finish() {
  return ex_.finish();
}

// --- read_tar ---

namespace {

struct Feed {
  ByteSource* src;
  std::string buf;
  std::optional<Error> error;

  static la_ssize_t read(struct archive*, void* self, const void** out) {
    auto* f = static_cast<Feed*>(self);
    if (f->buf.empty()) f->buf.resize(size_t{1} << 20);
    auto n = f->src->read(f->buf.data(), f->buf.size());
    if (!n.ok()) {
      f->error = std::move(n).error();
      return -1;
    }
    *out = f->buf.data();
    return static_cast<la_ssize_t>(*n);
  }
};

struct ArchiveFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};

Error failure(struct archive* a, const Feed& f, const std::string& label, std::string_view what) {
  if (f.error) return Error(f.error->code(), label + ": " + f.error->op(), f.error->object());
  const char* msg = archive_error_string(a);
  return Error::invalid(label + ": " + std::string(what) + (msg ? ": " + std::string(msg) : ""));
}

class ArchiveData : public EntryData {
 public:
  ArchiveData(struct archive* a, const Feed& f, const std::string& label)
      : a_(a), f_(f), label_(label) {}
  Result<storage::DataBlock> next() override {
    storage::DataBlock b;
    la_int64_t off = 0;
    int r = archive_read_data_block(a_, &b.data, &b.size, &off);
    if (r == ARCHIVE_EOF) {
      b.end = true;
      return b;
    }
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) return failure(a_, f_, label_, "corrupt tar data");
    b.offset = off;
    return b;
  }

 private:
  struct archive* a_;
  const Feed& f_;
  const std::string& label_;
};

Result<TarEntry> to_entry(struct archive_entry* ae, const std::string& label) {
  TarEntry e;
  const char* name = archive_entry_pathname(ae);
  if (name == nullptr) return Error::invalid(label + ": an entry has no readable name");
  e.name = name;
  auto bad = [&](std::string_view what) {
    return Error::invalid(label + ": entry " + storage::quote_entry_name(e.name) + ": " +
                          std::string(what));
  };
  auto path = storage::clean_entry_path(e.name);
  if (!path.ok()) return bad("path escapes the destination");
  e.path = std::move(path).value();
  e.type = archive_entry_filetype(ae);
  e.perm = archive_entry_perm(ae) & 07777;
  e.uid = archive_entry_uid(ae);
  e.gid = archive_entry_gid(ae);
  e.rdev = archive_entry_rdev(ae);
  e.size = archive_entry_size(ae);
  e.mtime = {archive_entry_mtime(ae), archive_entry_mtime_nsec(ae)};
  e.atime = e.mtime;
  if (const char* l = archive_entry_symlink(ae)) e.symlink = l;
  if (const char* h = archive_entry_hardlink(ae)) {
    auto target = storage::clean_entry_path(h);
    if (!target.ok() || target->empty()) return bad("hard link target escapes the destination");
    e.hardlink = std::move(target).value();
  }
  if (archive_entry_xattr_reset(ae) > 0) {
    const char* k;
    const void* v;
    size_t n;
    while (archive_entry_xattr_next(ae, &k, &v, &n) == ARCHIVE_OK)
      if (k != nullptr) e.xattrs.emplace_back(k, std::string(static_cast<const char*>(v), n));
  }
  return e;
}

}  // namespace

Status read_tar(ByteSource& src, EntrySink& sink, const std::string& label) {
  auto plain = TRY(tar::open_decompressed(src));
  Feed feed{plain.get(), {}, {}};
  std::unique_ptr<struct archive, ArchiveFree> a(archive_read_new());
  if (!a) return Error(ENOMEM, label + ": start tar reader");
  archive_read_support_format_tar(a.get());
  archive_read_support_format_empty(a.get());
  if (archive_read_open(a.get(), &feed, nullptr, &Feed::read, nullptr) != ARCHIVE_OK)
    return failure(a.get(), feed, label, "not a tar archive");
  for (;;) {
    struct archive_entry* ae = nullptr;
    int r = archive_read_next_header(a.get(), &ae);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) return failure(a.get(), feed, label, "corrupt tar");
    TarEntry e = TRY(to_entry(ae, label));
    ArchiveData data(a.get(), feed, label);
    TRY(sink.add(e, data));
  }
  return sink.finish();
}

}  // namespace berth::images::tree
