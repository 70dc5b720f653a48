// fs.cpp - cgroupfs file helpers.
#include "cgroup/fs.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "base/fd.h"
#include "base/file.h"
#include "base/strings.h"

namespace berth::cgroup::detail {

namespace {

Error write_error(int err, std::string_view value, const std::string& path) {
  return Error(err, "write " + std::string(value) + " to", path);
}

}  // namespace

Status write_value(const std::string& dir, std::string_view file, std::string_view value) {
  std::string path = path_join(dir, file);
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (!fd) return write_error(errno, value, path);
  for (;;) {
    ssize_t n = ::write(fd.get(), value.data(), value.size());
    if (n >= 0) return ok();
    if (errno != EINTR) return write_error(errno, value, path);
  }
}

Result<std::string> read_value(const std::string& dir, std::string_view file) {
  std::string text = TRY(read_file(path_join(dir, file)));
  return std::string(trim(text));
}

Result<std::optional<uint64_t>> read_limit(const std::string& dir, std::string_view file) {
  std::string v = TRY(read_value(dir, file));
  if (v == "max") return std::optional<uint64_t>();
  auto n = parse_uint(v);
  if (!n) return Error::invalid("parse \"" + v + "\" in", path_join(dir, file));
  return std::optional<uint64_t>(*n);
}

Result<uint64_t> read_uint(const std::string& dir, std::string_view file) {
  std::string v = TRY(read_value(dir, file));
  auto n = parse_uint(v);
  if (!n) return Error::invalid("parse \"" + v + "\" in", path_join(dir, file));
  return *n;
}

Result<std::map<std::string, uint64_t>> read_keyed(const std::string& dir, std::string_view file) {
  std::string text = TRY(read_file(path_join(dir, file)));
  std::map<std::string, uint64_t> out;
  for (const auto& line : split(text, '\n')) {
    auto sp = line.find(' ');
    if (sp == std::string::npos) continue;
    if (auto n = parse_uint(trim(std::string_view(line).substr(sp + 1))))
      out[line.substr(0, sp)] = *n;
  }
  return out;
}

bool has_file(const std::string& dir, std::string_view file) {
  return ::access(path_join(dir, file).c_str(), F_OK) == 0;
}

}  // namespace berth::cgroup::detail
