// networks.h - berth's networks: the default "bridge" (device berth0, 10.77.0.0/16, made on
// first use) and user-defined bridge networks (device bbr-<id11>, a free /24 from
// 10.78.0.0/15 unless --subnet), recorded in the database (docs/containers.md).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "storage/db.h"

namespace berth::containers {

struct NetworkConfig {
  std::string name;
  std::string id;
  std::string driver = "bridge";
  std::string subnet;   // "10.77.0.0/16"
  std::string gateway;  // "10.77.0.1"
  std::string bridge;   // the device
  std::map<std::string, std::string> labels;
  int64_t created = 0;
  // network create --ipv6: containers get an IPv6 address too (dual stack).
  bool ipv6 = false;
  std::string subnet6;   // "fd00:1::/64"
  std::string gateway6;  // "fd00:1::1"
};

inline constexpr const char* kDefaultNetwork = "bridge";

// By name, id or unique id prefix; "bridge" is created when missing. Unknown:
// "network NAME not found".
Result<NetworkConfig> find_network(storage::Db& db, const std::string& name);
Result<std::vector<NetworkConfig>> list_networks(storage::Db& db);
struct NetworkCreate {
  std::string name;
  std::string subnet;   // "" = the next free /24
  std::string gateway;  // "" = the subnet's first address
  std::map<std::string, std::string> labels;
  bool ipv6 = false;
  std::string subnet6;   // "" with ipv6 = a random unique local /64
  std::string gateway6;  // "" = the subnet's first address after its own
};
Result<NetworkConfig> create_network(storage::Db& db, const NetworkCreate& req);
// Refuses while containers use it ("error while removing network: network NAME id ID has
// active endpoints"); the bridge device and its rules go with it.
// marker_dir: see ensure_network_up.
Status remove_network(storage::Db& db, const NetworkConfig& n, const std::vector<std::string>& users,
                      const std::string& marker_dir = "");
// The bridge device with the gateway address, and the NAT/forward rules; done once per boot
// (a marker file in marker_dir, RUNROOT/networks, records it).
Status ensure_network_up(const NetworkConfig& n, const std::string& marker_dir);
// Undoes ensure_network_up: the network's rules, its bridge device and its marker; what is
// already gone is skipped. The database row stays (system reset drops the rows itself).
Status take_network_down(const NetworkConfig& n, const std::string& marker_dir);
// Whether a container's --network value (a name or id as recorded) names n.
bool network_mode_is(const NetworkConfig& n, const std::string& mode);

// `system reset`'s network part, after the containers were removed: the persistent
// namespaces under RUNROOT/netns, the veths of container_ids (berth + 10 hex digits), every
// network of the database (rules, bridge device, row) and RUNROOT/networks. berth0 and the
// nftables table `ip berth` are host-wide: they go only when no other berth veth and no
// other bbr- bridge remains (a live veth always belongs to a live container of some berth;
// another berth's bridge has its rules in the table).
struct CleanupReport {
  std::vector<std::string> removed;  // "network NAME", "link NAME", "netns PATH", ...
  std::vector<std::string> kept;     // host-wide things left for another berth, and why
  std::vector<Error> errors;         // what could not be removed; the rest was still tried
};
CleanupReport reset_networks(storage::Db& db, const std::vector<std::string>& container_ids,
                             const std::string& runroot);

}  // namespace berth::containers
