#include "registry/cred_helper.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <nlohmann/json.hpp>

#include "base/fd.h"
#include "base/json_read.h"
#include "base/strings.h"

extern char** environ;

namespace berth::registry {
namespace {

constexpr std::string_view kNotFound = "credentials not found in native keychain";
constexpr size_t kMaxOutput = 1 << 20;

struct Pipe {
  UniqueFd r, w;
};

Result<Pipe> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) < 0) return sys_error("pipe");
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

struct Output {
  int status = -1;
  std::string out, err;
};

// Writes input to the child's stdin without dying of SIGPIPE when it exits early.
void feed(int fd, std::string_view input) {
  sigset_t pipe_set, old;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  while (!input.empty()) {
    ssize_t n = ::write(fd, input.data(), input.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    input.remove_prefix(static_cast<size_t>(n));
  }
  struct timespec zero = {0, 0};
  while (sigtimedwait(&pipe_set, nullptr, &zero) > 0) {
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

// Reads stdout and stderr to EOF (both at once, so a chatty helper cannot deadlock us).
void drain(int out_fd, int err_fd, Output* o) {
  struct pollfd p[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  std::string* dst[2] = {&o->out, &o->err};
  int open_count = 2;
  while (open_count > 0) {
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (int i = 0; i < 2; ++i) {
      if (p[i].fd < 0 || p[i].revents == 0) continue;
      char buf[4096];
      ssize_t n = ::read(p[i].fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        p[i].fd = -1;
        --open_count;
      } else if (dst[i]->size() < kMaxOutput) {
        dst[i]->append(buf, static_cast<size_t>(n));
      }
    }
  }
}

Result<pid_t> spawn(const std::string& program, const std::string& verb, Pipe& in, Pipe& out,
                    Pipe& err) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in.r.get(), 0);
  posix_spawn_file_actions_adddup2(&fa, out.w.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, err.w.get(), 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, pipe_only;
  sigemptyset(&none);
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &pipe_only);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  char* argv[] = {const_cast<char*>(program.c_str()), const_cast<char*>(verb.c_str()), nullptr};
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, program.c_str(), &fa, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc == ENOENT) return Error::invalid("credential helper " + program + " not found in PATH");
  if (rc != 0) return Error(rc, "run credential helper", program);
  return pid;
}

Result<Output> run_helper(const std::string& helper, const std::string& verb,
                          std::string_view input) {
  std::string program = "docker-credential-" + helper;
  Pipe in = TRY(make_pipe()), out = TRY(make_pipe()), err = TRY(make_pipe());
  pid_t pid = TRY(spawn(program, verb, in, out, err));
  in.r.reset();
  out.w.reset();
  err.w.reset();
  feed(in.w.get(), input);
  in.w.reset();
  Output o;
  drain(out.r.get(), err.r.get(), &o);
  int ws = 0;
  while (::waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
  }
  o.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
  return o;
}

// The first line of what the helper said, for an error message.
std::string said(const Output& o) {
  std::string_view s = trim(o.out.empty() ? o.err : o.out);
  if (s.empty()) s = trim(o.err);
  std::string line(s.substr(0, s.find('\n')));
  if (line.size() > 200) line = line.substr(0, 200) + "...";
  return line.empty() ? "no output" : line;
}

Error helper_failed(const std::string& helper, const std::string& verb, std::string_view server,
                    const Output& o) {
  std::string status = o.status > 128 ? "killed by signal " + std::to_string(o.status - 128)
                                      : "exit status " + std::to_string(o.status);
  return Error::invalid("credential helper docker-credential-" + helper + " failed to " + verb +
                        " credentials for " + std::string(server) + ": " + status + ": " + said(o));
}

bool not_found(const Output& o) {
  return o.out.find(kNotFound) != std::string::npos || o.err.find(kNotFound) != std::string::npos;
}

}  // namespace

Result<std::optional<AuthConfig>> helper_get(const std::string& helper, std::string_view server) {
  Output o = TRY(run_helper(helper, "get", server));
  if (o.status != 0) {
    if (not_found(o)) return std::optional<AuthConfig>();
    return helper_failed(helper, "get", server, o);
  }
  nlohmann::json j = nlohmann::json::parse(o.out, nullptr, false);
  std::string user, secret;
  if (!j.is_object() || !json_read::string(j, "Username", &user) ||
      !json_read::string(j, "Secret", &secret)) {
    return Error::invalid("credential helper docker-credential-" + helper +
                          " printed invalid JSON for " + std::string(server));
  }
  if (user.empty() && secret.empty()) return std::optional<AuthConfig>();
  AuthConfig a;
  if (user == "<token>") {
    a.identity_token = secret;
  } else {
    a.username = user;
    a.password = secret;
  }
  return std::optional<AuthConfig>(a);
}

Status helper_store(const std::string& helper, std::string_view server, const AuthConfig& auth) {
  bool token = !auth.identity_token.empty();
  nlohmann::json j = {{"ServerURL", server},
                      {"Username", token ? std::string("<token>") : auth.username},
                      {"Secret", token ? auth.identity_token : auth.password}};
  Output o = TRY(run_helper(helper, "store",
                            j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
  if (o.status != 0) return helper_failed(helper, "store", server, o);
  return ok();
}

Result<bool> helper_erase(const std::string& helper, std::string_view server) {
  Output o = TRY(run_helper(helper, "erase", server));
  if (o.status == 0) return true;
  if (not_found(o)) return false;
  return helper_failed(helper, "erase", server, o);
}

}  // namespace berth::registry
