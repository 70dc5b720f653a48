#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include "base/file.h"
#include "sys/copy_tree.h"
#include "sys/mount_options.h"
#include "sys/ns.h"
#include "sys/path_resolve.h"
#include "sys/process.h"
#include "sys/sync.h"

namespace berth::sys {
namespace {

TEST(MountOptions, FlagsPropagationAndData) {
  auto o = parse_mount_options({"nosuid", "noexec", "rw", "rslave", "mode=755", "size=65536k"});
  EXPECT_EQ(o.flags, static_cast<unsigned long>(MS_NOSUID | MS_NOEXEC));
  EXPECT_TRUE(o.clear_flags & MS_RDONLY);
  EXPECT_EQ(o.propagation, static_cast<unsigned long>(MS_SLAVE | MS_REC));
  EXPECT_EQ(o.data, "mode=755,size=65536k");
  EXPECT_FALSE(o.bind);
}

TEST(MountOptions, BindRbindAndRecursiveAttrs) {
  auto o = parse_mount_options({"rbind", "rro", "tmpcopyup"});
  EXPECT_TRUE(o.bind && o.recursive_bind && o.tmpcopyup);
  EXPECT_NE(o.rec_attr_set, 0u);
  EXPECT_TRUE(o.data.empty());
  auto later_wins = parse_mount_options({"ro", "rw"});
  EXPECT_EQ(later_wins.flags & MS_RDONLY, 0u);
}

TEST(Signals, ParseNamesNumbersAndRealtime) {
  struct {
    const char* in;
    int want;
  } ok_cases[] = {{"KILL", SIGKILL},     {"SIGTERM", SIGTERM},         {"9", 9},
                  {"hup", SIGHUP},       {"SIGRTMIN+2", SIGRTMIN + 2}, {"RTMAX", SIGRTMAX},
                  {"SIGWINCH", SIGWINCH}};
  for (auto& c : ok_cases) EXPECT_EQ(parse_signal(c.in).value(), c.want) << c.in;
  for (const char* bad : {"", "SIGFOO", "0", "999", "RTMIN+99", "-1"}) {
    auto r = parse_signal(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().message().rfind("invalid signal", 0), 0u) << bad;
  }
}

TEST(Process, StartTimeOfSelfAndGone) {
  EXPECT_TRUE(process_start_time(getpid()).has_value());
  pid_t p = fork();
  if (p == 0) _exit(3);
  int ws = wait_for(p).value();
  EXPECT_EQ(exit_status_of(ws), 3);
  EXPECT_FALSE(process_start_time(p).has_value());
}

TEST(Namespaces, OpenChecksType) {
  EXPECT_TRUE(open_namespace("/proc/self/ns/net", "network").ok());
  auto wrong = open_namespace("/proc/self/ns/net", "pid");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message().find("another type"), std::string::npos);
  auto notns = open_namespace("/etc/hostname", "network");
  ASSERT_FALSE(notns.ok());
  EXPECT_NE(notns.error().message().find("is not a namespace"), std::string::npos);
}

TEST(SyncSocket, MessagesAndFdPassing) {
  auto p = SyncSocket::pair();
  ASSERT_TRUE(p.ok());
  auto& [a, b] = p.value();
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  Msg m;
  m.type = MsgType::kConsole;
  ASSERT_TRUE(b.send(m, devnull));
  Msg got;
  int fd = -1;
  ASSERT_TRUE(a.recv(&got, &fd));
  EXPECT_EQ(got.type, MsgType::kConsole);
  EXPECT_GE(fd, 0);
  close(fd);
  close(devnull);
  ASSERT_TRUE(send_error(b, "mount", ENOENT, "/x/y"));
  ASSERT_TRUE(a.recv(&got));
  EXPECT_EQ(error_from_msg(got).message(), "mount /x/y: No such file or directory");
  b.close();
  EXPECT_FALSE(a.recv(&got));  // EOF
}

TEST(PathResolve, SymlinksStayInsideRoot) {
  auto dir = TempDir::create();
  ASSERT_TRUE(dir.ok());
  std::string root = dir->path();
  ASSERT_TRUE(mkdir_all(root + "/etc").ok());
  ASSERT_TRUE(mkdir_all(root + "/tmp").ok());
  ASSERT_EQ(symlink("/", (root + "/escape").c_str()), 0);
  ASSERT_EQ(symlink("../../../../tmp", (root + "/etc/up").c_str()), 0);
  UniqueFd rfd(open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(mkdir_in_root(rfd.get(), "/escape/made/here").ok());
  EXPECT_TRUE(is_directory(root + "/made/here"));
  ASSERT_TRUE(ensure_in_root(rfd.get(), "/etc/up/file", false).ok());
  EXPECT_TRUE(path_exists(root + "/tmp/file"));  // "../.." clamped at the root
  EXPECT_FALSE(path_exists("/made"));
}

TEST(CopyTree, CopiesFilesDirsLinksAndModes) {
  auto src = TempDir::create();
  auto dst = TempDir::create();
  ASSERT_TRUE(src.ok() && dst.ok());
  ASSERT_TRUE(mkdir_all(src->path() + "/d/e").ok());
  ASSERT_TRUE(write_file_atomic(src->path() + "/d/e/f", std::string(100000, 'x'), 0640).ok());
  ASSERT_EQ(symlink("../../outside", (src->path() + "/d/link").c_str()), 0);
  UniqueFd s(open(src->path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  UniqueFd d(open(dst->path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(copy_tree(s.get(), d.get()).ok());
  EXPECT_EQ(read_file(dst->path() + "/d/e/f").value().size(), 100000u);
  struct stat st;
  ASSERT_EQ(stat((dst->path() + "/d/e/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  char buf[64] = {};
  ASSERT_GT(readlink((dst->path() + "/d/link").c_str(), buf, sizeof buf - 1), 0);
  EXPECT_STREQ(buf, "../../outside");  // copied as a link, never followed
  // A name that exists in the destination is an error, not an overwrite.
  EXPECT_FALSE(copy_tree(s.get(), d.get()).ok());
}

}  // namespace
}  // namespace berth::sys
