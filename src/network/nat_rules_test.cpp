#include "network/nat_rules.h"

#include <gtest/gtest.h>

namespace berth::network::nftcmd {
namespace {

TEST(NftText, NetworkRules) {
  auto r = network_rules("bt1", "10.89.0.1/24");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(*r,
            "add rule ip berth postrouting ip saddr 10.89.0.0/24 oifname != \"bt1\" masquerade "
            "comment \"net:bt1\"\n"
            "add rule ip berth postrouting ip saddr 10.89.0.0/24 oifname \"bt1\" ct status dnat "
            "masquerade comment \"net:bt1\"\n"
            "add rule ip berth postrouting ip saddr 127.0.0.0/8 oifname \"bt1\" masquerade comment "
            "\"net:bt1\"\n"
            "add rule ip berth forward iifname \"bt1\" accept comment \"net:bt1\"\n"
            "add rule ip berth forward oifname \"bt1\" accept comment \"net:bt1\"\n");
}

TEST(NftText, FilterAcceptRules) {
  EXPECT_EQ(filter_accept_rules("DOCKER-USER", "bt1").value(),
            "insert rule ip filter DOCKER-USER iifname \"bt1\" accept comment \"berth:bt1\"\n"
            "insert rule ip filter DOCKER-USER oifname \"bt1\" accept comment \"berth:bt1\"\n");
  EXPECT_FALSE(filter_accept_rules("INPUT", "bt1").ok());
  EXPECT_FALSE(filter_accept_rules("FORWARD", "b\"t").ok());
}

TEST(NftText, PortRules) {
  std::vector<PortMapping> m = {{"", 8080, 80, "tcp"}, {"192.0.2.2", 5353, 53, "udp"}};
  auto r = port_rules("c0ffee", "10.89.0.2", m);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(*r,
            "add chain ip berth ctr-c0ffee\n"
            "flush chain ip berth ctr-c0ffee\n"
            "add rule ip berth ctr-c0ffee tcp dport 8080 dnat to 10.89.0.2:80\n"
            "add rule ip berth ctr-c0ffee ip daddr 192.0.2.2 udp dport 5353 dnat to 10.89.0.2:53\n"
            "add rule ip berth ports jump ctr-c0ffee comment \"ctr:c0ffee\"\n");
}

TEST(NftText, Ipv6) {
  EXPECT_EQ(network_rules("bt1", "fd00:1::1/64").value(),
            "add rule ip6 berth postrouting ip6 saddr fd00:1::/64 oifname != \"bt1\" masquerade "
            "comment \"net:bt1\"\n"
            "add rule ip6 berth postrouting ip6 saddr fd00:1::/64 oifname \"bt1\" ct status dnat "
            "masquerade comment \"net:bt1\"\n"
            "add rule ip6 berth forward iifname \"bt1\" accept comment \"net:bt1\"\n"
            "add rule ip6 berth forward oifname \"bt1\" accept comment \"net:bt1\"\n");
  EXPECT_EQ(filter_accept_rules("FORWARD", "bt1", "ip6").value(),
            "insert rule ip6 filter FORWARD iifname \"bt1\" accept comment \"berth:bt1\"\n"
            "insert rule ip6 filter FORWARD oifname \"bt1\" accept comment \"berth:bt1\"\n");
  EXPECT_FALSE(filter_accept_rules("FORWARD", "bt1", "inet; flush ruleset").ok());
  // -p 8080:80 publishes on both families, -p 0.0.0.0:... and -p 127.0.0.1:... on IPv4 only,
  // -p [::]:... and -p [fd00::1]:... on IPv6 only.
  std::vector<PortMapping> m = {{"", 8080, 80, "tcp"},
                                {"0.0.0.0", 8081, 81, "tcp"},
                                {"::", 8082, 82, "tcp"},
                                {"FD00::1", 5353, 53, "udp"}};
  EXPECT_EQ(port_rules("c0ffee", "fd00:1::2", m).value(),
            "add chain ip6 berth ctr-c0ffee\n"
            "flush chain ip6 berth ctr-c0ffee\n"
            "add rule ip6 berth ctr-c0ffee tcp dport 8080 dnat to [fd00:1::2]:80\n"
            "add rule ip6 berth ctr-c0ffee tcp dport 8082 dnat to [fd00:1::2]:82\n"
            "add rule ip6 berth ctr-c0ffee ip6 daddr fd00::1 udp dport 5353 dnat to [fd00:1::2]:53\n"
            "add rule ip6 berth ports jump ctr-c0ffee comment \"ctr:c0ffee\"\n");
  EXPECT_EQ(port_rules("c0ffee", "10.89.0.2", m).value(),
            "add chain ip berth ctr-c0ffee\n"
            "flush chain ip berth ctr-c0ffee\n"
            "add rule ip berth ctr-c0ffee tcp dport 8080 dnat to 10.89.0.2:80\n"
            "add rule ip berth ctr-c0ffee tcp dport 8081 dnat to 10.89.0.2:81\n"
            "add rule ip berth ports jump ctr-c0ffee comment \"ctr:c0ffee\"\n");
  EXPECT_FALSE(dnat_rule("fd00::2", {"10.0.0.1", 80, 80, "tcp"}).ok());
  EXPECT_FALSE(dnat_rule("fd00::2]:1 accept; [", {"", 80, 80, "tcp"}).ok());
  EXPECT_FALSE(dnat_rule("fd00::2", {"fd00::1 accept;", 80, 80, "tcp"}).ok());
  EXPECT_FALSE(network_rules("bt1", "fd00::/64; flush ruleset").ok());
  std::string t = base_table(kTable6);
  EXPECT_NE(t.find("add table ip6 berth\n"), std::string::npos);
  EXPECT_NE(t.find("add rule ip6 berth prerouting fib daddr type local jump ports\n"), std::string::npos);
}

TEST(NftText, DnatRejectsHostileValues) {
  struct Case {
    const char* container_ip;
    PortMapping m;
    bool ok;
  } cases[] = {
      {"10.89.0.2", {"0.0.0.0", 1, 65535, "udp"}, true},
      {"10.89.0.2", {"", 0, 80, "tcp"}, false},
      {"10.89.0.2", {"", 80, 0, "tcp"}, false},
      {"10.89.0.2", {"", 80, 80, "icmp"}, false},
      {"10.89.0.2", {"", 80, 80, "tcp; flush ruleset"}, false},
      {"10.89.0.2", {"::", 80, 80, "tcp"}, false},
      {"10.89.0.2", {"1.2.3.4 accept;", 80, 80, "tcp"}, false},
      {"10.89.0.2:1", {"", 80, 80, "tcp"}, false},
      {"10.89.0.2\n", {"", 80, 80, "tcp"}, false},
  };
  for (const auto& c : cases)
    EXPECT_EQ(dnat_rule(c.container_ip, c.m).ok(), c.ok)
        << c.container_ip << " " << c.m.host_ip << " " << c.m.proto;
}

TEST(NftText, RejectsHostileNames) {
  EXPECT_FALSE(network_rules("bt1\" accept; flush ruleset; \"", "10.89.0.0/24").ok());
  EXPECT_FALSE(network_rules("bt1", "10.89.0.0/24; flush ruleset").ok());
  EXPECT_FALSE(port_rules("a b", "10.89.0.2", {}).ok());
  EXPECT_FALSE(port_rules("x\"", "10.89.0.2", {}).ok());
}

TEST(NftText, BaseTableIsIdempotentText) {
  std::string t = base_table();
  EXPECT_NE(t.find("add table ip berth\n"), std::string::npos);
  // The fixed jumps are flushed before they are added again.
  EXPECT_LT(t.find("flush chain ip berth prerouting"), t.find("add rule ip berth prerouting"));
  EXPECT_LT(t.find("flush chain ip berth output"), t.find("add rule ip berth output"));
}

TEST(NftText, ParseListingAndDelete) {
  const char* json = R"({"nftables": [{"metainfo": {"version": "1.0.6"}},
    {"table": {"family": "ip", "name": "berth", "handle": 3}},
    {"chain": {"family": "ip", "table": "berth", "name": "ports", "handle": 5}},
    {"chain": {"family": "ip", "table": "berth", "name": "ctr-a", "handle": 9}},
    {"rule": {"family": "ip", "table": "berth", "chain": "ports", "handle": 11, "comment": "ctr:a", "expr": []}},
    {"rule": {"family": "ip", "table": "berth", "chain": "ports", "handle": 12, "comment": "ctr:ab", "expr": []}},
    {"rule": {"family": "ip", "table": "berth", "chain": "postrouting", "handle": 13, "expr": []}}]})";
  auto l = parse_listing(json);
  ASSERT_TRUE(l.ok()) << l.error().message();
  EXPECT_TRUE(l->table_found);
  EXPECT_TRUE(l->has_chain("ctr-a"));
  EXPECT_FALSE(l->has_chain("ctr-b"));
  EXPECT_EQ(delete_rules(l->with_comment("ctr:a")), "delete rule ip berth ports handle 11\n");
  EXPECT_EQ(l->with_comment_prefix("ctr:").size(), 2u);
  EXPECT_FALSE(parse_listing("not json").ok());
  EXPECT_FALSE(parse_listing(R"({"nftables": [{"rule": {"chain": "x"}}]})").ok());
  EXPECT_FALSE(parse_listing(R"({"nftables": [{"table": {}}]})")->table_found == false);
}

}  // namespace
}  // namespace berth::network::nftcmd
