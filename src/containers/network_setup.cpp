// network_setup.cpp - a container's network at start and its release (network_setup.h).
#include "containers/network_setup.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

#include "base/file.h"
#include "base/strings.h"
#include "base/log.h"
#include "containers/engine.h"
#include "containers/networks.h"
#include "network/ipam.h"
#include "network/nat.h"
#include "network/netlink.h"
#include "network/netns.h"
#include "network/pasta.h"
#include "sys/ns.h"

namespace berth::containers {
namespace {

std::string netns_path(const Engine& e, const std::string& id) {
  return path_join(path_join(e.runroot(), "netns"), id);
}

// "berth" + 10 hex digits: 15 characters (IFNAMSIZ - 1), and never one of docker's
// ("veth" + 7) or podman's names.
std::string host_if_name(const std::string& id) {
  return "berth" + id.substr(0, 10);
}

// The host end of the veth for the container's eth<n> (n >= 1, `network connect`): "berth" +
// 9 hex digits + a letter from 'g' on, never a hex digit, so never another container's eth0.
std::string more_if_name(const std::string& id, int n) {
  return "berth" + id.substr(0, 9) + static_cast<char>('f' + std::min(n, 20));
}

// The other running containers, read once per start: their published ports (a port berth
// mapped holds no socket, so bind() alone would not see it taken) and, on user networks,
// their names and addresses.
struct Running {
  std::string id, name, network;
  ContainerState state;
};

Result<std::vector<Running>> running_others(Engine& e, const Container& self) {
  std::vector<Running> out;
  for (const auto& row : TRY(e.store().db().list_containers())) {
    if (row.id == self.id) continue;
    auto st = state_from_json(nlohmann::json::parse(row.state, nullptr, false));
    if (!st || st->status != "running") continue;
    auto cfg = nlohmann::json::parse(row.config, nullptr, false);
    std::string net = cfg.is_object() && cfg.contains("HostConfig")
                          ? cfg["HostConfig"].value("NetworkMode", "")
                          : "";
    out.push_back({row.id, row.name, net, std::move(*st)});
  }
  return out;
}

Status check_not_published(const std::vector<Running>& others, const PortBinding& p) {
  for (const auto& r : others)
    for (const auto& q : r.state.ports)
      if (q.host_port == p.host_port && q.proto == p.proto &&
          (q.host_ip.empty() || p.host_ip.empty() || q.host_ip == p.host_ip))
        return Error::invalid("Bind for " + (p.host_ip.empty() ? std::string("0.0.0.0") : p.host_ip) + ":" +
                              std::to_string(p.host_port) + " failed: port is already allocated");
  return ok();
}

// ipv6: whether the container has an IPv6 address to publish.
Result<std::vector<PortBinding>> bind_ports(const std::vector<Running>& others, const Container& c,
                                           bool ipv6) {
  const ContainerSpec& s = c.spec;
  std::vector<PortBinding> ports = s.ports;
  if (s.publish_all)
    for (const auto& key : s.exposed_ports) {
      auto slash = key.find('/');
      auto port = static_cast<uint16_t>(std::stoul(key.substr(0, slash)));
      std::string proto = slash == std::string::npos ? "tcp" : key.substr(slash + 1);
      bool bound = false;
      for (const auto& p : ports) bound = bound || (p.container_port == port && p.proto == proto);
      if (!bound) ports.push_back({.container_port = port, .proto = proto});
    }
  for (auto& p : ports) {
    if (network::looks_ipv6(p.host_ip) && !ipv6)
      return Error::invalid("cannot publish on IPv6 address " + p.host_ip + ": network " + c.spec.network +
                            " has no IPv6 (create it with --ipv6)");
    if (p.host_port == 0) p.host_port = TRY(network::pick_free_port(p.host_ip, p.proto));
    else {
      TRY(check_not_published(others, p));
      TRY(network::check_host_port_free(p.host_ip, p.host_port, p.proto));
    }
  }
  return ports;
}

// Takes the first free address of the network, IPv4 or (v6) IPv6 (the database decides
// between racing berths).
Result<std::string> take_address(storage::Db& db, const NetworkConfig& n, const std::string& id,
                                 bool v6 = false) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    auto held = TRY(db.network_addresses(n.name));
    std::set<std::string> used(held.begin(), held.end());
    std::string ip = v6 ? TRY(network::next_free_ipv6(n.subnet6, n.gateway6, used))
                        : TRY(network::next_free_ipv4(n.subnet, n.gateway, used));
    Status s = db.take_address(n.name, id, ip);
    if (s) return ip;
    if (s.error().code() != EEXIST) return std::move(s).error();
  }
  return Error::invalid("could not allocate an address in network " + n.name);
}

// --ip / --ip6: the address asked for, if it is one of the network's own and free (docker's
// errors). The database refuses an address another container holds.
Result<std::string> take_requested(storage::Db& db, const NetworkConfig& n, const std::string& id,
                                   const std::string& ip, bool v6) {
  if (n.name == kDefaultNetwork)
    return Error::invalid("user specified IP address is supported on user defined networks only");
  if (v6) {
    auto net = TRY(network::parse_cidr6(n.subnet6));
    auto a = TRY(network::parse_ipv6(ip));
    if (!net.contains(a) || a == net.network() || a.str() == n.gateway6)
      return Error::invalid("Invalid address " + ip + ": It does not belong to any of this network's subnets");
  } else {
    auto net = TRY(network::parse_cidr(n.subnet));
    auto a = TRY(network::parse_ipv4(ip));
    if (!net.contains(a) || a == net.network() || a == net.broadcast() || ip == n.gateway)
      return Error::invalid("Invalid address " + ip + ": It does not belong to any of this network's subnets");
  }
  Status s = db.take_address(n.name, id, ip);
  if (!s && s.error().code() == EEXIST) return Error::invalid("Address already in use: " + ip);
  TRY(s);
  return ip;
}

// A container's IPv6 side on network n: nothing when n has no IPv6, else the address asked for
// (--ip6, requested) or the next free one, with the gateway and prefix.
struct Ipv6Endpoint {
  std::string ip, gateway;
  int prefix = 0;
};

Result<Ipv6Endpoint> take_ipv6(storage::Db& db, const NetworkConfig& n, const std::string& id,
                               const std::string& requested) {
  if (!n.ipv6) {
    if (requested.empty()) return Ipv6Endpoint{};
    return Error::invalid("user specified IPv6 address " + requested + ": network " + n.name +
                          " has no IPv6 (create it with --ipv6)");
  }
  Ipv6Endpoint ep;
  ep.ip = requested.empty() ? TRY(take_address(db, n, id, true)) : TRY(take_requested(db, n, id, requested, true));
  ep.gateway = n.gateway6;
  ep.prefix = TRY(network::parse_cidr6(n.subnet6)).prefix;
  return ep;
}

// The addresses a running container has on a network (none, IPv4, or IPv4 and IPv6).
std::vector<std::string> addresses_on(const Running& r, const std::string& network) {
  std::vector<std::string> out;
  auto add = [&](const std::string& ip) {
    if (!ip.empty()) out.push_back(ip);
  };
  if (r.network == network) {
    add(r.state.ip_address);
    add(r.state.ipv6_address);
  } else if (const ContainerState::Endpoint* ep = endpoint_on(r.state, network)) {
    add(ep->ip);
    add(ep->ip6);
  }
  return out;
}

// Running containers on the same user network, with their addresses there, one pair each
// (docker: no name resolution on the default bridge).
std::vector<std::pair<const Running*, std::string>> peers_of(const std::vector<Running>& others,
                                                             const std::string& network) {
  std::vector<std::pair<const Running*, std::string>> out;
  if (network == kDefaultNetwork) return out;
  for (const auto& r : others)
    for (const auto& ip : addresses_on(r, network)) out.emplace_back(&r, ip);
  return out;
}

// The running peers learn the new container's name: appended to their /etc/hosts (written
// in place: it is bind-mounted, a rename would not be seen).
void append_hosts(const std::string& hosts, const std::string& lines) {
  int fd = ::open(hosts.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return;
  (void)!::write(fd, lines.data(), lines.size());
  ::close(fd);
}

// ips: the new container's addresses on the peers' network.
void announce(Engine& e, const std::string& name, const std::vector<std::string>& ips,
              const std::vector<std::pair<const Running*, std::string>>& peers) {
  std::string lines;
  for (const auto& ip : ips)
    if (!ip.empty()) lines += ip + "\t" + name + "\n";
  std::set<std::string> told;
  for (const auto& [r, peer_ip] : peers)
    if (told.insert(r->id).second) append_hosts(path_join(e.container_dir(r->id), "hosts"), lines);
}

// Removes the lines "ip<TAB>name" from a container's /etc/hosts (rewritten in place).
void drop_hosts_lines(const std::string& hosts, const std::set<std::string>& lines) {
  auto text = read_file(hosts, 1 << 20);
  if (!text) return;
  std::string kept;
  bool dropped = false;
  for (const auto& l : split(*text, '\n')) {
    if (lines.count(l)) {
      dropped = true;
      continue;
    }
    if (!l.empty()) kept += l + "\n";
  }
  if (!dropped) return;
  int fd = ::open(hosts.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return;
  (void)!::write(fd, kept.data(), kept.size());
  ::close(fd);
}

// The running peers on a network forget a container that left it: its line goes from their
// /etc/hosts, so a later container given the same address is not shadowed by a stale name.
void retract(Engine& e, const Container& c, const std::string& network, const std::string& ip,
             const std::string& ip6 = "") {
  if (network == kDefaultNetwork || ip.empty()) return;
  auto others = running_others(e, c);
  if (!others) return;
  std::set<std::string> lines = {ip + "\t" + c.name};
  if (!ip6.empty()) lines.insert(ip6 + "\t" + c.name);
  for (const auto& [r, peer_ip] : peers_of(*others, network))
    drop_hosts_lines(path_join(e.container_dir(r->id), "hosts"), lines);
}

// A veth from network n's bridge into the namespace at ns_fd as eth<index>, an address from
// the network's IPAM; the peers on n learn the container's name.
Result<ContainerState::Endpoint> attach_endpoint(Engine& e, const Container& c, const NetworkConfig& n,
                                                 int ns_fd, int index) {
  TRY(ensure_network_up(n, path_join(e.runroot(), "networks")));
  ContainerState::Endpoint ep;
  ep.network = n.name;
  ep.interface = "eth" + std::to_string(index);
  ep.ip = TRY(take_address(e.store().db(), n, c.id));
  ep.gateway = n.gateway;
  auto fail = [&](Error err) -> Error {
    (void)e.store().db().release_address(n.name, c.id);
    return err.context("connect to network " + n.name);
  };
  auto cidr = network::parse_cidr(n.subnet);
  if (!cidr) return fail(std::move(cidr).error());
  ep.prefix_len = cidr->prefix;
  ep.mac = network::mac_for_ipv4(ep.ip).value_or("");
  auto v6 = take_ipv6(e.store().db(), n, c.id, "");
  if (!v6) return fail(std::move(v6).error());
  std::tie(ep.ip6, ep.gateway6, ep.prefix_len6) = std::tuple(v6->ip, v6->gateway, v6->prefix);
  network::VethConfig v{.host_if = more_if_name(c.id, index),
                        .netns_fd = ns_fd,
                        .peer_name = ep.interface,
                        .bridge = n.bridge,
                        .address = ep.ip + "/" + std::to_string(ep.prefix_len),
                        .gateway = "",  // the default route stays on eth0
                        .mac = ep.mac,
                        .address6 = ep.ip6.empty() ? "" : ep.ip6 + "/" + std::to_string(ep.prefix_len6)};
  (void)network::delete_link(v.host_if);
  if (Status s = network::create_veth_into_netns(v); !s) return fail(std::move(s).error());
  return ep;
}

std::string pasta_pid_file(const Engine& e, const std::string& id) {
  return path_join(e.container_dir(id), "pasta.pid");
}

// Without root there is no bridge: the default network is the container's own namespace
// wired to the host by pasta (outgoing traffic and published ports; docs/rootless.md).
Result<NetworkAttachment> setup_rootless_network(Engine& e, Container& c, const std::string& path) {
  if (c.spec.network != kDefaultNetwork || !c.spec.more_networks.empty())
    return Error::invalid("network " + c.spec.network +
                          ": user-defined networks need root (a bridge on the host); without "
                          "root use the default network, --network host or --network none");
  NetworkAttachment a;
  a.network = c.spec.network;
  std::vector<Running> others;
  for (const auto& p : c.spec.ports) TRY(network::check_unprivileged_port(p.host_port));
  if (!c.spec.ports.empty() || c.spec.publish_all) others = TRY(running_others(e, c));
  a.ports = TRY(bind_ports(others, c, false));
  std::vector<network::PortMapping> maps;
  for (const auto& p : a.ports) {
    maps.push_back({.host_ip = p.host_ip, .host_port = p.host_port, .container_port = p.container_port, .proto = p.proto});
  }
  TRY(mkdir_all(dirname_of(path), 0755));
  (void)network::remove_netns(path);
  TRY(network::create_netns(path));
  network::PastaOptions o{.netns_path = path, .ports = maps, .pid_file = pasta_pid_file(e, c.id)};
  if (const char* exe = std::getenv("BERTH_PASTA"); exe != nullptr && *exe != '\0') o.exe = exe;
  if (auto pid = network::start_pasta(o); !pid) {
    (void)network::remove_netns(path);
    return std::move(pid).error();
  }
  a.netns_path = path;
  return a;
}

}  // namespace

Result<NetworkAttachment> setup_network(Engine& e, Container& c) {
  NetworkAttachment a;
  a.network = c.spec.network;
  if (c.spec.network == "host") return a;
  if (c.spec.network.rfind("container:", 0) == 0) {
    // Join the other container's network namespace, as it is now (docker does the same: a
    // restart of the other container leaves this one in the old namespace).
    Container other = TRY(e.get(c.spec.network.substr(10)));
    if (other.id == c.id) return Error::invalid("cannot join own network");
    if (other.state.status != "running" || other.state.pid <= 0)
      return Error::invalid("cannot join network of a non running container: " + other.name);
    a.netns_path = "/proc/" + std::to_string(other.state.pid) + "/ns/net";
    a.shared_etc_dir = e.container_dir(other.id);
    return a;
  }
  std::string path = netns_path(e, c.id);
  if (c.spec.network == "none") {
    TRY(mkdir_all(dirname_of(path), 0755));
    (void)network::remove_netns(path);
    TRY(network::create_netns(path));
    a.netns_path = path;
    return a;
  }
  if (sys::rootless()) return setup_rootless_network(e, c, path);
  NetworkConfig n = TRY(find_network(e.store().db(), c.spec.network));
  TRY(ensure_network_up(n, path_join(e.runroot(), "networks")));
  TRY(mkdir_all(dirname_of(path), 0755));
  (void)network::remove_netns(path);
  TRY(network::create_netns(path));
  a.netns_path = path;
  auto cleanup = [&](Error err) -> Error {
    (void)e.store().db().release_addresses(c.id);
    (void)network::remove_netns(path);
    return err.context("connect to network " + n.name);
  };
  auto ip = c.spec.ip.empty() ? take_address(e.store().db(), n, c.id)
                              : take_requested(e.store().db(), n, c.id, c.spec.ip, false);
  if (!ip) return cleanup(std::move(ip).error());
  a.ip = *ip;
  a.gateway = n.gateway;
  a.prefix_len = TRY(network::parse_cidr(n.subnet)).prefix;
  a.mac = network::mac_for_ipv4(a.ip).value_or("");
  auto v6 = take_ipv6(e.store().db(), n, c.id, c.spec.ip6);
  if (!v6) return cleanup(std::move(v6).error());
  std::tie(a.ip6, a.gateway6, a.prefix_len6) = std::tuple(v6->ip, v6->gateway, v6->prefix);
  UniqueFd ns = TRY(open_fd(path, O_RDONLY | O_CLOEXEC));
  network::VethConfig v{.host_if = host_if_name(c.id),
                        .netns_fd = ns.get(),
                        .peer_name = "eth0",
                        .bridge = n.bridge,
                        .address = a.ip + "/" + std::to_string(a.prefix_len),
                        .gateway = n.gateway,
                        .mac = a.mac,
                        .address6 = a.ip6.empty() ? "" : a.ip6 + "/" + std::to_string(a.prefix_len6),
                        .gateway6 = a.gateway6};
  (void)network::delete_link(v.host_if);
  if (Status s = network::create_veth_into_netns(v); !s) return cleanup(std::move(s).error());
  std::vector<Running> others;
  if (!c.spec.ports.empty() || c.spec.publish_all || c.spec.network != kDefaultNetwork ||
      !c.spec.more_networks.empty()) {
    auto r = running_others(e, c);
    if (!r) return cleanup(std::move(r).error());
    others = std::move(*r);
  }
  auto ports = bind_ports(others, c, !a.ip6.empty());
  if (!ports) return cleanup(std::move(ports).error());
  a.ports = *ports;
  std::vector<network::PortMapping> maps;
  for (const auto& p : a.ports)
    maps.push_back({.host_ip = p.host_ip, .host_port = p.host_port, .container_port = p.container_port, .proto = p.proto});
  if (!maps.empty())
    if (Status s = network::add_port_mappings(c.id.substr(0, 12), a.ip, maps, a.ip6); !s)
      return cleanup(std::move(s).error());
  auto peers = peers_of(others, c.spec.network);
  for (const auto& [r, peer_ip] : peers) a.peers.emplace_back(r->name, peer_ip);
  announce(e, c.name, {a.ip, a.ip6}, peers);
  // The networks `network connect` added: eth1, eth2, ...
  for (size_t i = 0; i < c.spec.more_networks.size(); ++i) {
    auto more = find_network(e.store().db(), c.spec.more_networks[i]);
    if (!more) return cleanup(std::move(more).error());
    auto ep = attach_endpoint(e, c, *more, ns.get(), static_cast<int>(i) + 1);
    if (!ep) return cleanup(std::move(ep).error());
    auto more_peers = peers_of(others, more->name);
    for (const auto& [r, peer_ip] : more_peers) a.peers.emplace_back(r->name, peer_ip);
    announce(e, c.name, {ep->ip, ep->ip6}, more_peers);
    a.more.push_back(std::move(*ep));
  }
  return a;
}

Status connect_network(Engine& e, Container& c, const NetworkConfig& n) {
  UniqueFd ns = TRY(open_fd(netns_path(e, c.id), O_RDONLY | O_CLOEXEC));
  int index = 1;
  for (const auto& ep : c.state.more_endpoints)
    index = std::max(index, static_cast<int>(parse_int(ep.interface.substr(3)).value_or(0)) + 1);
  ContainerState::Endpoint ep = TRY(attach_endpoint(e, c, n, ns.get(), index));
  auto others = running_others(e, c);
  if (others) {
    auto peers = peers_of(*others, n.name);
    announce(e, c.name, {ep.ip, ep.ip6}, peers);
    std::string lines;
    for (const auto& [r, ip] : peers) lines += ip + "\t" + r->name + "\n";
    append_hosts(path_join(e.container_dir(c.id), "hosts"), lines);
  }
  c.state.more_endpoints.push_back(std::move(ep));
  return ok();
}

Status disconnect_network(Engine& e, Container& c, const std::string& network) {
  const ContainerState::Endpoint* found = endpoint_on(c.state, network);
  if (!found) return ok();
  auto it = c.state.more_endpoints.begin() + (found - c.state.more_endpoints.data());
  int index = static_cast<int>(parse_int(it->interface.substr(3)).value_or(0));
  Status first = ok();
  if (index > 0) {
    // Deleting the host end deletes the pair, and with it the address inside.
    std::string link = more_if_name(c.id, index);
    if (network::link_exists(link).value_or(false)) first = network::delete_link(link);
  }
  retract(e, c, network, it->ip, it->ip6);
  // The container forgets the peers it learnt on that network.
  if (auto others = running_others(e, c)) {
    std::set<std::string> lines;
    for (const auto& [r, ip] : peers_of(*others, network)) lines.insert(ip + "\t" + r->name);
    drop_hosts_lines(path_join(e.container_dir(c.id), "hosts"), lines);
  }
  if (Status s = e.store().db().release_address(network, c.id); !s && first) first = std::move(s);
  c.state.more_endpoints.erase(it);
  return first;
}

Status teardown_network(Engine& e, const Container& c) {
  if (c.spec.network == "host" || c.spec.network.rfind("container:", 0) == 0) return ok();
  if (sys::rootless()) {
    network::stop_pasta(pasta_pid_file(e, c.id));
    return network::remove_netns(netns_path(e, c.id));
  }
  Status first = ok();
  auto keep = [&](Status s) {
    if (!s && first) first = std::move(s);
  };
  if (!c.state.ports.empty() || c.spec.publish_all || !c.spec.ports.empty())
    keep(network::remove_port_mappings(c.id.substr(0, 12), !c.state.ipv6_address.empty()));
  retract(e, c, c.spec.network, c.state.ip_address, c.state.ipv6_address);
  for (const auto& ep : c.state.more_endpoints) retract(e, c, ep.network, ep.ip, ep.ip6);
  // Unmounting the namespace destroys the veth pair with it (in the kernel's cleanup
  // work, not on this path: deleting a veth waits ~20 ms for RCU).
  keep(network::remove_netns(netns_path(e, c.id)));
  keep(e.store().db().release_addresses(c.id));
  return first;
}

}  // namespace berth::containers
