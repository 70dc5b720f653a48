// address_fuzz.cpp - libFuzzer target for the network library's parsers of user-given
// addresses (network create --subnet/--gateway, -p's host address) and the nftables rule
// text made from them (network/ipam.h, network/nat_rules.h).
//
// Input: up to three NUL-separated parts: a subnet, a gateway or host address, a container
// address. Checks beyond "no crash": an accepted address or CIDR prints in a form that parses
// back to the same value; a CIDR's network contains its address; an address IPAM hands out
// lies in the subnet and is neither the gateway nor the subnet's own; rule text built from
// accepted values holds no quote, semicolon, brace or newline that could add nft syntax.
#include <string>

#include "fuzz_util.h"
#include "network/ipam.h"
#include "network/nat_rules.h"

namespace {
constexpr const char* kTarget = "address_fuzz";
using namespace berth::network;

void check_rule_text(const std::string& text, const std::string& input) {
  for (char c : text)
    if (c == '"' || c == ';' || c == '{' || c == '}' || c == '\n' || c == '\\' || c == '#')
      berth::fuzz::fail(kTarget, "syntax in a rule body", input + "\n=> " + text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parts = berth::fuzz::split_at_nul(berth::fuzz::as_text(data, size), 3);
  std::string subnet(parts[0]), addr(parts[1]), container(parts[2]);
  std::string input = subnet + " | " + addr + " | " + container;

  if (auto a = parse_ipv4(addr); a && parse_ipv4(a->str()).value_or(Ipv4{}) != *a)
    berth::fuzz::fail(kTarget, "IPv4 does not round-trip", input);
  if (auto a = parse_ipv6(addr); a) {
    auto back = parse_ipv6(a->str());
    if (!back || *back != *a) berth::fuzz::fail(kTarget, "IPv6 does not round-trip", input);
  }
  if (auto c = parse_cidr(subnet)) {
    if (!c->contains(c->addr)) berth::fuzz::fail(kTarget, "IPv4 CIDR misses its address", input);
    auto back = parse_cidr(c->network_str());
    if (!back || back->network() != c->network()) berth::fuzz::fail(kTarget, "IPv4 CIDR round-trip", input);
    if (auto ip = next_free_ipv4(subnet, addr, {})) {
      auto got = parse_ipv4(*ip);
      if (!got || !c->contains(*got) || *ip == addr || *got == c->network() || *got == c->broadcast())
        berth::fuzz::fail(kTarget, "IPv4 IPAM address out of place", input + " => " + *ip);
    }
  }
  if (auto c = parse_cidr6(subnet)) {
    if (!c->contains(c->addr)) berth::fuzz::fail(kTarget, "IPv6 CIDR misses its address", input);
    auto back = parse_cidr6(c->network_str());
    if (!back || back->network() != c->network()) berth::fuzz::fail(kTarget, "IPv6 CIDR round-trip", input);
    if (auto ip = next_free_ipv6(subnet, addr, {})) {
      auto got = parse_ipv6(*ip);
      auto gw = parse_ipv6(addr);
      if (!got || !c->contains(*got) || (gw && *gw == *got) || *got == c->network())
        berth::fuzz::fail(kTarget, "IPv6 IPAM address out of place", input + " => " + *ip);
    }
  }
  if (auto r = berth::network::nftcmd::network_rules("bt0", subnet)) {
    std::string body = *r;
    // The tags are quoted on purpose ("bt0" and the comment); nothing else may be.
    for (const std::string q : {"\"bt0\"", "\"net:bt0\""})
      for (size_t at; (at = body.find(q)) != std::string::npos;) body.erase(at, q.size());
    for (size_t at; (at = body.find('\n')) != std::string::npos;) body[at] = ' ';
    check_rule_text(body, input);
  }
  for (const char* proto : {"tcp", "udp"}) {
    PortMapping m{.host_ip = addr, .host_port = 8080, .container_port = 80, .proto = proto};
    if (auto r = berth::network::nftcmd::dnat_rule(container, m)) check_rule_text(*r, input);
  }
  return 0;
}
