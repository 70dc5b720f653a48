// ipam.h - IPv4 and IPv6 addresses, CIDRs and address allocation for bridge networks.
// Pure: no I/O.
#pragma once

#include <array>
#include <cstdint>
#include <set>
#include <string>

#include "base/error.h"

namespace berth::network {

// An IPv4 address in host byte order.
struct Ipv4 {
  uint32_t value = 0;
  std::string str() const;  // dotted quad
  bool operator==(const Ipv4&) const = default;
};

// An address with a prefix length: "10.89.0.1/16" (address 10.89.0.1, network 10.89.0.0).
struct Ipv4Cidr {
  Ipv4 addr;
  int prefix = 0;
  uint32_t mask() const { return prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix); }
  Ipv4 network() const { return {addr.value & mask()}; }
  Ipv4 broadcast() const { return {network().value | ~mask()}; }
  bool contains(Ipv4 ip) const { return (ip.value & mask()) == network().value; }
  std::string str() const;          // "10.89.0.1/16", the address as given
  std::string network_str() const;  // "10.89.0.0/16"
};

// Strict dotted quad ("10.0.0.1"; no leading zeros, no shorthand).
Result<Ipv4> parse_ipv4(const std::string& s);
// "a.b.c.d/N" with 0 <= N <= 32.
Result<Ipv4Cidr> parse_cidr(const std::string& s);

// The lowest address of subnet_cidr that is not the network, the broadcast, the gateway or in
// used. Error "no free address in 10.89.0.0/16" when none is left.
Result<std::string> next_free_ipv4(const std::string& subnet_cidr, const std::string& gateway,
                                   const std::set<std::string>& used);
// An IPv6 address, network byte order.
struct Ipv6 {
  std::array<uint8_t, 16> bytes{};
  std::string str() const;  // RFC 5952 form ("fd00::2")
  bool operator==(const Ipv6&) const = default;
};

// "fd00:1::1/64".
struct Ipv6Cidr {
  Ipv6 addr;
  int prefix = 0;
  Ipv6 network() const;
  bool contains(const Ipv6& ip) const;
  std::string str() const;
  std::string network_str() const;  // "fd00:1::/64"
};

// What inet_pton(AF_INET6) takes, without zones ("%eth0") or brackets.
Result<Ipv6> parse_ipv6(const std::string& s);
// "addr/N" with 0 <= N <= 128.
Result<Ipv6Cidr> parse_cidr6(const std::string& s);
// Whether s is written as an IPv6 address or CIDR (holds a ':'), for telling --subnet values
// apart; it says nothing of validity.
inline bool looks_ipv6(const std::string& s) {
  return s.find(':') != std::string::npos;
}
// The address n places after ip (wrapping at the top).
Ipv6 ipv6_plus(Ipv6 ip, uint64_t n);
// As next_free_ipv4 for IPv6: the lowest address after the subnet's own (the subnet-router
// anycast address) that is not the gateway or in used; only the first 65536 are tried.
Result<std::string> next_free_ipv6(const std::string& subnet_cidr, const std::string& gateway,
                                   const std::set<std::string>& used);
// Whether two IPv6 subnets share an address.
bool overlaps6(const Ipv6Cidr& a, const Ipv6Cidr& b);
// A unique local /64 (fdXX:XXXX:XXXX:YYYY::/64) from 56 random bits, for `network create
// --ipv6` without an IPv6 --subnet (RFC 4193's random global id).
std::string random_ula_subnet(uint64_t random_bits);

// Docker's MAC for a container address: 02:42 followed by the four address bytes in hex.
Result<std::string> mac_for_ipv4(const std::string& ip);

}  // namespace berth::network
