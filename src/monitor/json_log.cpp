#include "monitor/json_log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

namespace berth::monitor {
namespace {

const char kHex[] = "0123456789abcdef";

// Length of the valid UTF-8 sequence at s (Go's utf8.DecodeRune rules: no overlongs, no
// surrogates, nothing above U+10FFFF), or 0 when s[0] starts none.
size_t utf8_len(const unsigned char* s, size_t n) {
  unsigned char b = s[0];
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b >= 0xC2 && b <= 0xDF) {
    len = 2;
  } else if (b >= 0xE0 && b <= 0xEF) {
    len = 3;
    if (b == 0xE0) lo = 0xA0;
    if (b == 0xED) hi = 0x9F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    len = 4;
    if (b == 0xF0) lo = 0x90;
    if (b == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (n < len || s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < len; i++)
    if (s[i] < 0x80 || s[i] > 0xBF) return 0;
  return len;
}

size_t put_u00(unsigned char b, char* out) {
  memcpy(out, "\\u00", 4);
  out[4] = kHex[b >> 4];
  out[5] = kHex[b & 0xF];
  return 6;
}

}  // namespace

size_t json_escape_one(const unsigned char* s, size_t n, char* out, size_t* used) {
  unsigned char b = s[0];
  *used = 1;
  if (b < 0x80) {
    if (b >= 0x20 && b != '\\' && b != '"' && b != '<' && b != '>' && b != '&') {
      out[0] = static_cast<char>(b);
      return 1;
    }
    out[0] = '\\';
    if (b == '\\' || b == '"') {
      out[1] = static_cast<char>(b);
      return 2;
    }
    if (b == '\n' || b == '\r') {
      out[1] = b == '\n' ? 'n' : 'r';
      return 2;
    }
    return put_u00(b, out);
  }
  size_t len = utf8_len(s, n);
  if (len == 0) {
    memcpy(out, "\\ufffd", 6);
    return 6;
  }
  *used = len;
  if (len == 3 && b == 0xE2 && s[1] == 0x80 && (s[2] == 0xA8 || s[2] == 0xA9)) {
    memcpy(out, "\\u202", 5);
    out[5] = s[2] == 0xA8 ? '8' : '9';
    return 6;
  }
  memcpy(out, s, len);
  return len;
}

size_t json_escape(const unsigned char* s, size_t n, char* out) {
  size_t o = 0;
  for (size_t i = 0; i < n;) {
    size_t used;
    o += json_escape_one(s + i, n - i, out + o, &used);
    i += used;
  }
  return o;
}

size_t format_rfc3339nano(const struct timespec& ts, char* out) {
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
  long ns = ts.tv_nsec;
  if (ns > 0) {
    int digits = 9;
    while (ns % 10 == 0) {
      ns /= 10;
      digits--;
    }
    n += static_cast<size_t>(snprintf(out + n, 16, ".%0*ld", digits, ns));
  }
  out[n++] = 'Z';
  out[n] = '\0';
  return n;
}

JsonLog::~JsonLog() {
  if (fd_ >= 0) close(fd_);
}

bool JsonLog::open(const char* path, long long max_size, int max_files) {
  path_ = path;
  max_size_ = max_size;
  max_files_ = max_files;
  fd_ = ::open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd_ < 0) return false;
  struct stat st;
  size_ = fstat(fd_, &st) == 0 ? st.st_size : 0;
  return true;
}

void JsonLog::rotate() {
  if (fd_ >= 0) close(fd_);
  int flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC;
  if (max_files_ <= 1) {
    flags |= O_TRUNC;
  } else {
    char from[PATH_MAX + 16], to[PATH_MAX + 16];
    for (int i = max_files_ - 1; i > 1; i--) {
      snprintf(from, sizeof from, "%s.%d", path_, i - 1);
      snprintf(to, sizeof to, "%s.%d", path_, i);
      rename(from, to);  // a missing older file is fine
    }
    snprintf(to, sizeof to, "%s.1", path_);
    rename(path_, to);
  }
  fd_ = ::open(path_, flags, 0640);
  size_ = 0;
}

void JsonLog::flush() {
  size_t off = 0;
  while (fd_ >= 0 && off < buf_len_) {
    ssize_t w = write(fd_, buf_ + off, buf_len_ - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;  // nowhere to report it: the entry is lost, the container goes on
    off += static_cast<size_t>(w);
  }
  size_ += static_cast<long long>(buf_len_);
  buf_len_ = 0;
}

void JsonLog::append(const char* s, size_t n) {
  while (n > 0) {
    if (buf_len_ == sizeof buf_) flush();
    size_t k = sizeof buf_ - buf_len_ < n ? sizeof buf_ - buf_len_ : n;
    memcpy(buf_ + buf_len_, s, k);
    buf_len_ += k;
    s += k;
    n -= k;
  }
}

void JsonLog::write_entry(const char* stream, const unsigned char* data, size_t n) {
  if (max_size_ > 0 && size_ >= max_size_) rotate();
  append("{\"log\":\"", 8);
  for (size_t i = 0; i < n;) {
    if (sizeof buf_ - buf_len_ < kEscapeMax) flush();
    size_t used;
    buf_len_ += json_escape_one(data + i, n - i, buf_ + buf_len_, &used);
    i += used;
  }
  append("\",\"stream\":\"", 12);
  append(stream, strlen(stream));
  append("\",\"time\":\"", 10);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  char t[48];
  size_t tn = format_rfc3339nano(ts, t);
  append(t, tn);
  append("\"}\n", 3);
  flush();
}

}  // namespace berth::monitor
