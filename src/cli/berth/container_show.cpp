// container_show.cpp - what berth shows about containers: ps, inspect (docker's JSON), top,
// port.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>
#include <cstdio>
#include <memory>

#include "base/strings.h"
#include "cli/berth/context.h"
#include "images/install.h"
#include "cli/berth/format.h"
#include "cli/berth/images_cmds.h"
#include "image/config.h"
#include "image/reference.h"

namespace berth::cli {
namespace {

using containers::Container;

int64_t unix_of(const std::string& rfc3339) {
  if (rfc3339.empty()) return 0;
  auto t = image::parse_rfc3339(rfc3339);
  return t ? *t : 0;
}

int64_t now_unix() {
  return static_cast<int64_t>(::time(nullptr));
}

std::string zero_or(const std::string& t) {
  return t.empty() ? "0001-01-01T00:00:00Z" : t;
}

std::string status_text(const Container& c) {
  const auto& s = c.state;
  if (s.status == "created") return "Created";
  if (s.status == "running" || s.status == "paused") {
    std::string t = "Up " + human_duration(now_unix() - unix_of(s.started_at));
    if (s.status == "paused") t += " (Paused)";
    if (!s.error.empty() && s.error.find("monitor") != std::string::npos) t += " (monitor gone)";
    return t;
  }
  if (s.status == "restarting")
    return "Restarting (" + std::to_string(s.exit_code) + ") " +
           human_duration(now_unix() - unix_of(s.finished_at)) + " ago";
  if (s.status == "exited") {
    if (s.finished_at.empty() && s.exit_code == -1) return "Exited (unknown: monitor killed)";
    return "Exited (" + std::to_string(s.exit_code) + ") " +
           human_duration(now_unix() - unix_of(s.finished_at)) + " ago";
  }
  return "Dead";
}

std::string ports_text(const Container& c) {
  std::vector<std::string> parts;
  std::set<std::string> published;
  if (c.state.status == "running" || c.state.status == "paused")
    for (const auto& p : c.state.ports) {
      parts.push_back((p.host_ip.empty() ? "0.0.0.0" : p.host_ip) + ":" + std::to_string(p.host_port) +
                      "->" + containers::port_key(p.container_port, p.proto));
      published.insert(containers::port_key(p.container_port, p.proto));
    }
  for (const auto& e : c.spec.exposed_ports)
    if (!published.count(e)) parts.push_back(e);
  return join(parts, ", ");
}

std::string command_of(const Container& c) {
  std::vector<std::string> args = c.spec.entrypoint;
  args.insert(args.end(), c.spec.cmd.begin(), c.spec.cmd.end());
  return join(args, " ");
}

std::string image_shown(const Container& c) {
  return c.spec.image;
}

Json ps_row(const Container& c, bool no_trunc) {
  std::string cmd = command_of(c);
  std::string created_at = go_time_string(c.created / 1000000000);
  Json labels = Json::array();
  std::vector<std::string> lv;
  for (const auto& [k, v] : c.spec.labels) lv.push_back(k + "=" + v);
  return Json{{"Command", "\"" + (no_trunc ? cmd : ellipsis(cmd, 20)) + "\""},
              {"CreatedAt", created_at},
              {"ID", no_trunc ? c.id : c.id.substr(0, 12)},
              {"Image", image_shown(c)},
              {"Labels", join(lv, ",")},
              {"LocalVolumes", "0"},
              {"Mounts", ""},
              {"Names", c.name},
              {"Networks", c.spec.network},
              {"Ports", ports_text(c)},
              {"RunningFor", created_since(c.created / 1000000000, now_unix())},
              {"Size", "0B"},
              {"State", c.state.status},
              {"Status", status_text(c)}};
}

bool matches(const Container& c, const std::string& filter, images::Store& store) {
  auto eq = filter.find('=');
  std::string k = filter.substr(0, eq), v = eq == std::string::npos ? "" : filter.substr(eq + 1);
  if (k == "status") return c.state.status == v;
  if (k == "name") return c.name.find(v) != std::string::npos;
  if (k == "id") return c.id.rfind(v, 0) == 0;
  if (k == "exited") return c.state.status == "exited" && std::to_string(c.state.exit_code) == v;
  if (k == "label") {
    auto e2 = v.find('=');
    auto it = c.spec.labels.find(v.substr(0, e2));
    return it != c.spec.labels.end() && (e2 == std::string::npos || it->second == v.substr(e2 + 1));
  }
  if (k == "ancestor") {
    auto img = store.lookup(v);
    return img && *img && (*img)->id == c.image_id;
  }
  if (k == "network") return c.spec.network == v;
  return false;
}

struct PsFlags {
  bool all = false, quiet = false, no_trunc = false, latest = false, size = false;
  int last = -1;
  std::string format;
  std::vector<std::string> filters;
};

Status ps(Context& ctx, const PsFlags& f) {
  containers::Engine* e = TRY(ctx.engine());
  for (const auto& flt : f.filters) {
    std::string k = flt.substr(0, flt.find('='));
    if (k != "status" && k != "name" && k != "id" && k != "exited" && k != "label" && k != "ancestor" && k != "network")
      return Error::invalid("invalid filter '" + k + "'");
  }
  auto list = TRY(e->list());
  int limit = f.latest ? 1 : f.last;
  bool show_all = f.all || limit > 0;
  std::vector<Container> shown;
  for (auto& c : list) {
    if (!show_all && c.state.status != "running" && c.state.status != "paused" && c.state.status != "restarting") continue;
    bool ok_ = true;
    for (const auto& flt : f.filters) ok_ = ok_ && matches(c, flt, e->store());
    if (!ok_) continue;
    shown.push_back(std::move(c));
    if (limit > 0 && static_cast<int>(shown.size()) >= limit) break;
  }
  if (f.quiet) {
    for (const auto& c : shown) std::printf("%s\n", f.no_trunc ? c.id.c_str() : c.id.substr(0, 12).c_str());
    return ok();
  }
  Json headers = {{"ID", "CONTAINER ID"}, {"Image", "IMAGE"}, {"Command", "COMMAND"},
                  {"CreatedAt", "CREATED AT"}, {"RunningFor", "CREATED"}, {"Status", "STATUS"},
                  {"Ports", "PORTS"}, {"Names", "NAMES"}, {"Labels", "LABELS"}, {"State", "STATE"},
                  {"Networks", "NETWORKS"}, {"Mounts", "MOUNTS"}, {"Size", "SIZE"}, {"LocalVolumes", "LOCAL VOLUMES"}};
  RowPrinter p = TRY(RowPrinter::make(
      f.format,
      std::string("{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}") +
          (f.size ? "\t{{.Size}}" : ""),
      headers));
  for (const auto& c : shown) {
    Json row = ps_row(c, f.no_trunc);
    // -s: what the container wrote (its upper dir) and, with the image, its whole size:
    // docker's "2B (virtual 1.98MB)".
    if (f.size) {
      int64_t rw = images::tree_content_bytes(e->container_dir(c.id) + "/upper").value_or(0);
      int64_t image = 0;
      if (auto rec = e->store().db().find_by_id(c.image_id); rec && *rec) image = (*rec)->size;
      row["Size"] = human_size(rw, 3) + " (virtual " + human_size(rw + image, 3) + ")";
    }
    TRY(p.add(row));
  }
  std::fputs(p.finish().c_str(), stdout);
  return ok();
}

Json mounts_json(containers::Engine& e, const Container& c) {
  Json out = Json::array();
  for (const auto& m : c.spec.mounts) {
    Json j = {{"Type", m.type}};
    if (m.type == "volume") {
      j["Name"] = m.source;
      j["Source"] = e.root() + "/volumes/" + m.source + "/_data";
      j["Destination"] = m.target;
      j["Driver"] = "local";
    } else {
      j["Source"] = m.source;
      j["Destination"] = m.target;
    }
    j["Mode"] = m.read_only ? "ro" : "";
    j["RW"] = !m.read_only;
    j["Propagation"] = m.type == "bind" ? (m.propagation.empty() ? "rprivate" : m.propagation) : "";
    out.push_back(j);
  }
  return out;
}

Json ports_json(const Container& c) {
  Json ports = Json::object();
  for (const auto& e : c.spec.exposed_ports) ports[e] = nullptr;
  if (c.state.status == "running" || c.state.status == "paused")
    for (const auto& p : c.state.ports) {
      Json& list = ports[containers::port_key(p.container_port, p.proto)];
      if (!list.is_array()) list = Json::array();
      list.push_back({{"HostIp", p.host_ip.empty() ? "0.0.0.0" : p.host_ip}, {"HostPort", std::to_string(p.host_port)}});
    }
  return ports;
}

Json inspect_json(containers::Engine& e, const Container& c) {
  const auto& s = c.state;
  bool running = s.status == "running" || s.status == "paused";
  Json state = {{"Status", s.status},       {"Running", running},
                {"Paused", s.status == "paused"}, {"Restarting", s.status == "restarting"},
                {"OOMKilled", s.oom_killed}, {"Dead", s.status == "dead"},
                {"Pid", running ? s.pid : 0}, {"ExitCode", s.exit_code},
                {"Error", s.error},          {"StartedAt", zero_or(s.started_at)},
                {"FinishedAt", zero_or(s.finished_at)},
                {"MonitorPid", running ? s.monitor_pid : 0}};
  std::vector<std::string> args = c.spec.entrypoint;
  args.insert(args.end(), c.spec.cmd.begin(), c.spec.cmd.end());
  std::string path = args.empty() ? "" : args.front();
  if (!args.empty()) args.erase(args.begin());
  nlohmann::json sj = containers::spec_to_json(c.spec);
  Json config = Json::parse(sj["Config"].dump());
  Json host = Json::parse(sj["HostConfig"].dump());
  std::string dir = e.container_dir(c.id);
  Json net = {{"NetworkID", ""}, {"Gateway", s.gateway}, {"IPAddress", s.ip_address},
              {"IPPrefixLen", s.prefix_len}, {"IPv6Gateway", s.ipv6_gateway},
              {"GlobalIPv6Address", s.ipv6_address}, {"GlobalIPv6PrefixLen", s.ipv6_prefix_len},
              {"MacAddress", s.mac_address}};
  Json networks = Json::object();
  if (c.spec.network != "none" && c.spec.network != "host") networks[c.spec.network] = net;
  else networks[c.spec.network] = Json{{"NetworkID", ""}, {"Gateway", ""}, {"IPAddress", ""}, {"IPPrefixLen", 0}, {"MacAddress", ""}};
  for (const auto& name : c.spec.more_networks) {
    Json more = {{"NetworkID", ""}, {"Gateway", ""}, {"IPAddress", ""}, {"IPPrefixLen", 0}, {"MacAddress", ""}};
    if (const auto* ep = containers::endpoint_on(s, name); ep && running)
      more = {{"NetworkID", ""}, {"Gateway", ep->gateway}, {"IPAddress", ep->ip},
              {"IPPrefixLen", ep->prefix_len}, {"IPv6Gateway", ep->gateway6},
              {"GlobalIPv6Address", ep->ip6}, {"GlobalIPv6PrefixLen", ep->prefix_len6},
              {"MacAddress", ep->mac}};
    networks[name] = more;
  }
  return Json{
      {"Id", c.id},
      {"Created", c.created ? go_time_rfc3339(c.created / 1000000000) : "0001-01-01T00:00:00Z"},
      {"Path", path},
      {"Args", args},
      {"State", state},
      {"Image", c.image_id},
      {"ResolvConfPath", dir + "/resolv.conf"},
      {"HostnamePath", dir + "/hostname"},
      {"HostsPath", dir + "/hosts"},
      {"LogPath", e.log_path(c.id)},
      {"Name", "/" + c.name},
      {"RestartCount", s.restart_count},
      {"Driver", "overlay"},
      {"Platform", "linux"},
      {"HostConfig", host},
      {"GraphDriver", {{"Data", {{"MergedDir", e.rootfs_path(c.id)}, {"UpperDir", dir + "/upper"}, {"WorkDir", dir + "/work"}}}, {"Name", "overlay"}}},
      {"Mounts", mounts_json(e, c)},
      {"Config", config},
      {"NetworkSettings",
       {{"Bridge", ""}, {"SandboxKey", running && c.spec.network != "host" ? e.runroot() + "/netns/" + c.id : ""},
        {"Ports", ports_json(c)}, {"Gateway", s.gateway}, {"IPAddress", s.ip_address},
        {"IPPrefixLen", s.prefix_len}, {"IPv6Gateway", s.ipv6_gateway},
        {"GlobalIPv6Address", s.ipv6_address}, {"GlobalIPv6PrefixLen", s.ipv6_prefix_len},
        {"MacAddress", s.mac_address}, {"Networks", networks}}}};
}

Status top(Context& ctx, const std::string& name, const std::vector<std::string>& ps_args) {
  containers::Engine* e = TRY(ctx.engine());
  Container c = TRY(e->get(name));
  if (c.state.status != "running" && c.state.status != "paused")
    return Error::invalid("container " + c.name + " is not running");
  auto pids = TRY(e->runtime().pids(c.id));
  std::vector<std::string> args = {"ps"};
  if (ps_args.empty()) args.insert(args.end(), {"-o", "uid,pid,ppid,c,stime,tty,time,cmd"});
  else args.insert(args.end(), ps_args.begin(), ps_args.end());
  std::string list;
  for (pid_t p : pids) list += (list.empty() ? "" : ",") + std::to_string(p);
  args.insert(args.end(), {"-p", list});
  std::fflush(stdout);
  pid_t child = ::fork();
  if (child < 0) return sys_error("fork");
  if (child == 0) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execvp("ps", argv.data());
    ::_exit(127);
  }
  int st = 0;
  ::waitpid(child, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) > 1) return Error::invalid("ps failed: " + join(args, " "));
  return ok();
}

Status port(Context& ctx, const std::string& name, const std::string& which) {
  containers::Engine* e = TRY(ctx.engine());
  Container c = TRY(e->get(name));
  std::string want = which;
  if (!want.empty() && want.find('/') == std::string::npos) want += "/tcp";
  bool any = false;
  for (const auto& p : c.state.ports) {
    std::string key = containers::port_key(p.container_port, p.proto);
    if (!want.empty() && key != want) continue;
    std::string host = (p.host_ip.empty() ? "0.0.0.0" : p.host_ip) + ":" + std::to_string(p.host_port);
    if (want.empty()) std::printf("%s -> %s\n", key.c_str(), host.c_str());
    else std::printf("%s\n", host.c_str());
    any = true;
  }
  if (!want.empty() && !any) return Error::invalid("No public port '" + want + "' published for " + c.name);
  return ok();
}


// ---- stats ----------------------------------------------------------------------------------

struct Sample {
  uint64_t cpu_ns = 0, rx = 0, tx = 0;
  std::chrono::steady_clock::time_point at;
  cgroup::Stats st;
};

// Bytes received and sent on the container's interfaces (its init's view of /proc/net/dev).
std::pair<uint64_t, uint64_t> net_io(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/net/dev");
  std::string line;
  uint64_t rx = 0, tx = 0;
  for (int n = 0; std::getline(in, line); ++n) {
    if (n < 2) continue;
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name(trim(line.substr(0, colon)));
    if (name == "lo") continue;
    std::istringstream f(line.substr(colon + 1));
    uint64_t v[9] = {};
    for (auto& x : v) f >> x;
    rx += v[0];
    tx += v[8];
  }
  return {rx, tx};
}

Result<Sample> sample(containers::Engine& e, const Container& c) {
  Sample s;
  s.st = TRY(e.runtime().stats(c.id));
  s.cpu_ns = s.st.cpu_usage_ns;
  std::tie(s.rx, s.tx) = net_io(c.state.pid);
  s.at = std::chrono::steady_clock::now();
  return s;
}

Json stats_row(const Container& c, const Sample& a, const Sample& b) {
  double secs = std::chrono::duration<double>(b.at - a.at).count();
  double cpu = secs > 0 ? 100.0 * static_cast<double>(b.cpu_ns - a.cpu_ns) / (secs * 1e9) : 0;
  uint64_t limit = b.st.memory_limit.value_or(0);
  if (limit == 0 || limit > (uint64_t{1} << 60)) {
    long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    limit = static_cast<uint64_t>(pages) * static_cast<uint64_t>(page);
  }
  auto binary = [](uint64_t v) {  // docker's units.BytesSize: "1.5MiB"
    const char* u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double d = static_cast<double>(v);
    int i = 0;
    while (d >= 1024 && i < 4) d /= 1024, ++i;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g%s", d, u[i]);
    return std::string(buf);
  };
  char cpu_s[32], mem_s[32];
  std::snprintf(cpu_s, sizeof cpu_s, "%.2f%%", cpu);
  std::snprintf(mem_s, sizeof mem_s, "%.2f%%", limit ? 100.0 * static_cast<double>(b.st.memory_usage) / static_cast<double>(limit) : 0);
  return Json{{"BlockIO", human_size(static_cast<int64_t>(b.st.io_read_bytes), 3) + " / " +
                              human_size(static_cast<int64_t>(b.st.io_write_bytes), 3)},
              {"CPUPerc", cpu_s},
              {"Container", c.id.substr(0, 12)},
              {"ID", c.id.substr(0, 12)},
              {"MemPerc", mem_s},
              {"MemUsage", binary(b.st.memory_usage) + " / " + binary(limit)},
              {"Name", c.name},
              {"NetIO", human_size(static_cast<int64_t>(b.rx), 3) + " / " + human_size(static_cast<int64_t>(b.tx), 3)},
              {"PIDs", std::to_string(b.st.pids_current)}};
}

struct StatsFlags {
  bool all = false, no_stream = false, no_trunc = false;
  std::string format;
  std::vector<std::string> names;
};

Status stats(Context& ctx, const StatsFlags& f) {
  containers::Engine* e = TRY(ctx.engine());
  Json headers = {{"Container", "CONTAINER"}, {"ID", "CONTAINER ID"}, {"Name", "NAME"},
                  {"CPUPerc", "CPU %"}, {"MemUsage", "MEM USAGE / LIMIT"}, {"MemPerc", "MEM %"},
                  {"NetIO", "NET I/O"}, {"BlockIO", "BLOCK I/O"}, {"PIDs", "PIDS"}};
  const char* table = "{{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";
  for (bool first = true;; first = false) {
    std::vector<Container> cs;
    if (f.names.empty()) {
      for (auto& c : TRY(e->list()))
        if (c.state.status == "running" || c.state.status == "paused") cs.push_back(std::move(c));
    } else {
      for (const auto& n : f.names) cs.push_back(TRY(e->get(n)));
    }
    std::vector<std::optional<Sample>> before;
    for (const auto& c : cs) {
      auto s = sample(*e, c);
      before.push_back(s ? std::optional<Sample>(*s) : std::nullopt);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(first ? 500 : 1000));
    RowPrinter p = TRY(RowPrinter::make(f.format, table, headers));
    for (size_t i = 0; i < cs.size(); ++i) {
      auto after = sample(*e, cs[i]);
      if (!before[i] || !after) {
        if (f.names.empty()) continue;
        if (ctx.globals().rootless && cs[i].state.status == "running")
          return Error::invalid("container " + cs[i].name +
                                " has no cgroup to read stats from: without root, run it with "
                                "--cgroup-parent a cgroup delegated to you (docs/rootless.md)");
        return Error::invalid("container " + cs[i].name + " is not running");
      }
      TRY(p.add(stats_row(cs[i], *before[i], *after)));
    }
    if (!f.no_stream) std::fputs("\033[2J\033[H", stdout);
    std::fputs(p.finish().c_str(), stdout);
    std::fflush(stdout);
    if (f.no_stream) return ok();
  }
}

}  // namespace

Result<std::optional<Json>> inspect_container(Context& ctx, const std::string& name) {
  containers::Engine* e = TRY(ctx.engine());
  auto c = e->get(name);
  if (!c) {
    if (c.error().code() == ENOENT) return std::optional<Json>();
    return std::move(c).error();
  }
  return std::optional<Json>(inspect_json(*e, *c));
}

void add_container_show_commands(CLI::App& app, Context& ctx) {
  CLI::App* container = subcommand(app, "container", "Manage containers");
  for (CLI::App* parent : {&app, container}) {
    auto f = std::make_shared<PsFlags>();
    auto* c = parent == &app ? parent->add_subcommand("ps", "List containers")
                             : parent->add_subcommand("ls", "List containers")->alias("ps")->alias("list");
    c->add_flag("-a,--all", f->all, "Show all containers (default shows just running)");
    c->add_flag("-q,--quiet", f->quiet, "Only display container IDs");
    c->add_flag("--no-trunc", f->no_trunc, "Don't truncate output");
    c->add_flag("-l,--latest", f->latest, "Show the latest created container (includes all states)");
    c->add_option("-n,--last", f->last, "Show n last created containers (includes all states)");
    c->add_flag("-s,--size", f->size, "Display total file sizes");
    c->add_option("--format", f->format, "Format output using a custom template ('table', 'json', TEMPLATE)");
    c->add_option("-f,--filter", f->filters, "Filter output based on conditions provided");
    one_value_per_option(c);
    c->callback([=, &ctx] { ctx.run([&] { return ps(ctx, *f); }); });

    auto tname = std::make_shared<std::string>();
    auto targs = std::make_shared<std::vector<std::string>>();
    auto* t = parent->add_subcommand("top", "Display the running processes of a container");
    t->add_option("CONTAINER", *tname, "container")->required();
    t->prefix_command();
    t->callback([=, &ctx] {
      *targs = t->remaining();
      ctx.run([&] { return top(ctx, *tname, *targs); });
    });

    auto pname = std::make_shared<std::string>(), pport = std::make_shared<std::string>();
    auto* p = parent->add_subcommand("port", "List port mappings or a specific mapping for the container");
    p->add_option("CONTAINER", *pname, "container")->required();
    p->add_option("PRIVATE_PORT", *pport, "PRIVATE_PORT[/PROTO]");
    p->callback([=, &ctx] { ctx.run([&] { return port(ctx, *pname, *pport); }); });

    auto sf = std::make_shared<StatsFlags>();
    auto* st = parent->add_subcommand("stats", "Display a live stream of container(s) resource usage statistics");
    st->add_flag("-a,--all", sf->all, "Show all containers (default shows just running)");
    st->add_flag("--no-stream", sf->no_stream, "Disable streaming stats and only pull the first result");
    st->add_flag("--no-trunc", sf->no_trunc, "Do not truncate output");
    st->add_option("--format", sf->format, "Format output using a custom template");
    st->add_option("CONTAINER", sf->names, "containers");
    st->callback([=, &ctx] { ctx.run([&] { return stats(ctx, *sf); }); });
  }
}

}  // namespace berth::cli
