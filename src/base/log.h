// log.h - the runtime's log: stderr by default, or a file in text or JSON (runc's --log and
// --log-format), so containerd and podman can read our errors the way they read runc's.
#pragma once

#include <string>
#include <string_view>

namespace berth::log {

enum class Level { debug, info, warning, error };
enum class Format { text, json };

// Sends log lines to path (append) instead of stderr; empty path = stderr.
bool set_output(const std::string& path, Format format);
void set_level(Level level);
bool debug_enabled();
void write(Level level, std::string_view msg);
inline void debug(std::string_view m) {
  write(Level::debug, m);
}
inline void info(std::string_view m) {
  write(Level::info, m);
}
inline void warning(std::string_view m) {
  write(Level::warning, m);
}
inline void error(std::string_view m) {
  write(Level::error, m);
}

}  // namespace berth::log
