#include "fixture.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "base/file.h"
#include "base/strings.h"

namespace berth::test {

std::string build_dir() {
  if (const char* d = getenv("BERTH_BUILD_DIR")) return d;
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  buf[n > 0 ? n : 0] = 0;
  return dirname_of(dirname_of(buf));  // build/tests/x -> build
}

std::string runtime_binary() {
  return build_dir() + "/bin/berth-runtime";
}
std::string probe_binary() {
  return build_dir() + "/tests/berth-probe";
}
std::string busybox_binary() {
  return path_exists("/bin/busybox") ? "/bin/busybox" : "";
}

static std::string drain(int fd) {
  std::string s;
  char buf[8192];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) s.append(buf, static_cast<size_t>(n));
  return s;
}

Output run_cmd(const std::vector<std::string>& argv, const std::string& input, int timeout_s) {
  Output o;
  std::string tmpl = "/tmp/berth-test-out-XXXXXX";
  int ofd = mkstemp(tmpl.data());
  unlink(tmpl.c_str());
  std::string tmpl2 = "/tmp/berth-test-err-XXXXXX";
  int efd = mkstemp(tmpl2.data());
  unlink(tmpl2.c_str());
  int in[2];
  if (pipe2(in, O_CLOEXEC) < 0) return o;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(ofd, 1);
    dup2(efd, 2);
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    execvp(a[0], a.data());
    _exit(127);
  }
  close(in[0]);
  signal(SIGPIPE, SIG_IGN);
  if (!input.empty()) (void)!write(in[1], input.data(), input.size());
  close(in[1]);
  int ws = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (waitpid(pid, &ws, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &ws, 0);
      o.err = "timed out after " + std::to_string(timeout_s) + "s\n";
      break;
    }
    usleep(2000);
  }
  o.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
  lseek(ofd, 0, SEEK_SET);
  lseek(efd, 0, SEEK_SET);
  o.out = drain(ofd);
  o.err += drain(efd);
  close(ofd);
  close(efd);
  return o;
}

pid_t spawn_cmd(const std::vector<std::string>& argv, const std::string& out_file) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int nul = open("/dev/null", O_RDONLY);
    dup2(nul, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    execvp(a[0], a.data());
    _exit(127);
  }
  return pid;
}

static void copy_file(const std::string& from, const std::string& to, mode_t mode) {
  std::ifstream in(from, std::ios::binary);
  std::ofstream out(to, std::ios::binary);
  out << in.rdbuf();
  out.close();
  chmod(to.c_str(), mode);
}

Bundle::Bundle() {
  dir_ = "/tmp/berth-test-bundle-XXXXXX";
  if (mkdtemp(dir_.data()) == nullptr) throw std::runtime_error("mkdtemp");
  chmod(dir_.c_str(), 0755);  // ids mapped by a user namespace must reach the rootfs
  std::string r = rootfs();
  for (const char* d : {"/bin", "/proc", "/sys", "/dev", "/etc", "/tmp", "/root"})
    (void)mkdir_all(r + d);
  chmod((r + "/tmp").c_str(), 01777);
  copy_file(probe_binary(), r + "/bin/probe", 0755);
  if (!busybox_binary().empty()) {
    copy_file(busybox_binary(), r + "/bin/busybox", 0755);
    for (const char* a :
         {"sh", "ls", "cat", "echo", "id", "true", "false", "sleep", "hostname", "ps", "mount",
          "mkdir", "touch", "stat", "grep", "kill", "wc", "readlink", "mknod"})
      (void)symlink("busybox", (r + "/bin/" + a).c_str());
  }
  (void)write_file_atomic(r + "/etc/passwd",
                          "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n");
  (void)write_file_atomic(r + "/etc/group", "root:x:0:\nnogroup:x:65534:\n");
  (void)write_file_atomic(r + "/not-executable", "just text\n", 0644);
  Output o = run_cmd({runtime_binary(), "spec", "--bundle", dir_});
  if (o.status != 0) throw std::runtime_error("berth-runtime spec failed: " + o.err);
  config_ = nlohmann::json::parse(read_file(dir_ + "/config.json").value());
  config_["process"]["terminal"] = false;
  config_["process"]["args"] = {"/bin/probe"};
}

Bundle::~Bundle() {
  (void)remove_all(dir_);
}

void Bundle::write_config() const {
  (void)write_file_atomic(dir_ + "/config.json", config_.dump(2));
}

void RuntimeFixture::SetUp() {
  root_ = "/tmp/berth-test-root-XXXXXX";
  ASSERT_NE(mkdtemp(root_.data()), nullptr);
}

void RuntimeFixture::TearDown() {
  for (const auto& id : ids_) run_cmd({runtime_binary(), "--root", root_, "delete", "--force", id});
  for (const auto& id : ids_) {
    // Nothing named after the container may be left in any cgroup hierarchy.
    Output f = run_cmd({"find", "/sys/fs/cgroup", "-maxdepth", "3", "-name", id});
    EXPECT_EQ(f.out, "") << "cgroup left behind for " << id;
  }
  auto left = list_dir(root_);
  if (left) {
    for (const auto& n : *left)
      if (n[0] != '.') ADD_FAILURE() << "state left behind: " << root_ << "/" << n;
  }
  (void)remove_all(root_);
}

Output RuntimeFixture::rt(std::vector<std::string> args, const std::string& input, int timeout_s) {
  args.insert(args.begin(), {runtime_binary(), "--root", root_});
  return run_cmd(args, input, timeout_s);
}

Output RuntimeFixture::run(Bundle& b, const std::string& id, std::vector<std::string> extra) {
  b.write_config();
  std::vector<std::string> args = {"run", "--bundle", b.dir()};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back(id);
  return rt(args);
}

std::string RuntimeFixture::unique_id(const std::string& base) {
  std::string id =
      "bt-" + base + "-" + std::to_string(getpid()) + "-" + std::to_string(ids_.size());
  ids_.push_back(id);
  return id;
}

std::vector<std::string> RuntimeFixture::values(const std::string& out, const std::string& key) {
  std::vector<std::string> v;
  for (const auto& line : split(out, '\n'))
    if (line.size() > key.size() && line.compare(0, key.size(), key) == 0 &&
        line[key.size()] == '=')
      v.push_back(line.substr(key.size() + 1));
  return v;
}

std::string RuntimeFixture::value(const std::string& out, const std::string& key) {
  auto v = values(out, key);
  return v.empty() ? "" : v.front();
}

}  // namespace berth::test
