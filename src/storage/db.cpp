#include "storage/db.h"

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <utility>

#include "storage/db_internal.h"
#include "storage/db_schema.h"

namespace berth::storage {

namespace {

int64_t now_unix() {
  return static_cast<int64_t>(::time(nullptr));
}

}  // namespace

Result<Db> Db::open(const std::string& path, int busy_timeout_ms) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Db db(raw);  // owns raw even when the open failed
  if (rc != SQLITE_OK)
    return Error::invalid("open database " + path + ": " +
                          (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  sqlite3_extended_result_codes(raw, 1);
  // Switching a new database to WAL takes an exclusive lock and SQLite does not wait for
  // it through the busy handler: two berths opening a fresh store at once would see
  // "database is locked". Retry within the busy timeout.
  for (int waited_ms = 0;; waited_ms += 10) {
    Status s = db.exec("PRAGMA journal_mode=WAL");
    if (s) break;
    if (waited_ms >= busy_timeout_ms || (sqlite3_errcode(raw) & 0xff) != SQLITE_BUSY)
      return std::move(s).error().context("open " + path);
    ::usleep(10000);
  }
  for (const char* pragma : {"PRAGMA foreign_keys=ON", "PRAGMA synchronous=NORMAL"}) {
    if (Status s = db.exec(pragma); !s) return std::move(s).error().context("open " + path);
  }
  if (Status s = db.migrate(); !s) return std::move(s).error().context("open " + path);
  return db;
}

Db::Db(Db&& o) noexcept : db_(std::exchange(o.db_, nullptr)) {}

Db& Db::operator=(Db&& o) noexcept {
  if (this != &o) {
    sqlite3_close_v2(db_);
    db_ = std::exchange(o.db_, nullptr);
  }
  return *this;
}

Db::~Db() {
  sqlite3_close_v2(db_);
}

Error Db::db_error(std::string_view what) const {
  return Error::invalid("database: " + std::string(what) + ": " + sqlite3_errmsg(db_));
}

Status Db::exec(const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) == SQLITE_OK) return ok();
  std::string m = msg ? msg : sqlite3_errmsg(db_);
  sqlite3_free(msg);
  std::string shown(sql, std::string_view(sql).find_first_of("(\n") == std::string_view::npos
                             ? std::string_view(sql).size()
                             : std::string_view(sql).find_first_of("(\n"));
  return Error::invalid("database: " + shown + ": " + m);
}

Result<Db::Stmt> Db::prepare(const char* sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db_, sql, -1, &s, nullptr) != SQLITE_OK) return db_error("prepare");
  return Stmt(s);
}

Status Db::migrate() {
  return in_transaction([&]() -> Status {
    TRY(exec("CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)"));
    Stmt q = TRY(prepare("SELECT version FROM schema_version"));
    int have = q.step() == SQLITE_ROW ? static_cast<int>(q.integer(0)) : -1;
    int latest = static_cast<int>(kMigrations.size());
    if (have > latest)
      return Error::invalid("database schema version " + std::to_string(have) +
                            " is newer than this berth knows (" + std::to_string(latest) +
                            "): use a newer berth");
    if (have < 0) TRY(exec("INSERT INTO schema_version(version) VALUES (0)"));
    for (int v = std::max(have, 0); v < latest; ++v) {
      TRY(exec(kMigrations[static_cast<size_t>(v)]));
      Stmt u = TRY(prepare("UPDATE schema_version SET version = ?"));
      u.bind(1, int64_t{v + 1});
      if (u.step() != SQLITE_DONE) return db_error("set schema version");
    }
    return ok();
  });
}

Result<int> Db::schema_version() {
  Stmt q = TRY(prepare("SELECT version FROM schema_version"));
  if (q.step() != SQLITE_ROW) return db_error("read schema version");
  return static_cast<int>(q.integer(0));
}

Status Db::put_layers(const std::vector<LayerRecord>& layers) {
  Stmt ins = TRY(
      prepare("INSERT INTO layers(chain_id, diff_id, parent, size, created) VALUES (?, ?, ?, ?, ?) "
              "ON CONFLICT(chain_id) DO NOTHING"));
  for (const auto& l : layers) {
    ins.reset();
    ins.bind(1, l.chain_id).bind(2, l.diff_id).bind_null_if_empty(3, l.parent);
    ins.bind(4, l.size).bind(5, now_unix());
    if (ins.step() != SQLITE_DONE) return db_error("add layer " + l.chain_id);
  }
  return ok();
}

Status Db::put_tag(std::string_view name, std::string_view image_id) {
  if (name.empty() || name.find_first_of("\n\r\t ") != std::string_view::npos)
    return Error::invalid("invalid tag \"" + std::string(name.substr(0, 200)) + "\"");
  Stmt t = TRY(prepare(
      "INSERT INTO tags(name, image_id, created) VALUES (?, ?, ?) "
      "ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id, created = excluded.created"));
  t.bind(1, name).bind(2, image_id).bind(3, now_unix());
  if (t.step() != SQLITE_DONE) return db_error("tag " + std::string(name));
  return ok();
}

Status Db::put_image(const ImageRecord& image, const std::vector<LayerRecord>& layers,
                     const std::vector<std::string>& tags) {
  int64_t size = image.size;
  if (size == 0)
    for (const auto& l : layers) size += l.size;
  return in_transaction([&]() -> Status {
    TRY(put_layers(layers));
    Stmt img = TRY(
        prepare("INSERT INTO images(id, config, created, added, size, manifest_digest, "
                "manifest_media_type, parent) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE "
                "SET config = excluded.config, created = excluded.created, size = excluded.size, "
                "manifest_digest = excluded.manifest_digest, "
                "manifest_media_type = excluded.manifest_media_type, "
                "parent = CASE WHEN excluded.parent = '' THEN images.parent ELSE excluded.parent END"));
    img.bind(1, image.id).bind(2, image.config).bind(3, image.created).bind(4, now_unix());
    img.bind(5, size).bind(6, image.manifest_digest).bind(7, image.manifest_media_type);
    img.bind(8, image.parent);
    if (img.step() != SQLITE_DONE) return db_error("add image " + image.id);
    Stmt del = TRY(prepare("DELETE FROM image_layers WHERE image_id = ?"));
    del.bind(1, image.id);
    if (del.step() != SQLITE_DONE) return db_error("add image " + image.id);
    for (size_t i = 0; i < layers.size(); ++i) {
      const auto& l = layers[i];
      Stmt il = TRY(prepare(
          "INSERT INTO image_layers(image_id, idx, chain_id, diff_id, digest, compressed_size, "
          "media_type) VALUES (?, ?, ?, ?, ?, ?, ?)"));
      il.bind(1, image.id).bind(2, static_cast<int64_t>(i)).bind(3, l.chain_id).bind(4, l.diff_id);
      il.bind(5, l.digest).bind(6, l.compressed_size).bind(7, l.media_type);
      if (il.step() != SQLITE_DONE) return db_error("add layer of image " + image.id);
    }
    for (const auto& name : image.repo_digests) {
      Stmt rd =
          TRY(prepare("INSERT INTO repo_digests(name, image_id) VALUES (?, ?) "
                      "ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id"));
      rd.bind(1, name).bind(2, image.id);
      if (rd.step() != SQLITE_DONE) return db_error("add repo digest " + name);
    }
    for (const auto& t : tags) TRY(put_tag(t, image.id));
    return ok();
  });
}

Result<std::vector<std::string>> Db::strings(const char* sql, std::string_view arg) {
  Stmt q = TRY(prepare(sql));
  q.bind(1, arg);
  std::vector<std::string> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) out.push_back(q.text(0));
  if (rc != SQLITE_DONE) return db_error("query");
  return out;
}

Status Db::load_names(ImageRecord& r) {
  r.tags = TRY(strings("SELECT name FROM tags WHERE image_id = ? ORDER BY name", r.id));
  r.repo_digests =
      TRY(strings("SELECT name FROM repo_digests WHERE image_id = ? ORDER BY name", r.id));
  return ok();
}

constexpr const char* kImageColumns =
    "SELECT id, config, created, added, size, manifest_digest, manifest_media_type, parent "
    "FROM images ";

Result<ImageRecord> Db::load_image(Stmt& row) {
  ImageRecord r;
  r.id = row.text(0);
  r.config = row.text(1);
  r.created = row.integer(2);
  r.added = row.integer(3);
  r.size = row.integer(4);
  r.manifest_digest = row.text(5);
  r.manifest_media_type = row.text(6);
  r.parent = row.text(7);
  TRY(load_names(r));
  return r;
}

// The image that a name in `table` (tags or repo_digests) points at.
Result<std::optional<ImageRecord>> Db::find_by_name(const char* table, std::string_view name) {
  Stmt q = TRY(prepare((std::string(kImageColumns) + "WHERE id = (SELECT image_id FROM " + table +
                        " WHERE name = ?)")
                           .c_str()));
  q.bind(1, name);
  int rc = q.step();
  if (rc == SQLITE_DONE) return std::optional<ImageRecord>();
  if (rc != SQLITE_ROW) return db_error("find image " + std::string(name));
  return std::optional<ImageRecord>(TRY(load_image(q)));
}

Result<std::optional<ImageRecord>> Db::find_by_tag(std::string_view name) {
  return find_by_name("tags", name);
}

Result<std::optional<ImageRecord>> Db::find_by_repo_digest(std::string_view name) {
  return find_by_name("repo_digests", name);
}

Result<std::optional<ImageRecord>> Db::find_by_id(std::string_view id) {
  std::string prefix(id.substr(0, 7) == "sha256:" ? id : "sha256:" + std::string(id));
  bool hex = prefix.size() > 7 && prefix.size() <= 71;
  for (char c : std::string_view(prefix).substr(7))
    hex = hex && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (!hex) return std::optional<ImageRecord>();  // cannot be an id: no match
  Stmt q = TRY(prepare(
      (std::string(kImageColumns) + "WHERE substr(id, 1, ?) = ? ORDER BY id LIMIT 2").c_str()));
  q.bind(1, static_cast<int64_t>(prefix.size())).bind(2, prefix);
  int rc = q.step();
  if (rc == SQLITE_DONE) return std::optional<ImageRecord>();
  if (rc != SQLITE_ROW) return db_error("find image " + prefix);
  ImageRecord r = TRY(load_image(q));
  if (q.step() == SQLITE_ROW)
    return Error::invalid("image id prefix " + std::string(id) + " is ambiguous");
  return std::optional<ImageRecord>(std::move(r));
}

Result<std::vector<ImageRecord>> Db::list() {
  Stmt q = TRY(prepare((std::string(kImageColumns) + "ORDER BY created DESC, id").c_str()));
  std::vector<ImageRecord> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) out.push_back(TRY(load_image(q)));
  if (rc != SQLITE_DONE) return db_error("list images");
  return out;
}

Result<std::vector<LayerRecord>> Db::image_layers(std::string_view image_id) {
  Stmt q = TRY(
      prepare("SELECT il.chain_id, il.diff_id, l.parent, l.size, il.digest, il.compressed_size, "
              "il.media_type FROM image_layers il JOIN layers l ON l.chain_id = il.chain_id "
              "WHERE il.image_id = ? ORDER BY il.idx"));
  q.bind(1, image_id);
  std::vector<LayerRecord> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW)
    out.push_back(
        {q.text(0), q.text(1), q.text(2), q.integer(3), q.text(4), q.integer(5), q.text(6)});
  if (rc != SQLITE_DONE) return db_error("list layers of " + std::string(image_id));
  return out;
}

Status Db::tag(std::string_view name, std::string_view image_id) {
  return in_transaction([&]() -> Status {
    auto exists = TRY(strings("SELECT id FROM images WHERE id = ?", image_id));
    if (exists.empty()) return Error::invalid("no such image: " + std::string(image_id));
    return put_tag(name, image_id);
  });
}

Result<bool> Db::add_repo_digest(std::string_view name, std::string_view image_id) {
  return in_transaction([&]() -> Result<bool> {
    auto exists = TRY(strings("SELECT id FROM images WHERE id = ?", image_id));
    if (exists.empty()) return false;
    Stmt rd =
        TRY(prepare("INSERT INTO repo_digests(name, image_id) VALUES (?, ?) "
                    "ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id"));
    rd.bind(1, name).bind(2, image_id);
    if (rd.step() != SQLITE_DONE) return db_error("add repo digest " + std::string(name));
    return true;
  });
}

Result<std::optional<std::string>> Db::untag(std::string_view name) {
  return in_transaction([&]() -> Result<std::optional<std::string>> {
    auto ids = TRY(strings("SELECT image_id FROM tags WHERE name = ?", name));
    if (ids.empty()) return std::optional<std::string>();
    Stmt d = TRY(prepare("DELETE FROM tags WHERE name = ?"));
    d.bind(1, name);
    if (d.step() != SQLITE_DONE) return db_error("untag " + std::string(name));
    return std::optional<std::string>(ids.front());
  });
}

Result<std::optional<std::string>> Db::remove_repo_digest(std::string_view name) {
  return in_transaction([&]() -> Result<std::optional<std::string>> {
    auto ids = TRY(strings("SELECT image_id FROM repo_digests WHERE name = ?", name));
    if (ids.empty()) return std::optional<std::string>();
    Stmt d = TRY(prepare("DELETE FROM repo_digests WHERE name = ?"));
    d.bind(1, name);
    if (d.step() != SQLITE_DONE) return db_error("remove repo digest " + std::string(name));
    return std::optional<std::string>(ids.front());
  });
}

Result<int64_t> Db::last_tag_time(std::string_view image_id) {
  Stmt q = TRY(prepare("SELECT COALESCE(MAX(created), 0) FROM tags WHERE image_id = ?"));
  q.bind(1, image_id);
  if (q.step() != SQLITE_ROW) return db_error("tag time of " + std::string(image_id));
  return q.integer(0);
}

// Blobs an image brings: its config, its manifest, its layers' compressed blobs.
Result<std::vector<std::string>> Db::blobs_of(std::string_view image_id) {
  auto out =
      TRY(strings("SELECT id FROM images WHERE id = ?1 UNION SELECT manifest_digest FROM images "
                  "WHERE id = ?1 AND manifest_digest != '' UNION SELECT digest FROM image_layers "
                  "WHERE image_id = ?1 AND digest != ''",
                  image_id));
  return out;
}

Result<RemoveResult> Db::remove_image(std::string_view image_id) {
  return in_transaction([&]() -> Result<RemoveResult> {
    if (TRY(strings("SELECT id FROM images WHERE id = ?", image_id)).empty())
      return Error::invalid("no such image: " + std::string(image_id));
    RemoveResult r;
    r.untagged = TRY(strings("SELECT name FROM tags WHERE image_id = ? ORDER BY name", image_id));
    auto blobs = TRY(blobs_of(image_id));
    Stmt d = TRY(prepare("DELETE FROM images WHERE id = ?"));  // cascades to the rest
    d.bind(1, image_id);
    if (d.step() != SQLITE_DONE) return db_error("remove image " + std::string(image_id));
    r.unreferenced_layers =
        TRY(strings("SELECT chain_id FROM layers WHERE chain_id NOT IN "
                    "(SELECT chain_id FROM image_layers) ORDER BY chain_id",
                    image_id));
    TRY(exec("DELETE FROM layers WHERE chain_id NOT IN (SELECT chain_id FROM image_layers)"));
    for (auto& b : blobs) {
      auto users =
          TRY(strings("SELECT id FROM images WHERE id = ?1 OR manifest_digest = ?1 UNION "
                      "SELECT image_id FROM image_layers WHERE digest = ?1",
                      b));
      if (users.empty()) r.unreferenced_blobs.push_back(b);
    }
    return r;
  });
}

Result<std::vector<LayerRecord>> Db::layers() {
  Stmt q = TRY(prepare("SELECT chain_id, diff_id, parent, size FROM layers ORDER BY chain_id"));
  std::vector<LayerRecord> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    LayerRecord l;
    l.chain_id = q.text(0);
    l.diff_id = q.text(1);
    l.parent = q.text(2);
    l.size = q.integer(3);
    out.push_back(std::move(l));
  }
  if (rc != SQLITE_DONE) return db_error("list layers");
  return out;
}

Result<bool> Db::has_layer(std::string_view chain_id) {
  return !TRY(strings("SELECT chain_id FROM layers WHERE chain_id = ?", chain_id)).empty();
}

}  // namespace berth::storage
