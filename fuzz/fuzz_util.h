// fuzz_util.h - small helpers shared by the libFuzzer targets (fuzz tree only).
#pragma once

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "base/file.h"
#include "base/strings.h"

namespace berth::fuzz {

// Reports a broken invariant and aborts, so libFuzzer saves the input as a crash.
[[noreturn]] inline void fail(const char* target, const char* what, const std::string& detail) {
  std::fprintf(stderr, "%s: %s\n%s\n", target, what, detail.c_str());
  std::abort();
}

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Splits the input at NUL bytes into at most max_parts parts; the last part keeps any further
// NULs. Missing parts are empty.
inline std::vector<std::string_view> split_at_nul(std::string_view text, size_t max_parts) {
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < max_parts) {
    auto nul = text.find('\0');
    if (nul == std::string_view::npos) break;
    parts.push_back(text.substr(0, nul));
    text.remove_prefix(nul + 1);
  }
  parts.push_back(text);
  parts.resize(max_parts);
  return parts;
}

// A scratch directory /tmp/berth-<target>-<pid>-XXXXXX for one fuzzer process, removed by
// the TempDir at a normal exit. A crash (or libFuzzer's -fork and -minimize_crash children)
// exits without cleaning up, so this first removes the ones left by processes that are gone.
inline TempDir make_scratch_dir(const char* target) {
  std::string prefix = std::string("berth-") + target + "-";
  if (auto names = list_dir("/tmp"); names.ok()) {
    for (const auto& n : *names) {
      if (!starts_with(n, prefix)) continue;
      std::string_view rest = std::string_view(n).substr(prefix.size());
      auto pid = parse_int(rest.substr(0, rest.find('-')));
      if (!pid || *pid <= 0 || *pid == ::getpid()) continue;
      if (::kill(static_cast<pid_t>(*pid), 0) == 0 || errno != ESRCH) continue;
      (void)remove_all("/tmp/" + n);
    }
  }
  auto dir = TempDir::create("/tmp/" + prefix + std::to_string(::getpid()) + "-");
  if (!dir.ok()) fail(target, "cannot create a scratch directory", dir.error().message());
  return std::move(dir).value();
}

}  // namespace berth::fuzz
