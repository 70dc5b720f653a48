#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "base/fd.h"
#include "network/nat.h"

namespace berth::network {
namespace {

// Binds 127.0.0.1:<kernel-chosen port>; returns the port.
uint16_t bind_loopback(UniqueFd& s, int type) {
  s.reset(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return 0;
  if (type == SOCK_STREAM) ::listen(s.get(), 1);
  socklen_t len = sizeof sa;
  ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&sa), &len);
  return ntohs(sa.sin_port);
}

TEST(PortCheck, DetectsBoundPorts) {
  for (const char* proto : {"tcp", "udp"}) {
    UniqueFd s;
    uint16_t port = bind_loopback(s, std::string(proto) == "tcp" ? SOCK_STREAM : SOCK_DGRAM);
    ASSERT_NE(port, 0);
    auto st = check_host_port_free("127.0.0.1", port, proto);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().message(),
              "port is already allocated: 127.0.0.1:" + std::to_string(port) + "/" + proto);
    EXPECT_FALSE(check_host_port_free("", port, proto).ok()) << "0.0.0.0 overlaps 127.0.0.1";
    s.reset();
    EXPECT_TRUE(check_host_port_free("", port, proto).ok()) << proto << " " << port;
  }
}

TEST(PortCheck, RejectsBadInput) {
  EXPECT_FALSE(check_host_port_free("", 80, "sctp").ok());
  EXPECT_FALSE(check_host_port_free("1.2.3", 80, "tcp").ok());
  EXPECT_FALSE(check_host_port_free("", 0, "tcp").ok());
  // Not a local address: the bind error, not "already allocated".
  auto st = check_host_port_free("203.0.113.77", 8080, "tcp");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message().rfind("bind 203.0.113.77:8080/tcp", 0), 0u)
      << st.error().message();
}

}  // namespace
}  // namespace berth::network
