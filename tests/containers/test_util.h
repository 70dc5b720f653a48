// test_util.h - small helpers the containers tests share: command output as text and lines,
// and polling for a state that arrives asynchronously (monitors, restarts).
#pragma once

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace berth::ctest {

// s without trailing newlines, carriage returns and spaces.
inline std::string trim_end(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// The non-empty lines of s.
inline std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  size_t a = 0;
  while (a < s.size()) {
    size_t b = s.find('\n', a);
    if (b == std::string::npos) b = s.size();
    if (b > a) out.push_back(s.substr(a, b - a));
    a = b + 1;
  }
  return out;
}

// Polls pred every 50 ms for up to ~30 s (ASan builds on a loaded machine are slow).
template <class F>
bool eventually(F pred) {
  for (int i = 0; i < 600; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

}  // namespace berth::ctest
