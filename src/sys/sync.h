// sync.h - the channel between the runtime and the container's init while it is set up.
//
// A SOCK_SEQPACKET socketpair carrying fixed-size typed messages (so the child side never
// allocates), optionally with one file descriptor (SCM_RIGHTS): the pty master travels this
// way. Errors in the child come back as {kError, step, errno, detail}.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "base/error.h"
#include "base/fd.h"

namespace berth::sys {

enum class MsgType : uint32_t {
  kNone = 0,
  kContinue,     // parent -> child: go on to the next phase
  kUserNsReady,  // child -> parent: unshared the user namespace, write the id maps
  kInitPid,      // stage-1 -> parent: value = the init's pid
  kHooksPoint,   // child -> parent: mounts ready, run prestart/createRuntime hooks
  kConsole,      // child -> parent: fd = the pty master
  kReady,        // child -> parent: set up, waiting for start
  kError,        // child -> parent: step failed with errno, detail names the object
  kExecFailed,   // child -> parent: execve failed; value = exit status to report (126/127)
};

struct Msg {
  MsgType type = MsgType::kNone;
  int32_t err = 0;        // errno for kError
  int64_t value = 0;      // pid, exit status
  char step[256] = {};    // what was being done ("mount", "pivot_root")
  char detail[400] = {};  // on what (a path, a value)
};

class SyncSocket {
 public:
  // Makes a connected pair; [0] stays in the parent, [1] goes to the child.
  static Result<std::pair<SyncSocket, SyncSocket>> pair();
  SyncSocket() = default;
  explicit SyncSocket(UniqueFd fd) : fd_(std::move(fd)) {}

  // Both are async-signal-safe and do not allocate: usable in the child after fork.
  bool send(const Msg& m, int fd_to_pass = -1) const;
  // Returns false on EOF or error; received fd (if any) is stored in *fd_out.
  bool recv(Msg* m, int* fd_out = nullptr) const;

  int fd() const { return fd_.get(); }
  void close() { fd_.reset(); }

 private:
  UniqueFd fd_;
};

// Helpers for the child: fill and send a message without allocating.
bool send_simple(const SyncSocket& s, MsgType t, int64_t value = 0);
bool send_error(const SyncSocket& s, const char* step, int err, const char* detail);
// Turns a received kError into an Error ("step detail: strerror").
Error error_from_msg(const Msg& m);

}  // namespace berth::sys
