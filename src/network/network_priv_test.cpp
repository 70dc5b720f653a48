// Root tests: a bridge, two network namespaces with veths, NAT and published ports, against
// the real kernel. Everything is made in a private mount namespace and removed by RAII guards
// (links, rules and namespaces) even when an assertion fails.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "base/fd.h"
#include "base/file.h"
#include "base/strings.h"
#include "network/ipam.h"
#include "network/nat.h"
#include "network/netlink.h"
#include "network/netns.h"

namespace berth::network {
namespace {

const int kPid = static_cast<int>(getpid());
const std::string kBridge = "bt" + std::to_string(kPid);
const std::string kSubnet = "10.89." + std::to_string(kPid % 200 + 20) + ".0/24";
std::string in_subnet(int host) {
  return "10.89." + std::to_string(kPid % 200 + 20) + "." + std::to_string(host);
}
const std::string kDir = "/run/berth-nettest-" + std::to_string(kPid);
const uint16_t kTcpPort = static_cast<uint16_t>(21000 + kPid % 20000);
const uint16_t kUdpPort = static_cast<uint16_t>(kTcpPort + 1);

// Runs argv (no shell) and returns its exit status; output goes to the test log.
int run(const std::vector<std::string>& argv, bool quiet = false) {
  pid_t pid = fork();
  if (pid == 0) {
    if (quiet) {
      int null = open("/dev/null", O_WRONLY);
      dup2(null, 1);
      dup2(null, 2);
    }
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    execvp(a[0], a.data());
    _exit(127);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int ping_from(const std::string& ns, const std::string& ip) {
  return run({"nsenter", "--net=" + ns, "busybox", "ping", "-c", "1", "-W", "2", ip});
}

// A child inside the namespace answering each TCP connection on :80 with "tcp-ok" and each
// UDP datagram on :53 with "udp-ok"; killed by the destructor.
class NsServer {
 public:
  explicit NsServer(const std::string& ns) {
    pid_ = fork();
    if (pid_ == 0) serve(ns);
  }
  ~NsServer() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

 private:
  [[noreturn]] static void serve(const std::string& ns) {
    alarm(60);
    int nsfd = open(ns.c_str(), O_RDONLY | O_CLOEXEC);
    if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) < 0) _exit(1);
    int t = bound(SOCK_STREAM, 80), u = bound(SOCK_DGRAM, 53);
    if (t < 0 || u < 0 || listen(t, 8) < 0) _exit(2);
    for (;;) {
      fd_set r;
      FD_ZERO(&r);
      FD_SET(t, &r);
      FD_SET(u, &r);
      if (select((t > u ? t : u) + 1, &r, nullptr, nullptr, nullptr) < 0) continue;
      if (FD_ISSET(t, &r)) {
        int c = accept(t, nullptr, nullptr);
        if (c >= 0 && write(c, "tcp-ok", 6) == 6) close(c);
      }
      if (FD_ISSET(u, &r)) {
        char buf[64];
        sockaddr_in from{};
        socklen_t len = sizeof from;
        if (recvfrom(u, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len) >= 0)
          sendto(u, "udp-ok", 6, 0, reinterpret_cast<sockaddr*>(&from), len);
      }
    }
  }
  static int bound(int type, uint16_t port) {
    int s = socket(AF_INET, type, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    return bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 ? s : -1;
  }
  pid_t pid_ = -1;
};

// Sends "hi" to ip:port and returns what comes back (empty on failure), 3 s timeout.
std::string exchange(const std::string& ip, uint16_t port, int type) {
  UniqueFd s(socket(AF_INET, type | SOCK_CLOEXEC, 0));
  timeval tv{3, 0};
  setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(s.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &sa.sin_addr);
  for (int attempt = 0; attempt < 20; ++attempt) {  // the server may still be starting
    if (connect(s.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 &&
        send(s.get(), "hi", 2, 0) == 2) {
      char buf[64] = {};
      ssize_t n = recv(s.get(), buf, sizeof buf - 1, 0);
      if (n > 0) return std::string(buf, static_cast<size_t>(n));
    }
    if (type == SOCK_STREAM) s.reset(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    usleep(100000);
  }
  return {};
}

// exchange() from inside the namespace ns (a forked child that joined it): true when the
// answer is want.
bool exchange_from(const std::string& ns, const std::string& ip, uint16_t port,
                   const std::string& want) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(ns.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) _exit(2);
    _exit(exchange(ip, port, SOCK_STREAM) == want ? 0 : 1);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

// The host's first IPv4 address that is not loopback and not on our bridge.
std::string host_address() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return {};
  std::string out;
  for (ifaddrs* i = list; i && out.empty(); i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || kBridge == i->ifa_name) continue;
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, buf, sizeof buf);
    if (std::strncmp(buf, "127.", 4) != 0) out = buf;
  }
  freeifaddrs(list);
  return out;
}

bool mounted(const std::string& path) {
  auto info = read_file("/proc/self/mountinfo");
  return info.ok() && info->find(" " + path + " ") != std::string::npos;
}

// Removes everything the tests make; each step is safe when its object is absent.
struct Teardown {
  ~Teardown() {
    (void)remove_port_mappings("k" + std::to_string(kPid) + ".a-1");
    (void)remove_network_rules(kBridge);
    for (const auto& l : {kBridge + "a", kBridge + "b", kBridge}) (void)delete_link(l);
    for (const auto& n : {"/ns1", "/ns2"}) (void)remove_netns(kDir + n);
    umount2(kDir.c_str(), MNT_DETACH);
    rmdir(kDir.c_str());
    // The table itself goes when nobody has rules in it (every rule berth adds is commented).
    auto table = show_table("ip", "berth");
    if (table.ok() && !table->empty() && table->find("comment") == std::string::npos)
      (void)reset_all();
  }
};

class NetworkPriv : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) return;
    // Mounts stay in this process's own mount namespace: a crash leaves none on the host.
    if (unshare(CLONE_NEWNS) != 0 || mount("", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
      perror("private mount namespace");
  }
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN)";
    if (run({"busybox", "true"}, true) != 0 || run({"nsenter", "--version"}, true) != 0)
      GTEST_SKIP() << "needs busybox and nsenter to check traffic";
    // ResetAll drops the shared table: it takes this lock exclusively, the others shared.
    lock_.reset(open("/run/lock/berth-network-test.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    ASSERT_TRUE(lock_.valid());
    ASSERT_EQ(flock(lock_.get(), LOCK_SH), 0);
  }
  UniqueFd lock_;
};

void add_container(const std::string& ns, const std::string& veth, int host) {
  auto made = create_netns(ns);
  ASSERT_TRUE(made.ok()) << made.error().message();
  UniqueFd fd(open(ns.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(fd.valid());
  VethConfig c;
  c.host_if = veth;
  c.netns_fd = fd.get();
  c.bridge = kBridge;
  c.address = in_subnet(host) + "/24";
  c.gateway = in_subnet(1);
  c.mac = mac_for_ipv4(in_subnet(host)).value();
  auto st = create_veth_into_netns(c);
  ASSERT_TRUE(st.ok()) << st.error().message();
}

const std::string kKey = "k" + std::to_string(kPid) + ".a-1";

// The host's default gateway from /proc/net/route, "" when none.
std::string default_gateway() {
  auto routes = read_file("/proc/net/route");
  if (!routes) return {};
  char ifname[32];
  unsigned dst = 1, gw = 0;
  for (const auto& line : split(*routes, '\n'))
    if (std::sscanf(line.c_str(), "%31s %x %x", ifname, &dst, &gw) == 3 && dst == 0 && gw != 0) {
      in_addr a{gw};  // already in network byte order
      return inet_ntoa(a);
    }
  return {};
}

void check_pings() {
  auto filter = show_table("ip", "filter");
  ASSERT_TRUE(filter.ok());
  if (!filter->empty()) {  // iptables-nft (docker) is here: our accepts must be in its chain
    EXPECT_NE(filter->find("comment \"berth:" + kBridge + "\""), std::string::npos) << *filter;
  }
  EXPECT_EQ(ping_from(kDir + "/ns1", in_subnet(1)), 0) << "container -> gateway";
  EXPECT_EQ(ping_from(kDir + "/ns1", in_subnet(3)), 0) << "container -> container";
  EXPECT_EQ(ping_from(kDir + "/ns2", in_subnet(2)), 0) << "container -> container";
  std::string gw = default_gateway();
  if (gw.empty() || run({"busybox", "ping", "-c", "1", "-W", "2", gw}) != 0) {
    std::printf("note: host cannot ping its default gateway; routed traffic not checked\n");
    return;
  }
  EXPECT_EQ(ping_from(kDir + "/ns1", gw), 0) << "container -> outside (masquerade, forward)";
}

void check_published_ports() {
  std::vector<PortMapping> maps = {{"", kTcpPort, 80, "tcp"}, {"", kUdpPort, 53, "udp"}};
  auto st = add_port_mappings(kKey, in_subnet(3), maps);
  ASSERT_TRUE(st.ok()) << st.error().message();
  st = add_port_mappings(kKey, in_subnet(3), maps);  // replaces, does not duplicate
  ASSERT_TRUE(st.ok()) << st.error().message();
  auto table = show_table("ip", "berth");
  ASSERT_TRUE(table.ok()) << table.error().message();
  EXPECT_EQ(table->find("jump ctr-" + kKey), table->rfind("jump ctr-" + kKey)) << *table;
  NsServer server(kDir + "/ns2");
  EXPECT_EQ(exchange("127.0.0.1", kTcpPort, SOCK_STREAM), "tcp-ok") << *table;
  std::string addr = host_address();
  ASSERT_FALSE(addr.empty());
  EXPECT_EQ(exchange(addr, kTcpPort, SOCK_STREAM), "tcp-ok") << addr;
  EXPECT_EQ(exchange("127.0.0.1", kUdpPort, SOCK_DGRAM), "udp-ok");
  EXPECT_EQ(exchange(addr, kUdpPort, SOCK_DGRAM), "udp-ok") << addr;
  // From the other container through the host's address (DNAT back into the bridge).
  EXPECT_TRUE(exchange_from(kDir + "/ns1", addr, kTcpPort, "tcp-ok")) << "hairpin via " << addr;
}

void check_removed() {
  ASSERT_TRUE(remove_port_mappings(kKey).ok());
  ASSERT_TRUE(remove_port_mappings(kKey).ok()) << "removing twice is fine";
  ASSERT_TRUE(remove_network_rules(kBridge).ok());
  auto ours = show_table("ip", "berth");
  ASSERT_TRUE(ours.ok());
  EXPECT_EQ(ours->find(kKey), std::string::npos) << *ours;
  EXPECT_EQ(ours->find("\"net:" + kBridge + "\""), std::string::npos) << *ours;
  auto filter = show_table("ip", "filter");
  ASSERT_TRUE(filter.ok());
  EXPECT_EQ(filter->find("berth:" + kBridge + "\""), std::string::npos) << *filter;
  for (const auto& l : {kBridge + "a", kBridge + "b", kBridge}) {
    ASSERT_TRUE(delete_link(l).ok());
    EXPECT_FALSE(link_exists(l).value()) << l;
  }
  for (const auto& n : {"/ns1", "/ns2"}) {
    ASSERT_TRUE(remove_netns(kDir + n).ok());
    EXPECT_FALSE(mounted(kDir + n));
    EXPECT_FALSE(path_exists(kDir + n));
  }
  auto left = links_with_prefix(kBridge);
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->empty()) << left->front();
}

TEST_F(NetworkPriv, BridgeVethsNatAndPorts) {
  Teardown guard;
  ASSERT_TRUE(create_bridge(kBridge, in_subnet(1) + "/24").ok());
  auto again = create_bridge(kBridge, in_subnet(1) + "/24");
  ASSERT_TRUE(again.ok()) << again.error().message();
  ASSERT_TRUE(link_exists(kBridge).value());
  auto st = ensure_network_rules(kBridge, kSubnet);
  ASSERT_TRUE(st.ok()) << st.error().message();
  st = ensure_network_rules(kBridge, kSubnet);  // idempotent
  ASSERT_TRUE(st.ok()) << st.error().message();
  ASSERT_NO_FATAL_FAILURE(add_container(kDir + "/ns1", kBridge + "a", 2));
  ASSERT_NO_FATAL_FAILURE(add_container(kDir + "/ns2", kBridge + "b", 3));
  EXPECT_TRUE(mounted(kDir + "/ns1"));
  auto links = links_with_prefix(kBridge);
  ASSERT_TRUE(links.ok());
  EXPECT_EQ(links->size(), 3u);
  ASSERT_NO_FATAL_FAILURE(check_pings());
  ASSERT_NO_FATAL_FAILURE(check_published_ports());
  ASSERT_NO_FATAL_FAILURE(check_removed());
}

TEST_F(NetworkPriv, ErrorsAndIdempotence) {
  Teardown guard;
  EXPECT_TRUE(delete_link(kBridge + "zz").ok()) << "absent link";
  EXPECT_FALSE(link_exists(kBridge + "zz").value());
  EXPECT_TRUE(remove_netns(kDir + "/none").ok()) << "absent namespace";
  EXPECT_FALSE(create_bridge("lo", "10.89.250.1/24").ok()) << "lo is not a bridge";
  EXPECT_FALSE(create_bridge("bad name", "10.89.250.1/24").ok());
  auto made = create_netns(kDir + "/ns1");
  ASSERT_TRUE(made.ok()) << made.error().message();
  EXPECT_FALSE(create_netns(kDir + "/ns1").ok()) << "exists";
  UniqueFd fd(open((kDir + "/ns1").c_str(), O_RDONLY | O_CLOEXEC));
  VethConfig c{kBridge + "a",        fd.get(),     "eth0", kBridge + "nobr",
               in_subnet(2) + "/24", in_subnet(1), ""};
  EXPECT_FALSE(create_veth_into_netns(c).ok()) << "no such bridge";
  EXPECT_FALSE(link_exists(kBridge + "a").value()) << "nothing left behind";
}

// reset_all drops the whole table: only run when no one else has rules in it.
TEST_F(NetworkPriv, ResetAll) {
  Teardown guard;
  ASSERT_EQ(flock(lock_.get(), LOCK_EX), 0);
  auto before = show_table("ip", "berth");
  ASSERT_TRUE(before.ok());
  if (before->find("comment") != std::string::npos)
    GTEST_SKIP() << "table ip berth holds other users' rules; not deleting it";
  ASSERT_TRUE(create_bridge(kBridge, in_subnet(1) + "/24").ok());
  ASSERT_TRUE(ensure_network_rules(kBridge, kSubnet).ok());
  ASSERT_TRUE(add_port_mappings(kKey, in_subnet(3), {{"", kTcpPort, 80, "tcp"}}).ok());
  ASSERT_TRUE(reset_all().ok());
  EXPECT_EQ(show_table("ip", "berth").value(), "");
  auto filter = show_table("ip", "filter");
  EXPECT_EQ(filter.value().find("berth:"), std::string::npos) << *filter;
  EXPECT_TRUE(reset_all().ok()) << "nothing to reset";
}

}  // namespace
}  // namespace berth::network
