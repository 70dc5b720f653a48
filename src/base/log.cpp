#include "base/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <ctime>
#include <nlohmann/json.hpp>

#include "base/time.h"

namespace berth::log {
namespace {
int g_fd = 2;
Format g_format = Format::text;
Level g_level = Level::warning;

const char* level_name(Level l) {
  switch (l) {
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warning:
      return "warning";
    case Level::error:
      return "error";
  }
  return "error";
}

}  // namespace

bool set_output(const std::string& path, Format format) {
  g_format = format;
  if (path.empty()) return true;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  g_fd = fd;
  return true;
}

void set_level(Level level) {
  g_level = level;
}
bool debug_enabled() {
  return g_level == Level::debug;
}

void write(Level level, std::string_view msg) {
  if (level < g_level && !(g_fd != 2 && level >= Level::info)) return;
  std::string line;
  if (g_format == Format::json) {
    nlohmann::json j = {{"level", level_name(level)}, {"msg", msg}, {"time", now_rfc3339()}};
    line = j.dump() + "\n";
  } else if (g_fd == 2) {
    line = std::string(level == Level::error ? "" : level_name(level));
    if (!line.empty()) line += ": ";
    line += msg;
    line += '\n';
  } else {
    line = now_rfc3339() + " " + level_name(level) + ": " + std::string(msg) + "\n";
  }
  (void)!::write(g_fd, line.data(), line.size());
}

}  // namespace berth::log
