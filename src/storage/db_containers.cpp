// db_containers.cpp - the engine's tables: containers, volumes, networks and the addresses
// containers hold (the IPAM). Each change is one statement or one transaction.
#include <cerrno>
#include <ctime>

#include "storage/db.h"
#include "storage/db_internal.h"

namespace berth::storage {
namespace {

bool is_constraint(int rc) {
  return (rc & 0xff) == SQLITE_CONSTRAINT;
}

// A write that changes one row: EEXIST on a uniqueness conflict, ENOENT when no row matched.
Status step_write(sqlite3* db, Db::Stmt& s, std::string_view what, std::string_view object,
                  bool must_match) {
  int rc = s.step();
  if (is_constraint(rc)) return Error(EEXIST, std::string(what), std::string(object));
  if (rc != SQLITE_DONE)
    return Error::invalid("database: " + std::string(what) + ": " + sqlite3_errmsg(db));
  if (must_match && sqlite3_changes(db) == 0)
    return Error(ENOENT, std::string(what), std::string(object));
  return ok();
}

ContainerRow container_from(const Db::Stmt& q) {
  return ContainerRow{.id = q.text(0),
                      .name = q.text(1),
                      .image_id = q.text(2),
                      .created = q.integer(3),
                      .config = q.text(4),
                      .state = q.text(5)};
}

constexpr const char* kContainerColumns =
    "SELECT id, name, image_id, created, config, state FROM containers ";

}  // namespace

Status Db::put_container(const ContainerRow& c) {
  Stmt s = TRY(prepare(
      "INSERT INTO containers(id, name, image_id, created, config, state) "
      "VALUES (?, ?, ?, ?, ?, ?)"));
  s.bind(1, c.id).bind(2, c.name).bind(3, c.image_id).bind(4, c.created);
  s.bind(5, c.config).bind(6, c.state);
  return step_write(db_, s, "add container", c.name, false);
}

Status Db::set_container_state(std::string_view id, std::string_view state) {
  Stmt s = TRY(prepare("UPDATE containers SET state = ? WHERE id = ?"));
  s.bind(1, state).bind(2, id);
  return step_write(db_, s, "update container", id, true);
}

Status Db::set_container_config(std::string_view id, std::string_view config) {
  Stmt s = TRY(prepare("UPDATE containers SET config = ? WHERE id = ?"));
  s.bind(1, config).bind(2, id);
  return step_write(db_, s, "update container", id, true);
}

Status Db::rename_container(std::string_view id, std::string_view new_name) {
  Stmt s = TRY(prepare("UPDATE containers SET name = ? WHERE id = ?"));
  s.bind(1, new_name).bind(2, id);
  return step_write(db_, s, "rename container", new_name, true);
}

Result<bool> Db::remove_container(std::string_view id) {
  return in_transaction([&]() -> Result<bool> {
    Stmt a = TRY(prepare("DELETE FROM addresses WHERE container_id = ?"));
    a.bind(1, id);
    if (a.step() != SQLITE_DONE) return db_error("release addresses");
    Stmt s = TRY(prepare("DELETE FROM containers WHERE id = ?"));
    s.bind(1, id);
    if (s.step() != SQLITE_DONE) return db_error("remove container");
    return sqlite3_changes(db_) > 0;
  });
}

Result<std::optional<ContainerRow>> Db::find_container(std::string_view ref) {
  if (ref.empty()) return std::optional<ContainerRow>();
  for (const char* where : {"WHERE id = ?", "WHERE name = ?"}) {
    Stmt q = TRY(prepare((std::string(kContainerColumns) + where).c_str()));
    q.bind(1, ref);
    int rc = q.step();
    if (rc == SQLITE_ROW) return std::optional<ContainerRow>(container_from(q));
    if (rc != SQLITE_DONE) return db_error("find container");
  }
  // A unique id prefix. LIKE would treat % and _ in ref as wildcards: compare with substr.
  Stmt q = TRY(prepare((std::string(kContainerColumns) +
                        "WHERE substr(id, 1, length(?1)) = ?1 LIMIT 2")
                           .c_str()));
  q.bind(1, ref);
  std::optional<ContainerRow> found;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    if (found) return Error(EINVAL, "multiple containers match the prefix", std::string(ref));
    found = container_from(q);
  }
  if (rc != SQLITE_DONE) return db_error("find container");
  return found;
}

Result<std::vector<ContainerRow>> Db::list_containers() {
  Stmt q = TRY(prepare((std::string(kContainerColumns) + "ORDER BY created DESC").c_str()));
  std::vector<ContainerRow> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) out.push_back(container_from(q));
  if (rc != SQLITE_DONE) return db_error("list containers");
  return out;
}

Result<std::vector<std::string>> Db::containers_using_image(std::string_view image_id) {
  return strings("SELECT id FROM containers WHERE image_id = ? ORDER BY created", image_id);
}

Status Db::put_volume(const VolumeRow& v) {
  Stmt s = TRY(prepare(
      "INSERT INTO volumes(name, created, labels, anonymous) VALUES (?, ?, ?, ?)"));
  s.bind(1, v.name).bind(2, v.created).bind(3, v.labels.empty() ? "{}" : v.labels);
  s.bind(4, int64_t{v.anonymous ? 1 : 0});
  return step_write(db_, s, "create volume", v.name, false);
}

Result<std::optional<VolumeRow>> Db::find_volume(std::string_view name) {
  Stmt q = TRY(prepare("SELECT name, created, labels, anonymous FROM volumes WHERE name = ?"));
  q.bind(1, name);
  int rc = q.step();
  if (rc == SQLITE_DONE) return std::optional<VolumeRow>();
  if (rc != SQLITE_ROW) return db_error("find volume");
  return std::optional<VolumeRow>(VolumeRow{
      .name = q.text(0), .created = q.integer(1), .labels = q.text(2), .anonymous = q.integer(3) != 0});
}

Result<std::vector<VolumeRow>> Db::list_volumes() {
  Stmt q = TRY(prepare("SELECT name, created, labels, anonymous FROM volumes ORDER BY name"));
  std::vector<VolumeRow> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW)
    out.push_back(VolumeRow{.name = q.text(0),
                            .created = q.integer(1),
                            .labels = q.text(2),
                            .anonymous = q.integer(3) != 0});
  if (rc != SQLITE_DONE) return db_error("list volumes");
  return out;
}

Result<bool> Db::remove_volume(std::string_view name) {
  Stmt s = TRY(prepare("DELETE FROM volumes WHERE name = ?"));
  s.bind(1, name);
  if (s.step() != SQLITE_DONE) return db_error("remove volume");
  return sqlite3_changes(db_) > 0;
}

Status Db::put_network(const NetworkRow& n) {
  Stmt s = TRY(prepare("INSERT INTO networks(name, id, created, config) VALUES (?, ?, ?, ?)"));
  s.bind(1, n.name).bind(2, n.id).bind(3, n.created).bind(4, n.config);
  return step_write(db_, s, "create network", n.name, false);
}

Result<std::optional<NetworkRow>> Db::find_network(std::string_view ref) {
  Stmt q = TRY(prepare(
      "SELECT name, id, created, config FROM networks WHERE name = ?1 OR id = ?1 "
      "OR (length(?1) >= 3 AND substr(id, 1, length(?1)) = ?1) ORDER BY name = ?1 DESC LIMIT 1"));
  q.bind(1, ref);
  int rc = q.step();
  if (rc == SQLITE_DONE) return std::optional<NetworkRow>();
  if (rc != SQLITE_ROW) return db_error("find network");
  return std::optional<NetworkRow>(
      NetworkRow{.name = q.text(0), .id = q.text(1), .created = q.integer(2), .config = q.text(3)});
}

Result<std::vector<NetworkRow>> Db::list_networks() {
  Stmt q = TRY(prepare("SELECT name, id, created, config FROM networks ORDER BY name"));
  std::vector<NetworkRow> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW)
    out.push_back(NetworkRow{
        .name = q.text(0), .id = q.text(1), .created = q.integer(2), .config = q.text(3)});
  if (rc != SQLITE_DONE) return db_error("list networks");
  return out;
}

Result<bool> Db::remove_network(std::string_view name) {
  Stmt s = TRY(prepare("DELETE FROM networks WHERE name = ?"));
  s.bind(1, name);
  if (s.step() != SQLITE_DONE) return db_error("remove network");
  return sqlite3_changes(db_) > 0;
}

Result<std::vector<std::string>> Db::network_addresses(std::string_view network) {
  return strings("SELECT ip FROM addresses WHERE network = ? ORDER BY ip", network);
}

Status Db::take_address(std::string_view network, std::string_view container_id,
                        std::string_view ip) {
  Stmt s = TRY(prepare("INSERT INTO addresses(network, ip, container_id) VALUES (?, ?, ?)"));
  s.bind(1, network).bind(2, ip).bind(3, container_id);
  return step_write(db_, s, "take address", ip, false);
}

Status Db::release_addresses(std::string_view container_id) {
  Stmt s = TRY(prepare("DELETE FROM addresses WHERE container_id = ?"));
  s.bind(1, container_id);
  if (s.step() != SQLITE_DONE) return db_error("release addresses");
  return ok();
}

Status Db::release_address(std::string_view network, std::string_view container_id) {
  Stmt s = TRY(prepare("DELETE FROM addresses WHERE network = ? AND container_id = ?"));
  s.bind(1, network).bind(2, container_id);
  if (s.step() != SQLITE_DONE) return db_error("release address");
  return ok();
}

}  // namespace berth::storage
