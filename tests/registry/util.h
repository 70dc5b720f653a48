// util.h - what the registry tests stand on: commands run without a shell, child processes
// that die with the test, temp folders, small files, digests.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace berth::regtest {

struct Output {
  int status = -1;  // exit status, 128+N when killed
  std::string out, err;
};

// Runs argv (execvp, no shell) with input on stdin; kills it after timeout_s.
Output run(const std::vector<std::string>& argv, const std::string& input = "", int timeout_s = 60);
// Whether PATH has program.
bool have(const std::string& program);

// A background process that is killed (SIGKILL to its group) and reaped on destruction,
// and by the kernel if the test process dies first (PR_SET_PDEATHSIG).
class Child {
 public:
  Child() = default;
  Child(const std::vector<std::string>& argv, const std::string& log_file);
  Child(Child&& o) noexcept : pid_(o.pid_) { o.pid_ = -1; }
  Child& operator=(Child&& o) noexcept;
  ~Child() { stop(); }
  pid_t pid() const { return pid_; }
  bool alive();
  void stop();

 private:
  pid_t pid_ = -1;
};

// A temp folder removed with everything in it.
class Scratch {
 public:
  explicit Scratch(const std::string& prefix = "/tmp/berth-regtest-");
  ~Scratch();
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A loopback TCP port nobody listens on right now.
int free_port();
// Waits until 127.0.0.1:port accepts connections; false after timeout_ms.
bool wait_for_port(int port, int timeout_ms);
void write_text(const std::string& path, const std::string& text, mode_t mode = 0644);
std::string read_text(const std::string& path);
std::string sha256_hex(const std::string& data);  // "sha256:..."
// Deterministic pseudo-random bytes.
std::string random_bytes(size_t n, uint32_t seed);

}  // namespace berth::regtest
