#include "network/nat.h"

#include <nftables/libnftables.h>

#include <cerrno>
#include <functional>
#include <memory>

#include "network/ipam.h"
#include "network/nat_rules.h"
#include "network/netlink.h"
#include "network/validate.h"

namespace berth::network {
namespace {

struct CtxFree {
  void operator()(nft_ctx* c) const { nft_ctx_free(c); }
};
using NftCtx = std::unique_ptr<nft_ctx, CtxFree>;

std::string first_line(const char* s) {
  std::string t = s ? s : "";
  auto nl = t.find('\n');
  return nl == std::string::npos ? t : t.substr(0, nl);
}

// Runs nft commands in one transaction; returns the output (JSON with handles when json).
Result<std::string> nft_run(const std::string& cmds, const std::string& op, bool json = false) {
  NftCtx ctx(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!ctx) return Error(ENOMEM, "create nftables context");
  if (json) nft_ctx_output_set_flags(ctx.get(), NFT_CTX_OUTPUT_JSON | NFT_CTX_OUTPUT_HANDLE);
  if (nft_ctx_buffer_output(ctx.get()) != 0 || nft_ctx_buffer_error(ctx.get()) != 0)
    return Error(ENOMEM, "buffer nftables output");
  if (nft_run_cmd_from_buffer(ctx.get(), cmds.c_str()) != 0) {
    std::string err = first_line(nft_ctx_get_error_buffer(ctx.get()));
    // A missing table, chain or rule handle: kept as errno so callers can tell it apart.
    if (err.find("No such file or directory") != std::string::npos)
      return Error(ENOENT, "nft " + op);
    return Error(0, "nft " + op + ":", err);
  }
  return std::string(nft_ctx_get_output_buffer(ctx.get()));
}

// The table's chains and rules; an empty listing when the table does not exist.
Result<nftcmd::Listing> list_table(const std::string& table) {
  auto out = nft_run("list table " + table, "list table " + table, true);
  if (!out) {
    if (out.error().code() == ENOENT) return nftcmd::Listing{};
    return std::move(out).error();
  }
  return nftcmd::parse_listing(*out);
}

// iptables-nft's filter chain that decides forwarding: DOCKER-USER (docker's place for
// user rules, jumped to first from FORWARD) or FORWARD; "" when there is no `ip filter`.
std::string filter_chain_for(const nftcmd::Listing& filter) {
  if (filter.has_chain("DOCKER-USER")) return "DOCKER-USER";
  if (filter.has_chain("FORWARD")) return "FORWARD";
  return "";
}

using Build =
    std::function<Result<std::string>(const nftcmd::Listing& ours, const nftcmd::Listing& filter)>;

// Lists our table (and iptables-nft's `ip filter` when with_filter), builds the commands from
// the listings and runs them as one transaction. When another berth deleted a listed rule in
// between, the transaction fails with ENOENT and changes nothing: list again and retry.
// family: "ip" (our kTable, iptables-nft's `ip filter`) or "ip6" (kTable6, `ip6 filter`).
Status transact(const Build& build, bool with_filter, const std::string& what,
                const std::string& family = "ip") {
  for (int attempt = 1;; ++attempt) {
    nftcmd::Listing ours = TRY_CTX(list_table(nftcmd::table_for(family)), what);
    nftcmd::Listing filter;
    if (with_filter) filter = TRY_CTX(list_table(family + " filter"), what);
    std::string cmds = TRY_CTX(build(ours, filter), what);
    if (cmds.empty()) return ok();
    auto r = nft_run(cmds, "update rules");
    if (r) return ok();
    if (r.error().code() != ENOENT || attempt == 3) return std::move(r).error().context(what);
  }
}

}  // namespace

Status ensure_network_rules(const std::string& bridge_if, const std::string& subnet,
                            const std::string& subnet6) {
  std::string rules = TRY(nftcmd::network_rules(bridge_if, subnet));
  std::string rules6;
  if (!subnet6.empty()) {
    if (!looks_ipv6(subnet6)) return Error::invalid("not an IPv6 subnet", shown_value(subnet6));
    rules6 = TRY(nftcmd::network_rules(bridge_if, subnet6));
  }
  auto for_family = [&](const std::string& family, const std::string& body) {
    return [&, family, body](const nftcmd::Listing& ours, const nftcmd::Listing& filter) -> Result<std::string> {
      std::string cmds =
          nftcmd::delete_rules(ours.with_comment(nftcmd::network_comment(bridge_if))) +
          nftcmd::delete_rules(filter.with_comment(nftcmd::filter_comment(bridge_if))) +
          nftcmd::base_table(nftcmd::table_for(family)) + body;
      std::string chain = filter_chain_for(filter);
      if (!chain.empty()) cmds += TRY(nftcmd::filter_accept_rules(chain, bridge_if, family));
      return cmds;
    };
  };
  TRY(transact(for_family("ip", rules), true, "set up rules of network " + bridge_if));
  TRY(enable_ip_forward());
  TRY(enable_route_localnet(bridge_if));
  if (subnet6.empty()) return ok();
  TRY(transact(for_family("ip6", rules6), true,
               "set up IPv6 rules of network " + bridge_if, "ip6"));
  return enable_ipv6_forward();
}

Status remove_network_rules(const std::string& bridge_if) {
  TRY(check_ifname(bridge_if));
  for (const char* family : {"ip", "ip6"})
    TRY(transact(
        [&](const nftcmd::Listing& ours, const nftcmd::Listing& filter) -> Result<std::string> {
          return nftcmd::delete_rules(ours.with_comment(nftcmd::network_comment(bridge_if))) +
                 nftcmd::delete_rules(filter.with_comment(nftcmd::filter_comment(bridge_if)));
        },
        true, "remove rules of network " + bridge_if, family));
  return ok();
}

Status add_port_mappings(const std::string& container_key, const std::string& container_ip,
                         const std::vector<PortMapping>& mappings, const std::string& container_ip6) {
  std::vector<std::pair<std::string, const char*>> targets = {{container_ip, "ip"}};
  if (!container_ip6.empty()) targets.emplace_back(container_ip6, "ip6");
  for (const auto& [ip, family] : targets) {
    std::string rules = TRY(nftcmd::port_rules(container_key, ip, mappings));
    std::string base = nftcmd::base_table(nftcmd::table_for(family));
    TRY(transact(
        [&](const nftcmd::Listing& ours, const nftcmd::Listing&) -> Result<std::string> {
          return nftcmd::delete_rules(ours.with_comment(nftcmd::container_comment(container_key))) +
                 base + rules;
        },
        false, "publish ports of " + container_key, family));
  }
  return ok();
}

Status remove_port_mappings(const std::string& container_key, bool ipv6) {
  TRY(check_key(container_key));
  std::vector<std::string> families = {"ip"};
  if (ipv6) families.push_back("ip6");
  for (const auto& family : families) {
    TRY(transact(
        [&](const nftcmd::Listing& ours, const nftcmd::Listing&) -> Result<std::string> {
          std::string cmds =
              nftcmd::delete_rules(ours.with_comment(nftcmd::container_comment(container_key)));
          std::string chain = nftcmd::container_chain(container_key);
          if (ours.has_chain(chain))
            cmds += std::string("delete chain ") + nftcmd::table_for(family) + " " + chain + "\n";
          return cmds;
        },
        false, "unpublish ports of " + container_key, family));
  }
  return ok();
}

Status reset_all() {
  for (const char* family : {"ip", "ip6"})
    TRY(transact(
        [&](const nftcmd::Listing& ours, const nftcmd::Listing& filter) -> Result<std::string> {
          std::string cmds =
              nftcmd::delete_rules(filter.with_comment_prefix(nftcmd::filter_comment("")));
          if (ours.table_found) cmds += std::string("delete table ") + nftcmd::table_for(family) + "\n";
          return cmds;
        },
        true, "reset berth's nftables rules", family));
  return ok();
}

Result<std::string> show_table(const std::string& family, const std::string& name) {
  if (family != "ip" && family != "ip6" && family != "inet")
    return Error::invalid("invalid nftables family", shown_value(family));
  TRY(check_key(name));
  auto out = nft_run("list table " + family + " " + name, "list table " + family + " " + name);
  if (!out && out.error().code() == ENOENT) return std::string();
  return out;
}

}  // namespace berth::network
