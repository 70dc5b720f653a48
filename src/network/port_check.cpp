// check_host_port_free: is a host port free, tested the only reliable way, by binding it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>

#include "base/fd.h"
#include "network/ipam.h"
#include "network/nat.h"
#include "network/validate.h"

namespace berth::network {

Status check_host_port_free(const std::string& host_ip, uint16_t port, const std::string& proto) {
  TRY(check_proto(proto));
  std::string ip = host_ip.empty() ? "0.0.0.0" : host_ip;
  Ipv4 addr = TRY(parse_ipv4(ip));
  std::string what = ip + ":" + std::to_string(port) + "/" + proto;
  if (port == 0) return Error::invalid("invalid host port", what);
  UniqueFd s(::socket(AF_INET, (proto == "tcp" ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0));
  if (!s) return sys_error("create socket to check", what);
  if (proto == "tcp") {
    // A port held only by connections in TIME_WAIT is free for a listener.
    int one = 1;
    ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(addr.value);
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) return ok();
  if (errno == EADDRINUSE) return Error(0, "port is already allocated:", what);
  return sys_error("bind", what);
}

}  // namespace berth::network
