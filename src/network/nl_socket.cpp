#include "network/nl_socket.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sched.h>

#include <cerrno>
#include <thread>
#include <vector>

#include "network/ipam.h"

namespace berth::network {

NlSocket::NlSocket(mnl_socket* s) : nl_(s), portid_(mnl_socket_get_portid(s)) {}

NlSocket::NlSocket(NlSocket&& o) noexcept
    : nl_(std::exchange(o.nl_, nullptr)), portid_(o.portid_), seq_(o.seq_) {}

NlSocket& NlSocket::operator=(NlSocket&& o) noexcept {
  if (this != &o) {
    if (nl_) mnl_socket_close(nl_);
    nl_ = std::exchange(o.nl_, nullptr);
    portid_ = o.portid_;
    seq_ = o.seq_;
  }
  return *this;
}

NlSocket::~NlSocket() {
  if (nl_) mnl_socket_close(nl_);
}

Result<NlSocket> NlSocket::open() {
  mnl_socket* s = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  if (!s) return sys_error("open netlink socket");
  if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) {
    Error e = sys_error("bind netlink socket");
    mnl_socket_close(s);
    return e;
  }
  return NlSocket(s);
}

Result<NlSocket> NlSocket::open_in_netns(int netns_fd) {
  // setns() changes only the calling thread's network namespace; the socket keeps the
  // namespace it was made in after the thread is gone.
  Result<NlSocket> out = Error::invalid("open netlink socket in network namespace");
  std::thread t([&] {
    if (setns(netns_fd, CLONE_NEWNET) < 0) {
      out = sys_error("setns network namespace", "fd " + std::to_string(netns_fd));
      return;
    }
    out = open();
  });
  t.join();
  return out;
}

Status NlSocket::exchange(nlmsghdr* nlh, const std::string& op, const std::string& object,
                          const std::function<void(const nlmsghdr*)>& on_reply) {
  nlh->nlmsg_seq = ++seq_;
  if (mnl_socket_sendto(nl_, nlh, nlh->nlmsg_len) < 0)
    return sys_error(op + ": send netlink", object);
  std::vector<char> buf(32768);  // large enough for any dump part
  auto cb = [](const nlmsghdr* m, void* data) -> int {
    auto* f = static_cast<const std::function<void(const nlmsghdr*)>*>(data);
    if (*f) (*f)(m);
    return MNL_CB_OK;
  };
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(nl_, buf.data(), buf.size());
    if (n < 0) return sys_error(op + ": receive netlink", object);
    int r = mnl_cb_run(buf.data(), n, seq_, portid_, cb,
                       const_cast<void*>(static_cast<const void*>(&on_reply)));
    if (r < 0) return sys_error(op, object);
    if (r == MNL_CB_STOP) return ok();
  }
}

Status NlSocket::request(nlmsghdr* nlh, const std::string& op, const std::string& object,
                         const std::function<void(const nlmsghdr*)>& on_reply) {
  nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  return exchange(nlh, op, object, on_reply);
}

Status NlSocket::dump(nlmsghdr* nlh, const std::string& op,
                      const std::function<void(const nlmsghdr*)>& on_reply) {
  nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_DUMP;
  return exchange(nlh, op, {}, on_reply);
}

// libmnl's attribute loops written for C++ (its macros assign void* to the attribute).
template <class F>
void for_each_attr(const void* start, const void* end, F&& f) {
  auto* a = static_cast<const nlattr*>(start);
  while (mnl_attr_ok(
      a, static_cast<int>(static_cast<const char*>(end) - reinterpret_cast<const char*>(a)))) {
    f(a);
    a = mnl_attr_next(a);
  }
}

LinkInfo parse_link(const nlmsghdr* nlh) {
  LinkInfo info;
  auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
  info.index = ifi->ifi_index;
  auto kind = [&](const nlattr* sub) {
    if (mnl_attr_get_type(sub) == IFLA_INFO_KIND && mnl_attr_validate(sub, MNL_TYPE_STRING) >= 0)
      info.kind = mnl_attr_get_str(sub);
  };
  for_each_attr(
      mnl_nlmsg_get_payload_offset(nlh, sizeof(*ifi)), mnl_nlmsg_get_payload_tail(nlh),
      [&](const nlattr* a) {
        if (mnl_attr_get_type(a) == IFLA_IFNAME && mnl_attr_validate(a, MNL_TYPE_STRING) >= 0)
          info.name = mnl_attr_get_str(a);
        if (mnl_attr_get_type(a) == IFLA_LINKINFO) {
          auto* p = static_cast<const char*>(mnl_attr_get_payload(a));
          for_each_attr(p, p + mnl_attr_get_payload_len(a), kind);
        }
      });
  return info;
}

Result<LinkInfo> NlSocket::link(const std::string& name) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_GETLINK;
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  LinkInfo info;
  TRY(request(nlh, "look up link", name, [&](const nlmsghdr* m) {
    if (m->nlmsg_type == RTM_NEWLINK) info = parse_link(m);
  }));
  if (info.index == 0) return Error(ENODEV, "look up link", name);
  return info;
}

Status NlSocket::set_up(int index, const std::string& name) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_NEWLINK;
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  return request(nlh, "set link up", name);
}

namespace {

// An RTM_NEWADDR (create or replace) for the link at index, without its address attributes.
nlmsghdr* put_new_address(char* buf, unsigned char family, int prefix, int index, unsigned char flags) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_NEWADDR;
  nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = family;
  ifa->ifa_prefixlen = static_cast<unsigned char>(prefix);
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_flags = flags;
  ifa->ifa_index = static_cast<unsigned>(index);
  return nlh;
}

}  // namespace

Status NlSocket::add_ipv4(int index, const std::string& name, const std::string& cidr) {
  Ipv4Cidr c = TRY(parse_cidr(cidr));
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = put_new_address(buf, AF_INET, c.prefix, index, 0);
  mnl_attr_put_u32(nlh, IFA_LOCAL, htonl(c.addr.value));
  mnl_attr_put_u32(nlh, IFA_ADDRESS, htonl(c.addr.value));
  if (c.prefix < 31) mnl_attr_put_u32(nlh, IFA_BROADCAST, htonl(c.broadcast().value));
  return request(nlh, "add address " + cidr + " to", name);
}

Status NlSocket::add_ipv6(int index, const std::string& name, const std::string& cidr) {
  Ipv6Cidr c = TRY(parse_cidr6(cidr));
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = put_new_address(buf, AF_INET6, c.prefix, index, IFA_F_NODAD);
  mnl_attr_put(nlh, IFA_LOCAL, c.addr.bytes.size(), c.addr.bytes.data());
  mnl_attr_put(nlh, IFA_ADDRESS, c.addr.bytes.size(), c.addr.bytes.data());
  mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
  return request(nlh, "add address " + cidr + " to", name);
}

Status NlSocket::add_default_route(int index, const std::string& name, const std::string& gateway) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_NEWROUTE;
  nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = RTPROT_BOOT;
  rtm->rtm_scope = RT_SCOPE_UNIVERSE;
  rtm->rtm_type = RTN_UNICAST;
  if (looks_ipv6(gateway)) {
    Ipv6 gw = TRY(parse_ipv6(gateway));
    rtm->rtm_family = AF_INET6;
    mnl_attr_put(nlh, RTA_GATEWAY, gw.bytes.size(), gw.bytes.data());
  } else {
    Ipv4 gw = TRY(parse_ipv4(gateway));
    rtm->rtm_family = AF_INET;
    mnl_attr_put_u32(nlh, RTA_GATEWAY, htonl(gw.value));
  }
  mnl_attr_put_u32(nlh, RTA_OIF, static_cast<uint32_t>(index));
  return request(nlh, "add default route via " + gateway + " on", name);
}

}  // namespace berth::network
