#include "containers/container.h"

namespace berth::containers {
namespace {

using nlohmann::json;

template <class T>
void get(const json& j, const char* key, T& out) {
  auto it = j.find(key);
  if (it != j.end() && !it->is_null()) out = it->get<T>();
}

json string_list_or_null(const std::vector<std::string>& v) {
  return v.empty() ? json(nullptr) : json(v);
}

json set_as_object(const std::set<std::string>& s) {
  if (s.empty()) return nullptr;
  json o = json::object();
  for (const auto& k : s) o[k] = json::object();
  return o;
}

std::set<std::string> object_keys(const json& j, const char* key) {
  std::set<std::string> out;
  auto it = j.find(key);
  if (it != j.end() && it->is_object())
    for (const auto& [k, v] : it->items()) out.insert(k);
  return out;
}

json ports_to_json(const std::vector<PortBinding>& ports) {
  json o = json::object();
  for (const auto& p : ports) {
    json& list = o[port_key(p.container_port, p.proto)];
    list.push_back({{"HostIp", p.host_ip},
                    {"HostPort", p.host_port ? std::to_string(p.host_port) : std::string()}});
  }
  return o;
}

Result<std::vector<PortBinding>> ports_from_json(const json& j) {
  std::vector<PortBinding> out;
  if (!j.is_object()) return out;
  for (const auto& [key, list] : j.items()) {
    PortBinding base;
    auto slash = key.find('/');
    base.proto = slash == std::string::npos ? "tcp" : key.substr(slash + 1);
    unsigned long port = std::stoul(key.substr(0, slash));
    if (port == 0 || port > 65535) return Error::invalid("bad port in record", key);
    base.container_port = static_cast<uint16_t>(port);
    if (!list.is_array()) continue;
    for (const auto& b : list) {
      PortBinding p = base;
      get(b, "HostIp", p.host_ip);
      std::string hp;
      get(b, "HostPort", hp);
      p.host_port = hp.empty() ? 0 : static_cast<uint16_t>(std::stoul(hp));
      out.push_back(p);
    }
  }
  return out;
}

json mounts_to_json(const std::vector<MountSpec>& mounts) {
  json a = json::array();
  for (const auto& m : mounts)
    a.push_back({{"Type", m.type},
                 {"Source", m.source},
                 {"Target", m.target},
                 {"ReadOnly", m.read_only},
                 {"Propagation", m.propagation},
                 {"Options", m.options}});
  return a;
}

std::vector<MountSpec> mounts_from_json(const json& j) {
  std::vector<MountSpec> out;
  if (!j.is_array()) return out;
  for (const auto& m : j) {
    MountSpec s;
    get(m, "Type", s.type);
    get(m, "Source", s.source);
    get(m, "Target", s.target);
    get(m, "ReadOnly", s.read_only);
    get(m, "Propagation", s.propagation);
    get(m, "Options", s.options);
    out.push_back(std::move(s));
  }
  return out;
}

json config_to_json(const ContainerSpec& s) {
  json c = {{"Hostname", s.hostname},
            {"Domainname", s.domainname},
            {"User", s.user},
            {"AttachStdin", s.open_stdin},
            {"AttachStdout", true},
            {"AttachStderr", true},
            {"ExposedPorts", set_as_object(s.exposed_ports)},
            {"Tty", s.tty},
            {"OpenStdin", s.open_stdin},
            {"StdinOnce", s.stdin_once},
            {"Env", s.env},
            {"Cmd", string_list_or_null(s.cmd)},
            {"Image", s.image},
            {"Volumes", set_as_object(s.volumes)},
            {"WorkingDir", s.working_dir},
            {"Entrypoint", string_list_or_null(s.entrypoint)},
            {"OnBuild", nullptr},
            {"Labels", s.labels}};
  if (!s.stop_signal.empty()) c["StopSignal"] = s.stop_signal;
  if (s.stop_timeout) c["StopTimeout"] = *s.stop_timeout;
  return c;
}

void config_from_json(const json& c, ContainerSpec& s) {
  get(c, "Image", s.image);
  get(c, "Hostname", s.hostname);
  get(c, "Domainname", s.domainname);
  get(c, "User", s.user);
  get(c, "Tty", s.tty);
  get(c, "OpenStdin", s.open_stdin);
  get(c, "StdinOnce", s.stdin_once);
  get(c, "Env", s.env);
  get(c, "Cmd", s.cmd);
  get(c, "Entrypoint", s.entrypoint);
  get(c, "WorkingDir", s.working_dir);
  get(c, "Labels", s.labels);
  get(c, "StopSignal", s.stop_signal);
  if (c.contains("StopTimeout") && c["StopTimeout"].is_number_integer())
    s.stop_timeout = c["StopTimeout"].get<int>();
  s.exposed_ports = object_keys(c, "ExposedPorts");
  s.volumes = object_keys(c, "Volumes");
}

json host_config_to_json(const ContainerSpec& s) {
  json ulimits = json::array();
  for (const auto& u : s.ulimits) ulimits.push_back({{"Name", u.name}, {"Soft", u.soft}, {"Hard", u.hard}});
  json devices = json::array();
  for (const auto& d : s.devices)
    devices.push_back({{"PathOnHost", d.host_path},
                       {"PathInContainer", d.container_path},
                       {"CgroupPermissions", d.permissions}});
  json sysctls = json::object();
  for (const auto& kv : s.sysctls) {
    auto eq = kv.find('=');
    sysctls[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
  }
  json log_config = {{"Type", "json-file"}, {"Config", json::object()}};
  if (!s.log_max_size.empty()) {
    log_config["Config"]["max-size"] = s.log_max_size;
    log_config["Config"]["max-file"] = std::to_string(s.log_max_file);
  }
  return {{"Mounts", mounts_to_json(s.mounts)},
          {"PortBindings", ports_to_json(s.ports)},
          {"PublishAllPorts", s.publish_all},
          {"NetworkMode", s.network},
          {"IpcMode", s.ipc},
          {"PidMode", s.pid_mode},
          {"UTSMode", s.uts_mode},
          {"UsernsMode", s.userns_mode},
          {"CgroupParent", s.cgroup_parent},
          {"ShmSize", s.shm_size},
          {"Ulimits", ulimits},
          {"Privileged", s.privileged},
          {"ReadonlyRootfs", s.read_only},
          {"Init", s.init},
          {"AutoRemove", s.auto_remove},
          {"CapAdd", string_list_or_null(s.cap_add)},
          {"CapDrop", string_list_or_null(s.cap_drop)},
          {"SecurityOpt", string_list_or_null(s.security_opt)},
          {"Dns", s.dns},
          {"DnsSearch", s.dns_search},
          {"DnsOptions", s.dns_options},
          {"ExtraHosts", string_list_or_null(s.extra_hosts)},
          {"GroupAdd", string_list_or_null(s.group_add)},
          {"Sysctls", sysctls},
          {"Memory", s.memory},
          {"MemorySwap", s.memory_swap},
          {"NanoCpus", s.nano_cpus},
          {"CpusetCpus", s.cpuset_cpus},
          {"PidsLimit", s.pids_limit ? json(s.pids_limit) : json(nullptr)},
          {"Devices", devices},
          {"Gpus", string_list_or_null(s.gpus)},
          {"DeviceRequests", s.cdi_devices.empty()
                                 ? json(nullptr)
                                 : json::array({{{"Driver", "cdi"}, {"DeviceIDs", s.cdi_devices}}})},
          {"RestartPolicy", {{"Name", s.restart.name}, {"MaximumRetryCount", s.restart.max_retries}}},
          {"LogConfig", log_config},
          {"Platform", s.platform}};
}

Status host_config_from_json(const json& h, ContainerSpec& s) {
  s.mounts = mounts_from_json(h.value("Mounts", json()));
  s.ports = TRY(ports_from_json(h.value("PortBindings", json())));
  get(h, "PublishAllPorts", s.publish_all);
  get(h, "NetworkMode", s.network);
  get(h, "IpcMode", s.ipc);
  get(h, "PidMode", s.pid_mode);
  get(h, "UTSMode", s.uts_mode);
  get(h, "UsernsMode", s.userns_mode);
  get(h, "CgroupParent", s.cgroup_parent);
  get(h, "ShmSize", s.shm_size);
  for (const auto& u : h.value("Ulimits", json::array()))
    s.ulimits.push_back({u.value("Name", ""), u.value("Soft", int64_t{0}), u.value("Hard", int64_t{0})});
  get(h, "Privileged", s.privileged);
  get(h, "ReadonlyRootfs", s.read_only);
  get(h, "Init", s.init);
  get(h, "AutoRemove", s.auto_remove);
  get(h, "CapAdd", s.cap_add);
  get(h, "CapDrop", s.cap_drop);
  get(h, "SecurityOpt", s.security_opt);
  get(h, "Dns", s.dns);
  get(h, "DnsSearch", s.dns_search);
  get(h, "DnsOptions", s.dns_options);
  get(h, "ExtraHosts", s.extra_hosts);
  get(h, "GroupAdd", s.group_add);
  if (h.contains("Sysctls") && h["Sysctls"].is_object())
    for (const auto& [k, v] : h["Sysctls"].items()) s.sysctls.push_back(k + "=" + v.get<std::string>());
  get(h, "Memory", s.memory);
  get(h, "MemorySwap", s.memory_swap);
  get(h, "NanoCpus", s.nano_cpus);
  get(h, "CpusetCpus", s.cpuset_cpus);
  get(h, "PidsLimit", s.pids_limit);
  for (const auto& d : h.value("Devices", json::array()))
    s.devices.push_back({d.value("PathOnHost", ""), d.value("PathInContainer", ""),
                         d.value("CgroupPermissions", "rwm")});
  get(h, "Gpus", s.gpus);
  if (h.contains("DeviceRequests") && h["DeviceRequests"].is_array())
    for (const auto& r : h["DeviceRequests"])
      if (r.is_object() && r.value("Driver", "") == "cdi" && r.contains("DeviceIDs"))
        get(r, "DeviceIDs", s.cdi_devices);
  if (h.contains("RestartPolicy")) {
    get(h["RestartPolicy"], "Name", s.restart.name);
    get(h["RestartPolicy"], "MaximumRetryCount", s.restart.max_retries);
  }
  if (h.contains("LogConfig") && h["LogConfig"].contains("Config")) {
    const json& lc = h["LogConfig"]["Config"];
    get(lc, "max-size", s.log_max_size);
    std::string files;
    get(lc, "max-file", files);
    if (!files.empty()) s.log_max_file = std::stoi(files);
  }
  get(h, "Platform", s.platform);
  return ok();
}

}  // namespace

std::string port_key(uint16_t port, const std::string& proto) {
  return std::to_string(port) + "/" + proto;
}

nlohmann::json spec_to_json(const ContainerSpec& s) {
  json j = {{"Config", config_to_json(s)}, {"HostConfig", host_config_to_json(s)}};
  // docker's create API names a container's networks in NetworkingConfig.EndpointsConfig.
  if (!s.more_networks.empty() || !s.ip.empty() || !s.ip6.empty()) {
    json eps = json::object();
    for (const auto& n : s.more_networks) eps[n] = json::object();
    if (!s.ip.empty() || !s.ip6.empty())
      eps[s.network] = {{"IPAMConfig", {{"IPv4Address", s.ip}, {"IPv6Address", s.ip6}}}};
    j["NetworkingConfig"] = {{"EndpointsConfig", eps}};
  }
  return j;
}

Result<ContainerSpec> spec_from_json(const nlohmann::json& j) {
  try {
    ContainerSpec s;
    if (j.contains("Config")) config_from_json(j["Config"], s);
    if (j.contains("HostConfig")) TRY(host_config_from_json(j["HostConfig"], s));
    if (j.contains("NetworkingConfig") && j["NetworkingConfig"].is_object() &&
        j["NetworkingConfig"].contains("EndpointsConfig") && j["NetworkingConfig"]["EndpointsConfig"].is_object())
      for (const auto& [name, v] : j["NetworkingConfig"]["EndpointsConfig"].items()) {
        if (name != s.network) {
          s.more_networks.push_back(name);
        } else if (v.is_object() && v.contains("IPAMConfig") && v["IPAMConfig"].is_object()) {
          get(v["IPAMConfig"], "IPv4Address", s.ip);
          get(v["IPAMConfig"], "IPv6Address", s.ip6);
        }
      }
    return s;
  } catch (const std::exception& e) {
    return Error::invalid(std::string("container record: ") + e.what());
  }
}

namespace {

json endpoints_to_json(const std::vector<ContainerState::Endpoint>& eps) {
  json out = json::array();
  for (const auto& e : eps)
    out.push_back({{"Network", e.network}, {"IPAddress", e.ip}, {"MacAddress", e.mac},
                   {"Gateway", e.gateway}, {"IPPrefixLen", e.prefix_len}, {"Interface", e.interface},
                   {"GlobalIPv6Address", e.ip6}, {"IPv6Gateway", e.gateway6},
                   {"GlobalIPv6PrefixLen", e.prefix_len6}});
  return out;
}

}  // namespace

const ContainerState::Endpoint* endpoint_on(const ContainerState& s, std::string_view network) {
  for (const auto& ep : s.more_endpoints)
    if (ep.network == network) return &ep;
  return nullptr;
}

nlohmann::json state_to_json(const ContainerState& s) {
  return {{"Status", s.status},         {"Pid", s.pid},
          {"PidStart", s.pid_start},    {"MonitorPid", s.monitor_pid},
          {"MonitorStart", s.monitor_start}, {"ExitCode", s.exit_code},
          {"OOMKilled", s.oom_killed},  {"Error", s.error},
          {"StartedAt", s.started_at},  {"FinishedAt", s.finished_at},
          {"RestartCount", s.restart_count}, {"StoppedByUser", s.stopped_by_user},
          {"Removal", s.removal},       {"IPAddress", s.ip_address},
          {"MacAddress", s.mac_address}, {"Gateway", s.gateway},
          {"IPPrefixLen", s.prefix_len}, {"GlobalIPv6Address", s.ipv6_address},
          {"IPv6Gateway", s.ipv6_gateway}, {"GlobalIPv6PrefixLen", s.ipv6_prefix_len},
          {"Ports", ports_to_json(s.ports)},
          {"MoreEndpoints", endpoints_to_json(s.more_endpoints)}};
}

Result<ContainerState> state_from_json(const nlohmann::json& j) {
  try {
    ContainerState s;
    get(j, "Status", s.status);
    get(j, "Pid", s.pid);
    get(j, "PidStart", s.pid_start);
    get(j, "MonitorPid", s.monitor_pid);
    get(j, "MonitorStart", s.monitor_start);
    get(j, "ExitCode", s.exit_code);
    get(j, "OOMKilled", s.oom_killed);
    get(j, "Error", s.error);
    get(j, "StartedAt", s.started_at);
    get(j, "FinishedAt", s.finished_at);
    get(j, "RestartCount", s.restart_count);
    get(j, "StoppedByUser", s.stopped_by_user);
    get(j, "Removal", s.removal);
    get(j, "IPAddress", s.ip_address);
    get(j, "MacAddress", s.mac_address);
    get(j, "Gateway", s.gateway);
    get(j, "IPPrefixLen", s.prefix_len);
    get(j, "GlobalIPv6Address", s.ipv6_address);
    get(j, "IPv6Gateway", s.ipv6_gateway);
    get(j, "GlobalIPv6PrefixLen", s.ipv6_prefix_len);
    s.ports = TRY(ports_from_json(j.value("Ports", nlohmann::json())));
    if (j.contains("MoreEndpoints") && j["MoreEndpoints"].is_array())
      for (const auto& e : j["MoreEndpoints"]) {
        if (!e.is_object()) continue;
        ContainerState::Endpoint ep;
        get(e, "Network", ep.network);
        get(e, "IPAddress", ep.ip);
        get(e, "MacAddress", ep.mac);
        get(e, "Gateway", ep.gateway);
        get(e, "IPPrefixLen", ep.prefix_len);
        get(e, "Interface", ep.interface);
        get(e, "GlobalIPv6Address", ep.ip6);
        get(e, "IPv6Gateway", ep.gateway6);
        get(e, "GlobalIPv6PrefixLen", ep.prefix_len6);
        s.more_endpoints.push_back(std::move(ep));
      }
    return s;
  } catch (const std::exception& e) {
    return Error::invalid(std::string("container state record: ") + e.what());
  }
}

}  // namespace berth::containers
