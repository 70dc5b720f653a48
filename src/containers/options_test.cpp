#include "containers/options.h"

#include <gtest/gtest.h>

namespace berth::containers {
namespace {

TEST(Publish, Forms) {
  struct Case {
    const char* spec;
    std::vector<PortBinding> want;
  } cases[] = {
      {"80", {{"", 0, 80, "tcp"}}},
      {"8080:80", {{"", 8080, 80, "tcp"}}},
      {"127.0.0.1:8080:80/udp", {{"127.0.0.1", 8080, 80, "udp"}}},
      {"127.0.0.1::80", {{"127.0.0.1", 0, 80, "tcp"}}},
      {"[::1]:8080:80", {{"::1", 8080, 80, "tcp"}}},
      {"8000-8001:9000-9001", {{"", 8000, 9000, "tcp"}, {"", 8001, 9001, "tcp"}}},
      {"5000-5001", {{"", 0, 5000, "tcp"}, {"", 0, 5001, "tcp"}}},
  };
  for (const auto& c : cases) {
    auto r = parse_publish(c.spec);
    ASSERT_TRUE(r.ok()) << c.spec << ": " << r.error().message();
    EXPECT_EQ(*r, c.want) << c.spec;
  }
}

TEST(Publish, Rejects) {
  for (const char* bad : {"", "0", "70000", "a:b", "1.2.3.4:80:80:80", "300.1.1.1:80:80", "80/icmp",
                          "8000-8002:9000-9001", "9:8-7", "[::1:80:80"}) {
    auto r = parse_publish(bad);
    EXPECT_FALSE(r.ok()) << bad;
  }
}

TEST(Volume, Forms) {
  auto v = parse_volume("/data:/data:ro");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->type, "bind");
  EXPECT_EQ(v->source, "/data");
  EXPECT_TRUE(v->read_only);
  v = parse_volume("cache:/root/.cache");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->type, "volume");
  EXPECT_EQ(v->source, "cache");
  v = parse_volume("/scratch");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->type, "volume");
  EXPECT_EQ(v->source, "");
  v = parse_volume("/a:/b:rshared,rw");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->propagation, "rshared");
  for (const char* bad : {"", ".rel:/x", "/a:rel", "/a:/b:bogus", "a:b:c:d", "/a:/", "vol:/x:rshared", "$x:/y"})
    EXPECT_FALSE(parse_volume(bad).ok()) << bad;
}

TEST(Mount, Forms) {
  auto m = parse_mount("type=bind,source=/src,target=/dst,readonly");
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ(m->type, "bind");
  EXPECT_TRUE(m->read_only);
  m = parse_mount("type=tmpfs,dst=/t,tmpfs-size=1m");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->options, std::vector<std::string>{"size=1048576"});
  for (const char* bad : {"type=bind,target=/x", "type=foo,target=/x", "source=a", "type=bind,src=rel,dst=/x",
                          "type=tmpfs,src=x,dst=/t", "bogus=1,target=/x"})
    EXPECT_FALSE(parse_mount(bad).ok()) << bad;
}

TEST(Ulimit, Forms) {
  auto u = parse_ulimit("memlock=-1");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->soft, -1);
  EXPECT_EQ(u->hard, -1);
  u = parse_ulimit("nofile=1024:4096");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->soft, 1024);
  EXPECT_EQ(u->hard, 4096);
  for (const char* bad : {"nofile", "bogus=1", "nofile=a", "nofile=10:5", "nofile=-1:5", "nofile=-5"})
    EXPECT_FALSE(parse_ulimit(bad).ok()) << bad;
}

TEST(Bytes, Units) {
  EXPECT_EQ(parse_bytes("512").value(), 512);
  EXPECT_EQ(parse_bytes("1k").value(), 1024);
  EXPECT_EQ(parse_bytes("64m").value(), 64 << 20);
  EXPECT_EQ(parse_bytes("2GB").value(), int64_t{2} << 30);
  EXPECT_EQ(parse_bytes("1.5g").value(), int64_t{3} << 29);
  for (const char* bad : {"", "-1", "1x", "m", "1e999g"}) EXPECT_FALSE(parse_bytes(bad).ok()) << bad;
}

TEST(Misc, CpusRestartNamesDevicesHosts) {
  EXPECT_EQ(parse_cpus("1.5").value(), 1500000000);
  EXPECT_FALSE(parse_cpus("0").ok());
  EXPECT_FALSE(parse_cpus("x").ok());
  EXPECT_EQ(parse_restart("on-failure:3")->max_retries, 3);
  EXPECT_EQ(parse_restart("always")->name, "always");
  EXPECT_FALSE(parse_restart("always:3").ok());
  EXPECT_FALSE(parse_restart("sometimes").ok());
  EXPECT_TRUE(validate_name("nb-1.x_y").ok());
  EXPECT_EQ(validate_name("/nb").value(), "nb");
  EXPECT_FALSE(validate_name("-x").ok());
  EXPECT_FALSE(validate_name("a b").ok());
  auto d = parse_device("/dev/fuse:/dev/f:rw");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->container_path, "/dev/f");
  EXPECT_EQ(d->permissions, "rw");
  EXPECT_EQ(parse_device("/dev/fuse:r")->permissions, "r");
  EXPECT_FALSE(parse_device("fuse").ok());
  EXPECT_EQ(parse_add_host("db:10.0.0.2").value(), "db:10.0.0.2");
  EXPECT_EQ(parse_add_host("gw=host-gateway").value(), "gw:host-gateway");
  EXPECT_FALSE(parse_add_host("db:notanip").ok());
  auto env = parse_env_file("# c\nA=1\n\n  B=two words\r\nC\n", "f");
  ASSERT_TRUE(env.ok());
  EXPECT_EQ((*env)[0], "A=1");
  EXPECT_EQ((*env)[1], "B=two words");
  EXPECT_FALSE(parse_env_file("BAD KEY=1\n", "f").ok());
}

}  // namespace
}  // namespace berth::containers
