// nat.h - NAT and filter rules for bridge networks and published ports, in one nftables table
// `ip berth` (and `ip6 berth` for IPv6 networks; libnftables, no nft(8) process). Layout and the coexistence with docker's
// iptables-nft rules: docs/containers.md, "Networks".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"

namespace berth::network {

struct PortMapping {
  // "" = every local address of both families; "0.0.0.0" every IPv4 one, "::" every IPv6
  // one; else one address.
  std::string host_ip;
  uint16_t host_port = 0;
  uint16_t container_port = 0;
  std::string proto = "tcp";  // tcp | udp
};

// For the bridge network bridge_if with subnet ("10.89.0.0/24"): creates the table if needed,
// masquerades the subnet's traffic leaving by another interface, accepts forwarding to and
// from the bridge (also in iptables-nft's `ip filter` DOCKER-USER or FORWARD chain when one
// exists: docker sets FORWARD's policy to drop), and sets net.ipv4.ip_forward=1 and
// route_localnet on the bridge. Idempotent: the network's old rules are replaced, atomically.
// With subnet6 ("fd00:1::/64") the same for IPv6 in the table `ip6 berth` (and ip6tables-nft's
// `ip6 filter`), and net.ipv6.conf.all.forwarding=1.
Status ensure_network_rules(const std::string& bridge_if, const std::string& subnet,
                            const std::string& subnet6 = "");
// Removes what ensure_network_rules added for bridge_if; nothing there is not an error.
Status remove_network_rules(const std::string& bridge_if);

// Publishes ports of container_ip: DNAT of traffic to a local address (from outside and from
// the host itself, 127.0.0.1 included) in the chain ctr-<container_key>. Replaces the
// container's earlier mappings. container_key: [a-zA-Z0-9_.-]{1,64}. With container_ip6, the
// mappings of IPv6 host addresses (and those of every address) go to it in `ip6 berth`; from
// ::1 nothing is forwarded (the kernel routes no loopback source out of a bridge).
Status add_port_mappings(const std::string& container_key, const std::string& container_ip,
                         const std::vector<PortMapping>& mappings,
                         const std::string& container_ip6 = "");
// Removes the container's mappings (with ipv6, those in `ip6 berth` too: a container without an
// IPv6 address has none there, and listing a table costs libnftables' start-up); none is not an
// error.
Status remove_port_mappings(const std::string& container_key, bool ipv6 = true);

// Deletes the whole berth table and berth's rules in iptables-nft's chains.
Status reset_all();

// The text of `nft list table <family> <name>` ("ip berth"), for --debug output and tests;
// "" when the table does not exist.
Result<std::string> show_table(const std::string& family, const std::string& name);

// Fails with "port is already allocated: 0.0.0.0:8080/tcp" when a socket is bound to the
// port (tried by binding one). host_ip "" means 0.0.0.0.
Status check_host_port_free(const std::string& host_ip, uint16_t port, const std::string& proto);
// A free host port on host_ip ("" = 0.0.0.0) from the kernel's ephemeral range, as docker picks
// for -P and -p 80.
Result<uint16_t> pick_free_port(const std::string& host_ip, const std::string& proto);

}  // namespace berth::network
