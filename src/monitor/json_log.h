// json_log.h - docker's json-file log driver format, for berth-monitor.
//
// One JSON object per line: {"log":"text\n","stream":"stdout","time":"RFC3339Nano"}.
// Escaping is byte-for-byte what docker's jsonlog writes: \" \\ \n \r, other control
// characters and < > & as \u00XX, U+2028/U+2029 as \u2028/\u2029, each byte of invalid
// UTF-8 as \ufffd. Plain libc only (no libstdc++): the monitor's memory is the point.
#pragma once

#include <stddef.h>
#include <time.h>

namespace berth::monitor {

// Worst case of json_escape's output per input byte ("\ufffd").
inline constexpr size_t kEscapeMax = 6;

// Escapes one code point (or one invalid byte) starting at s[0] (n >= 1 bytes left) into
// out (at least kEscapeMax bytes). Returns the bytes written; *used = input bytes consumed.
size_t json_escape_one(const unsigned char* s, size_t n, char* out, size_t* used);
// Escapes all of s into out (at least n * kEscapeMax bytes); returns the length written.
size_t json_escape(const unsigned char* s, size_t n, char* out);
// Go's time.RFC3339Nano in UTC: trailing zeros of the fraction dropped
// ("2026-11-24T19:51:42.1234Z", "...:42Z"). out: at least 40 bytes; returns the length.
size_t format_rfc3339nano(const struct timespec& ts, char* out);

// The log file: appends entries, rotates like docker's json-file (PATH -> PATH.1 ... up to
// PATH.<max_files-1>; max_files 1 truncates) once the file reached max_size (0: never).
class JsonLog {
 public:
  JsonLog() = default;
  JsonLog(const JsonLog&) = delete;
  JsonLog& operator=(const JsonLog&) = delete;
  ~JsonLog();
  // Opens (creates, 0640) path for appending; false with errno set on failure.
  bool open(const char* path, long long max_size, int max_files);
  // Writes one entry; data is the raw text (with its '\n' when it ended a line).
  void write_entry(const char* stream, const unsigned char* data, size_t n);

 private:
  void rotate();
  void append(const char* s, size_t n);
  void flush();

  const char* path_ = nullptr;
  int fd_ = -1;
  long long size_ = 0;
  long long max_size_ = 0;
  int max_files_ = 1;
  size_t buf_len_ = 0;
  char buf_[8192];
};

}  // namespace berth::monitor
