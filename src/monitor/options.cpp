#include "monitor/options.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

namespace berth::monitor {
namespace {

enum OptId {
  kPid = 1, kExitFile, kAttachSocket, kLog, kLogMaxSize, kLogMaxFiles, kPtyFd, kStdoutFd,
  kStderrFd, kStdinFd, kStdinOnce, kReadyFd, kOomFile, kHookFdArg, kOptCount
};

const struct option kLongOptions[] = {
    {"pid", required_argument, nullptr, kPid},
    {"exit-file", required_argument, nullptr, kExitFile},
    {"attach-socket", required_argument, nullptr, kAttachSocket},
    {"log", required_argument, nullptr, kLog},
    {"log-max-size", required_argument, nullptr, kLogMaxSize},
    {"log-max-files", required_argument, nullptr, kLogMaxFiles},
    {"pty-fd", required_argument, nullptr, kPtyFd},
    {"stdout-fd", required_argument, nullptr, kStdoutFd},
    {"stderr-fd", required_argument, nullptr, kStderrFd},
    {"stdin-fd", required_argument, nullptr, kStdinFd},
    {"stdin-once", no_argument, nullptr, kStdinOnce},
    {"ready-fd", required_argument, nullptr, kReadyFd},
    {"oom-file", required_argument, nullptr, kOomFile},
    {"exit-hook-fd-arg", no_argument, nullptr, kHookFdArg},
    {nullptr, 0, nullptr, 0},
};

bool fail(char* err, size_t errlen, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return false;
}

const char* name_of(int id) {
  for (const auto& o : kLongOptions)
    if (o.val == id) return o.name;
  return "?";
}

// A whole decimal number in [lo, hi]; false on junk, sign games or overflow.
bool parse_num(const char* s, long long lo, long long hi, long long* out) {
  if (*s < '0' || *s > '9') return false;
  errno = 0;
  char* end = nullptr;
  long long v = strtoll(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < lo || v > hi) return false;
  *out = v;
  return true;
}

bool set_path(const char** dst, int id, char* err, size_t errlen) {
  if (optarg[0] != '/') return fail(err, errlen, "--%s %s: must be an absolute path", name_of(id), optarg);
  *dst = optarg;
  return true;
}

bool set_fd(int* dst, int id, char* err, size_t errlen) {
  long long v;
  if (!parse_num(optarg, 0, 1 << 20, &v))
    return fail(err, errlen, "--%s %s: not a file descriptor number", name_of(id), optarg);
  if (fcntl(static_cast<int>(v), F_GETFD) < 0)
    return fail(err, errlen, "--%s %s: not an open file descriptor", name_of(id), optarg);
  *dst = static_cast<int>(v);
  return true;
}

bool apply(int id, Options* o, char* err, size_t errlen) {
  long long v;
  switch (id) {
    case kPid:
      if (!parse_num(optarg, 1, 0x7fffffff, &v)) return fail(err, errlen, "--pid %s: not a process id", optarg);
      o->pid = static_cast<pid_t>(v);
      return true;
    case kExitFile: return set_path(&o->exit_file, id, err, errlen);
    case kAttachSocket: return set_path(&o->attach_socket, id, err, errlen);
    case kLog: return set_path(&o->log_path, id, err, errlen);
    case kOomFile: return set_path(&o->oom_file, id, err, errlen);
    case kLogMaxSize:
      if (!parse_num(optarg, 1, 1LL << 50, &v))
        return fail(err, errlen, "--log-max-size %s: not a positive number of bytes", optarg);
      o->log_max_size = v;
      return true;
    case kLogMaxFiles:
      if (!parse_num(optarg, 1, 10000, &v))
        return fail(err, errlen, "--log-max-files %s: not a number from 1 to 10000", optarg);
      o->log_max_files = static_cast<int>(v);
      return true;
    case kPtyFd: return set_fd(&o->pty_fd, id, err, errlen);
    case kStdoutFd: return set_fd(&o->stdout_fd, id, err, errlen);
    case kStderrFd: return set_fd(&o->stderr_fd, id, err, errlen);
    case kStdinFd: return set_fd(&o->stdin_fd, id, err, errlen);
    case kReadyFd: return set_fd(&o->ready_fd, id, err, errlen);
    case kStdinOnce: o->stdin_once = true; return true;
    case kHookFdArg: o->hook_fd_arg = true; return true;
    default: return fail(err, errlen, "internal: option %d", id);
  }
}

// Checks that hold between options once all are read.
bool validate(const Options& o, bool seen_max_files, char* err, size_t errlen) {
  if (o.pid == 0) return fail(err, errlen, "missing --pid");
  if (!o.exit_file) return fail(err, errlen, "missing --exit-file");
  if (!o.attach_socket) return fail(err, errlen, "missing --attach-socket");
  if (!o.log_path) return fail(err, errlen, "missing --log");
  size_t max = sizeof(((struct sockaddr_un*)nullptr)->sun_path) - 1;
  if (strlen(o.attach_socket) > max)
    return fail(err, errlen, "--attach-socket %s: path too long for a unix socket (%zu bytes, at most %zu)",
                o.attach_socket, strlen(o.attach_socket), max);
  if (strlen(o.log_path) > 4000) return fail(err, errlen, "--log: path too long");
  if (seen_max_files && o.log_max_size == 0)
    return fail(err, errlen, "--log-max-files needs --log-max-size");
  if (o.pty_fd >= 0 && (o.stdout_fd >= 0 || o.stderr_fd >= 0 || o.stdin_fd >= 0))
    return fail(err, errlen, "--pty-fd cannot be combined with --stdout-fd, --stderr-fd or --stdin-fd");
  const int fds[] = {o.pty_fd, o.stdout_fd, o.stderr_fd, o.stdin_fd, o.ready_fd};
  for (size_t i = 0; i < 5; i++)
    for (size_t j = i + 1; j < 5; j++)
      if (fds[i] >= 0 && fds[i] == fds[j])
        return fail(err, errlen, "file descriptor %d given for two options", fds[i]);
  if (o.hook_fd_arg && o.hook_argc == 0) return fail(err, errlen, "--exit-hook-fd-arg needs an exit hook after --");
  return true;
}

}  // namespace

bool parse_options(int argc, char** argv, Options* o, char* err, size_t errlen) {
  bool seen[kOptCount] = {};
  opterr = 0;
  optind = 1;
  for (;;) {
    int idx = -1;
    int id = getopt_long(argc, argv, "+", kLongOptions, &idx);
    if (id == -1) break;
    if (id == '?' || id == ':') {
      if (optopt > 0 && optopt < kOptCount) return fail(err, errlen, "option --%s needs a value", name_of(optopt));
      return fail(err, errlen, "unknown option %s", argv[optind - 1]);
    }
    if (seen[id]) return fail(err, errlen, "option --%s given twice", name_of(id));
    seen[id] = true;
    if (!apply(id, o, err, errlen)) return false;
  }
  if (optind < argc) {
    if (strcmp(argv[optind - 1], "--") != 0)
      return fail(err, errlen, "unexpected argument %s (the exit hook goes after --)", argv[optind]);
    o->hook_argv = argv + optind;
    o->hook_argc = argc - optind;
  }
  return validate(*o, seen[kLogMaxFiles], err, errlen);
}

}  // namespace berth::monitor
