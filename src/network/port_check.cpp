// check_host_port_free: is a host port free, tested the only reliable way, by binding it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "base/fd.h"
#include "network/ipam.h"
#include "network/nat.h"
#include "network/validate.h"

namespace berth::network {

Status check_host_port_free(const std::string& host_ip, uint16_t port, const std::string& proto) {
  TRY(check_proto(proto));
  std::string ip = host_ip.empty() ? "0.0.0.0" : host_ip;
  bool v6 = looks_ipv6(ip);
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (v6) {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(port);
    Ipv6 addr = TRY(parse_ipv6(ip));
    std::copy(addr.bytes.begin(), addr.bytes.end(), sa->sin6_addr.s6_addr);
    len = sizeof *sa;
  } else {
    auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(port);
    sa->sin_addr.s_addr = htonl(TRY(parse_ipv4(ip)).value);
    len = sizeof *sa;
  }
  std::string what = (v6 ? "[" + ip + "]" : ip) + ":" + std::to_string(port) + "/" + proto;
  if (port == 0) return Error::invalid("invalid host port", what);
  UniqueFd s(::socket(v6 ? AF_INET6 : AF_INET, (proto == "tcp" ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0));
  if (!s) return sys_error("create socket to check", what);
  int one = 1;
  if (proto == "tcp") {
    // A port held only by connections in TIME_WAIT is free for a listener.
    ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  }
  if (v6) ::setsockopt(s.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&ss), len) == 0) return ok();
  if (errno == EADDRINUSE) return Error(0, "port is already allocated:", what);
  return sys_error("bind", what);
}

}  // namespace berth::network
