// check_host_port_free and pick_free_port: host ports tested the only reliable way, by binding
// a socket to them.
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
namespace {

struct Bound {
  UniqueFd fd;
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string what;  // "[::1]:8080/tcp", for errors
};

// A socket of proto's type bound to host_ip:port ("" = 0.0.0.0; an IPv6 address binds IPv6
// only); errno of a failed bind() is kept in the error.
Result<Bound> bind_host_port(const std::string& host_ip, uint16_t port, const std::string& proto) {
  TRY(check_proto(proto));
  std::string ip = host_ip.empty() ? "0.0.0.0" : host_ip;
  bool v6 = looks_ipv6(ip);
  Bound b;
  if (v6) {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&b.addr);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(port);
    Ipv6 addr = TRY(parse_ipv6(ip));
    std::copy(addr.bytes.begin(), addr.bytes.end(), sa->sin6_addr.s6_addr);
    b.len = sizeof *sa;
  } else {
    auto* sa = reinterpret_cast<sockaddr_in*>(&b.addr);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(port);
    sa->sin_addr.s_addr = htonl(TRY(parse_ipv4(ip)).value);
    b.len = sizeof *sa;
  }
  b.what = (v6 ? "[" + ip + "]" : ip) + ":" + std::to_string(port) + "/" + proto;
  b.fd.reset(::socket(v6 ? AF_INET6 : AF_INET, (proto == "tcp" ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0));
  if (!b.fd) return sys_error("create socket to check", b.what);
  int one = 1;
  if (proto == "tcp") {
    // A port held only by connections in TIME_WAIT is free for a listener.
    ::setsockopt(b.fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  }
  if (v6) ::setsockopt(b.fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (::bind(b.fd.get(), reinterpret_cast<sockaddr*>(&b.addr), b.len) < 0) return sys_error("bind", b.what);
  return b;
}

}  // namespace

Status check_host_port_free(const std::string& host_ip, uint16_t port, const std::string& proto) {
  if (port == 0) {
    std::string ip = host_ip.empty() ? "0.0.0.0" : host_ip;
    return Error::invalid("invalid host port", (looks_ipv6(ip) ? "[" + ip + "]" : ip) + ":0/" + proto);
  }
  auto b = bind_host_port(host_ip, port, proto);
  if (b) return ok();
  if (b.error().code() == EADDRINUSE)
    return Error(0, "port is already allocated:", b.error().object());
  return std::move(b).error();
}

Result<uint16_t> pick_free_port(const std::string& host_ip, const std::string& proto) {
  Bound b = TRY(bind_host_port(host_ip, 0, proto));
  socklen_t len = sizeof b.addr;
  if (::getsockname(b.fd.get(), reinterpret_cast<sockaddr*>(&b.addr), &len) < 0)
    return sys_error("getsockname", b.what);
  if (b.addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&b.addr)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&b.addr)->sin_port);
}

}  // namespace berth::network
