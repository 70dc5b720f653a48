#include "base/file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace berth {

Result<UniqueFd> open_fd(const std::string& path, int flags, mode_t mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) return sys_error("open", path);
  return UniqueFd(fd);
}

Result<std::string> read_file(const std::string& path, size_t max_bytes) {
  UniqueFd fd = TRY(open_fd(path, O_RDONLY));
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error("read", path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) return Error(EFBIG, "read", path);
  }
  return out;
}

static Status write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error("write", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return ok();
}

Status write_file(const std::string& path, std::string_view data) {
  UniqueFd fd = TRY(open_fd(path, O_WRONLY));
  ssize_t n = ::write(fd.get(), data.data(), data.size());
  if (n < 0) return sys_error("write", path);
  return ok();
}

Status write_file_atomic(const std::string& path, std::string_view data, mode_t mode,
                         Durability d) {
  bool sync = d == Durability::durable;
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    UniqueFd fd = TRY(open_fd(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode));
    if (Status s = write_all(fd.get(), data, tmp); !s) {
      ::unlink(tmp.c_str());
      return s;
    }
    if (sync && ::fsync(fd.get()) < 0) {
      Error e = sys_error("fsync", tmp);
      ::unlink(tmp.c_str());
      return e;
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) < 0) {
    Error e = sys_error("rename", tmp);
    ::unlink(tmp.c_str());
    return e;
  }
  if (!sync) return ok();
  int dfd = ::open(dirname_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return ok();
}

Status mkdir_all(const std::string& path, mode_t mode) {
  if (path.empty()) return ok();
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return ok();
    return Error(ENOTDIR, "mkdir", path);
  }
  std::string parent = dirname_of(path);
  if (parent != path) TRY(mkdir_all(parent, mode));
  if (::mkdir(path.c_str(), mode) < 0 && errno != EEXIST) return sys_error("mkdir", path);
  return ok();
}

static Status remove_at(int dirfd, const char* name, const std::string& shown) {
  if (::unlinkat(dirfd, name, 0) == 0 || errno == ENOENT) return ok();
  if (errno != EISDIR && errno != EPERM) return sys_error("remove", shown);
  int fd = ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return sys_error("open", shown);
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    ::close(fd);
    return sys_error("opendir", shown);
  }
  Status st;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    st = remove_at(::dirfd(d), e->d_name, shown + "/" + e->d_name);
    if (!st) break;
  }
  ::closedir(d);
  if (!st) return st;
  if (::unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    return sys_error("rmdir", shown);
  return ok();
}

Status remove_all(const std::string& path) {
  return remove_at(AT_FDCWD, path.c_str(), path);
}

bool path_exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

bool is_directory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Result<std::vector<std::string>> list_dir(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return sys_error("open directory", path);
  std::vector<std::string> out;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") out.emplace_back(n);
  }
  ::closedir(d);
  return out;
}

Result<std::vector<std::string>> list_subdirs(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return sys_error("open directory", path);
  std::vector<std::string> out;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    bool dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st;
      dir = ::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    if (dir) out.emplace_back(n);
  }
  ::closedir(d);
  return out;
}

std::string path_join(std::string_view a, std::string_view b) {
  std::string out(a);
  while (!b.empty() && b.front() == '/') b.remove_prefix(1);
  if (out.empty() || out.back() != '/') out += '/';
  out += b;
  return out;
}

std::string dirname_of(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  auto pos = path.rfind('/');
  if (pos == std::string_view::npos) return ".";
  if (pos == 0) return "/";
  return std::string(path.substr(0, pos));
}

std::string basename_of(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  auto pos = path.rfind('/');
  return std::string(pos == std::string_view::npos ? path : path.substr(pos + 1));
}

std::string clean_path(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view p = path.substr(i, j - i);
    if (p == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!p.empty() && p != ".") {
      parts.push_back(p);
    }
    i = j + 1;
  }
  std::string out;
  for (auto p : parts) {
    out += '/';
    out += p;
  }
  return out.empty() ? "/" : out;
}

Result<TempDir> TempDir::create(const std::string& prefix) {
  std::string tmpl = prefix + "XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return sys_error("mkdtemp", tmpl);
  return TempDir(tmpl);
}

TempDir::~TempDir() {
  if (!path_.empty()) (void)remove_all(path_);
}

}  // namespace berth
