// options.h - berth-monitor's command line (docs/monitor.md), validated before anything runs.
#pragma once

#include <stddef.h>
#include <sys/types.h>

namespace berth::monitor {

struct Options {
  pid_t pid = 0;                      // the container's init: must be our child
  const char* exit_file = nullptr;    // absolute
  const char* attach_socket = nullptr;
  const char* log_path = nullptr;
  long long log_max_size = 0;         // 0: no rotation
  int log_max_files = 1;
  int pty_fd = -1;                    // pty master (read + write), or:
  int stdout_fd = -1;                 // read ends of the container's pipes
  int stderr_fd = -1;
  int stdin_fd = -1;                  // write end of the container's stdin pipe
  bool stdin_once = false;
  int ready_fd = -1;
  const char* oom_file = nullptr;
  bool hook_fd_arg = false;           // append "--monitor-fd=3" to the hook's argv
  char** hook_argv = nullptr;         // after "--"; nullptr when none
  int hook_argc = 0;
};

// Parses and validates argv. On failure returns false with a one-line message in err.
bool parse_options(int argc, char** argv, Options* o, char* err, size_t errlen);

}  // namespace berth::monitor
