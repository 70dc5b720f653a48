// ipam.h - IPv4 addresses, CIDRs and address allocation for bridge networks. Pure: no I/O.
#pragma once

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
// Docker's MAC for a container address: 02:42 followed by the four address bytes in hex.
Result<std::string> mac_for_ipv4(const std::string& ip);

}  // namespace berth::network
