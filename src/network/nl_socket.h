// nl_socket.h - a NETLINK_ROUTE socket over libmnl (internal to berth_network).
//
// A netlink socket acts on the network namespace it was created in, so open_in_netns makes
// the socket in a short-lived thread that joined the target namespace; the calling thread
// never leaves its own namespace.
#pragma once

#include <linux/netlink.h>

#include <cstdint>
#include <functional>
#include <string>

#include "base/error.h"

struct mnl_socket;

namespace berth::network {

struct LinkInfo {
  int index = 0;
  std::string name;
  std::string kind;  // IFLA_INFO_KIND: "bridge", "veth", "" for plain devices
};

class NlSocket {
 public:
  static Result<NlSocket> open();
  static Result<NlSocket> open_in_netns(int netns_fd);
  NlSocket(NlSocket&& o) noexcept;
  NlSocket& operator=(NlSocket&& o) noexcept;
  NlSocket(const NlSocket&) = delete;
  ~NlSocket();

  // Sends nlh with NLM_F_ACK and waits for the answer; a negative ACK becomes
  // Error(errno, op, object). Replies other than the ACK go to on_reply when given.
  Status request(nlmsghdr* nlh, const std::string& op, const std::string& object,
                 const std::function<void(const nlmsghdr*)>& on_reply = {});
  // Sends a NLM_F_DUMP request and calls on_reply for every message of the answer.
  Status dump(nlmsghdr* nlh, const std::string& op,
              const std::function<void(const nlmsghdr*)>& on_reply);

  // The link called name; Error with ENODEV when there is none.
  Result<LinkInfo> link(const std::string& name);
  // Sets IFF_UP on the link.
  Status set_up(int index, const std::string& name);
  // Adds (or replaces) an IPv4 address "a.b.c.d/N" on the link.
  Status add_ipv4(int index, const std::string& name, const std::string& cidr);
  // Adds (or replaces) an IPv6 address "fd00::2/64" on the link, without duplicate address
  // detection (usable at once; the IPAM already made it unique).
  Status add_ipv6(int index, const std::string& name, const std::string& cidr);
  // Adds the default route via gateway (IPv4 or IPv6) out of the link.
  Status add_default_route(int index, const std::string& name, const std::string& gateway);

 private:
  explicit NlSocket(mnl_socket* s);
  Status exchange(nlmsghdr* nlh, const std::string& op, const std::string& object,
                  const std::function<void(const nlmsghdr*)>& on_reply);
  mnl_socket* nl_ = nullptr;
  uint32_t portid_ = 0;
  uint32_t seq_ = 0;
};

// Parses a netlink RTM_NEWLINK message into LinkInfo.
LinkInfo parse_link(const nlmsghdr* nlh);

}  // namespace berth::network
