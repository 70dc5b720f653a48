// network_setup.h - a container's network at start and its release at exit: none (an
// empty namespace with loopback), host (the host's), bridge and user-defined networks
// (a persistent namespace at RUNROOT/netns/<id>, a veth on the network's bridge, an address
// from the IPAM in the database, published ports as nftables DNAT rules).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "containers/container.h"

namespace berth::containers {

class Engine;

struct NetworkAttachment {
  std::string netns_path;  // "" = a new empty namespace (none) or the host's (host)
  std::string network;     // the network's name ("bridge" for the default)
  std::string ip;
  std::string gateway;
  std::string mac;
  int prefix_len = 0;
  std::string ip6, gateway6;  // on an IPv6 network
  int prefix_len6 = 0;
  std::vector<PortBinding> ports;  // as bound
  // name, ip on the same network (an IPv6 peer twice: its IPv4 and its IPv6 address)
  std::vector<std::pair<std::string, std::string>> peers;
  // --network container:NAME: the other container's folder, whose hostname, hosts and
  // resolv.conf this one shares (docker's behaviour); "" otherwise.
  std::string shared_etc_dir;
  std::vector<ContainerState::Endpoint> more;  // the networks `network connect` added
};

Result<NetworkAttachment> setup_network(Engine& e, Container& c);
// Idempotent: what is already gone is skipped.
Status teardown_network(Engine& e, const Container& c);

struct NetworkConfig;
// `network connect` of a running container: a veth from n's bridge into its namespace as
// the next eth<N>, an address from n's IPAM, names learnt both ways; recorded in
// c.state.more_endpoints (the caller saves it).
Status connect_network(Engine& e, Container& c, const NetworkConfig& n);
// `network disconnect` of a running container: the veth, the address and the names go.
Status disconnect_network(Engine& e, Container& c, const std::string& network);

}  // namespace berth::containers
