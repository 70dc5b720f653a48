#include "network/ipam.h"

#include <arpa/inet.h>

#include <cstdio>

#include "base/strings.h"
#include "network/validate.h"

namespace berth::network {

std::string Ipv4::str() const {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", value >> 24, (value >> 16) & 0xff,
                (value >> 8) & 0xff, value & 0xff);
  return buf;
}

std::string Ipv4Cidr::str() const {
  return addr.str() + "/" + std::to_string(prefix);
}

std::string Ipv4Cidr::network_str() const {
  return network().str() + "/" + std::to_string(prefix);
}

Result<Ipv4> parse_ipv4(const std::string& s) {
  in_addr a{};
  // inet_pton takes exactly four decimal parts and rejects leading zeros.
  if (s.size() > 15 || inet_pton(AF_INET, s.c_str(), &a) != 1)
    return Error::invalid("invalid IPv4 address", shown_value(s));
  return Ipv4{ntohl(a.s_addr)};
}

Result<Ipv4Cidr> parse_cidr(const std::string& s) {
  auto slash = s.find('/');
  if (slash == std::string::npos)
    return Error::invalid("invalid CIDR (no /prefix)", shown_value(s));
  auto addr = parse_ipv4(s.substr(0, slash));
  auto prefix = parse_int(s.substr(slash + 1));
  if (!addr || !prefix || *prefix < 0 || *prefix > 32 || s.substr(slash + 1).size() > 2)
    return Error::invalid("invalid CIDR", shown_value(s));
  return Ipv4Cidr{*addr, static_cast<int>(*prefix)};
}

Result<std::string> next_free_ipv4(const std::string& subnet_cidr, const std::string& gateway,
                                   const std::set<std::string>& used) {
  Ipv4Cidr net = TRY(parse_cidr(subnet_cidr));
  Ipv4 gw = TRY(parse_ipv4(gateway));
  if (net.prefix > 30) return Error::invalid("subnet too small for containers", net.network_str());
  uint32_t first = net.network().value + 1;
  uint32_t last = net.broadcast().value - 1;
  for (uint32_t v = first; v <= last; ++v) {
    Ipv4 ip{v};
    if (ip == gw) continue;
    std::string s = ip.str();
    if (!used.count(s)) return s;
  }
  return Error::invalid("no free address in", net.network_str());
}

Result<std::string> mac_for_ipv4(const std::string& ip) {
  Ipv4 a = TRY(parse_ipv4(ip));
  char buf[18];
  std::snprintf(buf, sizeof buf, "02:42:%02x:%02x:%02x:%02x", a.value >> 24, (a.value >> 16) & 0xff,
                (a.value >> 8) & 0xff, a.value & 0xff);
  return std::string(buf);
}

}  // namespace berth::network
