#include "network/nat_rules.h"

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "network/ipam.h"
#include "network/validate.h"

namespace berth::network::nftcmd {
namespace {

std::string quoted(const std::string& s) {
  return "\"" + s + "\"";  // s passed a check_* first: no quotes or backslashes in it
}

RuleRef rule_from_json(const nlohmann::json& r) {
  RuleRef ref;
  ref.family = r.value("family", "");
  ref.table = r.value("table", "");
  ref.chain = r.value("chain", "");
  ref.handle = r.value("handle", uint64_t{0});
  ref.comment = r.value("comment", "");
  return ref;
}

// host_ip as a daddr match ("" for every address).
Result<std::string> daddr_match(const std::string& host_ip) {
  if (host_ip.empty() || host_ip == "0.0.0.0" || host_ip == "::") return std::string();
  if (looks_ipv6(host_ip)) return "ip6 daddr " + TRY(parse_ipv6(host_ip)).str() + " ";
  Ipv4 ip = TRY(parse_ipv4(host_ip));
  return "ip daddr " + ip.str() + " ";
}

// Whether a mapping's host address can carry traffic to a container address of this family.
bool same_family(const std::string& host_ip, bool v6) {
  if (host_ip.empty()) return true;
  return looks_ipv6(host_ip) == v6;
}

}  // namespace

bool Listing::has_chain(const std::string& name) const {
  for (const auto& c : chains)
    if (c == name) return true;
  return false;
}

std::vector<RuleRef> Listing::with_comment(const std::string& comment) const {
  std::vector<RuleRef> out;
  for (const auto& r : rules)
    if (r.comment == comment) out.push_back(r);
  return out;
}

std::vector<RuleRef> Listing::with_comment_prefix(const std::string& prefix) const {
  std::vector<RuleRef> out;
  for (const auto& r : rules)
    if (starts_with(r.comment, prefix)) out.push_back(r);
  return out;
}

Result<Listing> parse_listing(const std::string& json) {
  auto doc = nlohmann::json::parse(json, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("nftables") ||
      !doc["nftables"].is_array())
    return Error::invalid("parse nft listing", "not nftables JSON");
  Listing l;
  for (const auto& item : doc["nftables"]) {
    if (!item.is_object()) continue;
    if (item.contains("table")) {
      l.table_found = true;
    } else if (item.contains("chain") && item["chain"].is_object()) {
      l.chains.push_back(item["chain"].value("name", ""));
    } else if (item.contains("rule") && item["rule"].is_object()) {
      RuleRef r = rule_from_json(item["rule"]);
      if (r.handle == 0) return Error::invalid("parse nft listing", "rule without handle");
      l.rules.push_back(std::move(r));
    }
  }
  return l;
}

std::string base_table(const std::string& table) {
  const std::string& t = table;
  return "add table " + t + "\n" + "add chain " + t +
         " prerouting { type nat hook prerouting priority -100; policy accept; }\n" + "add chain " +
         t + " output { type nat hook output priority -100; policy accept; }\n" + "add chain " + t +
         " postrouting { type nat hook postrouting priority 100; policy accept; }\n" +
         "add chain " + t + " forward { type filter hook forward priority 0; policy accept; }\n" +
         "add chain " + t + " ports\n" + "flush chain " + t + " prerouting\n" + "add rule " + t +
         " prerouting fib daddr type local jump ports\n" + "flush chain " + t + " output\n" +
         "add rule " + t + " output fib daddr type local jump ports\n";
}

std::string network_comment(const std::string& bridge) {
  return "net:" + bridge;
}
std::string filter_comment(const std::string& bridge) {
  return "berth:" + bridge;
}
std::string container_chain(const std::string& key) {
  return "ctr-" + key;
}
std::string container_comment(const std::string& key) {
  return "ctr:" + key;
}

Result<std::string> network_rules(const std::string& bridge, const std::string& subnet) {
  TRY(check_ifname(bridge));
  std::string br = quoted(bridge);
  std::string tag = " comment " + quoted(network_comment(bridge)) + "\n";
  if (looks_ipv6(subnet)) {
    std::string net = TRY(parse_cidr6(subnet)).network_str();
    std::string post = std::string("add rule ") + kTable6 + " postrouting ";
    std::string fwd = std::string("add rule ") + kTable6 + " forward ";
    return post + "ip6 saddr " + net + " oifname != " + br + " masquerade" + tag + post +
           "ip6 saddr " + net + " oifname " + br + " ct status dnat masquerade" + tag + fwd +
           "iifname " + br + " accept" + tag + fwd + "oifname " + br + " accept" + tag;
  }
  std::string net = TRY(parse_cidr(subnet)).network_str();
  std::string post = std::string("add rule ") + kTable + " postrouting ";
  std::string fwd = std::string("add rule ") + kTable + " forward ";
  return post + "ip saddr " + net + " oifname != " + br + " masquerade" + tag +
         // hairpin: a container reaching a published port of its own network
         post + "ip saddr " + net + " oifname " + br + " ct status dnat masquerade" + tag +
         // the host's 127.0.0.1 DNAT'd into the network (with route_localnet)
         post + "ip saddr 127.0.0.0/8 oifname " + br + " masquerade" + tag + fwd + "iifname " + br +
         " accept" + tag + fwd + "oifname " + br + " accept" + tag;
}

Result<std::string> filter_accept_rules(const std::string& chain, const std::string& bridge,
                                        const std::string& family) {
  TRY(check_ifname(bridge));
  if (chain != "DOCKER-USER" && chain != "FORWARD")
    return Error::invalid("unsupported filter chain", shown_value(chain));
  if (family != "ip" && family != "ip6") return Error::invalid("unsupported filter family", shown_value(family));
  // Only matches iptables-nft can show (iifname/oifname + accept + comment), so docker's
  // `iptables -S` keeps working.
  std::string head = "insert rule " + family + " filter " + chain + " ";
  std::string tag = " accept comment " + quoted(filter_comment(bridge)) + "\n";
  return head + "iifname " + quoted(bridge) + tag + head + "oifname " + quoted(bridge) + tag;
}

Result<std::string> dnat_rule(const std::string& container_ip, const PortMapping& m) {
  TRY(check_proto(m.proto));
  bool v6 = looks_ipv6(container_ip);
  std::string dst = v6 ? "[" + TRY(parse_ipv6(container_ip)).str() + "]" : TRY(parse_ipv4(container_ip)).str();
  if (m.host_port == 0 || m.container_port == 0)
    return Error::invalid("invalid port mapping (port 0)",
                          std::to_string(m.host_port) + ":" + std::to_string(m.container_port));
  if (!same_family(m.host_ip, v6))
    return Error::invalid("port mapping of host address " + m.host_ip + " to a container address of the other family",
                          container_ip);
  std::string daddr = TRY(daddr_match(m.host_ip));
  return daddr + m.proto + " dport " + std::to_string(m.host_port) + " dnat to " + dst + ":" +
         std::to_string(m.container_port);
}

Result<std::string> port_rules(const std::string& key, const std::string& container_ip,
                               const std::vector<PortMapping>& mappings) {
  TRY(check_key(key));
  bool v6 = looks_ipv6(container_ip);
  std::string table = v6 ? kTable6 : kTable;
  std::string chain = table + " " + container_chain(key);
  std::string out = "add chain " + chain + "\nflush chain " + chain + "\n";
  for (const auto& m : mappings)
    if (same_family(m.host_ip, v6))
      out += "add rule " + chain + " " + TRY(dnat_rule(container_ip, m)) + "\n";
  out += "add rule " + table + " ports jump " + container_chain(key) + " comment " +
         quoted(container_comment(key)) + "\n";
  return out;
}

std::string delete_rules(const std::vector<RuleRef>& rules) {
  std::string out;
  for (const auto& r : rules)
    out += "delete rule " + r.family + " " + r.table + " " + r.chain + " handle " +
           std::to_string(r.handle) + "\n";
  return out;
}

}  // namespace berth::network::nftcmd
