// nat_rules.h - the nft command text behind nat.h, generated from validated values only, and
// the parsing of `nft -j -a list` output. Pure functions (unit-tested).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"
#include "network/nat.h"

namespace berth::network::nftcmd {

inline constexpr char kTable[] = "ip berth";
// IPv6 networks' rules: the same chains in a table of family ip6.
inline constexpr char kTable6[] = "ip6 berth";
// Our table of an nftables family: kTable for "ip", kTable6 for "ip6".
inline const char* table_for(const std::string& family) {
  return family == "ip6" ? kTable6 : kTable;
}

// A rule somewhere in nftables, by handle.
struct RuleRef {
  std::string family;
  std::string table;
  std::string chain;
  uint64_t handle = 0;
  std::string comment;
};

struct Listing {
  bool table_found = false;  // the listing held a table object
  std::vector<std::string> chains;
  std::vector<RuleRef> rules;  // every rule, comment or not
  bool has_chain(const std::string& name) const;
  std::vector<RuleRef> with_comment(const std::string& comment) const;
  std::vector<RuleRef> with_comment_prefix(const std::string& prefix) const;
};

// Parses the JSON of `list table` with handles.
Result<Listing> parse_listing(const std::string& json);

// The table (kTable or kTable6), its base chains and their fixed rules; safe to run again (the
// fixed rules are flushed and re-added in the same transaction).
std::string base_table(const std::string& table = kTable);
// Comments that tag rules: in our table and in iptables-nft's filter chains.
std::string network_comment(const std::string& bridge);  // "net:<bridge>"
std::string filter_comment(const std::string& bridge);   // "berth:<bridge>"
std::string container_chain(const std::string& key);     // "ctr-<key>"
std::string container_comment(const std::string& key);   // "ctr:<key>"

// masquerade + forward accept for one network, in kTable (subnet IPv4) or kTable6 (IPv6).
Result<std::string> network_rules(const std::string& bridge, const std::string& subnet);
// Accept rules for the bridge, inserted at the top of `<family> filter <chain>` (family ip or
// ip6: iptables-nft's and ip6tables-nft's tables).
Result<std::string> filter_accept_rules(const std::string& chain, const std::string& bridge,
                                        const std::string& family = "ip");
// The container's chain (created, flushed, filled) and the jump to it from `ports`, in
// kTable or, for an IPv6 container_ip, kTable6. Mappings of a host address of the other
// family are left out (an empty host address counts for both).
Result<std::string> port_rules(const std::string& key, const std::string& container_ip,
                               const std::vector<PortMapping>& mappings);
// One DNAT rule body: "ip daddr 1.2.3.4 tcp dport 8080 dnat to 10.89.0.2:80", or for IPv6
// "ip6 daddr fd00::1 tcp dport 8080 dnat to [fd00::2]:80".
Result<std::string> dnat_rule(const std::string& container_ip, const PortMapping& m);
std::string delete_rules(const std::vector<RuleRef>& rules);

}  // namespace berth::network::nftcmd
