// volumes_networks_test.cpp - volumes, networks and system reset end to end: the berth
// binary with its own store and run root, the busybox fixture image, real overlayfs,
// namespaces, bridges, veths and nftables. Networks and bridges are host-wide, so every
// name has this process's pid in it and user networks take a subnet chosen from the pid;
// each test ends with `system reset -f` and checks nothing of its berth is left.
#include <dlfcn.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>

#include "images_fixture.h"
#include "test_util.h"

namespace berth::ctest {
namespace {

using imgtest::BerthEnv;
using regtest::Output;

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

bool link_exists(const std::string& name) {
  return ::access(("/sys/class/net/" + name).c_str(), F_OK) == 0;
}

// Devices of other berths: veths (berth* but berth0) and user bridges (bbr-*).
std::vector<std::string> other_berth_devices() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator("/sys/class/net")) {
    std::string n = e.path().filename();
    if ((n.rfind("berth", 0) == 0 && n != "berth0") || n.rfind("bbr-", 0) == 0) out.push_back(n);
  }
  return out;
}

// Whether nftables has the table `ip berth`, through libnftables (no nft(8) on the host):
// -1 when libnftables cannot be loaded.
int nft_table_exists(const std::string& table = "ip berth") {
  void* lib = ::dlopen("libnftables.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) return -1;
  using New = void* (*)(uint32_t);
  using Run = int (*)(void*, const char*);
  using Free = void (*)(void*);
  using Buf = int (*)(void*);
  auto ctx_new = reinterpret_cast<New>(::dlsym(lib, "nft_ctx_new"));
  auto run = reinterpret_cast<Run>(::dlsym(lib, "nft_run_cmd_from_buffer"));
  auto ctx_free = reinterpret_cast<Free>(::dlsym(lib, "nft_ctx_free"));
  auto quiet_out = reinterpret_cast<Buf>(::dlsym(lib, "nft_ctx_buffer_output"));
  auto quiet_err = reinterpret_cast<Buf>(::dlsym(lib, "nft_ctx_buffer_error"));
  if (!ctx_new || !run || !ctx_free || !quiet_out || !quiet_err) return -1;
  void* ctx = ctx_new(0);
  quiet_out(ctx);
  quiet_err(ctx);
  int rc = run(ctx, ("list table " + table).c_str());
  ctx_free(ctx);
  return rc == 0 ? 1 : 0;
}

class VolumesNetworksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "containers need root (namespaces, overlayfs, bridges)";
    img_ = imgtest::make_busybox_image(env_.path("img"));
    imgtest::install_fixture(env_, img_, {"docker.io/library/bb:latest"});
    tag_ = "vn" + std::to_string(::getpid());
  }
  void TearDown() override {
    if (::geteuid() != 0) return;
    for (const auto& id : lines_of(berth({"ps", "-aq", "--no-trunc"}).out)) berth({"rm", "-f", id});
    Output reset = berth({"system", "reset", "-f"});
    EXPECT_EQ(reset.status, 0) << reset.out << reset.err;
    check_nothing_left();
  }
  void check_nothing_left() {
    std::ifstream mi("/proc/self/mountinfo");
    std::string line;
    while (std::getline(mi, line)) {
      EXPECT_EQ(line.find(env_.runroot()), std::string::npos) << "left mounted: " << line;
      EXPECT_EQ(line.find(env_.root()), std::string::npos) << "left mounted: " << line;
    }
    EXPECT_FALSE(std::filesystem::exists(env_.runroot() + "/netns/")) << "netns folder left";
    for (const auto& id : ids_) {
      // The kernel deletes the veth with its namespace, in its own cleanup work.
      EXPECT_TRUE(eventually([&] { return !link_exists("berth" + id.substr(0, 10)); }))
          << "veth of " << id << " left";
      for (const char* ctl : {"memory", "pids", "unified", "cpu", "devices", "freezer"})
        EXPECT_FALSE(std::filesystem::exists(std::string("/sys/fs/cgroup/") + ctl + "/berth/" + id))
            << "cgroup " << ctl << " of " << id << " left";
    }
    for (const auto& b : bridges_) EXPECT_FALSE(link_exists(b)) << "bridge " << b << " left";
  }
  Output berth(const std::vector<std::string>& args, const std::string& in = "", int timeout = 60) {
    return env_.berth(args, in, timeout);
  }
  nlohmann::json inspect(const std::vector<std::string>& args) {
    Output o = berth(args);
    EXPECT_EQ(o.status, 0) << o.err;
    auto j = nlohmann::json::parse(o.out, nullptr, false);
    if (!j.is_array() || j.empty()) return nlohmann::json::object();
    return j[0];
  }
  // A detached container; its id is remembered for the leftover checks.
  std::string run_d(std::vector<std::string> args) {
    args.insert(args.begin(), {"run", "-d"});
    Output o = berth(args);
    EXPECT_EQ(o.status, 0) << o.err;
    ids_.push_back(trim_end(o.out));
    return trim_end(o.out);
  }
  // A user network on a subnet derived from the pid (10.79.0.0/16: berth's automatic
  // choice starts at 10.78.0.0, so parallel test processes rarely meet).
  std::string make_network(const std::string& name, int index = 0) {
    std::string subnet = "10.79." + std::to_string((::getpid() * 2 + index) % 250 + 2) + ".0/24";
    Output o = berth({"network", "create", "--subnet", subnet, name});
    EXPECT_EQ(o.status, 0) << o.err;
    std::string id = trim_end(o.out);
    bridges_.push_back("bbr-" + id.substr(0, 11));
    return id;
  }
  // A dual-stack network: make_network's IPv4 subnet and fd42:<pid>:<index>::/64.
  std::string v6_prefix(int index) const {
    char buf[40];
    std::snprintf(buf, sizeof buf, "fd42:%x:%x::", static_cast<unsigned>(::getpid()) & 0xffff, index);
    return buf;
  }
  std::string make_network6(const std::string& name, int index = 0) {
    std::string subnet = "10.79." + std::to_string((::getpid() * 2 + index) % 250 + 2) + ".0/24";
    Output o = berth({"network", "create", "--ipv6", "--subnet", subnet, "--subnet", v6_prefix(index) + "/64", name});
    EXPECT_EQ(o.status, 0) << o.err;
    std::string id = trim_end(o.out);
    bridges_.push_back("bbr-" + id.substr(0, 11));
    return name;
  }

  BerthEnv env_;
  imgtest::FixtureImage img_;
  std::string tag_;
  std::vector<std::string> ids_, bridges_;
};

TEST_F(VolumesNetworksTest, VolumeLifecycleAndSharedData) {
  std::string vol = tag_ + "-data";
  Output c = berth({"volume", "create", "--label", "team=ml", vol});
  ASSERT_EQ(c.status, 0) << c.err;
  EXPECT_EQ(c.out, vol + "\n");
  EXPECT_EQ(berth({"volume", "create", vol}).status, 0) << "creating an existing volume is a no-op";
  Output anon = berth({"volume", "create"});
  ASSERT_EQ(anon.status, 0) << anon.err;
  EXPECT_EQ(trim_end(anon.out).size(), 64u);
  EXPECT_EQ(berth({"volume", "create", "/bad"}).status, 125);

  EXPECT_TRUE(contains(lines_of(berth({"volume", "ls", "-q"}).out), vol));
  EXPECT_EQ(berth({"volume", "ls", "--filter", "label=team=ml", "--format", "{{.Name}} {{.Driver}}"}).out,
            vol + " local\n");
  Output table = berth({"volume", "ls"});
  EXPECT_EQ(table.out.rfind("DRIVER    VOLUME NAME\n", 0), 0u) << table.out;

  auto j = inspect({"volume", "inspect", vol});
  EXPECT_EQ(j["Name"], vol);
  EXPECT_EQ(j["Driver"], "local");
  EXPECT_EQ(j["Scope"], "local");
  EXPECT_EQ(j["Labels"]["team"], "ml");
  EXPECT_TRUE(j["Options"].is_null());
  std::string mp = j["Mountpoint"];
  EXPECT_EQ(mp, env_.root() + "/volumes/" + vol + "/_data");
  EXPECT_FALSE(j["CreatedAt"].get<std::string>().empty());
  EXPECT_EQ(berth({"volume", "inspect", "--format", "{{.Name}}", vol}).out, vol + "\n");
  Output unknown = berth({"volume", "inspect", "nosuchvolume"});
  EXPECT_EQ(unknown.status, 1);
  EXPECT_NE(unknown.err.find("No such volume: nosuchvolume"), std::string::npos) << unknown.err;

  // Written in one container, read in another, and seen on the host.
  Output w = berth({"run", "--rm", "--network", "none", "-v", vol + ":/data", "bb", "sh", "-c", "echo shared > /data/f"});
  ASSERT_EQ(w.status, 0) << w.err;
  Output r = berth({"run", "--rm", "--network", "none", "-v", vol + ":/data", "bb", "cat", "/data/f"});
  EXPECT_EQ(r.out, "shared\n") << r.err;
  std::ifstream host(mp + "/f");
  std::string text;
  std::getline(host, text);
  EXPECT_EQ(text, "shared");

  Output rm = berth({"volume", "rm", vol});
  EXPECT_EQ(rm.status, 0) << rm.err;
  EXPECT_EQ(rm.out, vol + "\n");
  EXPECT_FALSE(std::filesystem::exists(mp));
  EXPECT_FALSE(contains(lines_of(berth({"volume", "ls", "-q"}).out), vol));
  EXPECT_EQ(berth({"volume", "rm", vol}).status, 1);
  EXPECT_EQ(berth({"volume", "rm", "-f", vol}).status, 0);
}

TEST_F(VolumesNetworksTest, VolumeInUseAndPrune) {
  std::string vol = tag_ + "-busy", keep = tag_ + "-named";
  ASSERT_EQ(berth({"volume", "create", vol}).status, 0);
  ASSERT_EQ(berth({"volume", "create", keep}).status, 0);
  std::string id = run_d({"--name", tag_ + "-user", "--network", "none", "-v", vol + ":/data", "bb", "sleep", "1000"});
  Output busy = berth({"volume", "rm", vol});
  EXPECT_EQ(busy.status, 1);
  EXPECT_NE(busy.err.find("volume is in use - [" + id + "]"), std::string::npos) << busy.err;
  EXPECT_TRUE(contains(lines_of(berth({"volume", "ls", "-q", "--filter", "dangling=false"}).out), vol));
  EXPECT_FALSE(contains(lines_of(berth({"volume", "ls", "-q", "--filter", "dangling=true"}).out), vol));
  EXPECT_TRUE(contains(lines_of(berth({"volume", "ls", "-q", "--filter", "dangling=true"}).out), keep));
  EXPECT_EQ(berth({"rm", "-f", id}).status, 0);
  EXPECT_EQ(berth({"volume", "rm", vol}).status, 0);

  // The image's VOLUME /vol gives an exited container an anonymous volume: in use until the
  // container goes; then prune takes it, and only -a takes named ones.
  ASSERT_EQ(berth({"run", "--name", tag_ + "-anon", "--network", "none", "bb", "true"}).status, 0);
  auto mounts = inspect({"inspect", tag_ + "-anon"})["Mounts"];
  ASSERT_EQ(mounts.size(), 1u) << mounts.dump();
  std::string anon = mounts[0]["Name"];
  Output p1 = berth({"volume", "prune", "-f"});
  EXPECT_EQ(p1.out.find(anon), std::string::npos) << "in use: " << p1.out;
  ASSERT_EQ(berth({"rm", tag_ + "-anon"}).status, 0);
  Output p2 = berth({"volume", "prune", "-f"});
  EXPECT_EQ(p2.status, 0) << p2.err;
  EXPECT_EQ(p2.out.rfind("Deleted Volumes:\n" + anon + "\n", 0), 0u) << p2.out;
  EXPECT_NE(p2.out.find("Total reclaimed space:"), std::string::npos);
  EXPECT_TRUE(contains(lines_of(berth({"volume", "ls", "-q"}).out), keep));
  Output p3 = berth({"volume", "prune", "-af"});
  EXPECT_NE(p3.out.find(keep), std::string::npos) << p3.out;
  EXPECT_EQ(trim_end(berth({"volume", "ls", "-q"}).out), "");
  // Without -f it asks; "n" keeps everything.
  ASSERT_EQ(berth({"volume", "create", keep}).status, 0);
  Output asked = berth({"volume", "prune", "-a"}, "n\n");
  EXPECT_NE(asked.out.find("Are you sure you want to continue? [y/N]"), std::string::npos);
  EXPECT_TRUE(contains(lines_of(berth({"volume", "ls", "-q"}).out), keep));
}

TEST_F(VolumesNetworksTest, NetworkCreateLsInspectRm) {
  std::string net = tag_ + "-net";
  Output c = berth({"network", "create", "--label", "env=test", net});
  ASSERT_EQ(c.status, 0) << c.err;
  std::string id = trim_end(c.out);
  ASSERT_EQ(id.size(), 64u);
  bridges_.push_back("bbr-" + id.substr(0, 11));
  Output dup = berth({"network", "create", net});
  EXPECT_EQ(dup.status, 125);
  EXPECT_NE(dup.err.find("already exists"), std::string::npos) << dup.err;

  Output ls = berth({"network", "ls"});
  EXPECT_EQ(ls.out.rfind("NETWORK ID     NAME", 0), 0u) << ls.out;
  auto names = lines_of(berth({"network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}}"}).out);
  for (const auto& want : {"bridge bridge local", "host host local", "none null local"})
    EXPECT_TRUE(contains(names, want)) << want;
  EXPECT_TRUE(contains(names, net + " bridge local"));
  EXPECT_EQ(berth({"network", "ls", "-q", "--filter", "name=" + net}).out, id.substr(0, 12) + "\n");
  EXPECT_EQ(berth({"network", "ls", "-q", "--no-trunc", "--filter", "label=env=test"}).out, id + "\n");
  EXPECT_EQ(berth({"network", "ls", "--filter", "type=custom", "--format", "{{.Name}}"}).out, net + "\n");

  auto j = inspect({"network", "inspect", net});
  EXPECT_EQ(j["Name"], net);
  EXPECT_EQ(j["Id"], id);
  EXPECT_EQ(j["Driver"], "bridge");
  EXPECT_EQ(j["Scope"], "local");
  EXPECT_EQ(j["Labels"]["env"], "test");
  EXPECT_TRUE(j["Containers"].is_object() && j["Containers"].empty());
  std::string subnet = j["IPAM"]["Config"][0]["Subnet"];
  EXPECT_EQ(subnet.rfind("10.7", 0), 0u) << subnet;
  EXPECT_FALSE(j["IPAM"]["Config"][0]["Gateway"].get<std::string>().empty());
  EXPECT_EQ(berth({"network", "inspect", "-f", "{{.Name}}", id.substr(0, 12)}).out, net + "\n");
  EXPECT_EQ(inspect({"network", "inspect", "host"})["Driver"], "host");

  Output overlap = berth({"network", "create", "--subnet", subnet, net + "2"});
  EXPECT_EQ(overlap.status, 125);
  EXPECT_NE(overlap.err.find("overlaps"), std::string::npos) << overlap.err;
  Output badgw = berth({"network", "create", "--subnet", "10.79.250.0/24", "--gateway", "10.1.1.1", net + "3"});
  EXPECT_EQ(badgw.status, 125) << badgw.out;
  EXPECT_EQ(berth({"network", "create", "-d", "overlay", net + "4"}).status, 125);
  Output conn = berth({"network", "connect", net, "somecontainer"});
  EXPECT_EQ(conn.status, 125);
  EXPECT_NE(conn.err.find("No such container: somecontainer"), std::string::npos) << conn.err;

  Output pre = berth({"network", "rm", "bridge"});
  EXPECT_EQ(pre.status, 1);
  EXPECT_NE(pre.err.find("pre-defined network"), std::string::npos) << pre.err;
  Output rm = berth({"network", "rm", net});
  EXPECT_EQ(rm.status, 0) << rm.err;
  EXPECT_EQ(rm.out, net + "\n");
  Output gone = berth({"network", "inspect", net});
  EXPECT_EQ(gone.status, 1);
  EXPECT_NE(gone.err.find("network " + net + " not found"), std::string::npos) << gone.err;
  EXPECT_EQ(berth({"network", "rm", net}).status, 1);

  // prune takes custom networks without containers and keeps the built-in ones.
  std::string p = tag_ + "-prune";
  ASSERT_EQ(berth({"network", "create", p}).status, 0);
  Output pr = berth({"network", "prune", "-f"});
  EXPECT_EQ(pr.out, "Deleted Networks:\n" + p + "\n\n") << pr.err;
  EXPECT_EQ(berth({"network", "ls", "-q"}).out.size(), 3 * 13u);
}

TEST_F(VolumesNetworksTest, ContainersOnAUserNetworkReachEachOtherByName) {
  std::string net = tag_ + "-talk", a = tag_ + "-a", b = tag_ + "-b";
  make_network(net);
  std::string ida = run_d({"--name", a, "--network", net, "bb", "sh", "-c",
                           "mkdir /w && echo hello-from-a > /w/index.html && exec busybox httpd -f -p 80 -h /w"});
  std::string idb = run_d({"--name", b, "--network", net, "bb", "sleep", "1000"});
  // The newer container knows the older one by name, and the older one learnt the newer's.
  // (busybox-static's wget crashes with -q -T: progress goes to stderr instead.)
  Output wget;
  for (int i = 0; i < 50; ++i) {
    wget = berth({"exec", b, "busybox", "wget", "-O-", "http://" + a + "/"});
    if (wget.status == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(wget.out, "hello-from-a\n") << wget.err;
  Output ping = berth({"exec", a, "busybox", "ping", "-c1", "-W2", b});
  EXPECT_EQ(ping.status, 0) << ping.out << ping.err;
  Output hosts = berth({"exec", a, "cat", "/etc/hosts"});
  EXPECT_NE(hosts.out.find(b), std::string::npos) << hosts.out;

  auto j = inspect({"network", "inspect", net});
  ASSERT_EQ(j["Containers"].size(), 2u) << j.dump();
  EXPECT_EQ(j["Containers"][ida]["Name"], a);
  std::string ip = j["Containers"][ida]["IPv4Address"];
  EXPECT_EQ(ip.rfind("10.79.", 0), 0u) << ip;
  EXPECT_EQ(ip.substr(ip.size() - 3), "/24");

  // A peer that leaves is forgotten: its line goes from the others' /etc/hosts (and comes back
  // when it starts again).
  ASSERT_EQ(berth({"stop", "-t", "0", b}).status, 0);
  EXPECT_EQ(berth({"exec", a, "cat", "/etc/hosts"}).out.find(b), std::string::npos);
  ASSERT_EQ(berth({"start", b}).status, 0);
  EXPECT_NE(berth({"exec", a, "cat", "/etc/hosts"}).out.find(b), std::string::npos);

  Output busy = berth({"network", "rm", net});
  EXPECT_EQ(busy.status, 1);
  EXPECT_NE(busy.err.find("has active endpoints"), std::string::npos) << busy.err;
  EXPECT_EQ(berth({"rm", "-f", ida, idb}).status, 0);
  EXPECT_EQ(berth({"network", "rm", net}).status, 0);
  EXPECT_FALSE(link_exists(bridges_.back()));
}

// network connect/disconnect: a running container gets eth1 on a second network at once (its
// peers there and it learn each other's names), loses it again; a stopped one gets it at
// its next start; docker's errors for the rest.
TEST_F(VolumesNetworksTest, ConnectAndDisconnectASecondNetwork) {
  std::string n1 = tag_ + "-n1", n2 = tag_ + "-n2", a = tag_ + "-a", b = tag_ + "-b", c = tag_ + "-c";
  make_network(n1, 0);
  make_network(n2, 1);
  std::string ida = run_d({"--name", a, "--network", n1, "bb", "sleep", "1000"});
  std::string idb = run_d({"--name", b, "--network", n2, "bb", "sleep", "1000"});
  EXPECT_NE(berth({"exec", a, "busybox", "ping", "-c1", "-W1", b}).status, 0) << "not on the same network yet";
  Output con = berth({"network", "connect", n2, a});
  ASSERT_EQ(con.status, 0) << con.err;
  EXPECT_EQ(trim_end(berth({"exec", a, "ls", "/sys/class/net"}).out), "eth0\neth1\nlo");
  Output ping = berth({"exec", a, "busybox", "ping", "-c1", "-W2", b});
  EXPECT_EQ(ping.status, 0) << ping.out << ping.err;
  ping = berth({"exec", b, "busybox", "ping", "-c1", "-W2", a});
  EXPECT_EQ(ping.status, 0) << ping.out << ping.err;
  auto j = inspect({"inspect", a});
  ASSERT_TRUE(j["NetworkSettings"]["Networks"].contains(n2)) << j["NetworkSettings"].dump();
  std::string ip2 = j["NetworkSettings"]["Networks"][n2]["IPAddress"];
  EXPECT_EQ(ip2.rfind("10.79.", 0), 0u) << ip2;
  EXPECT_TRUE(inspect({"network", "inspect", n2})["Containers"].contains(ida));
  EXPECT_NE(berth({"network", "rm", n2}).status, 0) << "a is on it";
  // docker's errors.
  Output again = berth({"network", "connect", n2, a});
  EXPECT_NE(again.err.find("endpoint with name " + a + " already exists in network " + n2), std::string::npos) << again.err;
  Output first = berth({"network", "disconnect", n1, a});
  EXPECT_NE(first.err.find("was created on network " + n1), std::string::npos) << first.err;
  Output none = berth({"network", "connect", tag_ + "-nope", a});
  EXPECT_NE(none.err.find("network " + tag_ + "-nope not found"), std::string::npos) << none.err;
  std::string host = run_d({"--network", "host", "bb", "sleep", "1000"});
  Output h = berth({"network", "connect", n2, host});
  EXPECT_NE(h.err.find("cannot be connected to any other network"), std::string::npos) << h.err;
  // Disconnect: the interface, the address and the names go.
  Output dis = berth({"network", "disconnect", n2, a});
  ASSERT_EQ(dis.status, 0) << dis.err;
  EXPECT_EQ(trim_end(berth({"exec", a, "ls", "/sys/class/net"}).out), "eth0\nlo");
  EXPECT_EQ(berth({"exec", b, "cat", "/etc/hosts"}).out.find(a), std::string::npos);
  EXPECT_EQ(berth({"exec", a, "cat", "/etc/hosts"}).out.find(b), std::string::npos);
  EXPECT_FALSE(inspect({"network", "inspect", n2})["Containers"].contains(ida));
  Output not_on = berth({"network", "disconnect", n2, a});
  EXPECT_NE(not_on.err.find("is not connected to network " + n2), std::string::npos) << not_on.err;
  // A created container joins at its start, and again after a restart.
  Output cr = berth({"create", "--name", c, "--network", n1, "bb", "sleep", "1000"});
  ASSERT_EQ(cr.status, 0) << cr.err;
  ids_.push_back(trim_end(cr.out));
  ASSERT_EQ(berth({"network", "connect", n2, c}).status, 0);
  ASSERT_EQ(berth({"start", c}).status, 0);
  EXPECT_EQ(trim_end(berth({"exec", c, "ls", "/sys/class/net"}).out), "eth0\neth1\nlo");
  EXPECT_EQ(berth({"exec", c, "busybox", "ping", "-c1", "-W2", b}).status, 0);
  ASSERT_EQ(berth({"restart", "-t", "0", c}).status, 0);
  EXPECT_EQ(trim_end(berth({"exec", c, "ls", "/sys/class/net"}).out), "eth0\neth1\nlo");
  EXPECT_EQ(berth({"rm", "-f", ida, idb, host, c}).status, 0);
  EXPECT_EQ(berth({"network", "rm", n1, n2}).status, 0);
}

TEST_F(VolumesNetworksTest, NetworkContainerModeSharesTheOthersNamespaceAndNames) {
  std::string a = tag_ + "-srv";
  std::string ida = run_d({"--name", a, "bb", "sh", "-c",
                           "mkdir /w && echo hello-over-lo > /w/index.html && exec busybox httpd -f -p 127.0.0.1:80 -h /w"});
  // Its loopback is our loopback: the server listens on 127.0.0.1 only.
  Output wget;
  for (int i = 0; i < 50; ++i) {
    wget = berth({"run", "--rm", "--network", "container:" + a, "bb", "busybox", "wget", "-O-",
                  "http://127.0.0.1/"});
    if (wget.status == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(wget.out, "hello-over-lo\n") << wget.err;
  Output names = berth({"run", "--rm", "--network", "container:" + ida.substr(0, 12), "bb", "sh", "-c",
                        "cat /etc/hostname; echo $HOSTNAME; readlink /proc/self/ns/net"});
  Output theirs = berth({"exec", a, "sh", "-c", "readlink /proc/self/ns/net"});
  ASSERT_EQ(names.status, 0) << names.err;
  EXPECT_EQ(names.out, ida.substr(0, 12) + "\n" + ida.substr(0, 12) + "\n" + theirs.out) << "hostname, netns";

  for (auto [flags, want] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"-p", "8080:80"}, "port publishing and the container type network mode"},
           {{"--hostname", "x"}, "hostname and the network mode"},
           {{"--add-host", "h:1.2.3.4"}, "custom host-to-IP mapping"},
           {{"--dns", "1.1.1.1"}, "dns and the network mode"}}) {
    std::vector<std::string> args = {"run", "--rm", "--network", "container:" + a};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {"bb", "true"});
    Output o = berth(args);
    EXPECT_EQ(o.status, 125) << flags[0];
    EXPECT_NE(o.err.find(want), std::string::npos) << o.err;
  }
  Output nosuch = berth({"run", "--rm", "--network", "container:nosuch", "bb", "true"});
  EXPECT_EQ(nosuch.status, 125);
  EXPECT_NE(nosuch.err.find("No such container: nosuch"), std::string::npos) << nosuch.err;
  EXPECT_EQ(berth({"stop", "-t", "1", a}).status, 0);
  Output stopped = berth({"run", "--rm", "--network", "container:" + a, "bb", "true"});
  EXPECT_EQ(stopped.status, 125);
  EXPECT_NE(stopped.err.find("cannot join network of a non running container: " + a), std::string::npos)
      << stopped.err;
  EXPECT_EQ(berth({"rm", "-f", ida}).status, 0);
}

TEST_F(VolumesNetworksTest, IpcModesHostPrivateNoneShareableAndJoin) {
  char host_ns[64] = {};
  ASSERT_GT(::readlink("/proc/self/ns/ipc", host_ns, sizeof host_ns - 1), 0);
  auto ns_of = [&](std::vector<std::string> flags) {
    std::vector<std::string> args = {"run", "--rm", "--network", "none"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {"bb", "readlink", "/proc/self/ns/ipc"});
    Output o = berth(args);
    EXPECT_EQ(o.status, 0) << o.err;
    return trim_end(o.out);
  };
  EXPECT_EQ(ns_of({"--ipc", "host"}), host_ns);
  EXPECT_NE(ns_of({}), host_ns);
  Output none = berth({"run", "--rm", "--network", "none", "--ipc", "none", "bb", "sh", "-c",
                       "test -d /dev/shm && echo has-shm || echo no-shm"});
  EXPECT_EQ(none.out, "no-shm\n") << none.err;

  std::string donor = tag_ + "-ipc", priv = tag_ + "-priv";
  run_d({"--name", donor, "--network", "none", "--ipc", "shareable", "bb", "sh", "-c",
         "echo from-donor > /dev/shm/token && exec sleep 1000"});
  run_d({"--name", priv, "--network", "none", "bb", "sleep", "1000"});
  Output joined;
  for (int i = 0; i < 50; ++i) {
    joined = berth({"run", "--rm", "--network", "none", "--ipc", "container:" + donor, "bb", "sh", "-c",
                    "cat /dev/shm/token && readlink /proc/self/ns/ipc"});
    if (joined.status == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  Output theirs = berth({"exec", donor, "readlink", "/proc/self/ns/ipc"});
  EXPECT_EQ(joined.out, "from-donor\n" + theirs.out) << joined.err;
  Output refused = berth({"run", "--rm", "--network", "none", "--ipc", "container:" + priv, "bb", "true"});
  EXPECT_EQ(refused.status, 125);
  EXPECT_NE(refused.err.find("non-shareable IPC"), std::string::npos) << refused.err;
  Output bad = berth({"run", "--rm", "--ipc", "sideways", "bb", "true"});
  EXPECT_EQ(bad.status, 125);
  EXPECT_NE(bad.err.find("invalid IPC mode: sideways"), std::string::npos) << bad.err;
  // The donor's host-side tmpfs goes with it.
  std::string id = trim_end(berth({"inspect", "-f", "{{.Id}}", donor}).out);
  EXPECT_EQ(berth({"rm", "-f", donor, priv}).status, 0);
  std::ifstream mi("/proc/self/mountinfo");
  std::string line;
  while (std::getline(mi, line)) EXPECT_EQ(line.find(id + "/shm"), std::string::npos) << line;
}

// network create --ipv6: containers get an IPv6 address beside the IPv4 one, reach each other
// and the gateway over IPv6 (by address and by name), publish ports on the host's IPv6
// addresses, and everything goes with them.
TEST_F(VolumesNetworksTest, Ipv6DualStackNetwork) {
  std::string net = tag_ + "-v6", a = tag_ + "-a", b = tag_ + "-b";
  make_network6(net, 3);
  std::string p6 = v6_prefix(3);
  auto j = inspect({"network", "inspect", net});
  EXPECT_EQ(j["EnableIPv6"], true);
  ASSERT_EQ(j["IPAM"]["Config"].size(), 2u) << j.dump();
  EXPECT_EQ(j["IPAM"]["Config"][1]["Subnet"], p6 + "/64");
  EXPECT_EQ(j["IPAM"]["Config"][1]["Gateway"], p6 + "1");

  std::string ida = run_d({"--name", a, "--network", net, "-p", "80", "bb", "sh", "-c",
                           "mkdir /w && echo hello-v6 > /w/index.html && exec busybox httpd -f -p 80 -h /w"});
  std::string idb = run_d({"--name", b, "--network", net, "bb", "sleep", "1000"});
  auto ia = inspect({"inspect", a});
  std::string ip6 = ia["NetworkSettings"]["GlobalIPv6Address"];
  EXPECT_EQ(ip6, p6 + "2");
  EXPECT_EQ(ia["NetworkSettings"]["GlobalIPv6PrefixLen"], 64);
  EXPECT_EQ(ia["NetworkSettings"]["IPv6Gateway"], p6 + "1");
  EXPECT_EQ(ia["NetworkSettings"]["Networks"][net]["GlobalIPv6Address"], ip6);
  EXPECT_EQ(inspect({"inspect", b})["NetworkSettings"]["GlobalIPv6Address"], p6 + "3");
  EXPECT_EQ(inspect({"network", "inspect", net})["Containers"][ida]["IPv6Address"], ip6 + "/64");

  // Inside: the address on eth0 at once (no duplicate address detection to wait for), the
  // default route, the gateway answering.
  Output addr = berth({"exec", a, "cat", "/proc/net/if_inet6"});
  EXPECT_NE(addr.out.find("eth0"), std::string::npos) << addr.out;
  Output route = berth({"exec", a, "cat", "/proc/net/ipv6_route"});
  EXPECT_NE(route.out.find("00000000000000000000000000000000 00"), std::string::npos) << route.out;
  Output ping = berth({"exec", b, "busybox", "ping", "-6", "-c1", "-W2", p6 + "1"});
  EXPECT_EQ(ping.status, 0) << ping.out << ping.err;
  Output wget;
  for (int i = 0; i < 50; ++i) {
    wget = berth({"exec", b, "busybox", "wget", "-O-", "http://[" + ip6 + "]/"});
    if (wget.status == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(wget.out, "hello-v6\n") << wget.err;
  // Names: both addresses of a peer in /etc/hosts, and the container's own.
  Output hosts = berth({"exec", b, "cat", "/etc/hosts"});
  EXPECT_NE(hosts.out.find(ip6 + "\t" + a + "\n"), std::string::npos) << hosts.out;
  EXPECT_NE(berth({"exec", a, "cat", "/etc/hosts"}).out.find(p6 + "3\t" + b + "\n"), std::string::npos);
  EXPECT_NE(berth({"exec", a, "cat", "/etc/hosts"}).out.find(ip6 + "\t"), std::string::npos);

  // -p 80 publishes on both families: from the host to its IPv6 address on the bridge.
  std::string port = trim_end(berth({"port", a, "80"}).out);
  port = port.substr(port.rfind(':') + 1);
  Output get;
  for (int i = 0; i < 30; ++i) {
    get = regtest::run({"curl", "-gsS", "--max-time", "2", "http://[" + p6 + "1]:" + port + "/"});
    if (get.status == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(get.out, "hello-v6\n") << get.err;
  EXPECT_EQ(nft_table_exists("ip6 berth"), 1);

  // Errors: IPv6 publishing on a network without IPv6; a v6 subnet without --ipv6; overlap.
  Output no6 = berth({"run", "--rm", "-p", "[::1]:8080:80", "bb", "true"});
  EXPECT_EQ(no6.status, 125);
  EXPECT_NE(no6.err.find("has no IPv6 (create it with --ipv6)"), std::string::npos) << no6.err;
  Output noflag = berth({"network", "create", "--subnet", "fd43::/64", net + "x"});
  EXPECT_EQ(noflag.status, 125);
  EXPECT_NE(noflag.err.find("without --ipv6"), std::string::npos) << noflag.err;
  Output overlap = berth({"network", "create", "--ipv6", "--subnet", p6 + "/48", net + "y"});
  EXPECT_EQ(overlap.status, 125);
  EXPECT_NE(overlap.err.find("overlaps"), std::string::npos) << overlap.err;
  for (std::string bad : {"fd00::/129", "fd00::zz/64", "fd00::/20"}) {
    Output o = berth({"network", "create", "--ipv6", "--subnet", bad, net + "z"});
    EXPECT_EQ(o.status, 125) << bad;
    EXPECT_EQ(lines_of(o.err).size(), 1u) << o.err;
  }
  Output two = berth({"network", "create", "--ipv6", "--subnet", "fd44::/64", "--subnet", "fd45::/64", net + "w"});
  EXPECT_EQ(two.status, 125);
  EXPECT_NE(two.err.find("more than one IPv6 --subnet"), std::string::npos) << two.err;
  // --ipv6 alone: a random unique local /64.
  Output autonet = berth({"network", "create", "--ipv6", net + "auto"});
  ASSERT_EQ(autonet.status, 0) << autonet.err;
  bridges_.push_back("bbr-" + trim_end(autonet.out).substr(0, 11));
  std::string sub = inspect({"network", "inspect", net + "auto"})["IPAM"]["Config"][1]["Subnet"];
  EXPECT_EQ(sub.rfind("fd", 0), 0u) << sub;
  EXPECT_EQ(sub.substr(sub.size() - 3), "/64") << sub;
  EXPECT_EQ(berth({"network", "rm", net + "auto"}).status, 0);

  // Leaving: a's names go from b's /etc/hosts; the addresses come back to the pool.
  ASSERT_EQ(berth({"rm", "-f", ida}).status, 0);
  EXPECT_EQ(berth({"exec", b, "cat", "/etc/hosts"}).out.find(a), std::string::npos);
  EXPECT_EQ(berth({"rm", "-f", idb}).status, 0);
  EXPECT_EQ(berth({"network", "rm", net}).status, 0);
}

// --ip / --ip6: the addresses asked for, kept across a restart, refused when taken, outside
// the network's subnets, on the default bridge or (IPv6) on a network without IPv6.
TEST_F(VolumesNetworksTest, FixedAddresses) {
  std::string net = tag_ + "-fix", a = tag_ + "-a";
  make_network6(net, 4);
  std::string p6 = v6_prefix(4);
  std::string v4net = "10.79." + std::to_string((::getpid() * 2 + 4) % 250 + 2) + ".";
  std::string ida = run_d({"--name", a, "--network", net, "--ip", v4net + "50", "--ip6", p6 + "50",
                           "bb", "sleep", "1000"});
  auto j = inspect({"inspect", a});
  EXPECT_EQ(j["NetworkSettings"]["IPAddress"], v4net + "50");
  EXPECT_EQ(j["NetworkSettings"]["GlobalIPv6Address"], p6 + "50");
  Output addr = berth({"exec", a, "cat", "/proc/net/if_inet6"});
  EXPECT_NE(addr.out.find("0050 "), std::string::npos) << addr.out;
  // A container without --ip gets the first free address, not a's.
  std::string idb = run_d({"--network", net, "bb", "sleep", "1000"});
  EXPECT_EQ(inspect({"inspect", idb})["NetworkSettings"]["IPAddress"], v4net + "2");
  // Kept across a restart.
  ASSERT_EQ(berth({"restart", "-t", "0", a}).status, 0);
  EXPECT_EQ(inspect({"inspect", a})["NetworkSettings"]["IPAddress"], v4net + "50");
  EXPECT_EQ(inspect({"inspect", a})["NetworkSettings"]["GlobalIPv6Address"], p6 + "50");

  struct Bad {
    std::vector<std::string> args;
    std::string error;
  } bad[] = {
      {{"--network", net, "--ip", v4net + "50"}, "Address already in use: " + v4net + "50"},
      {{"--network", net, "--ip6", p6 + "50"}, "Address already in use: " + p6 + "50"},
      {{"--network", net, "--ip", "10.1.2.3"}, "does not belong to any of this network's subnets"},
      {{"--network", net, "--ip", v4net + "1"}, "does not belong to any of this network's subnets"},
      {{"--network", net, "--ip6", "fd99::5"}, "does not belong to any of this network's subnets"},
      {{"--ip", "10.77.0.99"}, "supported on user defined networks only"},
      {{"--network", "host", "--ip", "10.77.0.99"}, "supported on user defined networks only"},
      {{"--network", net, "--ip", "10.0.0.300"}, "invalid IPv4 address"},
      {{"--network", net, "--ip6", "fd00::zz"}, "invalid IPv6 address"},
  };
  for (const auto& b : bad) {
    std::vector<std::string> args = {"run", "--rm"};
    args.insert(args.end(), b.args.begin(), b.args.end());
    args.insert(args.end(), {"bb", "true"});
    Output o = berth(args);
    EXPECT_EQ(o.status, 125) << b.error;
    EXPECT_NE(o.err.find(b.error), std::string::npos) << o.err;
    EXPECT_EQ(lines_of(o.err).size(), 1u) << o.err;
  }
  std::string plain = tag_ + "-plain";
  make_network(plain, 5);
  Output no6 = berth({"run", "--rm", "--network", plain, "--ip6", "fd00::5", "bb", "true"});
  EXPECT_EQ(no6.status, 125);
  EXPECT_NE(no6.err.find("has no IPv6 (create it with --ipv6)"), std::string::npos) << no6.err;
  EXPECT_EQ(berth({"rm", "-f", ida, idb}).status, 0);
  // Its address is free again.
  run_d({"--network", net, "--ip", v4net + "50", "bb", "true"});
}

TEST_F(VolumesNetworksTest, UnknownNetwork) {
  Output o = berth({"run", "--rm", "--network", "nosuch", "bb", "true"});
  EXPECT_EQ(o.status, 125);
  EXPECT_NE(o.err.find("network nosuch not found"), std::string::npos) << o.err;
  Output d = berth({"run", "-d", "--network", "nosuch", "bb", "true"});
  EXPECT_EQ(d.status, 125);
  EXPECT_NE(d.err.find("network nosuch not found"), std::string::npos) << d.err;
}

TEST_F(VolumesNetworksTest, SystemResetLeavesNothing) {
  std::string net = tag_ + "-reset", vol = tag_ + "-rvol";
  make_network(net, 1);
  std::string net6 = make_network6(tag_ + "-reset6", 2);
  run_d({"--network", net6, "-p", "80", "bb", "sleep", "1000"});
  ASSERT_EQ(berth({"volume", "create", vol}).status, 0);
  run_d({"--network", net, "-v", vol + ":/data", "bb", "sleep", "1000"});
  run_d({"-p", "127.0.0.1::80", "bb", "sleep", "1000"});
  run_d({"--network", "none", "bb", "sleep", "1000"});
  ASSERT_EQ(berth({"run", "--network", "none", "bb", "true"}).status, 0);

  Output asked = berth({"system", "reset"}, "n\n");
  EXPECT_EQ(asked.status, 0);
  EXPECT_EQ(lines_of(berth({"ps", "-aq"}).out).size(), 5u) << "answering n keeps everything";

  Output reset = berth({"system", "reset", "-f"});
  EXPECT_EQ(reset.status, 0) << reset.err;
  for (const auto& id : ids_) EXPECT_NE(reset.out.find("Removed container " + id), std::string::npos) << reset.out;
  EXPECT_NE(reset.out.find("Removed network " + net), std::string::npos) << reset.out;
  EXPECT_NE(reset.out.find("Removed volume " + vol), std::string::npos) << reset.out;
  EXPECT_EQ(trim_end(berth({"ps", "-aq"}).out), "");
  EXPECT_EQ(trim_end(berth({"volume", "ls", "-q"}).out), "");
  EXPECT_EQ(lines_of(berth({"network", "ls", "-q"}).out).size(), 3u) << "bridge, host and none";
  EXPECT_NE(trim_end(berth({"images", "-q"}).out), "") << "images are kept without --images";
  check_nothing_left();
  // berth0 and the table are host-wide: gone unless another berth's containers use them.
  auto others = other_berth_devices();
  if (others.empty()) {
    EXPECT_FALSE(link_exists("berth0"));
    int table = nft_table_exists();
    if (table < 0) {
      std::cerr << "note: libnftables.so.1 not loadable, tables ip/ip6 berth not checked\n";
    } else {
      EXPECT_EQ(table, 0) << "table ip berth left";
      EXPECT_EQ(nft_table_exists("ip6 berth"), 0) << "table ip6 berth left";
    }
  } else {
    std::cerr << "note: " << others.size() << " device(s) of another berth on this host ("
              << others.front() << "): berth0 and table ip berth are kept, not checked\n";
  }

  // --images takes the images too.
  Output all = berth({"system", "reset", "-f", "--images"});
  EXPECT_EQ(all.status, 0) << all.err;
  EXPECT_EQ(trim_end(berth({"images", "-q"}).out), "");
}

}  // namespace
}  // namespace berth::ctest
