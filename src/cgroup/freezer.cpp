// freezer.cpp - pause/resume (v1 freezer.state, v2 cgroup.freeze) and signalling every
// process of a cgroup.
#include <signal.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "base/file.h"
#include "cgroup/cgroup.h"
#include "cgroup/fs.h"

namespace berth::cgroup {

using detail::has_file;
using detail::read_keyed;
using detail::read_value;
using detail::write_value;

namespace {

constexpr int kFreezeTries = 2000;  // 1 ms apart
constexpr auto kTick = std::chrono::milliseconds(1);

// runc's loop: keep writing FROZEN until the state reads FROZEN. Every 50 tries thaw for a
// moment, which unsticks tasks caught in vfork and the like.
Status freeze_v1(const std::string& dir) {
  for (int i = 0; i < kFreezeTries; ++i) {
    if (i % 50 == 49) {
      TRY(write_value(dir, "freezer.state", "THAWED"));
      std::this_thread::sleep_for(kTick * 10);
    }
    TRY(write_value(dir, "freezer.state", "FROZEN"));
    std::string state = TRY(read_value(dir, "freezer.state"));
    if (state == "FROZEN") return ok();
    std::this_thread::sleep_for(kTick);
  }
  (void)write_value(dir, "freezer.state", "THAWED");
  return Error(ETIMEDOUT, "wait for freezer.state FROZEN in", dir);
}

Status thaw_v1(const std::string& dir) {
  for (int i = 0; i < kFreezeTries; ++i) {
    TRY(write_value(dir, "freezer.state", "THAWED"));
    std::string state = TRY(read_value(dir, "freezer.state"));
    if (state == "THAWED") return ok();
    std::this_thread::sleep_for(kTick);
  }
  return Error(ETIMEDOUT, "wait for freezer.state THAWED in", dir);
}

// v2: write cgroup.freeze, then wait for cgroup.events to report the state reached.
Status set_frozen_v2(const std::string& dir, bool frozen) {
  TRY(write_value(dir, "cgroup.freeze", frozen ? "1" : "0"));
  uint64_t want = frozen ? 1 : 0;
  for (int i = 0; i < kFreezeTries; ++i) {
    auto events = TRY(read_keyed(dir, "cgroup.events"));
    if (events.count("frozen") && events["frozen"] == want) return ok();
    std::this_thread::sleep_for(kTick);
  }
  if (frozen) (void)write_value(dir, "cgroup.freeze", "0");
  return Error(ETIMEDOUT,
               std::string("wait for \"frozen ") + (frozen ? "1" : "0") + "\" in cgroup.events of",
               dir);
}

Result<const Cgroup::Dir*> freezer_dir(const Cgroup& cg) {
  if (const Cgroup::Dir* d = cg.dir_for("freezer")) return d;
  return Error::invalid("freeze cgroup " + cg.path() + ": no freezer on this host");
}

}  // namespace

Status Cgroup::freeze() const {
  const Dir* d = TRY(freezer_dir(*this));
  TRY_CTX(d->v2 ? set_frozen_v2(d->path, true) : freeze_v1(d->path), "freeze cgroup " + path_);
  return ok();
}

Status Cgroup::thaw() const {
  const Dir* d = TRY(freezer_dir(*this));
  TRY_CTX(d->v2 ? set_frozen_v2(d->path, false) : thaw_v1(d->path), "thaw cgroup " + path_);
  return ok();
}

Result<std::string> Cgroup::freezer_state() const {
  const Dir* d = dir_for("freezer");
  if (d == nullptr) return std::string("running");
  if (!is_directory(d->path)) return Error(ENOENT, "read the freezer state of", d->path);
  const char* file = d->v2 ? "cgroup.freeze" : "freezer.state";
  if (!has_file(d->path, file)) return std::string("running");
  std::string state = TRY(read_value(d->path, file));
  bool paused = d->v2 ? state == "1" : state == "FROZEN";
  return std::string(paused ? "paused" : "running");
}

// Frozen tasks cannot fork, so the list cannot grow between reading and signalling. A v1
// frozen task gets a signal only once thawed; v2 frozen tasks die of SIGKILL at once. So:
// thaw afterwards if we froze a running cgroup, or if the signal is SIGKILL; a paused
// container stays paused for other signals.
Status Cgroup::kill_all(int sig) const {
  auto state = freezer_state();
  bool was_paused = state.ok() && *state == "paused";
  const Dir* freezer = dir_for("freezer");
  const Dir* v2 = v2_dir();
  if (sig == SIGKILL && v2 != nullptr && has_file(v2->path, "cgroup.kill")) {
    TRY_CTX(write_value(v2->path, "cgroup.kill", "1"), "kill cgroup " + path_);
    if (was_paused && !freezer->v2) (void)thaw();
    return ok();
  }
  bool froze = freezer != nullptr && freeze().ok();
  Status result = signal_each(sig);
  if (froze && (!was_paused || sig == SIGKILL)) (void)thaw();
  if (!result.ok()) return std::move(result).error().context("signal cgroup " + path_);
  return ok();
}

Status Cgroup::signal_each(int sig) const {
  std::vector<pid_t> pids = TRY(this->pids());
  for (pid_t pid : pids)
    if (::kill(pid, sig) < 0 && errno != ESRCH)
      return sys_error("kill", "process " + std::to_string(pid));
  return ok();
}

}  // namespace berth::cgroup
