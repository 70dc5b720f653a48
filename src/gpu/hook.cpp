// hook.cpp - see hook.h.
#include "gpu/hook.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <thread>

#include "base/file.h"
#include "base/strings.h"
#include "oci/spec_json.h"
#include "oci/state.h"
#include "sys/path_resolve.h"

namespace berth::gpu {
namespace {

// Folders the dynamic loader searches without a cache entry (Debian's multiarch ones
// included); a library folder outside them needs an ld.so.conf.d line.
const std::set<std::string> kDefaultFolders = {
    "/lib", "/usr/lib", "/lib64", "/usr/lib64", "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu"};

bool safe_name(std::string_view s) {
  return !s.empty() && s != "." && s != ".." && s.find('/') == std::string_view::npos;
}

Status make_link(int root_fd, const std::string& link, const std::string& target) {
  std::string dir = dirname_of(link), name = basename_of(link);
  UniqueFd d = TRY(sys::mkdir_in_root(root_fd, dir));
  // An O_PATH fd cannot be used with symlinkat/readlinkat: reopen the folder.
  UniqueFd dfd(::openat(d.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dfd) return sys_error("open", dir);
  struct stat st;
  if (::fstatat(dfd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (!S_ISLNK(st.st_mode)) return ok();  // the image's own file: leave it
    char cur[4096];
    ssize_t n = ::readlinkat(dfd.get(), name.c_str(), cur, sizeof cur - 1);
    if (n >= 0 && std::string_view(cur, static_cast<size_t>(n)) == target) return ok();
    if (::unlinkat(dfd.get(), name.c_str(), 0) < 0) return sys_error("remove old link", link);
  }
  if (::symlinkat(target.c_str(), dfd.get(), name.c_str()) < 0 && errno != EEXIST)
    return sys_error("symlink", link);
  return ok();
}

Status write_conf(int root_fd, const std::vector<std::string>& folders) {
  std::string text;
  for (const auto& f : folders)
    if (!kDefaultFolders.count(clean_path(f))) text += clean_path(f) + "\n";
  if (text.empty()) return ok();
  UniqueFd d = TRY(sys::mkdir_in_root(root_fd, "/etc/ld.so.conf.d"));
  UniqueFd dfd(::openat(d.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dfd) return sys_error("open", "/etc/ld.so.conf.d");
  UniqueFd f(::openat(dfd.get(), "00-berth-gpu.conf",
                      O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!f) return sys_error("create", "/etc/ld.so.conf.d/00-berth-gpu.conf");
  if (::write(f.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    return sys_error("write", "/etc/ld.so.conf.d/00-berth-gpu.conf");
  // An image without /etc/ld.so.conf would ignore the drop-in folder.
  auto conf = sys::open_in_root(root_fd, "/etc/ld.so.conf", O_RDONLY);
  if (!conf && conf.error().code() == ENOENT) {
    UniqueFd etc = TRY(sys::open_in_root(root_fd, "/etc", O_RDONLY | O_DIRECTORY));
    UniqueFd c(::openat(etc.get(), "ld.so.conf", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                        0644));
    static const char kInclude[] = "include /etc/ld.so.conf.d/*.conf\n";
    if (c) (void)!::write(c.get(), kInclude, sizeof kInclude - 1);
  }
  return ok();
}

// The image's ldconfig, if it has one (glibc images; busybox and musl images have none and
// need none: the soname links are in folders the loader searches).
std::string find_ldconfig(int root_fd) {
  for (const char* p : {"/sbin/ldconfig.real", "/sbin/ldconfig", "/usr/sbin/ldconfig"}) {
    auto fd = sys::open_in_root(root_fd, p, O_PATH);
    if (!fd) continue;
    struct stat st;
    if (::fstat(fd->get(), &st) == 0 && S_ISREG(st.st_mode)) return p;
  }
  return "";
}

[[noreturn]] void exec_ldconfig(int root_fd, const std::string& exe) {
  if (::fchdir(root_fd) < 0 || ::chroot(".") < 0 || ::chdir("/") < 0) ::_exit(126);
  // Nothing of the caller's reaches the image's program: when the hook runs inside the
  // container's init (runtime/hooks.h) that holds sockets and host folders.
  if (::syscall(SYS_close_range, 3U, ~0U, 0U) < 0)  // before Linux 5.9
    for (int fd = 3; fd < 65536; fd++) ::close(fd);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGPIPE, SIG_DFL);
  // Root without capabilities: it can write root-owned files of the rootfs, nothing more.
  ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  for (int cap = 0; cap <= CAP_LAST_CAP; cap++) ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capset, &hdr, data) < 0) ::_exit(126);
  int null = ::open("/dev/null", O_RDWR);
  if (null >= 0) {
    ::dup2(null, 0);
    ::dup2(null, 1);
  }
  char* argv[] = {const_cast<char*>("ldconfig"), nullptr};
  char* envp[] = {nullptr};
  ::execve(exe.c_str(), argv, envp);
  ::_exit(127);
}

Status run_ldconfig(int root_fd) {
  std::string exe = find_ldconfig(root_fd);
  if (exe.empty()) return ok();
  pid_t pid = ::fork();
  if (pid < 0) return sys_error("fork");
  if (pid == 0) exec_ldconfig(root_fd, exe);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  int st = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &st, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return sys_error("wait for ldconfig");
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &st, 0);
      return Error(ETIMEDOUT, "ldconfig in the container took more than 20 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    return Error::invalid("the image's " + exe + " failed (status " + std::to_string(st) + ")");
  return ok();
}

}  // namespace

Result<HookRequest> parse_hook_args(const std::vector<std::string>& args) {
  HookRequest r;
  for (size_t i = 0; i < args.size(); i++) {
    const std::string& a = args[i];
    if (a == "--no-ldconfig") {
      r.ldconfig = false;
      continue;
    }
    if (a != "--link" && a != "--folder") return Error::invalid("gpu-hook: unknown argument " + a);
    if (i + 1 >= args.size()) return Error::invalid("gpu-hook: " + a + " needs a value");
    const std::string& v = args[++i];
    if (a == "--folder") {
      if (v.empty() || v[0] != '/') return Error::invalid("gpu-hook: --folder must be absolute: " + v);
      r.folders.push_back(v);
      continue;
    }
    auto eq = v.find('=');
    if (eq == std::string::npos || v.empty() || v[0] != '/')
      return Error::invalid("gpu-hook: --link wants /DIR/NAME=TARGET, got " + v);
    std::string link = v.substr(0, eq), target = v.substr(eq + 1);
    if (!safe_name(basename_of(link)) || !safe_name(target))
      return Error::invalid("gpu-hook: --link target must be a file name in the same folder: " + v);
    r.links.emplace_back(link, target);
  }
  return r;
}

Result<std::string> rootfs_from_state(std::string_view state_json) {
  oci::State st = TRY(oci::parse_state(state_json));
  std::string config = path_join(st.bundle, "config.json");
  std::string text = TRY(read_file(config, 16u << 20));
  oci::Spec spec = TRY(oci::parse_spec(text));
  if (spec.root.path.empty()) return Error::invalid("config.json: root.path is empty");
  if (spec.root.path[0] == '/') return spec.root.path;
  return path_join(st.bundle, spec.root.path);
}

Status run_gpu_hook(const HookRequest& r, const std::string& rootfs) {
  UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return sys_error("open rootfs", rootfs);
  for (const auto& [link, target] : r.links) TRY(make_link(root.get(), link, target));
  TRY(write_conf(root.get(), r.folders));
  if (r.ldconfig) TRY(run_ldconfig(root.get()));
  return ok();
}

}  // namespace berth::gpu
