#include "containers/networks.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <random>

#include <nlohmann/json.hpp>

#include "base/file.h"
#include "base/strings.h"
#include "network/ipam.h"
#include "network/nat.h"
#include "network/netlink.h"
#include "network/netns.h"
#include "network/validate.h"
#include "sys/ns.h"

namespace berth::containers {
namespace {

using nlohmann::json;

NetworkConfig from_row(const storage::NetworkRow& r) {
  NetworkConfig n{.name = r.name, .id = r.id, .created = r.created};
  json c = json::parse(r.config, nullptr, false);
  if (c.is_object()) {
    n.driver = c.value("Driver", "bridge");
    n.subnet = c.value("Subnet", "");
    n.gateway = c.value("Gateway", "");
    n.bridge = c.value("Bridge", "");
    n.ipv6 = c.value("EnableIPv6", false);
    n.subnet6 = c.value("Subnet6", "");
    n.gateway6 = c.value("Gateway6", "");
    if (c.contains("Labels") && c["Labels"].is_object())
      n.labels = c["Labels"].get<std::map<std::string, std::string>>();
  }
  return n;
}

storage::NetworkRow to_row(const NetworkConfig& n) {
  json c = {{"Driver", n.driver}, {"Subnet", n.subnet}, {"Gateway", n.gateway},
            {"Bridge", n.bridge}, {"Labels", n.labels}};
  if (n.ipv6) {
    c["EnableIPv6"] = true;
    c["Subnet6"] = n.subnet6;
    c["Gateway6"] = n.gateway6;
  }
  return {.name = n.name, .id = n.id, .created = n.created, .config = c.dump()};
}

Result<NetworkConfig> put(storage::Db& db, NetworkConfig n) {
  Status s = db.put_network(to_row(n));
  if (!s && s.error().code() == EEXIST) return Error::invalid("network with name " + n.name + " already exists");
  TRY(s);
  return n;
}

bool overlaps(const network::Ipv4Cidr& a, const network::Ipv4Cidr& b) {
  int p = std::min(a.prefix, b.prefix);
  network::Ipv4Cidr x{a.addr, p}, y{b.addr, p};
  return x.network() == y.network();
}

// network create --ipv6: the subnet (given, or a random unique local /64) and its gateway.
Status plan_ipv6(storage::Db& db, const NetworkCreate& req, NetworkConfig& n) {
  n.ipv6 = true;
  std::random_device rd;
  n.subnet6 = req.subnet6.empty()
                  ? network::random_ula_subnet((uint64_t{rd()} << 32) | rd())
                  : req.subnet6;
  auto cidr = TRY(network::parse_cidr6(n.subnet6));
  if (cidr.prefix < 48 || cidr.prefix > 120)
    return Error::invalid("invalid IPv6 subnet " + n.subnet6 + ": use a prefix between /48 and /120");
  n.subnet6 = cidr.network_str();
  if (req.gateway6.empty()) {
    n.gateway6 = network::ipv6_plus(cidr.network(), 1).str();
  } else {
    auto gw = TRY(network::parse_ipv6(req.gateway6));
    if (!cidr.contains(gw) || gw == cidr.network())
      return Error::invalid("no matching subnet for gateway " + req.gateway6);
    n.gateway6 = gw.str();
  }
  for (const auto& r : TRY(db.list_networks())) {
    NetworkConfig other = from_row(r);
    auto o = network::parse_cidr6(other.subnet6);
    if (other.ipv6 && o && network::overlaps6(cidr, *o))
      return Error::invalid("Pool overlaps with other one on this address space: " + n.subnet6 +
                            " (network " + r.name + ")");
  }
  return ok();
}

Result<std::string> free_subnet(storage::Db& db) {
  std::vector<network::Ipv4Cidr> taken;
  for (const auto& r : TRY(db.list_networks())) {
    auto c = network::parse_cidr(from_row(r).subnet);
    if (c) taken.push_back(*c);
  }
  for (uint32_t i = 0; i < 512; ++i) {
    std::string cand = "10." + std::to_string(78 + i / 256) + "." + std::to_string(i % 256) + ".0/24";
    auto c = TRY(network::parse_cidr(cand));
    bool clash = false;
    for (const auto& t : taken) clash = clash || overlaps(c, t);
    if (!clash) return cand;
  }
  return Error::invalid("no free subnet left in 10.78.0.0/15 for a new network: give --subnet");
}

}  // namespace

Result<NetworkConfig> find_network(storage::Db& db, const std::string& name) {
  if (auto r = TRY(db.find_network(name))) return from_row(*r);
  if (name != kDefaultNetwork) return Error::invalid("network " + name + " not found");
  NetworkConfig n{.name = kDefaultNetwork, .id = random_hex(64), .subnet = "10.77.0.0/16",
                  .gateway = "10.77.0.1", .bridge = "berth0",
                  .created = static_cast<int64_t>(::time(nullptr))};
  auto made = put(db, n);
  if (made) return made;
  if (auto r = TRY(db.find_network(name))) return from_row(*r);  // another berth made it
  return std::move(made).error();
}

Result<std::vector<NetworkConfig>> list_networks(storage::Db& db) {
  (void)TRY(find_network(db, kDefaultNetwork));
  std::vector<NetworkConfig> out;
  for (const auto& r : TRY(db.list_networks())) out.push_back(from_row(r));
  return out;
}

Result<NetworkConfig> create_network(storage::Db& db, const NetworkCreate& req) {
  if (req.name == "host" || req.name == "none" || req.name == kDefaultNetwork)
    return Error::invalid("network name " + req.name + " is reserved");
  TRY(network::check_key(req.name));
  NetworkConfig n{.name = req.name, .id = random_hex(64), .labels = req.labels,
                  .created = static_cast<int64_t>(::time(nullptr))};
  n.subnet = req.subnet.empty() ? TRY(free_subnet(db)) : req.subnet;
  auto cidr = TRY(network::parse_cidr(n.subnet));
  if (cidr.prefix > 30 || cidr.prefix < 8) return Error::invalid("invalid subnet " + n.subnet + ": use a prefix between /8 and /30");
  n.subnet = cidr.network_str();
  if (req.gateway.empty()) {
    n.gateway = network::Ipv4{cidr.network().value + 1}.str();
  } else {
    auto gw = TRY(network::parse_ipv4(req.gateway));
    if (!cidr.contains(gw)) return Error::invalid("no matching subnet for gateway " + req.gateway);
    n.gateway = req.gateway;
  }
  for (const auto& r : TRY(db.list_networks())) {
    auto other = network::parse_cidr(from_row(r).subnet);
    if (other && overlaps(cidr, *other))
      return Error::invalid("Pool overlaps with other one on this address space: " + n.subnet + " (network " + r.name + ")");
  }
  if (!req.ipv6 && (!req.subnet6.empty() || !req.gateway6.empty()))
    return Error::invalid("IPv6 subnet or gateway given without --ipv6: add --ipv6 to make a dual-stack network");
  if (req.ipv6) TRY(plan_ipv6(db, req, n));
  n.bridge = "bbr-" + n.id.substr(0, 11);
  return put(db, n);
}

Status remove_network(storage::Db& db, const NetworkConfig& n, const std::vector<std::string>& users,
                      const std::string& marker_dir) {
  if (n.name == kDefaultNetwork) return Error::invalid(n.name + " is a pre-defined network and cannot be removed");
  if (!users.empty())
    return Error::invalid("error while removing network: network " + n.name + " id " + n.id +
                          " has active endpoints");
  TRY(take_network_down(n, marker_dir));
  (void)TRY(db.remove_network(n.name));
  return ok();
}

Status take_network_down(const NetworkConfig& n, const std::string& marker_dir) {
  TRY(network::remove_network_rules(n.bridge));
  TRY(network::delete_link(n.bridge));
  if (!marker_dir.empty()) (void)::unlink((marker_dir + "/" + n.bridge).c_str());
  return ok();
}

bool network_mode_is(const NetworkConfig& n, const std::string& mode) {
  if (mode.empty()) return false;
  if (mode == n.name || mode == n.id) return true;
  return mode == "default" && n.name == kDefaultNetwork;
}

Status ensure_network_up(const NetworkConfig& n, const std::string& marker_dir) {
  // The bridge and its rules are made once per boot: a marker in the run root (cleared
  // with the bridge by a reboot, or by `system reset`) saves libnftables' ~10 ms on every
  // later start. A bridge that vanished is made again.
  std::string marker = marker_dir + "/" + n.bridge;
  if (::access(marker.c_str(), F_OK) == 0 && network::link_exists(n.bridge).value_or(false))
    return ok();
  auto cidr = TRY(network::parse_cidr(n.subnet));
  std::string cidr6;
  if (n.ipv6) cidr6 = n.gateway6 + "/" + std::to_string(TRY(network::parse_cidr6(n.subnet6)).prefix);
  TRY(network::create_bridge(n.bridge, n.gateway + "/" + std::to_string(cidr.prefix), cidr6));
  TRY(network::ensure_network_rules(n.bridge, n.subnet, n.ipv6 ? n.subnet6 : ""));
  if (::mkdir(marker_dir.c_str(), 0700) < 0 && errno != EEXIST) return sys_error("mkdir", marker_dir);
  int fd = ::open(marker.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0) ::close(fd);
  return ok();
}

namespace {

// Steps of a best-effort cleanup: what each removed, and what failed.
struct Sweep {
  CleanupReport r;
  void step(Status s, std::string what) {
    if (s) r.removed.push_back(std::move(what));
    else r.errors.push_back(std::move(s).error());
  }
};

void reset_netns(Sweep& sw, const std::string& runroot) {
  std::string dir = path_join(runroot, "netns");
  if (!is_directory(dir)) return;
  for (const auto& name : list_dir(dir).value_or({}))
    sw.step(network::remove_netns(path_join(dir, name)), "netns " + path_join(dir, name));
  // The folder is a bind mount of itself with shared propagation (as /run/netns is).
  int stacked = 0;
  while (stacked++ < 8 && ::umount2(dir.c_str(), MNT_DETACH) == 0) continue;
  if (::rmdir(dir.c_str()) < 0 && errno != ENOENT) sw.step(sys_error("remove", dir), "");
}

void reset_veths(Sweep& sw, const std::vector<std::string>& ids) {
  for (const auto& id : ids) {
    if (id.size() < 10) continue;
    std::string link = "berth" + id.substr(0, 10);
    if (network::link_exists(link).value_or(false)) sw.step(network::delete_link(link), "link " + link);
  }
}

void reset_default_bridge(Sweep& sw, const std::optional<NetworkConfig>& def,
                          const std::string& markers) {
  // Ours are gone by now: any other veth or user bridge belongs to another berth.
  auto veths = network::links_with_prefix("berth");
  auto bridges = network::links_with_prefix("bbr-");
  if (!veths) return sw.step(std::move(veths).error(), "");
  if (!bridges) return sw.step(std::move(bridges).error(), "");
  size_t others = bridges->size();
  for (const auto& l : *veths) others += l != "berth0";
  if (others > 0) {
    sw.r.kept.push_back("berth0 and the nftables table ip berth: " + std::to_string(others) +
                        " device(s) of another berth use them");
    return;
  }
  NetworkConfig n = def ? *def : NetworkConfig{.bridge = "berth0"};
  bool had = network::link_exists(n.bridge).value_or(false);
  Status down = take_network_down(n, markers);
  if (had || !down) sw.step(std::move(down), "link " + n.bridge);
  if (network::show_table("ip", "berth").value_or("").empty() &&
      network::show_table("ip6", "berth").value_or("").empty())
    return;
  sw.step(network::reset_all(), "nftables tables ip berth and ip6 berth");
}

}  // namespace

CleanupReport reset_networks(storage::Db& db, const std::vector<std::string>& container_ids,
                             const std::string& runroot) {
  Sweep sw;
  reset_netns(sw, runroot);
  // Without root there are no bridges, veths or nftables rules: pasta went with each netns.
  if (sys::rootless()) return std::move(sw.r);
  reset_veths(sw, container_ids);
  std::string markers = path_join(runroot, "networks");
  std::optional<NetworkConfig> def;
  auto rows = db.list_networks();
  if (!rows) sw.step(std::move(rows).error(), "");
  for (const auto& row : rows.value_or({})) {
    NetworkConfig n = from_row(row);
    Status s = ok();
    if (n.name == kDefaultNetwork) def = n;  // host-wide: below
    else s = take_network_down(n, markers);
    if (s) {
      auto gone = db.remove_network(n.name);
      if (!gone) s = std::move(gone).error();
    }
    sw.step(std::move(s), "network " + n.name);
  }
  reset_default_bridge(sw, def, markers);
  if (path_exists(markers)) sw.step(remove_all(markers), "folder " + markers);
  return std::move(sw.r);
}

}  // namespace berth::containers
