// test_util.h - small helpers the containers tests share: command output as text and lines,
// and polling for a state that arrives asynchronously (monitors, restarts).
#pragma once

#include <sys/mount.h>

#include <fstream>
#include <gtest/gtest.h>

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

// A fixture's TearDown: rm -f of every container env's berth knows, the netns folder's bind
// mount undone, and a check that nothing under env's run root is still mounted.
template <class Env>
void remove_containers_and_check_mounts(const Env& env) {
  for (const auto& id : lines_of(env.berth({"ps", "-aq", "--no-trunc"}).out)) env.berth({"rm", "-f", id});
  // The network namespaces' folder is a bind mount of itself (as /run/netns is for ip).
  ::umount2((env.runroot() + "/netns").c_str(), MNT_DETACH);
  std::ifstream mi("/proc/self/mountinfo");
  std::string line;
  while (std::getline(mi, line))
    EXPECT_EQ(line.find(env.runroot()), std::string::npos) << "left mounted: " << line;
}

}  // namespace berth::ctest
