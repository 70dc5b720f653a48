// monitor_test_support.h - runs the real berth-monitor over a real "container" process
// (/bin/sh -c SCRIPT) the way berth does: the test forks M, M forks the container with
// pipes or a pty and execs berth-monitor with --pid of it.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "base/fd.h"

namespace berth::monitor::mtest {

struct MonitorSetup {
  std::string script;              // run by /bin/sh -c
  bool pty = false;
  bool with_stdin = false;         // pipes: give the container a stdin pipe
  std::vector<std::string> args;   // more monitor options
  std::vector<std::string> hook;   // exit hook argv (after --)
  std::vector<std::pair<std::string, std::string>> env;  // set for the monitor (and its hook)
};

class MonitorProc {
 public:
  MonitorProc() = default;
  MonitorProc(MonitorProc&&) noexcept;
  MonitorProc& operator=(MonitorProc&&) = delete;
  MonitorProc(const MonitorProc&) = delete;
  ~MonitorProc();  // kills what is still running

  // Starts it in dir (socket, log, exit file there); ready holds what --ready-fd said.
  static MonitorProc start(const MonitorSetup& s, const std::string& dir);
  // The monitor's exit status, or -1 after timeout_ms.
  int wait(int timeout_ms = 20000);

  pid_t monitor = -1;
  pid_t container = -1;
  std::string ready;
  std::string socket, log, exit_file;
};

// Runs berth-monitor with argv (no container); returns {exit status, stderr}.
std::pair<int, std::string> run_cli(const std::vector<std::string>& args, std::string* ready_out = nullptr);

// A client speaking the raw protocol.
struct Frames {
  std::string out, err, finished;
  int exit_status = -1;
  bool eof = false;
};
UniqueFd raw_connect(const std::string& socket, unsigned char flags);
bool raw_send(int fd, unsigned char type, const std::string& payload);
// Reads frames until the exit frame, EOF or timeout.
Frames raw_read(int fd, int timeout_ms = 20000);

std::string monitor_binary();
// Waits until path exists.
bool wait_for_file(const std::string& path, int timeout_ms = 20000);

}  // namespace berth::monitor::mtest
