// netlink.h - bridge and veth devices over rtnetlink (libmnl). No ip(8) involved.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"

namespace berth::network {

// Creates the bridge name (if missing), gives it the address cidr ("10.89.0.1/24") and brings
// it up. Idempotent: an existing bridge only gets its address and IFF_UP ensured; an existing
// link of another kind is an error.
// cidr6 ("fd00:1::1/64"), when given, is added too, with IPv6 switched on for the bridge.
Status create_bridge(const std::string& name, const std::string& cidr, const std::string& cidr6 = "");
// Deletes a link (a veth deletes its peer too); a missing link is not an error.
Status delete_link(const std::string& name);
Result<bool> link_exists(const std::string& name);
// Names of the host's links starting with prefix (for cleanup of stale devices).
Result<std::vector<std::string>> links_with_prefix(const std::string& prefix);

struct VethConfig {
  std::string host_if;             // host end, attached to bridge ("veth1a2b3c4")
  int netns_fd = -1;               // the container's network namespace
  std::string peer_name = "eth0";  // the end inside the namespace
  std::string bridge;              // master of host_if
  std::string address;             // peer's address, "10.89.0.2/24"
  std::string gateway;             // default route via this ("" = no default route)
  std::string mac;                 // peer's MAC ("" = random), "02:42:0a:59:00:02"
  std::string address6;            // peer's IPv6 address, "fd00::2/64" ("" = none)
  std::string gateway6;            // IPv6 default route via this ("" = none)
};
// Creates the veth pair with its peer made directly inside the namespace under its final
// name (no temporary host name to collide or leak), attaches the host end to the bridge and
// brings it up; inside the namespace sets the address, brings lo and the peer up and adds the
// default route. On failure the pair is deleted. The calling thread stays in its namespace.
Status create_veth_into_netns(const VethConfig& cfg);

// net.ipv4.ip_forward = 1.
Status enable_ip_forward();
// net.ipv6.conf.all.forwarding = 1 (routing for IPv6 networks; docs/containers.md, "IPv6", on accept_ra).
Status enable_ipv6_forward();
// net.ipv4.conf.<ifname>.route_localnet = 1: lets DNAT'd 127.0.0.1 traffic leave via ifname.
Status enable_route_localnet(const std::string& ifname);

}  // namespace berth::network
