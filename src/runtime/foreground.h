// foreground.h - staying with a container process until it exits: signals are forwarded to
// it, and with a pty (no console socket) the caller's terminal is put in raw mode and
// proxied, window size changes included; the terminal is restored on every exit path.
#pragma once

#include <sys/types.h>

#include "base/error.h"

namespace berth::runtime {

// Blocks the forwardable signals in the caller; call before the container can run, so no
// signal is lost between start and the wait.
class SignalForwarding {
 public:
  SignalForwarding();
  ~SignalForwarding();
  SignalForwarding(const SignalForwarding&) = delete;
  SignalForwarding& operator=(const SignalForwarding&) = delete;
  // Waits for pid (our child) and returns its exit status (128+N when killed by N).
  Result<int> wait(pid_t pid, int pty_master);

 private:
  int sigfd_ = -1;
  unsigned long long old_mask_[16] = {};
};

// Sends a pty master to a console socket (the runc --console-socket protocol).
Status send_console(const std::string& socket_path, int master);

}  // namespace berth::runtime
