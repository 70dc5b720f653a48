// attach_client.h - the client side of berth-monitor's attach socket (docs/monitor.md):
// `berth attach`, `berth start -a`, `berth run` without -d, `berth wait`.
#pragma once

#include <functional>
#include <string>

#include "base/error.h"
#include "base/fd.h"

namespace berth::monitor {

struct AttachOptions {
  std::string socket_path;
  // Which streams to attach (docker's --attach / -i). stdin/stdout/stderr are libc macros,
  // hence the prefix.
  bool attach_stdin = false;
  bool attach_stdout = true;
  bool attach_stderr = true;
  // The container has a pty: with attached stdin on a terminal, in_fd goes raw (restored on
  // every way out), the window size is sent first and again on SIGWINCH.
  bool tty = false;
  int in_fd = 0;
  int out_fd = 1;
  int err_fd = 2;
  // docker's format ("ctrl-p,ctrl-q", "ctrl-x,a"); only used with attach_stdin.
  std::string detach_keys = "ctrl-p,ctrl-q";
  // Signal proxy (docker's --sig-proxy, normally without a tty): HUP INT QUIT TERM USR1
  // USR2 ALRM are caught while attached and passed here instead of acting on the caller.
  // Without it, and with the terminal in raw mode, INT TERM HUP QUIT end attach() with an
  // error (the terminal restored) instead of leaving it raw.
  std::function<void(int sig)> on_signal;
  // Called once the monitor has registered this client (before any output can be missed):
  // `berth run` starts the container here. An error ends attach() with it.
  std::function<Status()> on_connected;
  // This client does the cleanup after the exit (the monitor skips its exit hook while the
  // client is connected at that moment).
  bool owns_exit = false;
};

struct AttachResult {
  bool detached = false;    // the detach keys were typed: the container goes on
  int exit_status = -1;     // when not detached: code, or 128+signal
  std::string finished_at;  // RFC3339Nano, when not detached
};

// "ctrl-p,ctrl-q" -> "\x10\x11": comma-separated single characters or ctrl-@, ctrl-a ..
// ctrl-z, ctrl-[, ctrl-\, ctrl-], ctrl-^, ctrl-_ (docker's term.ToBytes).
Result<std::string> parse_detach_keys(const std::string& keys);

Result<UniqueFd> connect_attach(const std::string& socket_path);

// Streams until the container exits (the exit frame) or the detach keys are typed. When
// stdin reaches EOF the container is told (close-stdin) and output goes on to the exit.
// A monitor that goes away without an exit frame: "container monitor disconnected".
Result<AttachResult> attach(const AttachOptions& opts);

// Waits for the container to exit (attach with no streams): its exit status.
Result<int> wait_exit(const std::string& socket_path);

}  // namespace berth::monitor
