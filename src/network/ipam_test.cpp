#include "network/ipam.h"

#include <gtest/gtest.h>

#include "network/validate.h"

namespace berth::network {
namespace {

TEST(Ipam, ParseIpv4) {
  struct Case {
    const char* in;
    bool ok;
    const char* out;
  } cases[] = {
      {"10.89.0.1", true, "10.89.0.1"},
      {"0.0.0.0", true, "0.0.0.0"},
      {"255.255.255.255", true, "255.255.255.255"},
      {"256.0.0.1", false, ""},
      {"10.89.0", false, ""},
      {"10.89.0.1.2", false, ""},
      {"010.0.0.1", false, ""},
      {"10.0.0.1 ", false, ""},
      {"", false, ""},
      {"::1", false, ""},
      {"10.0.0.1\"; flush ruleset", false, ""},
  };
  for (const auto& c : cases) {
    auto r = parse_ipv4(c.in);
    EXPECT_EQ(r.ok(), c.ok) << c.in;
    if (r && c.ok) {
      EXPECT_EQ(r->str(), c.out);
    }
  }
}

TEST(Ipam, ParseCidr) {
  struct Case {
    const char* in;
    bool ok;
    const char* network;
    const char* broadcast;
  } cases[] = {
      {"10.89.0.1/16", true, "10.89.0.0/16", "10.89.255.255"},
      {"10.89.3.7/24", true, "10.89.3.0/24", "10.89.3.255"},
      {"192.168.1.5/32", true, "192.168.1.5/32", "192.168.1.5"},
      {"1.2.3.4/0", true, "0.0.0.0/0", "255.255.255.255"},
      {"10.89.0.0/33", false, "", ""},
      {"10.89.0.0/-1", false, ""},
      {"10.89.0.0", false, "", ""},
      {"10.89.0.0/", false, "", ""},
      {"10.89.0.0/016", false, "", ""},
      {"10.89.0.0/24x", false, "", ""},
  };
  for (const auto& c : cases) {
    auto r = parse_cidr(c.in);
    EXPECT_EQ(r.ok(), c.ok) << c.in;
    if (r && c.ok) {
      EXPECT_EQ(r->network_str(), c.network) << c.in;
      EXPECT_EQ(r->broadcast().str(), c.broadcast) << c.in;
    }
  }
}

TEST(Ipam, NextFree) {
  struct Case {
    const char* subnet;
    const char* gateway;
    std::set<std::string> used;
    const char* want;  // nullptr = error
  } cases[] = {
      {"10.89.0.0/24", "10.89.0.1", {}, "10.89.0.2"},
      {"10.89.0.0/24", "10.89.0.1", {"10.89.0.2", "10.89.0.3"}, "10.89.0.4"},
      {"10.89.0.0/24", "10.89.0.254", {}, "10.89.0.1"},
      {"10.89.0.1/16", "10.89.0.1", {"10.89.0.2"}, "10.89.0.3"},
      {"10.89.0.0/30", "10.89.0.1", {}, "10.89.0.2"},
      {"10.89.0.0/30", "10.89.0.1", {"10.89.0.2"}, nullptr},
      {"10.89.0.0/31", "10.89.0.1", {}, nullptr},
      {"bad", "10.89.0.1", {}, nullptr},
  };
  for (const auto& c : cases) {
    auto r = next_free_ipv4(c.subnet, c.gateway, c.used);
    if (c.want) {
      ASSERT_TRUE(r.ok()) << c.subnet << ": " << r.error().message();
      EXPECT_EQ(*r, c.want);
    } else {
      EXPECT_FALSE(r.ok()) << c.subnet;
    }
  }
}

TEST(Ipam, FullSubnetMessage) {
  std::set<std::string> used;
  for (int i = 2; i < 255; ++i) used.insert("10.89.0." + std::to_string(i));
  auto r = next_free_ipv4("10.89.0.0/24", "10.89.0.1", used);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "no free address in 10.89.0.0/24");
  used.erase("10.89.0.200");
  EXPECT_EQ(next_free_ipv4("10.89.0.0/24", "10.89.0.1", used).value(), "10.89.0.200");
}

TEST(Ipam, LargeSubnetIsQuick) {
  std::set<std::string> used;
  for (int i = 0; i < 1000; ++i)
    used.insert("10.89." + std::to_string(i / 256) + "." + std::to_string(i % 256));
  EXPECT_EQ(next_free_ipv4("10.89.0.0/16", "10.89.0.1", used).value(), "10.89.3.232");
}

TEST(Ipam, Mac) {
  EXPECT_EQ(mac_for_ipv4("172.17.0.2").value(), "02:42:ac:11:00:02");
  EXPECT_EQ(mac_for_ipv4("10.89.255.254").value(), "02:42:0a:59:ff:fe");
  EXPECT_FALSE(mac_for_ipv4("10.89.0").ok());
}

TEST(Ipam, ParseIpv6) {
  struct Case {
    std::string in;
    bool ok;
    std::string out;
  } cases[] = {
      {"fd00::1", true, "fd00::1"},
      {"FD00:0:0:0:0:0:0:1", true, "fd00::1"},
      {"2001:db8::", true, "2001:db8::"},
      {"::", true, "::"},
      {"::ffff:10.0.0.1", true, "::ffff:10.0.0.1"},
      {"fd00::1%eth0", false, ""},
      {"[fd00::1]", false, ""},
      {"fd00:::1", false, ""},
      {"1:2:3:4:5:6:7:8:9", false, ""},
      {"10.0.0.1", false, ""},
      {"", false, ""},
      {"fd00::g", false, ""},
      {std::string("fd00::1\0", 8), false, ""},
  };
  for (const auto& c : cases) {
    auto r = parse_ipv6(c.in);
    EXPECT_EQ(r.ok(), c.ok) << c.in;
    if (r && c.ok) {
      EXPECT_EQ(r->str(), c.out) << c.in;
    }
  }
}

TEST(Ipam, Cidr6) {
  auto c = parse_cidr6("fd00:1:2:3:4::9/64").value();
  EXPECT_EQ(c.network_str(), "fd00:1:2:3::/64");
  EXPECT_EQ(c.str(), "fd00:1:2:3:4::9/64");
  EXPECT_TRUE(c.contains(parse_ipv6("fd00:1:2:3:ffff::1").value()));
  EXPECT_FALSE(c.contains(parse_ipv6("fd00:1:2:4::1").value()));
  EXPECT_EQ(parse_cidr6("fd00:1:2:3:ff::/57").value().network_str(), "fd00:1:2::/57");
  EXPECT_EQ(parse_cidr6("fd00:1:2:83::/57").value().network_str(), "fd00:1:2:80::/57");
  EXPECT_EQ(parse_cidr6("::/0").value().network_str(), "::/0");
  EXPECT_EQ(parse_cidr6("fd00::1/128").value().network_str(), "fd00::1/128");
  for (std::string bad : {"fd00::/129", "fd00::", "fd00::/-1", "fd00::/1000", "fd00::/x", "10.0.0.0/8", "/64", "fd00::/"})
    EXPECT_FALSE(parse_cidr6(bad).ok()) << bad;
  EXPECT_TRUE(overlaps6(parse_cidr6("fd00::/48").value(), parse_cidr6("fd00:0:0:5::/64").value()));
  EXPECT_FALSE(overlaps6(parse_cidr6("fd00:0:0:4::/64").value(), parse_cidr6("fd00:0:0:5::/64").value()));
  EXPECT_TRUE(looks_ipv6("fd00::/64"));
  EXPECT_FALSE(looks_ipv6("10.0.0.0/8"));
}

TEST(Ipam, NextFreeIpv6) {
  EXPECT_EQ(next_free_ipv6("fd00:1::/64", "fd00:1::1", {}).value(), "fd00:1::2");
  EXPECT_EQ(next_free_ipv6("fd00:1::/64", "fd00:1::1", {"fd00:1::2", "fd00:1::3"}).value(), "fd00:1::4");
  EXPECT_EQ(next_free_ipv6("fd00:1::/64", "fd00:1::2", {"10.0.0.2"}).value(), "fd00:1::1");
  // carries across bytes
  std::set<std::string> used;
  for (int i = 2; i < 300; ++i) used.insert(ipv6_plus(parse_ipv6("fd00:1::").value(), static_cast<uint64_t>(i)).str());
  EXPECT_EQ(next_free_ipv6("fd00:1::/64", "fd00:1::1", used).value(), "fd00:1::12c");
  // a /126 holds the subnet address and three more: gateway and two containers
  EXPECT_EQ(next_free_ipv6("fd00::/126", "fd00::1", {"fd00::2"}).value(), "fd00::3");
  auto full = next_free_ipv6("fd00::/126", "fd00::1", {"fd00::2", "fd00::3"});
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().message(), "no free address in fd00::/126");
  EXPECT_FALSE(next_free_ipv6("fd00::/127", "fd00::1", {}).ok());
  EXPECT_FALSE(next_free_ipv6("fd00::/64", "10.0.0.1", {}).ok());
  EXPECT_EQ(ipv6_plus(parse_ipv6("fd00::ff").value(), 1).str(), "fd00::100");
}

TEST(Ipam, RandomUla) {
  EXPECT_EQ(random_ula_subnet(0), "fd00::/64");
  EXPECT_EQ(random_ula_subnet(0x0123456789abcdefULL), "fdef:cdab:8967:4523::/64");
  auto c = parse_cidr6(random_ula_subnet(0xffffffffffffffffULL)).value();
  EXPECT_EQ(c.prefix, 64);
  EXPECT_EQ(c.addr.bytes[0], 0xfd);
}

TEST(Validate, InterfaceNames) {
  struct Case {
    std::string name;
    bool ok;
  } cases[] = {
      {"eth0", true},
      {"br-1a2b.3_c", true},
      {"abcdefghijklmno", true},    // 15
      {"abcdefghijklmnop", false},  // 16
      {"", false},
      {".", false},
      {"..", false},
      {"a b", false},
      {"a\"b", false},
      {"br0\"; flush ruleset; \"", false},
      {"a/b", false},
      {"a\nb", false},
      {"a;b", false},
      {"a$b", false},
      {std::string("a\0b", 3), false},
  };
  for (const auto& c : cases) EXPECT_EQ(check_ifname(c.name).ok(), c.ok) << c.name;
}

TEST(Validate, KeysAndProtocols) {
  EXPECT_TRUE(check_key(std::string(64, 'a')).ok());
  EXPECT_FALSE(check_key(std::string(65, 'a')).ok());
  EXPECT_TRUE(check_key("c0ffee-1.x_y").ok());
  EXPECT_FALSE(check_key("x y").ok());
  EXPECT_FALSE(check_key("x}").ok());
  EXPECT_TRUE(check_proto("tcp").ok());
  EXPECT_TRUE(check_proto("udp").ok());
  EXPECT_FALSE(check_proto("sctp").ok());
  EXPECT_FALSE(check_proto("TCP").ok());
}

TEST(Validate, MessagesAreOneLine) {
  auto s = check_ifname("bad\nname");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(), "invalid interface name \"bad?name\"");
}

}  // namespace
}  // namespace berth::network
