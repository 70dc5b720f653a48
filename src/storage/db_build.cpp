// db_build.cpp - what `berth build` keeps in the database: the step cache (a step's key ->
// the image it made, gone with the image) and the content hashes of context files.
#include <ctime>

#include "storage/db.h"
#include "storage/db_internal.h"

namespace berth::storage {

Result<std::vector<std::string>> Db::children(std::string_view image_id) {
  return strings("SELECT id FROM images WHERE parent = ? ORDER BY id", image_id);
}

Result<std::optional<std::string>> Db::build_cache_get(std::string_view key) {
  Stmt q = TRY(prepare("SELECT image_id FROM build_cache WHERE key = ?"));
  q.bind(1, key);
  int rc = q.step();
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  if (rc != SQLITE_ROW) return db_error("read the build cache");
  return std::optional<std::string>(q.text(0));
}

Status Db::build_cache_put(std::string_view key, std::string_view image_id) {
  Stmt s = TRY(prepare(
      "INSERT INTO build_cache(key, image_id, created) VALUES (?, ?, ?) "
      "ON CONFLICT(key) DO UPDATE SET image_id = excluded.image_id, created = excluded.created"));
  s.bind(1, key).bind(2, image_id).bind(3, static_cast<int64_t>(::time(nullptr)));
  if (s.step() != SQLITE_DONE) return db_error("write the build cache");
  return ok();
}

Result<std::vector<FileHash>> Db::file_hashes(const std::vector<std::string>& paths) {
  std::vector<FileHash> out;
  Stmt q = TRY(prepare(
      "SELECT path, dev, ino, size, mtime_ns, ctime_ns, hash FROM file_hashes WHERE path = ?"));
  for (const auto& p : paths) {
    q.reset();
    q.bind(1, p);
    int rc = q.step();
    if (rc == SQLITE_DONE) continue;
    if (rc != SQLITE_ROW) return db_error("read file hashes");
    out.push_back(FileHash{q.text(0), q.integer(1), q.integer(2), q.integer(3), q.integer(4),
                           q.integer(5), q.text(6)});
  }
  return out;
}

Status Db::put_file_hashes(const std::vector<FileHash>& hashes) {
  if (hashes.empty()) return ok();
  return in_transaction([&]() -> Status {
    Stmt s = TRY(prepare(
        "INSERT INTO file_hashes(path, dev, ino, size, mtime_ns, ctime_ns, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET dev = excluded.dev, "
        "ino = excluded.ino, size = excluded.size, mtime_ns = excluded.mtime_ns, "
        "ctime_ns = excluded.ctime_ns, hash = excluded.hash"));
    for (const auto& h : hashes) {
      s.reset();
      s.bind(1, h.path).bind(2, h.dev).bind(3, h.ino).bind(4, h.size);
      s.bind(5, h.mtime_ns).bind(6, h.ctime_ns).bind(7, h.hash);
      if (s.step() != SQLITE_DONE) return db_error("write file hashes");
    }
    return ok();
  });
}

Status Db::clear_file_hashes() {
  return exec("DELETE FROM file_hashes");
}

}  // namespace berth::storage
