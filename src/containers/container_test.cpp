#include "containers/container.h"

#include <gtest/gtest.h>

namespace berth::containers {
namespace {

TEST(ContainerJson, SpecRoundTrip) {
  ContainerSpec s;
  s.image = "busybox";
  s.cmd = {"sh", "-c", "echo hi"};
  s.env = {"PATH=/bin", "A=1"};
  s.tty = true;
  s.ports = {{"127.0.0.1", 8080, 80, "tcp"}, {"", 0, 53, "udp"}};
  s.mounts = {{.type = "bind", .source = "/data", .target = "/data", .read_only = true}};
  s.ulimits = {{"memlock", -1, -1}};
  s.restart = {"on-failure", 3};
  s.exposed_ports = {"80/tcp"};
  s.stop_timeout = 5;
  s.devices = {{"/dev/fuse", "/dev/fuse", "rwm"}};
  s.sysctls = {"net.ipv4.ip_forward=1"};
  s.network = "backend";
  s.ip = "10.79.1.50";
  s.ip6 = "fd42::50";
  auto j = spec_to_json(s);
  EXPECT_EQ(j["NetworkingConfig"]["EndpointsConfig"]["backend"]["IPAMConfig"]["IPv4Address"], "10.79.1.50");
  EXPECT_EQ(j["Config"]["Cmd"][2], "echo hi");
  EXPECT_EQ(j["HostConfig"]["PortBindings"]["80/tcp"][0]["HostPort"], "8080");
  auto back = spec_from_json(nlohmann::json::parse(j.dump()));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->cmd, s.cmd);
  EXPECT_EQ(back->env, s.env);
  EXPECT_TRUE(back->tty);
  EXPECT_EQ(back->mounts, s.mounts);
  EXPECT_EQ(back->ulimits, s.ulimits);
  EXPECT_EQ(back->restart, s.restart);
  EXPECT_EQ(back->exposed_ports, s.exposed_ports);
  EXPECT_EQ(back->stop_timeout, 5);
  EXPECT_EQ(back->devices, s.devices);
  EXPECT_EQ(back->sysctls, s.sysctls);
  EXPECT_EQ(back->ip, "10.79.1.50");
  EXPECT_EQ(back->ip6, "fd42::50");
  EXPECT_TRUE(back->more_networks.empty());
  ASSERT_EQ(back->ports.size(), 2u);
}

TEST(ContainerJson, StateRoundTripAndBadRecords) {
  ContainerState st;
  st.status = "exited";
  st.exit_code = 3;
  st.ports = {{"", 32768, 80, "tcp"}};
  auto back = state_from_json(nlohmann::json::parse(state_to_json(st).dump()));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->status, "exited");
  EXPECT_EQ(back->exit_code, 3);
  EXPECT_EQ(back->ports, st.ports);
  EXPECT_FALSE(state_from_json(nlohmann::json::parse(R"({"Pid":"x"})")).ok());
  EXPECT_FALSE(spec_from_json(nlohmann::json::parse(R"({"HostConfig":{"PortBindings":{"x/tcp":[]}}})")).ok());
}

}  // namespace
}  // namespace berth::containers
