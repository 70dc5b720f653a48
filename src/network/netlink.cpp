#include "network/netlink.h"

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include <array>
#include <cerrno>
#include <cstdio>

#include "base/file.h"
#include "base/strings.h"
#include "network/ipam.h"
#include "network/nl_socket.h"
#include "network/validate.h"

namespace berth::network {
namespace {

ifinfomsg* put_link_header(nlmsghdr* nlh, uint16_t type, uint16_t flags) {
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = flags;
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  return ifi;
}

Result<std::array<uint8_t, 6>> parse_mac(const std::string& s) {
  std::array<unsigned, 6> v{};
  char tail = 0;
  if (s.size() != 17 || std::sscanf(s.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2],
                                    &v[3], &v[4], &v[5], &tail) != 6)
    return Error::invalid("invalid MAC address", shown_value(s));
  std::array<uint8_t, 6> mac{};
  for (size_t i = 0; i < 6; ++i) mac[i] = static_cast<uint8_t>(v[i]);
  return mac;
}

Status new_bridge(NlSocket& nl, const std::string& name) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  put_link_header(nlh, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  nlattr* info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
  mnl_attr_nest_end(nlh, info);
  return nl.request(nlh, "create bridge", name);
}

Status check_veth_config(const VethConfig& c) {
  TRY(check_ifname(c.host_if));
  TRY(check_ifname(c.peer_name));
  TRY(check_ifname(c.bridge));
  TRY(parse_cidr(c.address));
  if (!c.gateway.empty()) TRY(parse_ipv4(c.gateway));
  if (!c.address6.empty()) TRY(parse_cidr6(c.address6));
  if (!c.gateway6.empty()) TRY(parse_ipv6(c.gateway6));
  if (!c.mac.empty()) TRY(parse_mac(c.mac));
  if (c.netns_fd < 0) return Error::invalid("no network namespace for veth", c.host_if);
  return ok();
}

Status new_veth(NlSocket& nl, const VethConfig& c, int bridge_index) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  put_link_header(nlh, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, c.host_if.c_str());
  mnl_attr_put_u32(nlh, IFLA_MASTER, static_cast<uint32_t>(bridge_index));
  nlattr* info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
  nlattr* data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
  nlattr* peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
  mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg));  // the peer's ifinfomsg, zeroed
  mnl_attr_put_strz(nlh, IFLA_IFNAME, c.peer_name.c_str());
  mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, static_cast<uint32_t>(c.netns_fd));
  if (!c.mac.empty()) {
    auto mac = TRY(parse_mac(c.mac));
    mnl_attr_put(nlh, IFLA_ADDRESS, mac.size(), mac.data());
  }
  mnl_attr_nest_end(nlh, peer);
  mnl_attr_nest_end(nlh, data);
  mnl_attr_nest_end(nlh, info);
  return nl.request(nlh, "create veth", c.host_if + " (peer " + c.peer_name + ")");
}

// Inside the namespace: address, lo and the peer up, default route.
Status configure_peer(const VethConfig& c) {
  NlSocket nl = TRY(NlSocket::open_in_netns(c.netns_fd));
  LinkInfo lo = TRY(nl.link("lo"));
  TRY(nl.set_up(lo.index, "lo"));
  LinkInfo peer = TRY(nl.link(c.peer_name));
  TRY(nl.add_ipv4(peer.index, c.peer_name, c.address));
  if (!c.address6.empty()) TRY(nl.add_ipv6(peer.index, c.peer_name, c.address6));
  TRY(nl.set_up(peer.index, c.peer_name));
  if (!c.gateway.empty()) TRY(nl.add_default_route(peer.index, c.peer_name, c.gateway));
  if (!c.gateway6.empty()) TRY(nl.add_default_route(peer.index, c.peer_name, c.gateway6));
  return ok();
}

Status write_sysctl(const std::string& path, const char* value = "1\n") {
  // /proc/sys files take one write; "1\n" is what sysctl(8) writes.
  return write_file(path, value);
}

}  // namespace

Status create_bridge(const std::string& name, const std::string& cidr, const std::string& cidr6) {
  TRY(check_ifname(name));
  TRY(parse_cidr(cidr));
  if (!cidr6.empty()) TRY(parse_cidr6(cidr6));
  NlSocket nl = TRY(NlSocket::open());
  Status made = new_bridge(nl, name);
  if (!made && made.error().code() != EEXIST) return made;
  LinkInfo link = TRY(nl.link(name));
  if (link.kind != "bridge")
    return Error(EEXIST, "create bridge", name + " (a " + link.kind + " link of that name exists)");
  TRY(nl.add_ipv4(link.index, name, cidr));
  if (!cidr6.empty()) {
    // A host booted with IPv6 off for new devices (default.disable_ipv6) still gets it here.
    std::string sysctl = "/proc/sys/net/ipv6/conf/" + name + "/disable_ipv6";
    if (!path_exists(sysctl))
      return Error::invalid("IPv6 network " + name + ": this kernel has IPv6 disabled (ipv6.disable=1?)");
    TRY(write_sysctl(sysctl, "0\n"));
    TRY(nl.add_ipv6(link.index, name, cidr6));
  }
  return nl.set_up(link.index, name);
}

Status delete_link(const std::string& name) {
  TRY(check_ifname(name));
  NlSocket nl = TRY(NlSocket::open());
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  put_link_header(nlh, RTM_DELLINK, 0);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  Status s = nl.request(nlh, "delete link", name);
  if (!s && s.error().code() == ENODEV) return ok();
  return s;
}

Result<bool> link_exists(const std::string& name) {
  TRY(check_ifname(name));
  NlSocket nl = TRY(NlSocket::open());
  auto link = nl.link(name);
  if (link) return true;
  if (link.error().code() == ENODEV) return false;
  return std::move(link).error();
}

Result<std::vector<std::string>> links_with_prefix(const std::string& prefix) {
  NlSocket nl = TRY(NlSocket::open());
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  put_link_header(nlh, RTM_GETLINK, 0);
  std::vector<std::string> names;
  TRY(nl.dump(nlh, "list links", [&](const nlmsghdr* m) {
    if (m->nlmsg_type != RTM_NEWLINK) return;
    LinkInfo l = parse_link(m);
    if (starts_with(l.name, prefix)) names.push_back(l.name);
  }));
  return names;
}

Status create_veth_into_netns(const VethConfig& cfg) {
  TRY(check_veth_config(cfg));
  NlSocket nl = TRY(NlSocket::open());
  LinkInfo bridge = TRY(nl.link(cfg.bridge));
  TRY(new_veth(nl, cfg, bridge.index));
  Status s = [&]() -> Status {
    LinkInfo host = TRY(nl.link(cfg.host_if));
    TRY(nl.set_up(host.index, cfg.host_if));
    return configure_peer(cfg);
  }();
  if (!s) (void)delete_link(cfg.host_if);  // takes the peer with it
  return s;
}

Status enable_ip_forward() {
  return write_sysctl("/proc/sys/net/ipv4/ip_forward");
}

Status enable_ipv6_forward() {
  return write_sysctl("/proc/sys/net/ipv6/conf/all/forwarding");
}

Status enable_route_localnet(const std::string& ifname) {
  TRY(check_ifname(ifname));
  return write_sysctl("/proc/sys/net/ipv4/conf/" + ifname + "/route_localnet");
}

}  // namespace berth::network
