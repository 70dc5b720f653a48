#include "sys/process.h"

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

#include "base/file.h"
#include "base/strings.h"

namespace berth::sys {

Result<int> parse_signal(const std::string& in) {
  if (auto n = parse_int(in)) {
    if (*n > 0 && *n <= SIGRTMAX) return static_cast<int>(*n);
    return Error::invalid("invalid signal", in);
  }
  std::string s = in;
  for (auto& c : s) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  if (starts_with(s, "SIG")) s = s.substr(3);
  if (starts_with(s, "RTMIN") || starts_with(s, "RTMAX")) {
    bool min = starts_with(s, "RTMIN");
    std::string rest = s.substr(5);
    int64_t off = 0;
    if (!rest.empty()) {
      auto v =
          parse_int(rest[0] == '+' ? std::string_view(rest).substr(1) : std::string_view(rest));
      if (!v) return Error::invalid("invalid signal", in);
      off = *v;
      if (off < -64 || off > 64) return Error::invalid("invalid signal", in);
    }
    int64_t sig = min ? SIGRTMIN + off : SIGRTMAX + off;
    if (sig < SIGRTMIN || sig > SIGRTMAX) return Error::invalid("invalid signal", in);
    return static_cast<int>(sig);
  }
  for (int i = 1; i < NSIG; ++i) {
    const char* abbrev = sigabbrev_np(i);
    if (abbrev != nullptr && s == abbrev) return i;
  }
  if (s == "IOT") return SIGABRT;
  if (s == "POLL") return SIGIO;
  return Error::invalid("invalid signal", in);
}

std::optional<uint64_t> process_start_time(pid_t pid) {
  auto stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return std::nullopt;
  // comm may contain spaces and parentheses: fields start after the last ')'.
  auto close = stat->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  auto fields = split(trim(std::string_view(*stat).substr(close + 1)), ' ');
  // fields[0] is field 3 (state); starttime is field 22 -> index 19.
  if (fields.size() < 20) return std::nullopt;
  if (fields[0] == "Z" || fields[0] == "X") return std::nullopt;
  return parse_uint(fields[19]);
}

int exit_status_of(int ws) {
  if (WIFEXITED(ws)) return WEXITSTATUS(ws);
  if (WIFSIGNALED(ws)) return 128 + WTERMSIG(ws);
  return 255;
}

Result<int> wait_for(pid_t pid) {
  int ws = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &ws, 0);
    if (r == pid) return ws;
    if (r < 0 && errno == EINTR) continue;
    return sys_error("wait for process", std::to_string(pid));
  }
}

Result<std::string> self_exe() {
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return sys_error("readlink", "/proc/self/exe");
  return std::string(self, static_cast<size_t>(n));
}

Result<std::string> sibling_exe(const std::string& name) {
  return path_join(dirname_of(TRY(self_exe())), name);
}

}  // namespace berth::sys
