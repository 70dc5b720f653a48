// monitor.h - berth-monitor's event loop: one container, its output, its attach clients.
//
// Single-threaded around poll(2). The container's output is read into one 16 KiB line
// buffer per stream; what is read goes to the attached clients as it comes and into the
// json-file log line by line. Clients' stdin goes through one bounded buffer to the
// container (non-blocking, so a container that does not read its stdin stalls only the
// clients' input). SIGCHLD arrives on a signalfd. No libstdc++ (docs/monitor.md: memory).
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "monitor/json_log.h"
#include "monitor/options.h"

namespace berth::monitor {

inline constexpr size_t kLineMax = 16384;  // docker's partial-line limit
inline constexpr size_t kMaxClients = 64;
inline constexpr int kClientSendTimeoutSec = 10;

struct Stream {
  int fd = -1;
  uint8_t frame = 0;           // kFrameStdout / kFrameStderr
  const char* name = nullptr;  // "stdout" / "stderr"
  size_t len = 0;              // bytes of an unfinished line in buf
  unsigned char buf[kLineMax];
};

struct Client {
  int fd = -1;
  bool have_flags = false;
  uint8_t flags = 0;
  bool once = false;        // the first stdin client: its end closes stdin (--stdin-once)
  bool stdin_done = false;  // sent close-stdin
  unsigned char hdr[8];     // frame being read
  size_t hdr_len = 0;
  uint32_t left = 0;        // payload bytes still to read
  unsigned char small[4];   // resize payload
  size_t small_len = 0;
};

class Monitor {
 public:
  // Opens the log and takes the container's fds (made non-blocking); false with errno set
  // when the log cannot be opened.
  bool init(const Options& o);
  // Serves until the container exited and the exit hook is done; returns the exit code.
  int run(int listen_fd, int sig_fd);

 private:
  // monitor.cpp: streams, stdin, reaping, exit
  void loop();
  void setup_streams(int pty, int out, int err, int in);
  // Reads once: false when nothing came (EAGAIN) or the stream ended.
  bool read_stream(Stream& s);
  void emit_lines(Stream& s, bool flush_partial);
  void close_stream(Stream& s);
  void write_stdin();
  void request_stdin_close();
  void close_stdin();
  void reap();
  void container_exited(int wait_status);
  void write_exit_file(int code, int sig, bool oom, const char* finished);
  bool read_oom() const;
  // attach_server.cpp: clients
  void accept_clients();
  void read_client(Client& c);
  bool read_client_flags(Client& c);
  bool read_client_payload(Client& c);
  bool finish_header(Client& c);
  void drop_client(Client& c);
  bool send_frame(Client& c, uint8_t type, const void* p, size_t n);
  void broadcast(uint8_t type, const unsigned char* p, size_t n);
  void send_exit_and_close(Client& c);
  void close_all_clients();
  // hook.cpp: the exit hook
  void start_hook();
  void read_hook();
  void hook_exited();
  void adopt();

  const Options* o_ = nullptr;
  JsonLog log_;
  int listen_fd_ = -1;
  int sig_fd_ = -1;
  pid_t pid_ = 0;  // the container's init
  bool exited_ = false;
  bool done_ = false;
  bool pty_ = false;
  Stream out_, err_;
  int stdin_fd_ = -1;
  bool stdin_close_pending_ = false;
  bool once_taken_ = false;
  size_t stdin_len_ = 0;
  unsigned char stdin_buf_[16384];
  Client clients_[kMaxClients];
  unsigned char exit_payload_[64];
  size_t exit_payload_len_ = 0;
  // The exit hook.
  pid_t hook_pid_ = 0;
  int hook_fd_ = -1;
  pid_t restart_pid_ = 0;
  int restart_fds_[3] = {-1, -1, -1};
  int restart_nfds_ = 0;
};

}  // namespace berth::monitor
