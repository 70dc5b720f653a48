#include "sys/ns.h"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/file.h"
#include "base/strings.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

namespace berth::sys {

int ns_clone_flag(const std::string& t) {
  if (t == "pid") return CLONE_NEWPID;
  if (t == "network") return CLONE_NEWNET;
  if (t == "mount") return CLONE_NEWNS;
  if (t == "ipc") return CLONE_NEWIPC;
  if (t == "uts") return CLONE_NEWUTS;
  if (t == "user") return CLONE_NEWUSER;
  if (t == "cgroup") return CLONE_NEWCGROUP;
  if (t == "time") return CLONE_NEWTIME;
  return 0;
}

const char* ns_proc_name(const std::string& t) {
  if (t == "network") return "net";
  if (t == "mount") return "mnt";
  if (t == "pid") return "pid";
  if (t == "ipc") return "ipc";
  if (t == "uts") return "uts";
  if (t == "user") return "user";
  if (t == "cgroup") return "cgroup";
  if (t == "time") return "time";
  return "";
}

Result<UniqueFd> open_namespace(const std::string& path, const std::string& oci_type) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return sys_error("open " + oci_type + " namespace", path);
  UniqueFd owned(fd);
  int type = ::ioctl(fd, NS_GET_NSTYPE);
  if (type < 0) return Error(EINVAL, oci_type + " namespace path is not a namespace:", path);
  if (type != ns_clone_flag(oci_type))
    return Error::invalid(oci_type + " namespace path is a namespace of another type:", path);
  return owned;
}

bool in_user_namespace() {
  // Cached once true: joining berth's namespace turns false into true, never back.
  static bool in = false;
  if (in) return true;
  auto text = read_file("/proc/self/uid_map", 4096);
  if (!text) return false;  // no user namespaces: the initial one
  std::vector<std::string> f;
  for (auto& x : split(std::string(trim(*text)), ' '))
    if (!x.empty()) f.push_back(x);
  in = !(f.size() == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295");
  return in;
}

bool rootless() {
  return ::geteuid() != 0 || in_user_namespace();
}

}  // namespace berth::sys
