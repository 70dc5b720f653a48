// volumes_networks.cpp - volume create/ls/inspect/rm/prune, network create/ls/inspect/rm/
// prune (connect/disconnect refused: a container has one network), and system reset, with
// docker's flags and output. Option mapping and printing; volumes and networks live in
// src/containers (rootfs_parts.h, networks.h).
#include <ftw.h>
#include <sys/mount.h>
#include <unistd.h>

#include <csignal>

#include <algorithm>
#include <tuple>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <set>

#include "base/file.h"
#include "base/strings.h"
#include "cli/berth/context.h"
#include "cli/berth/format.h"
#include "cli/berth/images_cmds.h"
#include "containers/networks.h"
#include "containers/rootfs_parts.h"
#include "images/remove.h"
#include "network/ipam.h"
#include "runtime/rootless.h"
#include "storage/sha256.h"

namespace berth::cli {
namespace {

using containers::Container;
using containers::NetworkConfig;
using Labels = std::map<std::string, std::string>;

constexpr int kNotFound = 1;  // docker: an unknown object in inspect/rm exits 1

Result<Labels> parse_labels(const std::vector<std::string>& given) {
  Labels out;
  for (const auto& l : given) {
    auto eq = l.find('=');
    if (l.empty() || eq == 0) return Error::invalid("invalid label '" + l + "': empty key");
    out[l.substr(0, eq)] = eq == std::string::npos ? "" : l.substr(eq + 1);
  }
  return out;
}

// "KEY" or "KEY=VALUE" against a set of labels (docker's label filter).
bool label_matches(const Labels& labels, const std::string& want) {
  auto eq = want.find('=');
  auto it = labels.find(want.substr(0, eq));
  return it != labels.end() && (eq == std::string::npos || it->second == want.substr(eq + 1));
}

Json labels_json(const Labels& l) {
  if (l.empty()) return nil_map();
  Json j = Json::object();
  for (const auto& [k, v] : l) j[k] = v;
  return j;
}

std::string labels_text(const Labels& l) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : l) parts.push_back(k + "=" + v);
  return join(parts, ",");
}

// KEY=VALUE filters, each key checked against the allowed ones.
Result<std::multimap<std::string, std::string>> parse_filters(const std::vector<std::string>& given,
                                                               const std::set<std::string>& keys) {
  std::multimap<std::string, std::string> out;
  for (const auto& f : given) {
    auto eq = f.find('=');
    if (eq == std::string::npos) return Error::invalid("bad format of filter (expected name=value)");
    if (!keys.count(f.substr(0, eq))) return Error::invalid("invalid filter '" + f.substr(0, eq) + "'");
    out.emplace(f.substr(0, eq), f.substr(eq + 1));
  }
  return out;
}

// Every filter key given must match at least one of its values (docker's semantics).
template <class Pred>
bool filters_pass(const std::multimap<std::string, std::string>& f, Pred matches) {
  for (auto it = f.begin(); it != f.end(); it = f.upper_bound(it->first)) {
    bool any = false;
    auto [a, b] = f.equal_range(it->first);
    for (auto i = a; i != b; ++i) any = any || matches(i->first, i->second);
    if (!any) return false;
  }
  return true;
}

Result<std::optional<Template>> parse_format(const std::string& format) {
  if (format.empty()) return std::optional<Template>();
  return std::optional<Template>(TRY(Template::parse(format)));
}

// Prints inspect objects (JSON array or one template line each), then the errors (exit 1).
void print_inspected(Context& ctx, const Json& found, const std::optional<Template>& tmpl,
                     std::vector<Error> errors) {
  if (!tmpl) std::printf("%s\n", docker_json(found, 4).c_str());
  for (size_t i = 0; tmpl && i < found.size(); ++i) {
    auto text = tmpl->render(found[i], /*missing_is_error=*/false);
    if (!text) {
      errors.push_back(std::move(text).error());
      break;
    }
    std::printf("%s\n", text->c_str());
  }
  std::fflush(stdout);
  for (const auto& e : errors) print_error(ctx, e, kNotFound);
}

int64_t g_tree_bytes = 0;
int add_size(const char*, const struct stat* st, int type, struct FTW*) {
  if (type == FTW_F) g_tree_bytes += st->st_blocks * 512;
  return 0;
}
int64_t tree_size(const std::string& path) {
  g_tree_bytes = 0;
  (void)::nftw(path.c_str(), add_size, 16, FTW_PHYS);
  return g_tree_bytes;
}

// ---- volumes ----------------------------------------------------------------------------

Labels volume_labels(const storage::VolumeRow& v) {
  Labels out;
  auto j = nlohmann::json::parse(v.labels.empty() ? "{}" : v.labels, nullptr, false);
  if (j.is_object())
    for (const auto& [k, val] : j.items())
      if (val.is_string()) out[k] = val.get<std::string>();
  if (v.anonymous) out["com.docker.volume.anonymous"] = "";
  return out;
}

Json volume_json(const std::string& root, const storage::VolumeRow& v) {
  return Json{{"CreatedAt", rfc3339_local(v.created)},
              {"Driver", "local"},
              {"Labels", labels_json(volume_labels(v))},
              {"Mountpoint", containers::volume_data_dir(root, v.name)},
              {"Name", v.name},
              {"Options", nil_map()},
              {"Scope", "local"}};
}

// docker's rule for local volume names.
Status check_volume_name(const std::string& name) {
  bool ok_ = name.size() >= 2 && std::isalnum(static_cast<unsigned char>(name[0]));
  for (char ch : name)
    ok_ = ok_ && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '.' || ch == '-');
  if (ok_) return ok();
  return Error::invalid("create " + name + ": \"" + name +
                        "\" includes invalid characters for a local volume name, only "
                        "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a "
                        "host directory, use absolute path");
}

// The containers (any state) that mount the volume: docker's "in use".
std::vector<std::string> volume_users(const std::vector<Container>& all, const std::string& name) {
  std::vector<std::string> ids;
  for (const auto& c : all)
    for (const auto& m : c.spec.mounts)
      if (m.type == "volume" && m.source == name) {
        ids.push_back(c.id);
        break;
      }
  return ids;
}

Status volume_create(Context& ctx, std::string name, const std::vector<std::string>& labels,
                     const std::string& driver, const std::vector<std::string>& opts) {
  if (driver != "local") return Error::invalid("error looking up volume plugin " + driver + ": plugin \"" + driver + "\" not found");
  if (!opts.empty()) return Error::invalid("not supported yet: volume driver options (-o)");
  images::Store* store = TRY(ctx.store());
  Labels l = TRY(parse_labels(labels));
  if (name.empty()) name = random_hex(64);  // docker's anonymous-looking name
  TRY(check_volume_name(name));
  if (!TRY(store->db().find_volume(name))) {  // docker: creating an existing volume is a no-op
    TRY(mkdir_all(containers::volume_data_dir(store->root(), name), 0755));
    nlohmann::json lj = l;
    Status s = store->db().put_volume({.name = name, .created = now_unix(), .labels = lj.dump()});
    if (!s && s.error().code() != EEXIST) return s;
  }
  std::printf("%s\n", name.c_str());
  return ok();
}

struct VolumeLsFlags {
  bool quiet = false;
  std::string format;
  std::vector<std::string> filters;
};

Json volume_row(const std::string& root, const storage::VolumeRow& v, size_t links) {
  return Json{{"Driver", "local"}, {"Labels", labels_text(volume_labels(v))},
              {"Links", std::to_string(links)}, {"Mountpoint", containers::volume_data_dir(root, v.name)},
              {"Name", v.name}, {"Scope", "local"}, {"Size", "N/A"}};
}

Status volume_ls(Context& ctx, const VolumeLsFlags& f) {
  auto filters = TRY(parse_filters(f.filters, {"dangling", "name", "label", "driver"}));
  containers::Engine* e = TRY(ctx.engine());
  auto all = TRY(e->list());
  auto vols = TRY(e->store().db().list_volumes());
  std::sort(vols.begin(), vols.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  Json headers = {{"Driver", "DRIVER"}, {"Name", "VOLUME NAME"}, {"Labels", "LABELS"},
                  {"Links", "LINKS"}, {"Mountpoint", "MOUNTPOINT"}, {"Scope", "SCOPE"}, {"Size", "SIZE"}};
  RowPrinter p = TRY(RowPrinter::make(f.format, "{{.Driver}}\t{{.Name}}", headers));
  for (const auto& v : vols) {
    size_t links = volume_users(all, v.name).size();
    bool pass = filters_pass(filters, [&](const std::string& k, const std::string& val) {
      if (k == "dangling") return (val == "true" || val == "1") == (links == 0);
      if (k == "name") return v.name.find(val) != std::string::npos;
      if (k == "driver") return val == "local";
      return label_matches(volume_labels(v), val);
    });
    if (!pass) continue;
    if (f.quiet) std::printf("%s\n", v.name.c_str());
    else TRY(p.add(volume_row(e->root(), v, links)));
  }
  if (!f.quiet) std::fputs(p.finish().c_str(), stdout);
  return ok();
}

void volume_inspect(Context& ctx, const std::vector<std::string>& names, const std::string& format) {
  auto tmpl = parse_format(format);
  if (!tmpl) return print_error(ctx, tmpl.error(), kExitBerthError);
  auto store = ctx.store();
  if (!store) return print_error(ctx, store.error(), kExitBerthError);
  Json found = Json::array();
  std::vector<Error> errors;
  for (const auto& name : names) {
    auto v = (*store)->db().find_volume(name);
    if (!v) errors.push_back(std::move(v).error());
    else if (!*v) errors.push_back(Error::invalid("No such volume: " + name));
    else found.push_back(volume_json((*store)->root(), **v));
  }
  print_inspected(ctx, found, *tmpl, std::move(errors));
}

Status remove_volume(containers::Engine& e, const std::string& name) {
  (void)TRY(e.store().db().remove_volume(name));
  return remove_all(path_join(path_join(e.root(), "volumes"), name));
}

void volume_rm(Context& ctx, const std::vector<std::string>& names, bool force) {
  auto e = ctx.engine();
  if (!e) return print_error(ctx, e.error(), kExitBerthError);
  auto all = (*e)->list();
  if (!all) return print_error(ctx, all.error(), kExitBerthError);
  for (const auto& name : names) {
    auto v = (*e)->store().db().find_volume(name);
    if (v && !*v) {
      if (!force) print_error(ctx, Error::invalid("get " + name + ": no such volume"), kNotFound);
      continue;
    }
    auto users = volume_users(*all, name);
    Status s = !v ? Status(std::move(v).error())
               : !users.empty() ? Status(Error::invalid("remove " + name + ": volume is in use - [" + join(users, ", ") + "]"))
                                : remove_volume(**e, name);
    if (!s) print_error(ctx, s.error(), kNotFound);
    else std::printf("%s\n", name.c_str());
  }
}

Status volume_prune(Context& ctx, bool all, bool force, const std::vector<std::string>& filters) {
  auto f = TRY(parse_filters(filters, {"label", "all"}));
  for (auto [a, b] = f.equal_range("all"); a != b; ++a) all = all || a->second == "true" || a->second == "1";
  f.erase("all");
  if (!force && !confirm(all ? "WARNING! This will remove all local volumes not used by at least one container."
                             : "WARNING! This will remove anonymous local volumes not used by at least one container."))
    return ok();
  containers::Engine* e = TRY(ctx.engine());
  auto containers_now = TRY(e->list());
  int64_t reclaimed = 0;
  std::vector<std::string> deleted;
  for (const auto& v : TRY(e->store().db().list_volumes())) {
    if ((!all && !v.anonymous) || !volume_users(containers_now, v.name).empty()) continue;
    if (!filters_pass(f, [&](const std::string&, const std::string& val) { return label_matches(volume_labels(v), val); }))
      continue;
    int64_t size = tree_size(path_join(path_join(e->root(), "volumes"), v.name));
    TRY(remove_volume(*e, v.name));
    reclaimed += size;
    deleted.push_back(v.name);
  }
  if (!deleted.empty()) std::printf("Deleted Volumes:\n%s\n\n", join(deleted, "\n").c_str());
  std::printf("Total reclaimed space: %s\n", human_size(reclaimed, 4).c_str());
  return ok();
}

void add_volume_commands(CLI::App& app, Context& ctx) {
  CLI::App* vol = subcommand(app, "volume", "Manage volumes");
  {
    auto name = std::make_shared<std::string>();
    auto labels = std::make_shared<std::vector<std::string>>();
    auto opts = std::make_shared<std::vector<std::string>>();
    auto driver = std::make_shared<std::string>("local");
    auto* c = vol->add_subcommand("create", "Create a volume");
    c->add_option("VOLUME", *name, "the volume's name (random when none)");
    c->add_option("--label", *labels, "Set metadata for a volume (KEY=VALUE)");
    c->add_option("-d,--driver", *driver, "Specify volume driver name (only local)");
    c->add_option("-o,--opt", *opts, "Set driver specific options (not supported yet)");
    one_value_per_option(c);
    c->callback([=, &ctx] { ctx.run([&] { return volume_create(ctx, *name, *labels, *driver, *opts); }); });
  }
  {
    auto f = std::make_shared<VolumeLsFlags>();
    auto* c = vol->add_subcommand("ls", "List volumes")->alias("list");
    c->add_flag("-q,--quiet", f->quiet, "Only display volume names");
    c->add_option("-f,--filter", f->filters, "dangling=true|false, name=, label=KEY[=VALUE], driver=local");
    c->add_option("--format", f->format, "table, json or a Go template");
    one_value_per_option(c);
    c->callback([=, &ctx] { ctx.run([&] { return volume_ls(ctx, *f); }); });
  }
  {
    auto names = std::make_shared<std::vector<std::string>>();
    auto format = std::make_shared<std::string>();
    auto* c = vol->add_subcommand("inspect", "Display detailed information on one or more volumes");
    c->add_option("VOLUME", *names, "volume names")->required();
    c->add_option("-f,--format", *format, "Go template");
    c->callback([=, &ctx] { volume_inspect(ctx, *names, *format); });
  }
  {
    auto names = std::make_shared<std::vector<std::string>>();
    auto force = std::make_shared<bool>(false);
    auto* c = vol->add_subcommand("rm", "Remove one or more volumes")->alias("remove");
    c->add_option("VOLUME", *names, "volume names")->required();
    c->add_flag("-f,--force", *force, "Do not fail on volumes that do not exist");
    c->callback([=, &ctx] { volume_rm(ctx, *names, *force); });
  }
  {
    auto all = std::make_shared<bool>(false), force = std::make_shared<bool>(false);
    auto filters = std::make_shared<std::vector<std::string>>();
    auto* c = vol->add_subcommand("prune", "Remove unused local volumes");
    c->add_flag("-a,--all", *all, "Remove all unused volumes, not just anonymous ones");
    c->add_flag("-f,--force", *force, "Do not prompt for confirmation");
    c->add_option("--filter", *filters, "label=KEY[=VALUE]");
    one_value_per_option(c);
    c->callback([=, &ctx] { ctx.run([&] { return volume_prune(ctx, *all, *force, *filters); }); });
  }
}

// ---- networks ---------------------------------------------------------------------------

// host and none: shown by ls and inspect like docker's, never stored. Their ids are
// derived from the root so they stay the same.
struct Pseudo {
  std::string name, driver;
};
const std::vector<Pseudo> kPseudo = {{"host", "host"}, {"none", "null"}};

NetworkConfig pseudo_network(const std::string& root, const Pseudo& p) {
  return NetworkConfig{.name = p.name, .id = storage::sha256_digest("berth network " + p.name + " " + root).substr(7),
                       .driver = p.driver};
}

bool running(const Container& c) {
  return c.state.status == "running" || c.state.status == "paused" || c.state.status == "restarting";
}

// The running containers on a network: docker's endpoints.
std::vector<const Container*> endpoints(const std::vector<Container>& all, const NetworkConfig& n) {
  std::vector<const Container*> out;
  for (const auto& c : all)
    if (running(c) && (containers::network_mode_is(n, c.spec.network) || containers::endpoint_on(c.state, n.name)))
      out.push_back(&c);
  std::sort(out.begin(), out.end(), [](const Container* a, const Container* b) { return a->id < b->id; });
  return out;
}

Json network_json(const NetworkConfig& n, const std::vector<const Container*>& eps) {
  Json config = Json::array();
  if (!n.subnet.empty()) config.push_back({{"Subnet", n.subnet}, {"Gateway", n.gateway}});
  if (n.ipv6) config.push_back({{"Subnet", n.subnet6}, {"Gateway", n.gateway6}});
  Json ctrs = Json::object();
  for (const Container* c : eps) {
    std::string mac = c->state.mac_address, ip = c->state.ip_address, ip6 = c->state.ipv6_address;
    int prefix = c->state.prefix_len, prefix6 = c->state.ipv6_prefix_len;
    if (const auto* ep = containers::endpoint_on(c->state, n.name))
      std::tie(mac, ip, prefix, ip6, prefix6) = std::tuple(ep->mac, ep->ip, ep->prefix_len, ep->ip6, ep->prefix_len6);
    ctrs[c->id] = {{"Name", c->name}, {"EndpointID", ""}, {"MacAddress", mac},
                   {"IPv4Address", ip.empty() ? "" : ip + "/" + std::to_string(prefix)},
                   {"IPv6Address", ip6.empty() ? "" : ip6 + "/" + std::to_string(prefix6)}};
  }
  Json options = Json::object();
  if (!n.bridge.empty()) options["com.docker.network.bridge.name"] = n.bridge;
  Json labels = Json::object();
  for (const auto& [k, v] : n.labels) labels[k] = v;
  return Json{{"Name", n.name}, {"Id", n.id}, {"Created", rfc3339_local(n.created)}, {"Scope", "local"},
              {"Driver", n.driver}, {"EnableIPv4", true}, {"EnableIPv6", n.ipv6},
              {"IPAM", {{"Driver", "default"}, {"Options", nil_map()}, {"Config", config}}},
              {"Internal", false}, {"Attachable", false}, {"Ingress", false},
              {"ConfigFrom", {{"Network", ""}}}, {"ConfigOnly", false}, {"Containers", ctrs},
              {"Options", options}, {"Labels", labels}};
}

// Stored networks (the default one made when missing) and the two pseudo ones.
Result<std::vector<NetworkConfig>> all_networks(containers::Engine& e) {
  auto out = TRY(containers::list_networks(e.store().db()));
  for (const auto& p : kPseudo) out.push_back(pseudo_network(e.root(), p));
  return out;
}

// By name, id or unique id prefix; nullopt when none.
Result<std::optional<NetworkConfig>> lookup_network(containers::Engine& e, const std::string& ref) {
  for (const auto& p : kPseudo) {
    NetworkConfig n = pseudo_network(e.root(), p);
    if (ref == n.name || ref == n.id) return std::optional<NetworkConfig>(n);
  }
  if (ref != containers::kDefaultNetwork && !TRY(e.store().db().find_network(ref)))
    return std::optional<NetworkConfig>();
  return std::optional<NetworkConfig>(TRY(containers::find_network(e.store().db(), ref)));
}

struct NetworkCreateFlags {
  std::string name, driver = "bridge", ip_range;
  std::vector<std::string> subnets, gateways;
  std::vector<std::string> labels, opts;
  bool internal = false, ipv6 = false, attachable = false;
};

Status network_create(Context& ctx, const NetworkCreateFlags& f) {
  if (f.driver != "bridge") return Error::invalid("plugin \"" + f.driver + "\" not found");
  if (f.internal || !f.opts.empty() || !f.ip_range.empty())
    return Error::invalid("not supported yet: network create --internal, --ip-range and -o");
  containers::Engine* e = TRY(ctx.engine());
  if (f.name == "host" || f.name == "none" || f.name == containers::kDefaultNetwork)
    return Error::invalid("network with name " + f.name + " already exists");
  if (ctx.globals().rootless)
    return Error::invalid("user-defined networks need root (a bridge on the host); without root "
                          "containers use the default network (pasta), host or none");
  containers::NetworkCreate req{.name = f.name, .labels = TRY(parse_labels(f.labels)), .ipv6 = f.ipv6};
  // One --subnet and one --gateway per family, told apart by their form (as docker does).
  for (const auto& [values, v4, v6, what] :
       {std::tuple(&f.subnets, &req.subnet, &req.subnet6, "--subnet"),
        std::tuple(&f.gateways, &req.gateway, &req.gateway6, "--gateway")})
    for (const auto& v : *values) {
      std::string* slot = network::looks_ipv6(v) ? v6 : v4;
      if (!slot->empty())
        return Error::invalid(std::string("more than one ") + (slot == v6 ? "IPv6 " : "IPv4 ") + what +
                              " given: " + *slot + " and " + v);
      *slot = v;
    }
  NetworkConfig n = TRY(containers::create_network(e->store().db(), req));
  std::printf("%s\n", n.id.c_str());
  return ok();
}

struct NetworkLsFlags {
  bool quiet = false, no_trunc = false;
  std::string format;
  std::vector<std::string> filters;
};

bool network_filter(const NetworkConfig& n, const std::string& k, const std::string& v,
                    const std::vector<Container>& all) {
  bool builtin = n.name == "host" || n.name == "none" || n.name == containers::kDefaultNetwork;
  if (k == "name") return n.name.find(v) != std::string::npos;
  if (k == "id") return n.id.rfind(v, 0) == 0;
  if (k == "driver") return n.driver == v;
  if (k == "scope") return v == "local";
  if (k == "type") return (v == "builtin") == builtin;
  if (k == "dangling") return (v == "true" || v == "1") == (!builtin && endpoints(all, n).empty());
  return label_matches(n.labels, v);
}

Status network_ls(Context& ctx, const NetworkLsFlags& f) {
  auto filters = TRY(parse_filters(f.filters, {"name", "id", "driver", "scope", "type", "label", "dangling"}));
  containers::Engine* e = TRY(ctx.engine());
  auto all = TRY(e->list());
  auto nets = TRY(all_networks(*e));
  std::sort(nets.begin(), nets.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  Json headers = {{"ID", "NETWORK ID"}, {"Name", "NAME"}, {"Driver", "DRIVER"}, {"Scope", "SCOPE"},
                  {"IPv6", "IPV6"}, {"Internal", "INTERNAL"}, {"Labels", "LABELS"}, {"CreatedAt", "CREATED AT"}};
  RowPrinter p = TRY(RowPrinter::make(f.format, "{{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}", headers));
  for (const auto& n : nets) {
    if (!filters_pass(filters, [&](const std::string& k, const std::string& v) { return network_filter(n, k, v, all); }))
      continue;
    std::string id = f.no_trunc ? n.id : n.id.substr(0, 12);
    if (f.quiet) {
      std::printf("%s\n", id.c_str());
      continue;
    }
    TRY(p.add(Json{{"CreatedAt", go_time_string(n.created)}, {"Driver", n.driver}, {"ID", id},
                   {"IPv6", "false"}, {"Internal", "false"}, {"Labels", labels_text(n.labels)},
                   {"Name", n.name}, {"Scope", "local"}}));
  }
  if (!f.quiet) std::fputs(p.finish().c_str(), stdout);
  return ok();
}

void network_inspect(Context& ctx, const std::vector<std::string>& names, const std::string& format) {
  auto tmpl = parse_format(format);
  if (!tmpl) return print_error(ctx, tmpl.error(), kExitBerthError);
  auto e = ctx.engine();
  if (!e) return print_error(ctx, e.error(), kExitBerthError);
  auto all = (*e)->list();
  if (!all) return print_error(ctx, all.error(), kExitBerthError);
  Json found = Json::array();
  std::vector<Error> errors;
  for (const auto& name : names) {
    auto n = lookup_network(**e, name);
    if (!n) errors.push_back(std::move(n).error());
    else if (!*n) errors.push_back(Error::invalid("network " + name + " not found"));
    else found.push_back(network_json(**n, endpoints(*all, **n)));
  }
  print_inspected(ctx, found, *tmpl, std::move(errors));
}

Status remove_one_network(containers::Engine& e, const std::vector<Container>& all, const NetworkConfig& n) {
  if (n.name == "host" || n.name == "none")
    return Error::invalid(n.name + " is a pre-defined network and cannot be removed");
  std::vector<std::string> users;
  for (const Container* c : endpoints(all, n)) users.push_back(c->id);
  return containers::remove_network(e.store().db(), n, users, path_join(e.runroot(), "networks"));
}

void network_rm(Context& ctx, const std::vector<std::string>& names, bool force) {
  auto e = ctx.engine();
  if (!e) return print_error(ctx, e.error(), kExitBerthError);
  auto all = (*e)->list();
  if (!all) return print_error(ctx, all.error(), kExitBerthError);
  for (const auto& name : names) {
    auto n = lookup_network(**e, name);
    if (n && !*n) {
      if (!force) print_error(ctx, Error::invalid("network " + name + " not found"), kNotFound);
      continue;
    }
    Status s = n ? remove_one_network(**e, *all, **n) : Status(std::move(n).error());
    if (!s) print_error(ctx, s.error(), kNotFound);
    else std::printf("%s\n", name.c_str());
  }
}

Status network_prune(Context& ctx, bool force, const std::vector<std::string>& filters) {
  auto f = TRY(parse_filters(filters, {"label"}));
  if (!force && !confirm("WARNING! This will remove all custom networks not used by at least one container."))
    return ok();
  containers::Engine* e = TRY(ctx.engine());
  auto all = TRY(e->list());
  std::vector<std::string> deleted;
  for (const auto& n : TRY(containers::list_networks(e->store().db()))) {
    if (n.name == containers::kDefaultNetwork || !endpoints(all, n).empty()) continue;
    if (!filters_pass(f, [&](const std::string&, const std::string& v) { return label_matches(n.labels, v); }))
      continue;
    TRY(remove_one_network(*e, all, n));
    deleted.push_back(n.name);
  }
  if (!deleted.empty()) std::printf("Deleted Networks:\n%s\n\n", join(deleted, "\n").c_str());
  return ok();
}

void add_network_commands(CLI::App& app, Context& ctx) {
  CLI::App* net = subcommand(app, "network", "Manage networks");
  {
    auto f = std::make_shared<NetworkCreateFlags>();
    auto* c = net->add_subcommand("create", "Create a network");
    c->add_option("NETWORK", f->name, "the network's name")->required();
    c->add_option("-d,--driver", f->driver, "Driver to manage the Network (only bridge)");
    c->add_option("--subnet", f->subnets,
                  "Subnet in CIDR format, one IPv4 and one IPv6 (default: a free /24 of 10.78.0.0/15; "
                  "with --ipv6 a random fdXX:XXXX:XXXX:XXXX::/64)");
    c->add_option("--gateway", f->gateways, "IPv4 or IPv6 Gateway for the subnet of its family");
    c->add_option("--ip-range", f->ip_range, "not supported yet");
    c->add_option("--label", f->labels, "Set metadata on a network (KEY=VALUE)");
    c->add_option("-o,--opt", f->opts, "not supported yet");
    c->add_flag("--internal", f->internal, "not supported yet");
    c->add_flag("--ipv6", f->ipv6, "Enable IPv6 networking (dual stack)");
    c->add_flag("--attachable", f->attachable, "accepted for docker compatibility");
    one_value_per_option(c);
    c->callback([=, &ctx] { ctx.run([&] { return network_create(ctx, *f); }); });
  }
  {
    auto f = std::make_shared<NetworkLsFlags>();
    auto* c = net->add_subcommand("ls", "List networks")->alias("list");
    c->add_flag("-q,--quiet", f->quiet, "Only display network IDs");
    c->add_flag("--no-trunc", f->no_trunc, "Do not truncate the output");
    c->add_option("-f,--filter", f->filters, "name=, id=, driver=, label=, type=custom|builtin, dangling=");
    c->add_option("--format", f->format, "table, json or a Go template");
    one_value_per_option(c);
    c->callback([=, &ctx] { ctx.run([&] { return network_ls(ctx, *f); }); });
  }
  {
    auto names = std::make_shared<std::vector<std::string>>();
    auto format = std::make_shared<std::string>();
    auto verbose = std::make_shared<bool>(false);
    auto* c = net->add_subcommand("inspect", "Display detailed information on one or more networks");
    c->add_option("NETWORK", *names, "network names or ids")->required();
    c->add_option("-f,--format", *format, "Go template");
    c->add_flag("-v,--verbose", *verbose, "accepted for docker compatibility");
    c->callback([=, &ctx] {
      (void)verbose;  // kept alive: CLI11 writes into it
      network_inspect(ctx, *names, *format);
    });
  }
  {
    auto names = std::make_shared<std::vector<std::string>>();
    auto force = std::make_shared<bool>(false);
    auto* c = net->add_subcommand("rm", "Remove one or more networks")->alias("remove");
    c->add_option("NETWORK", *names, "network names or ids")->required();
    c->add_flag("-f,--force", *force, "Do not error if the network does not exist");
    c->callback([=, &ctx] { network_rm(ctx, *names, *force); });
  }
  {
    auto force = std::make_shared<bool>(false);
    auto filters = std::make_shared<std::vector<std::string>>();
    auto* c = net->add_subcommand("prune", "Remove all unused networks");
    c->add_flag("-f,--force", *force, "Do not prompt for confirmation");
    c->add_option("--filter", *filters, "label=KEY[=VALUE]");
    one_value_per_option(c);
    c->callback([=, &ctx] { ctx.run([&] { return network_prune(ctx, *force, *filters); }); });
  }
  for (const char* verb : {"connect", "disconnect"}) {
    auto args = std::make_shared<std::vector<std::string>>(2);  // NETWORK, CONTAINER (never resized)
    auto* c = net->add_subcommand(verb, std::string(verb) == "connect" ? "Connect a container to a network"
                                                                     : "Disconnect a container from a network");
    c->add_option("NETWORK", (*args)[0], "the network")->required();
    c->add_option("CONTAINER", (*args)[1], "the container")->required();
    auto force = std::make_shared<bool>(false);
    if (std::string(verb) == "disconnect")
      c->add_flag("-f,--force", *force, "Force the container to disconnect from a network");
    std::string v = verb;
    c->callback([v, args, force, &ctx] {
      ctx.run([&]() -> Status {
        containers::Engine* e = TRY(ctx.engine());
        Container ct = TRY(e->get((*args)[1]));
        if (v == "connect") return e->connect(ct, (*args)[0]);
        return e->disconnect(ct, (*args)[0]);
      });
    });
  }
}

// ---- system reset -------------------------------------------------------------------------

// What reset did and what failed; printed as it goes.
struct ResetLog {
  std::vector<Error> errors;
  void removed(const std::string& what) { std::printf("Removed %s\n", what.c_str()); }
  void fail(Error e) { errors.push_back(std::move(e)); }
  void step(Status s, const std::string& what) {
    if (s) removed(what);
    else fail(std::move(s).error());
  }
};

bool is_hex64(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// Ids this root and run root know: the database and the folders a crash may leave.
std::set<std::string> known_ids(containers::Engine& e) {
  std::set<std::string> ids;
  for (const auto& row : e.store().db().list_containers().value_or({})) ids.insert(row.id);
  std::vector<std::string> dirs = {path_join(e.root(), "containers"), path_join(e.runroot(), "containers"),
                                   path_join(e.runroot(), "runtime"), path_join(e.runroot(), "netns")};
  for (const auto& dir : dirs)
    for (const auto& name : list_dir(dir).value_or({}))
      if (is_hex64(name)) ids.insert(name);
  return ids;
}

// mountinfo's escapes (\040 for a space, ...).
std::string unescape_mount(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Mount points at or under one of dirs, deepest first.
std::vector<std::string> mounts_under(const std::vector<std::string>& dirs) {
  std::vector<std::string> out;
  std::ifstream mi("/proc/self/mountinfo");
  std::string line;
  while (std::getline(mi, line)) {
    auto f = split(line, ' ');
    if (f.size() < 5) continue;
    std::string mp = unescape_mount(f[4]);
    for (const auto& d : dirs)
      if (mp == d || starts_with(mp, d + "/")) out.push_back(mp);
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::count(a.begin(), a.end(), '/') > std::count(b.begin(), b.end(), '/');
  });
  return out;
}

std::string real_path(const std::string& p) {
  char buf[PATH_MAX];
  return ::realpath(p.c_str(), buf) ? std::string(buf) : p;
}

void unmount_all(ResetLog& log, const std::vector<std::string>& dirs) {
  for (const auto& mp : mounts_under(dirs)) {
    if (::umount2(mp.c_str(), MNT_DETACH) == 0) log.removed("mount " + mp);
    else if (errno != EINVAL && errno != ENOENT) log.fail(sys_error("unmount", mp));
  }
}

// A cgroup folder and the ones below it, deepest first (rmdir: a cgroup holds no files).
bool remove_cgroup(const std::string& dir) {
  for (const auto& sub : list_subdirs(dir).value_or({})) (void)remove_cgroup(path_join(dir, sub));
  return ::rmdir(dir.c_str()) == 0;
}

// /sys/fs/cgroup/berth (v2) and /sys/fs/cgroup/*/berth (v1 controllers and the hybrid
// host's unified mount): the cgroups of ids, then the berth folder when nothing else is in it.
void remove_cgroups(ResetLog& log, const std::set<std::string>& ids) {
  std::vector<std::string> parents = {"/sys/fs/cgroup/berth"};
  for (const auto& sub : list_subdirs("/sys/fs/cgroup").value_or({}))
    parents.push_back("/sys/fs/cgroup/" + sub + "/berth");
  for (const auto& parent : parents) {
    if (!is_directory(parent)) continue;
    for (const auto& id : ids) {
      std::string dir = path_join(parent, id);
      if (!is_directory(dir)) continue;
      if (remove_cgroup(dir)) log.removed("cgroup " + dir);
      else log.fail(sys_error("remove cgroup", dir));
    }
    if (::rmdir(parent.c_str()) == 0) log.removed("cgroup " + parent);
  }
}

void remove_containers(ResetLog& log, containers::Engine& e, const std::set<std::string>& ids) {
  for (const auto& row : e.store().db().list_containers().value_or({})) {
    auto c = e.get(row.id);
    Status s = c ? e.remove(*c, /*force=*/true, /*volumes=*/true) : Status(std::move(c).error());
    if (!s) {  // a broken record: drop it, the sweeps below take what it left
      (void)e.store().db().remove_container(row.id);
      log.fail(std::move(s).error().context("remove container " + row.id));
    } else {
      log.removed("container " + row.id);
    }
  }
  for (const auto& id : ids) (void)e.runtime().remove(id, true);
}

void remove_volumes(ResetLog& log, containers::Engine& e) {
  for (const auto& v : e.store().db().list_volumes().value_or({})) log.step(remove_volume(e, v.name), "volume " + v.name);
}

// Folders of containers and volumes, unless something is still mounted beneath (then
// removing them would reach into that mount).
void remove_folders(ResetLog& log, containers::Engine& e) {
  // RUNROOT/gpu: the CUDA versions cached and the GPU mount-point layers (no container left
  // to use them).
  for (const auto& dir : {path_join(e.runroot(), "containers"), path_join(e.runroot(), "runtime"),
                          path_join(e.runroot(), "gpu"), path_join(e.root(), "containers"),
                          path_join(e.root(), "volumes")}) {
    if (!path_exists(dir)) continue;
    if (!mounts_under({real_path(dir)}).empty()) {
      log.fail(Error::invalid("kept " + dir + ": something is still mounted under it"));
      continue;
    }
    log.step(remove_all(dir), "folder " + dir);
  }
}

Status remove_images(ResetLog& log, images::Store& store) {
  images::ContainerUsers none = [](const std::string&) -> Result<std::vector<images::ContainerUse>> {
    return std::vector<images::ContainerUse>();
  };
  images::DeleteReport r = TRY(images::prune_images(store, /*all=*/true, none));
  for (const auto& ev : r.events)
    if (ev.kind == images::DeleteEvent::deleted) log.removed("image " + ev.what);
  (void)TRY(images::remove_orphans(store, std::chrono::seconds(0)));
  return ok();
}

Status system_reset(Context& ctx, bool force, bool with_images) {
  if (!force && !confirm(std::string("WARNING! This will remove all containers, volumes and networks of this berth "
                                     "(--root and --runroot), with their mounts, network devices, nftables rules "
                                     "and cgroups") + (with_images ? ", and every image." : "; images are kept.")))
    return ok();
  containers::Engine* e = TRY(ctx.engine());
  ResetLog log;
  std::set<std::string> ids = known_ids(*e);
  remove_containers(log, *e, ids);
  auto net = containers::reset_networks(e->store().db(), {ids.begin(), ids.end()}, e->runroot());
  for (const auto& r : net.removed) log.removed(r);
  for (const auto& k : net.kept) std::printf("Kept %s\n", k.c_str());
  for (auto& err : net.errors) log.fail(std::move(err));
  unmount_all(log, {real_path(e->runroot()), real_path(e->root())});
  remove_cgroups(log, ids);
  remove_volumes(log, *e);
  remove_folders(log, *e);
  if (with_images) log.step(remove_images(log, e->store()), "unused layers and blobs");
  // Without root: the pause process that keeps berth's namespaces (the next command makes a
  // new one).
  if (pid_t pause = runtime::rootless_pause_pid(e->runroot()); pause > 0) {
    ::kill(pause, SIGKILL);
    (void)::unlink(path_join(e->runroot(), "pause.pid").c_str());
    log.removed("rootless namespace (berth-pause " + std::to_string(pause) + ")");
  }
  for (size_t i = 0; i + 1 < log.errors.size(); ++i) print_error(ctx, log.errors[i], kExitBerthError);
  if (!log.errors.empty()) return log.errors.back();
  return ok();
}

void add_reset_command(CLI::App& app, Context& ctx) {
  CLI::App* system = subcommand(app, "system", "Manage berth");
  auto force = std::make_shared<bool>(false), with_images = std::make_shared<bool>(false);
  auto* c = system->add_subcommand("reset", "Remove all containers, volumes and networks, and what they left on the host");
  c->add_flag("-f,--force", *force, "Do not prompt for confirmation");
  c->add_flag("--images", *with_images, "Remove every image too");
  c->callback([=, &ctx] { ctx.run([&] { return system_reset(ctx, *force, *with_images); }); });
}

}  // namespace

// For `inspect NAME` (images_show.cpp's inspectors): nullopt when NAME is no such object.
Result<std::optional<Json>> inspect_volume(Context& ctx, const std::string& name) {
  images::Store* store = TRY(ctx.store());
  auto v = TRY(store->db().find_volume(name));
  if (!v) return std::optional<Json>();
  return std::optional<Json>(volume_json(store->root(), *v));
}

Result<std::optional<Json>> inspect_network(Context& ctx, const std::string& name) {
  containers::Engine* e = TRY(ctx.engine());
  auto n = TRY(lookup_network(*e, name));
  if (!n) return std::optional<Json>();
  auto all = TRY(e->list());
  return std::optional<Json>(network_json(*n, endpoints(all, *n)));
}

void add_volume_network_commands(CLI::App& app, Context& ctx) {
  add_volume_commands(app, ctx);
  add_network_commands(app, ctx);
  add_reset_command(app, ctx);
}

}  // namespace berth::cli
