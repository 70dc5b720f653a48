// file.h - whole-file reads, durable writes, directories.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/fd.h"

namespace berth {

// Reads a whole file (or at most max_bytes) into memory.
Result<std::string> read_file(const std::string& path, size_t max_bytes = 64u << 20);
enum class Durability { durable, volatile_ok };
// Writes data to path atomically: temp file in the same dir, (fsync), rename, (fsync dir).
// volatile_ok skips the fsyncs, for state that does not outlive a reboot anyway (the
// runtime's state under /run): readers still never see a half-written file.
Status write_file_atomic(const std::string& path, std::string_view data, mode_t mode = 0644,
                         Durability d = Durability::durable);
// Writes data to an existing file (sysfs, cgroupfs, /proc): one write, no truncation games.
Status write_file(const std::string& path, std::string_view data);
// mkdir -p; succeeds when the directory already exists.
Status mkdir_all(const std::string& path, mode_t mode = 0755);
// rm -rf without following symlinks; succeeds when path does not exist.
Status remove_all(const std::string& path);
Result<UniqueFd> open_fd(const std::string& path, int flags, mode_t mode = 0);
bool path_exists(const std::string& path);
bool is_directory(const std::string& path);
// Lists directory entry names (without "." and "..").
Result<std::vector<std::string>> list_dir(const std::string& path);
// Lists only the subdirectories (d_type; no stat per entry: cgroup dirs hold dozens of files).
Result<std::vector<std::string>> list_subdirs(const std::string& path);
// Path joining for host paths only; container paths go through sys/path_resolve.
std::string path_join(std::string_view a, std::string_view b);
std::string dirname_of(std::string_view path);
std::string basename_of(std::string_view path);
// Makes path absolute and lexically clean (no "." or "..", no double slashes).
std::string clean_path(std::string_view path);

// A temp directory removed (recursively) by the destructor.
class TempDir {
 public:
  static Result<TempDir> create(const std::string& prefix = "/tmp/berth-");
  TempDir(TempDir&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  TempDir& operator=(TempDir&&) = delete;
  TempDir(const TempDir&) = delete;
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  explicit TempDir(std::string p) : path_(std::move(p)) {}
  std::string path_;
};

}  // namespace berth
