#include "network/ipam.h"

#include <arpa/inet.h>

#include <algorithm>
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
  if (s.size() > 15 || s.find('\0') != std::string::npos || inet_pton(AF_INET, s.c_str(), &a) != 1)
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

std::string Ipv6::str() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf);
  return buf;
}

Ipv6 Ipv6Cidr::network() const {
  Ipv6 n = addr;
  for (int i = 0; i < 16; ++i) {
    int bits = std::clamp(prefix - i * 8, 0, 8);
    n.bytes[i] &= static_cast<uint8_t>(0xff00 >> bits);
  }
  return n;
}

bool Ipv6Cidr::contains(const Ipv6& ip) const {
  return Ipv6Cidr{ip, prefix}.network() == network();
}

std::string Ipv6Cidr::str() const {
  return addr.str() + "/" + std::to_string(prefix);
}

std::string Ipv6Cidr::network_str() const {
  return network().str() + "/" + std::to_string(prefix);
}

Result<Ipv6> parse_ipv6(const std::string& s) {
  Ipv6 a;
  if (s.size() > 45 || s.find('%') != std::string::npos || s.find('\0') != std::string::npos ||
      inet_pton(AF_INET6, s.c_str(), a.bytes.data()) != 1)
    return Error::invalid("invalid IPv6 address", shown_value(s));
  return a;
}

Result<Ipv6Cidr> parse_cidr6(const std::string& s) {
  auto slash = s.find('/');
  if (slash == std::string::npos)
    return Error::invalid("invalid IPv6 CIDR (no /prefix)", shown_value(s));
  auto addr = parse_ipv6(s.substr(0, slash));
  auto prefix = parse_int(s.substr(slash + 1));
  if (!addr || !prefix || *prefix < 0 || *prefix > 128 || s.substr(slash + 1).size() > 3)
    return Error::invalid("invalid IPv6 CIDR", shown_value(s));
  return Ipv6Cidr{*addr, static_cast<int>(*prefix)};
}

Ipv6 ipv6_plus(Ipv6 ip, uint64_t n) {
  for (int i = 15; i >= 0 && n != 0; --i) {
    uint64_t sum = ip.bytes[i] + (n & 0xff);
    ip.bytes[i] = static_cast<uint8_t>(sum);
    n = (n >> 8) + (sum >> 8);
  }
  return ip;
}

Result<std::string> next_free_ipv6(const std::string& subnet_cidr, const std::string& gateway,
                                   const std::set<std::string>& used) {
  Ipv6Cidr net = TRY(parse_cidr6(subnet_cidr));
  Ipv6 gw = TRY(parse_ipv6(gateway));
  if (net.prefix > 126) return Error::invalid("subnet too small for containers", net.network_str());
  // No broadcast in IPv6: every address after the subnet's own may be given out.
  uint64_t room = net.prefix >= 112 ? uint64_t{1} << (128 - net.prefix) : 65536;
  Ipv6 base = net.network();
  for (uint64_t i = 1; i < room; ++i) {
    Ipv6 ip = ipv6_plus(base, i);
    if (ip == gw) continue;
    std::string s = ip.str();
    if (!used.count(s)) return s;
  }
  return Error::invalid("no free address in", net.network_str());
}

bool overlaps6(const Ipv6Cidr& a, const Ipv6Cidr& b) {
  int p = std::min(a.prefix, b.prefix);
  return Ipv6Cidr{a.addr, p}.network() == Ipv6Cidr{b.addr, p}.network();
}

std::string random_ula_subnet(uint64_t random_bits) {
  Ipv6 a;
  a.bytes[0] = 0xfd;
  for (int i = 1; i < 8; ++i) a.bytes[i] = static_cast<uint8_t>(random_bits >> (8 * (i - 1)));
  return Ipv6Cidr{a, 64}.network_str();
}

Result<std::string> mac_for_ipv4(const std::string& ip) {
  Ipv4 a = TRY(parse_ipv4(ip));
  char buf[18];
  std::snprintf(buf, sizeof buf, "02:42:%02x:%02x:%02x:%02x", a.value >> 24, (a.value >> 16) & 0xff,
                (a.value >> 8) & 0xff, a.value & 0xff);
  return std::string(buf);
}

}  // namespace berth::network
