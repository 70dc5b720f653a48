#include "runtime/rootless.h"

#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <tuple>

#include "base/fd.h"
#include "base/file.h"
#include "base/log.h"
#include "base/strings.h"
#include "runtime/launch.h"
#include "sys/process.h"

namespace berth::runtime {
namespace {

constexpr const char* kPauseName = "berth-pause";

std::string user_name(uid_t uid) {
  struct passwd* pw = ::getpwuid(uid);
  return pw != nullptr ? pw->pw_name : std::to_string(uid);
}

Result<std::optional<SubIdRange>> read_subids(const std::string& file, const std::string& user,
                                              uint32_t id) {
  auto text = read_file(file, 16u << 20);
  if (!text) {
    if (text.error().code() == ENOENT) return std::optional<SubIdRange>{};
    return std::move(text).error();
  }
  auto r = parse_subids(*text, user, id);
  if (!r) return Error::invalid(file + ": " + r.error().message());
  return r;
}

// The namespace files of pid, checked to be a pause process of this user ("pid starttime"
// in the pid file guards against a reused pid).
struct Pause {
  pid_t pid = 0;
  UniqueFd user, mnt;
};

std::optional<Pause> open_pause(const std::string& pidfile) {
  auto text = read_file(pidfile, 256);
  if (!text) return std::nullopt;
  auto parts = split(std::string(trim(*text)), ' ');
  if (parts.size() != 2) return std::nullopt;
  auto pid = parse_int(parts[0]);
  auto start = parse_uint(parts[1]);
  if (!pid || *pid <= 1 || !start) return std::nullopt;
  if (sys::process_start_time(static_cast<pid_t>(*pid)) != start) return std::nullopt;
  std::string proc = "/proc/" + std::to_string(*pid);
  struct stat st;
  if (::stat(proc.c_str(), &st) < 0 || st.st_uid != ::getuid()) return std::nullopt;
  Pause p;
  p.pid = static_cast<pid_t>(*pid);
  p.user.reset(::open((proc + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC));
  p.mnt.reset(::open((proc + "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC));
  if (!p.user || !p.mnt) return std::nullopt;
  return p;
}

bool same_ns(int fd, const char* self) {
  struct stat a, b;
  return ::fstat(fd, &a) == 0 && ::stat(self, &b) == 0 && a.st_ino == b.st_ino &&
         a.st_dev == b.st_dev;
}

Status join_pause(const Pause& p) {
  if (!same_ns(p.user.get(), "/proc/self/ns/user")) {
    if (::setns(p.user.get(), CLONE_NEWUSER) < 0)
      return sys_error("join berth's user namespace (setns)", std::to_string(p.pid));
    // Root in it: the user's own id is mapped to 0.
    if (::setresgid(0, 0, 0) < 0 || ::setresuid(0, 0, 0) < 0)
      return sys_error("become root in berth's user namespace", std::to_string(p.pid));
  }
  if (!same_ns(p.mnt.get(), "/proc/self/ns/mnt") && ::setns(p.mnt.get(), CLONE_NEWNS) < 0)
    return sys_error("join berth's mount namespace (setns)", std::to_string(p.pid));
  return ok();
}

// The pause process: detached from the caller, then berth-monitor --pause (a small program:
// ~0.45 MiB PSS instead of a 2 MiB copy of berth), or this process itself when that cannot
// be run.
[[noreturn]] void pause_forever(const std::string& exe) {
  ::prctl(PR_SET_NAME, kPauseName, 0, 0, 0);
  ::setsid();
  if (::chdir("/") < 0) _exit(1);
  int null = ::open("/dev/null", O_RDWR);
  if (null >= 0) {
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
  }
  ::close_range(3, ~0U, 0);
  if (!exe.empty()) {
    const char* argv[] = {kPauseName, "--pause", nullptr};
    ::execv(exe.c_str(), const_cast<char* const*>(argv));
  }
  sigset_t all;
  sigfillset(&all);
  sigdelset(&all, SIGTERM);
  sigdelset(&all, SIGINT);
  ::sigprocmask(SIG_SETMASK, &all, nullptr);
  ::signal(SIGTERM, SIG_DFL);
  ::signal(SIGINT, SIG_DFL);
  for (;;) ::pause();
}

// Forks the pause process (detached: its parent exits at once, so it is nobody's child),
// waits until it has unshared, writes its id maps, then lets it go on.
Result<pid_t> start_pause(const RootlessMapping& mapping, const std::string& exe) {
  int up[2], down[2];
  if (::pipe2(up, O_CLOEXEC) < 0 || ::pipe2(down, O_CLOEXEC) < 0)
    return sys_error("pipe", "pause process");
  UniqueFd up_r(up[0]), up_w(up[1]), down_r(down[0]), down_w(down[1]);
  pid_t mid = ::fork();
  if (mid < 0) return sys_error("fork", "pause process");
  if (mid == 0) {
    up_r.reset();
    down_w.reset();
    pid_t pause = ::fork();
    if (pause != 0) _exit(pause < 0 ? 1 : 0);
    int flags = CLONE_NEWNS | CLONE_NEWUSER;
    int64_t msg[2] = {::getpid(), 0};
    if (::unshare(flags) < 0) msg[1] = errno;
    if (::write(up_w.get(), msg, sizeof msg) != sizeof msg || msg[1] != 0) _exit(1);
    char go = 0;
    if (::read(down_r.get(), &go, 1) != 1 || go != 'g') _exit(1);
    pause_forever(exe);
  }
  up_w.reset();
  down_r.reset();
  (void)sys::wait_for(mid);
  int64_t msg[2] = {0, 0};
  ssize_t n;
  do n = ::read(up_r.get(), msg, sizeof msg);
  while (n < 0 && errno == EINTR);
  if (n != sizeof msg) return Error::invalid("the pause process did not start");
  pid_t pid = static_cast<pid_t>(msg[0]);
  if (msg[1] != 0)
    return Error(static_cast<int>(msg[1]),
                 "make a user namespace (unshare); is kernel.unprivileged_userns_clone or "
                 "user.max_user_namespaces 0?");
  oci::Linux maps;
  maps.uid_mappings = mapping.uids;
  maps.gid_mappings = mapping.gids;
  if (Status st = write_id_maps(pid, maps); !st) {
    ::kill(pid, SIGKILL);
    return std::move(st).error();
  }
  if (::write(down_w.get(), "g", 1) != 1) return Error(EPIPE, "start the pause process");
  return pid;
}

}  // namespace

Result<std::optional<SubIdRange>> parse_subids(std::string_view text, const std::string& user,
                                               uint32_t id) {
  std::string own = std::to_string(id);
  size_t line_no = 0;
  for (const std::string& raw : split(text, '\n')) {
    ++line_no;
    std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#') continue;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view who = line.substr(0, colon);
    if (who != user && who != own) continue;
    auto f = split(line.substr(colon + 1), ':');
    auto start = f.size() == 2 ? parse_uint(trim(f[0])) : std::nullopt;
    auto count = f.size() == 2 ? parse_uint(trim(f[1])) : std::nullopt;
    if (!start || !count || *count == 0 || *start > UINT32_MAX || *count > UINT32_MAX ||
        *start + *count > UINT32_MAX)
      return Error::invalid("line " + std::to_string(line_no) + ": malformed range for " + user +
                            " (want NAME:START:COUNT)");
    return std::optional<SubIdRange>(
        SubIdRange{static_cast<uint32_t>(*start), static_cast<uint32_t>(*count)});
  }
  return std::optional<SubIdRange>{};
}

Result<RootlessMapping> rootless_mapping(const std::string& subuid_file,
                                         const std::string& subgid_file) {
  uid_t uid = ::geteuid();
  gid_t gid = ::getegid();
  std::string name = user_name(uid);
  auto su = TRY(read_subids(subuid_file, name, uid));
  auto sg = TRY(read_subids(subgid_file, name, uid));
  RootlessMapping m;
  m.uids.push_back({0, uid, 1});
  m.gids.push_back({0, gid, 1});
  if (su && sg) {
    m.uids.push_back({1, su->start, su->count});
    m.gids.push_back({1, sg->start, sg->count});
    m.single_id = false;
  }
  return m;
}

Status enter_rootless_namespace(const std::string& runroot, const std::string& pause_exe) {
  if (!sys::rootless()) return ok();
  const std::string pidfile = runroot + "/pause.pid";
  if (::geteuid() == 0) {
    // Already inside berth's namespaces (a monitor's exit hook, a RUN step's container
    // command): they are kept as they are.
    if (auto p = open_pause(pidfile); p && same_ns(p->user.get(), "/proc/self/ns/user"))
      return join_pause(*p);
    // Root in a user namespace that is not berth's (unshare -r): it may die with its shell,
    // so no pause process; this command gets a mount namespace of its own, a slave of the
    // current one so that nothing it mounts leaks back.
    if (::unshare(CLONE_NEWNS) < 0) return sys_error("make a mount namespace (unshare)");
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) < 0)
      return sys_error("make / a slave mount");
    return ok();
  }
  TRY(mkdir_all(runroot, 0700));
  auto lock = TRY(open_fd(runroot + "/pause.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (::flock(lock.get(), LOCK_EX) < 0) return sys_error("lock", runroot + "/pause.lock");
  if (auto p = open_pause(pidfile)) return join_pause(*p);
  RootlessMapping mapping = TRY(rootless_mapping());
  if (mapping.single_id)
    log::warning("no subordinate ids for " + user_name(::geteuid()) +
                 " in /etc/subuid and /etc/subgid: running with your own id only, as root in "
                 "the container; files in images owned by other users appear owned by root and "
                 "images that switch users may fail (see docs/rootless.md)");
  pid_t pid = TRY(start_pause(mapping, pause_exe));
  auto start = sys::process_start_time(pid);
  TRY(write_file_atomic(pidfile, std::to_string(pid) + " " + std::to_string(start.value_or(0)) + "\n",
                        0600));
  auto p = open_pause(pidfile);
  if (!p) return Error::invalid("the pause process " + std::to_string(pid) + " went away");
  return join_pause(*p);
}

pid_t rootless_pause_pid(const std::string& runroot) {
  auto p = open_pause(runroot + "/pause.pid");
  return p ? p->pid : 0;
}

namespace {

// (outer id of 0, span) from an id_map file's text.
std::pair<uint32_t, uint32_t> read_id_map(const std::string& text, uint32_t self) {
  uint32_t outer = self;
  uint64_t span = 0;
  bool full = false;
  for (const auto& line : split(text, '\n')) {
    std::vector<uint64_t> f;
    for (const auto& x : split(line, ' '))
      if (!x.empty()) f.push_back(parse_uint(x).value_or(0));
    if (f.size() != 3) continue;
    if (f[0] == 0) outer = static_cast<uint32_t>(f[1]);
    if (f[0] == 0 && f[1] == 0 && f[2] == 4294967295u) full = true;
    span = std::max<uint64_t>(span, f[0] + f[2]);
  }
  if (full || span == 0 || span > UINT32_MAX) span = UINT32_MAX;
  return {outer, static_cast<uint32_t>(span)};
}

}  // namespace

OuterIds outer_ids() {
  OuterIds o;
  auto u = read_file("/proc/self/uid_map", 4096);
  auto g = read_file("/proc/self/gid_map", 4096);
  std::tie(o.uid, o.uid_span) = read_id_map(u ? *u : "", ::geteuid());
  std::tie(o.gid, o.gid_span) = read_id_map(g ? *g : "", ::getegid());
  return o;
}

std::vector<oci::IdMapping> keep_id_mapping(uint32_t id, uint32_t span) {
  std::vector<oci::IdMapping> m;
  if (span == 0) return m;
  m.push_back({id, 0, 1});
  if (id == 0) {
    if (span > 1) m.push_back({1, 1, span - 1});
    return m;
  }
  if (id < span) {
    m.push_back({0, id, 1});
    if (id > 1) m.push_back({1, 1, id - 1});
    if (span - id - 1 > 0) m.push_back({id + 1, id + 1, span - id - 1});
  } else if (span > 1) {
    m.push_back({1, 1, span - 1});  // 0 stays unmapped: nothing outside is left for it
  }
  return m;
}

std::string describe_id_maps() {
  auto u = read_file("/proc/self/uid_map", 4096);
  auto g = read_file("/proc/self/gid_map", 4096);
  auto squeeze = [](const std::string& t) {
    std::vector<std::string> lines;
    for (const auto& l : split(t, '\n')) {
      std::string out;
      for (const auto& f : split(l, ' '))
        if (!f.empty()) out += (out.empty() ? "" : " ") + f;
      if (!out.empty()) lines.push_back(out);
    }
    return join(lines, ", ");
  };
  return "uid " + (u ? squeeze(*u) : "?") + "; gid " + (g ? squeeze(*g) : "?");
}

}  // namespace berth::runtime
