// db_schema.h - the metadata database's migrations (internal to storage/db.cpp).
//
// kMigrations[i] takes the schema from version i to i + 1; a database records its version
// in schema_version. Append new migrations; never edit a released one. docs/store.md
// describes the tables.
#pragma once

#include <array>

namespace berth::storage {

inline constexpr std::array<const char*, 3> kMigrations = {
    // 1: images, their layers, tags and repo digests.
    R"sql(
CREATE TABLE layers(
  chain_id TEXT PRIMARY KEY NOT NULL,
  diff_id TEXT NOT NULL,
  parent TEXT REFERENCES layers(chain_id),
  size INTEGER NOT NULL DEFAULT 0,
  created INTEGER NOT NULL
);
CREATE TABLE images(
  id TEXT PRIMARY KEY NOT NULL,
  config TEXT NOT NULL,
  created INTEGER NOT NULL DEFAULT 0,
  added INTEGER NOT NULL,
  size INTEGER NOT NULL DEFAULT 0,
  manifest_digest TEXT NOT NULL DEFAULT '',
  manifest_media_type TEXT NOT NULL DEFAULT ''
);
CREATE TABLE image_layers(
  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  idx INTEGER NOT NULL,
  chain_id TEXT NOT NULL REFERENCES layers(chain_id),
  diff_id TEXT NOT NULL,
  digest TEXT NOT NULL DEFAULT '',
  compressed_size INTEGER NOT NULL DEFAULT 0,
  media_type TEXT NOT NULL DEFAULT '',
  PRIMARY KEY(image_id, idx)
);
CREATE INDEX image_layers_by_chain ON image_layers(chain_id);
CREATE INDEX image_layers_by_digest ON image_layers(digest);
CREATE TABLE tags(
  name TEXT PRIMARY KEY NOT NULL,
  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  created INTEGER NOT NULL
);
CREATE INDEX tags_by_image ON tags(image_id);
CREATE TABLE repo_digests(
  name TEXT PRIMARY KEY NOT NULL,
  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
);
CREATE INDEX repo_digests_by_image ON repo_digests(image_id);
)sql",
    // 2: containers, volumes, networks and the addresses containers hold in them.
    R"sql(
CREATE TABLE containers(
  id TEXT PRIMARY KEY NOT NULL,
  name TEXT NOT NULL UNIQUE,
  image_id TEXT NOT NULL,
  created INTEGER NOT NULL,
  config TEXT NOT NULL,
  state TEXT NOT NULL
);
CREATE INDEX containers_by_image ON containers(image_id);
CREATE TABLE volumes(
  name TEXT PRIMARY KEY NOT NULL,
  created INTEGER NOT NULL,
  labels TEXT NOT NULL DEFAULT '{}',
  anonymous INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE networks(
  name TEXT PRIMARY KEY NOT NULL,
  id TEXT NOT NULL UNIQUE,
  created INTEGER NOT NULL,
  config TEXT NOT NULL
);
CREATE TABLE addresses(
  network TEXT NOT NULL REFERENCES networks(name) ON DELETE CASCADE,
  ip TEXT NOT NULL,
  container_id TEXT NOT NULL,
  PRIMARY KEY(network, ip)
);
CREATE INDEX addresses_by_container ON addresses(container_id);
)sql",
    // 3: the build: images know the image they were built on (docker's Parent: intermediate
    // images are the untagged ones with children), the step cache, and the content hashes of
    // build-context files (re-hashed only when their size, mtime, ctime or inode change).
    R"sql(
ALTER TABLE images ADD COLUMN parent TEXT NOT NULL DEFAULT '';
CREATE INDEX images_by_parent ON images(parent);
CREATE TABLE build_cache(
  key TEXT PRIMARY KEY NOT NULL,
  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  created INTEGER NOT NULL
);
CREATE INDEX build_cache_by_image ON build_cache(image_id);
CREATE TABLE file_hashes(
  path TEXT PRIMARY KEY NOT NULL,
  dev INTEGER NOT NULL,
  ino INTEGER NOT NULL,
  size INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL,
  ctime_ns INTEGER NOT NULL,
  hash TEXT NOT NULL
);
)sql",
};

}  // namespace berth::storage
