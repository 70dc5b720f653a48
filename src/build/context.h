// context.h - the build context: the directory COPY and ADD read from, with .dockerignore
// applied, and the content hashes the step cache keys on.
//
// Every source path is resolved inside the context by the kernel (openat2 RESOLVE_IN_ROOT):
// `COPY ../../etc/passwd /x` or a symlink in the context pointing at /etc reads the
// context's own paths, never the host's. File contents are hashed once and remembered in
// the database by path with their size, mtime, ctime and inode: a rebuild with nothing
// changed stats the files and hashes none.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "build/ignore.h"
#include "storage/db.h"

namespace berth::build {

class BuildContext {
 public:
  // dir: the context directory; dockerfile_rel: the Dockerfile's path relative to it, when
  // it is inside (docker never excludes it, nor .dockerignore, from what the build sees).
  static Result<BuildContext> open(const std::string& dir, const std::string& dockerfile_rel = {});

  const std::string& dir() const { return dir_; }
  int fd() const { return fd_.get(); }
  const IgnoreMatcher& ignore() const { return ignore_; }
  // A relative, cleaned path ("." is the root) that .dockerignore excludes.
  bool excluded(const std::string& rel) const;

  // COPY/ADD sources: each pattern (relative to the context; a leading '/' and "../" stay
  // inside it) expanded to the context paths it names: a literal path must exist and not be
  // excluded; a glob gives every matching path that is not excluded, and must match one.
  // Errors (one line): "file not found in build context or excluded by .dockerignore: stat
  // a/b: file does not exist", "no source files were specified".
  Result<std::vector<std::string>> expand(const std::vector<std::string>& patterns) const;

  // What the cache keys a COPY on: a digest over every file under the given paths (those
  // .dockerignore keeps): relative name, type, permission bits, symlink target and content
  // hash; not times or owners (docker ignores them too). Uses and updates db's hash cache.
  Result<std::string> content_digest(const std::vector<std::string>& paths, storage::Db& db) const;

 private:
  std::string dir_;
  UniqueFd fd_;
  IgnoreMatcher ignore_;
  std::string dockerfile_rel_;
};

// ADD's and `build -`'s test for a tar archive: gzip or zstd (storage::detect_compression),
// bzip2, xz, or a plain tar header ("ustar" at 257) in the first bytes.
bool looks_like_archive(std::string_view head);

}  // namespace berth::build
