#include "network/pasta.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "base/fd.h"
#include "base/file.h"
#include "base/strings.h"

namespace berth::network {
namespace {

std::string spec_of(const PortMapping& p) {
  std::string s;
  if (!p.host_ip.empty() && p.host_ip != "0.0.0.0") s = p.host_ip + "/";
  return s + std::to_string(p.host_port) + ":" + std::to_string(p.container_port);
}

}  // namespace

std::vector<std::string> pasta_args(const PastaOptions& o) {
  std::vector<std::string> a = {"--config-net", "--quiet", "--netns", o.netns_path,
                                // nothing forwarded from the container to the host's ports
                                "-T", "none", "-U", "none"};
  bool tcp = false, udp = false;
  for (const auto& p : o.ports) {
    bool is_udp = p.proto == "udp";
    a.push_back(is_udp ? "-u" : "-t");
    a.push_back(spec_of(p));
    (is_udp ? udp : tcp) = true;
  }
  if (!tcp) a.insert(a.end(), {"-t", "none"});
  if (!udp) a.insert(a.end(), {"-u", "none"});
  if (!o.pid_file.empty()) a.insert(a.end(), {"--pid", o.pid_file});
  return a;
}

Result<pid_t> start_pasta(const PastaOptions& o) {
  std::vector<std::string> args = pasta_args(o);
  args.insert(args.begin(), o.exe);
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  int err[2];
  if (::pipe2(err, O_CLOEXEC) < 0) return sys_error("pipe", "pasta");
  UniqueFd err_r(err[0]), err_w(err[1]);
  pid_t child = ::fork();
  if (child < 0) return sys_error("fork", "pasta");
  if (child == 0) {
    // pasta forks into the background once the namespace is set up; its first process
    // exits then, with pasta's errors on stderr before that.
    int null = ::open("/dev/null", O_RDWR);
    if (null >= 0) {
      ::dup2(null, 0);
      ::dup2(null, 1);
    }
    ::dup2(err_w.get(), 2);
    ::setsid();
    // pasta refuses to start with an inherited ignored SIGPIPE ("Couldn't install signal
    // handlers"): give it default dispositions and an empty mask.
    for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execvp(argv[0], argv.data());
    _exit(127);
  }
  err_w.reset();
  std::string out;
  char buf[1024];
  for (;;) {
    ssize_t n = ::read(err_r.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (out.size() < 4096) out.append(buf, static_cast<size_t>(n));
  }
  int ws = 0;
  while (::waitpid(child, &ws, 0) < 0 && errno == EINTR) {
  }
  std::string msg(trim(out));
  if (auto nl = msg.rfind('\n'); nl != std::string::npos) msg = msg.substr(nl + 1);
  if (WIFEXITED(ws) && WEXITSTATUS(ws) == 127)
    return Error(ENOENT, "the rootless network needs pasta (install package passt), or use "
                         "--network none or --network host");
  if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
    return Error::invalid("pasta failed" + (msg.empty() ? std::string() : ": " + msg) +
                          (msg.find("tun") != std::string::npos
                               ? " (pasta needs read-write access to /dev/net/tun: chmod 666 "
                                 "/dev/net/tun)"
                               : ""));
  auto text = read_file(o.pid_file, 64);
  auto pid = text ? parse_int(trim(*text)) : std::nullopt;
  if (!pid || *pid <= 1) return Error::invalid("pasta did not write its pid to " + o.pid_file);
  return static_cast<pid_t>(*pid);
}

void stop_pasta(const std::string& pid_file) {
  auto text = read_file(pid_file, 64);
  if (!text) return;
  auto pid = parse_int(trim(*text));
  // pasta's comm is "pasta" (or "pasta.avx2"): never signal a reused pid of something else.
  if (pid && *pid > 1) {
    auto comm = read_file("/proc/" + std::to_string(*pid) + "/comm", 64);
    if (comm && starts_with(*comm, "pasta")) ::kill(static_cast<pid_t>(*pid), SIGTERM);
  }
  ::unlink(pid_file.c_str());
}

Status check_unprivileged_port(uint16_t host_port) {
  uint64_t start = 1024;
  if (auto text = read_file("/proc/sys/net/ipv4/ip_unprivileged_port_start", 64))
    start = parse_uint(trim(*text)).value_or(1024);
  if (host_port != 0 && host_port < start)
    return Error::invalid("cannot publish port " + std::to_string(host_port) +
                             " without root: ports below " + std::to_string(start) +
                             " are privileged (use a higher host port, e.g. -p " +
                             std::to_string(8000 + host_port % 1000) +
                             ":..., or lower sysctl net.ipv4.ip_unprivileged_port_start)");
  return ok();
}

}  // namespace berth::network
