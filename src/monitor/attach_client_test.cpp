#include <gtest/gtest.h>

#include "monitor/attach_client.h"

namespace berth::monitor {
namespace {

TEST(DetachKeys, DockerFormat) {
  struct {
    const char* in;
    std::string want;  // empty: error
  } cases[] = {
      {"ctrl-p,ctrl-q", "\x10\x11"},
      {"ctrl-a", "\x01"},
      {"ctrl-@", std::string(1, '\0')},
      {"ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_", "\x1b\x1c\x1d\x1e\x1f"},
      {"a,b", "ab"},
      {"ctrl-x,a", "\x18" "a"},
      {",", ""},        // empty key
      {"", ""},
      {"ctrl-P", ""},   // docker is case sensitive
      {"ctrl-1", ""},
      {"ab", ""},
      {"ctrl-", ""},
      {"ctrl-pq", ""},
  };
  for (const auto& c : cases) {
    auto r = parse_detach_keys(c.in);
    if (c.want.empty()) {
      EXPECT_FALSE(r.ok()) << c.in;
      if (!r.ok()) {
        EXPECT_EQ(r.error().message().find('\n'), std::string::npos);
      }
    } else {
      ASSERT_TRUE(r.ok()) << c.in << ": " << r.error().message();
      EXPECT_EQ(*r, c.want) << c.in;
    }
  }
}

TEST(Attach, MissingSocketIsOneLineError) {
  AttachOptions o;
  o.socket_path = "/nonexistent/berth/attach.sock";
  auto r = attach(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("connect to container monitor /nonexistent"), std::string::npos)
      << r.error().message();
  o.socket_path = std::string(200, 'x');
  EXPECT_FALSE(attach(o).ok());
  o.attach_stdin = true;
  o.detach_keys = "bogus";
  r = attach(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("detach keys"), std::string::npos);
}

}  // namespace
}  // namespace berth::monitor
