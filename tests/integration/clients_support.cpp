#include "clients_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "base/strings.h"

namespace berth::test {
namespace {

std::string errno_text(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

// Mount points at or below dir, deepest first (from this namespace's mountinfo).
std::vector<std::string> mounts_under(const std::string& dir) {
  std::vector<std::string> out;
  auto mi = read_file("/proc/self/mountinfo");
  if (!mi) return out;
  for (const auto& line : split(*mi, '\n')) {
    auto f = split(line, ' ');
    if (f.size() < 5) continue;
    const std::string& mp = f[4];
    if (mp == dir || starts_with(mp, dir + "/")) out.push_back(mp);
  }
  std::sort(out.begin(), out.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return out;
}

struct Hierarchy {
  std::string path;  // mount point
  bool v2 = false;
};

// Every cgroup hierarchy (from this namespace's mountinfo).
std::vector<Hierarchy> cgroup_hierarchies() {
  std::vector<Hierarchy> out;
  auto mi = read_file("/proc/self/mountinfo");
  if (!mi) return out;
  for (const auto& line : split(*mi, '\n')) {
    auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    auto post = split(line.substr(dash + 3), ' ');
    auto pre = split(line.substr(0, dash), ' ');
    if (post.empty() || pre.size() < 5) continue;
    if (post[0] == "cgroup" || post[0] == "cgroup2") out.push_back({pre[4], post[0] == "cgroup2"});
  }
  return out;
}

// dir and its sub-directories, deepest first.
void cgroup_dirs(const std::string& dir, std::vector<std::string>& out) {
  if (auto names = list_dir(dir)) {
    for (const auto& n : *names) {
      std::string sub = dir + "/" + n;
      if (is_directory(sub)) cgroup_dirs(sub, out);
    }
  }
  out.push_back(dir);
}

std::vector<pid_t> procs_of(const std::string& dir) {
  std::vector<pid_t> out;
  auto text = read_file(dir + "/cgroup.procs");
  if (!text) return out;
  for (const auto& l : split(*text, '\n'))
    if (auto v = parse_int(trim(l))) out.push_back(static_cast<pid_t>(*v));
  return out;
}

std::string sha256_hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

std::string oci_arch() {
  struct utsname u;
  uname(&u);
  std::string m = u.machine;
  if (m == "x86_64") return "amd64";
  if (m == "aarch64") return "arm64";
  return m;
}

// The cgroup every process this test starts is born in (see isolate_host); empty before.
std::string g_own_cgroup;

// /berth-clients-PID-own in the unified hierarchy where there is one, else in the first.
std::string own_cgroup_path() {
  auto hs = cgroup_hierarchies();
  if (hs.empty()) return "";
  auto v2 = std::find_if(hs.begin(), hs.end(), [](const Hierarchy& h) { return h.v2; });
  return (v2 != hs.end() ? v2->path : hs.front().path) + "/berth-clients-" +
         std::to_string(getpid()) + "-own";
}

// At exit: what is left of the daemons goes, this process moves back to the root cgroup,
// and the cgroup is removed.
void release_own_cgroup() {
  kill_children();
  std::string root = dirname_of(g_own_cgroup);
  (void)write_file(root + "/cgroup.procs", std::to_string(getpid()));
  rmdir(g_own_cgroup.c_str());
}

}  // namespace

std::string isolate_host() {
  static std::string result = [] {
    if (unshare(CLONE_NEWNS) < 0) return errno_text("unshare a mount namespace");
    if (mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) < 0)
      return errno_text("make / a slave mount");
    if (mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
      return errno_text("mount a tmpfs on /run");
    // Daemons double-fork (containerd shims, conmon, slurmstepd): a cgroup of our own finds
    // them all at the end. Not PR_SET_CHILD_SUBREAPER: orphans must be reaped at once, as
    // init does (a zombie in a job's process group keeps slurmstepd waiting).
    std::string cg = own_cgroup_path();
    if (cg.empty() || mkdir(cg.c_str(), 0755) < 0) return errno_text("create cgroup " + cg);
    g_own_cgroup = cg;
    atexit(release_own_cgroup);
    if (!write_file(cg + "/cgroup.procs", std::to_string(getpid())).ok())
      return "cannot enter cgroup " + cg;
    return std::string();
  }();
  return result;
}

std::string divert_writes(const std::string& dir, const std::string& scratch) {
  std::string upper = scratch + "/upper", work = scratch + "/work";
  if (!mkdir_all(upper).ok() || !mkdir_all(work).ok()) return "cannot create " + scratch;
  std::string opts = "lowerdir=" + dir + ",upperdir=" + upper + ",workdir=" + work;
  if (mount("overlay", dir.c_str(), "overlay", 0, opts.c_str()) < 0)
    return errno_text("mount an overlay on " + dir);
  return "";
}

std::string missing_requirements(const std::vector<std::string>& programs) {
  if (geteuid() != 0) return "needs root: the clients create namespaces, mounts and cgroups";
  for (const auto& p : programs) {
    bool found = false;
    for (const auto& dir :
         split(getenv("PATH") ? getenv("PATH") : "/usr/sbin:/usr/bin:/sbin:/bin", ':'))
      found |= access((dir + "/" + p).c_str(), X_OK) == 0;
    if (!found) return p + " is not installed (scripts/install-deps.sh installs it)";
  }
  return "";
}

TempDir::TempDir(const std::string& prefix, mode_t mode) {
  path_ = "/tmp/" + prefix + "-XXXXXX";
  if (mkdtemp(path_.data()) == nullptr) {
    path_.clear();
    return;
  }
  chmod(path_.c_str(), mode);
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  for (const auto& mp : mounts_under(path_)) umount2(mp.c_str(), MNT_DETACH);
  (void)remove_all(path_);
}

Daemon::Daemon(const std::vector<std::string>& argv, const std::string& log_file)
    : log_file_(log_file) {
  pid_ = spawn_cmd(argv, log_file);
}

bool Daemon::running() {
  if (pid_ <= 0) return false;
  int ws;
  if (waitpid(pid_, &ws, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

void Daemon::stop(int timeout_ms) {
  if (!running()) return;
  kill(pid_, SIGTERM);
  int ws;
  if (!wait_until([&] { return waitpid(pid_, &ws, WNOHANG) == pid_; }, timeout_ms)) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &ws, 0);
  }
  pid_ = -1;
}

std::string Daemon::log() const {
  auto text = read_file(log_file_);
  if (!text) return "(no log)";
  return text->size() > 3000 ? text->substr(text->size() - 3000) : *text;
}

void kill_children() {
  if (g_own_cgroup.empty()) return;
  for (int round = 0; round < 100; ++round) {
    bool others = false;
    for (pid_t p : procs_of(g_own_cgroup)) {
      if (p == getpid()) continue;
      others = true;
      kill(p, SIGKILL);
    }
    int ws;
    while (waitpid(-1, &ws, WNOHANG) > 0) {
    }
    if (!others) return;
    usleep(10000);
  }
}

Output run_in_pty(const std::vector<std::string>& argv, int timeout_s) {
  Output o;
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) {
    o.err = errno_text("open a pty");
    return o;
  }
  std::string slave = ptsname(master);
  pid_t pid = fork();
  if (pid == 0) {
    setsid();
    int s = open(slave.c_str(), O_RDWR);
    ioctl(s, TIOCSCTTY, 0);
    for (int fd = 0; fd < 3; ++fd) dup2(s, fd);
    std::vector<char*> a;
    for (const auto& x : argv) a.push_back(const_cast<char*>(x.c_str()));
    a.push_back(nullptr);
    execvp(a[0], a.data());
    _exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  for (;;) {  // until every holder of the slave is gone (EIO) or the deadline
    struct pollfd p = {master, POLLIN, 0};
    if (poll(&p, 1, 50) > 0) {
      char buf[4096];
      ssize_t n = read(master, buf, sizeof buf);
      if (n <= 0) break;
      o.out.append(buf, static_cast<size_t>(n));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      o.err = "timed out after " + std::to_string(timeout_s) + "s";
      break;
    }
  }
  int ws = 0;
  waitpid(pid, &ws, 0);
  close(master);
  o.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
  return o;
}

std::vector<pid_t> cgroup_tree_pids(const std::string& name) {
  std::vector<pid_t> out;
  for (const auto& h : cgroup_hierarchies()) {
    std::vector<std::string> dirs;
    if (is_directory(h.path + "/" + name)) cgroup_dirs(h.path + "/" + name, dirs);
    for (const auto& d : dirs)
      for (pid_t p : procs_of(d))
        if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  }
  return out;
}

void remove_cgroup_tree(const std::string& name) {
  for (const auto& h : cgroup_hierarchies()) {
    std::vector<std::string> dirs;
    if (!is_directory(h.path + "/" + name)) continue;
    cgroup_dirs(h.path + "/" + name, dirs);
    for (const auto& d : dirs) {  // a frozen process cannot die: thaw first
      if (path_exists(d + "/freezer.state")) (void)write_file(d + "/freezer.state", "THAWED");
      if (path_exists(d + "/cgroup.freeze")) (void)write_file(d + "/cgroup.freeze", "0");
      for (pid_t p : procs_of(d)) kill(p, SIGKILL);
    }
    for (const auto& d : dirs)
      wait_until([&] { return rmdir(d.c_str()) == 0 || errno == ENOENT; }, 3000);
  }
}

int free_port() {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = -1;
  if (bind(s, reinterpret_cast<struct sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(s, reinterpret_cast<struct sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  close(s);
  return port;
}

bool wait_until(const std::function<bool()>& pred, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() > deadline) return pred();
    usleep(20000);
  }
}

bool process_alive(pid_t pid) {
  auto stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return false;
  auto close = stat->rfind(')');
  return close != std::string::npos && close + 2 < stat->size() && (*stat)[close + 2] != 'Z';
}

std::vector<std::string> probe_values(const std::string& out, const std::string& key) {
  std::vector<std::string> v;
  for (auto line : split(out, '\n')) {
    while (!line.empty() && line.back() == '\r') line.pop_back();  // from a pty (or two)
    if (starts_with(line, key + "=")) v.push_back(line.substr(key.size() + 1));
  }
  return v;
}

std::string probe_value(const std::string& out, const std::string& key) {
  auto v = probe_values(out, key);
  return v.empty() ? "" : v.front();
}

std::string tar_dir(const std::string& dir, const std::string& out) {
  Output o = run_cmd({"tar", "--numeric-owner", "-C", dir, "-cf", out, "."});
  return o.status == 0 ? "" : "tar " + dir + ": " + o.err;
}

std::string write_docker_archive(const std::string& rootfs, const std::string& tag,
                                 const std::vector<std::string>& cmd, const std::string& out) {
  std::string work = out + ".d";
  if (!mkdir_all(work).ok()) return "cannot create " + work;
  std::string layer_tar = work + "/layer.tar";
  if (auto e = tar_dir(rootfs, layer_tar); !e.empty()) return e;
  auto layer = read_file(layer_tar, 256u << 20);
  if (!layer) return layer.error().message();
  std::string layer_id = sha256_hex(*layer);
  if (!mkdir_all(work + "/" + layer_id).ok() ||
      rename(layer_tar.c_str(), (work + "/" + layer_id + "/layer.tar").c_str()) < 0)
    return errno_text("place the layer");
  nlohmann::json config = {
      {"architecture", oci_arch()},
      {"os", "linux"},
      {"config", {{"Env", {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}}, {"Cmd", cmd}}},
      {"rootfs", {{"type", "layers"}, {"diff_ids", {"sha256:" + layer_id}}}}};
  std::string config_text = config.dump();
  std::string config_name = sha256_hex(config_text) + ".json";
  nlohmann::json manifest = nlohmann::json::array(
      {{{"Config", config_name}, {"RepoTags", {tag}}, {"Layers", {layer_id + "/layer.tar"}}}});
  if (!write_file_atomic(work + "/" + config_name, config_text).ok() ||
      !write_file_atomic(work + "/manifest.json", manifest.dump()).ok())
    return "cannot write the image's config and manifest";
  Output o = run_cmd(
      {"tar", "-C", work, "-cf", out, "manifest.json", config_name, layer_id + "/layer.tar"});
  (void)remove_all(work);
  return o.status == 0 ? "" : "tar the image: " + o.err;
}

}  // namespace berth::test
