// process.h - signals, process identity and waiting.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "base/error.h"

namespace berth::sys {

// "KILL", "SIGKILL", "9", "SIGRTMIN+3" -> signal number.
Result<int> parse_signal(const std::string& s);
// Start time of a process in clock ticks since boot (/proc/PID/stat field 22), used to tell
// a live container from a recycled pid. nullopt when the process is gone.
std::optional<uint64_t> process_start_time(pid_t pid);
// The exit status a shell would report: code, or 128+signal.
int exit_status_of(int wait_status);
// waitpid that retries on EINTR; returns the wait status.
Result<int> wait_for(pid_t pid);
// This process's executable (/proc/self/exe).
Result<std::string> self_exe();
// NAME in the folder of this process's executable (berth-runtime, berth-monitor beside berth).
Result<std::string> sibling_exe(const std::string& name);

}  // namespace berth::sys
