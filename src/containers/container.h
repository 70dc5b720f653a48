// container.h - a container of the engine as it is recorded: what `create` was asked for
// (docker's Config and HostConfig, the parts berth implements) and its state. Both are kept
// as JSON in the database in docker's shape, so `inspect` shows them as docker does.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"

namespace berth::containers {

// -p [IP:][HOST:]CONTAINER[/PROTO]; host_port 0: any free port (chosen at start).
struct PortBinding {
  std::string host_ip;  // "" = every address
  uint16_t host_port = 0;
  uint16_t container_port = 0;
  std::string proto = "tcp";
  friend bool operator==(const PortBinding&, const PortBinding&) = default;
};

// -v, --mount, --tmpfs. type: bind | volume | tmpfs.
struct MountSpec {
  std::string type;
  std::string source;  // host path (bind), volume name ("" = anonymous), unused for tmpfs
  std::string target;  // absolute path in the container
  bool read_only = false;
  std::string propagation;          // bind: rprivate (default), rshared, ...
  std::vector<std::string> options;  // tmpfs: size=, mode=; bind: extra mount flags
  friend bool operator==(const MountSpec&, const MountSpec&) = default;
};

struct Ulimit {
  std::string name;  // "nofile", "memlock", ...
  int64_t soft = 0;  // -1: unlimited
  int64_t hard = 0;
  friend bool operator==(const Ulimit&, const Ulimit&) = default;
};

struct RestartPolicy {
  std::string name = "no";  // no | on-failure | always | unless-stopped
  int max_retries = 0;
  friend bool operator==(const RestartPolicy&, const RestartPolicy&) = default;
};

struct DeviceSpec {
  std::string host_path;
  std::string container_path;
  std::string permissions = "rwm";
  friend bool operator==(const DeviceSpec&, const DeviceSpec&) = default;
};

// What create records (docker's Config + HostConfig).
struct ContainerSpec {
  // Config
  std::string image;  // as the user named it
  std::string hostname;
  std::string domainname;
  std::string user;
  bool tty = false;
  bool open_stdin = false;
  bool stdin_once = false;
  std::vector<std::string> env;  // the final environment, image's first
  std::vector<std::string> cmd;
  std::vector<std::string> entrypoint;
  std::string working_dir;
  std::map<std::string, std::string> labels;
  std::string stop_signal;
  std::optional<int> stop_timeout;
  std::set<std::string> exposed_ports;  // "80/tcp"
  std::set<std::string> volumes;        // the image's VOLUME paths
  // HostConfig
  std::vector<MountSpec> mounts;
  std::vector<PortBinding> ports;
  bool publish_all = false;
  std::string network = "bridge";  // bridge | host | none | container:X | a network's name
  std::vector<std::string> more_networks;  // `network connect`: networks besides `network`
  // --ip / --ip6: the addresses asked for on `network` (user-defined networks only); "" = the
  // IPAM's next free one. docker's NetworkingConfig.EndpointsConfig[network].IPAMConfig.
  std::string ip, ip6;
  std::string ipc = "private";     // private | host | shareable | container:X
  std::string pid_mode;            // "" | host
  std::string uts_mode;            // "" | host
  std::string cgroup_parent;        // "" = /berth; else the container's cgroup is PARENT/<id>
  std::string userns_mode;         // "" | host | keep-id (rootless: your ids inside too)
  int64_t shm_size = 0;            // bytes; 0 = berth's default
  std::vector<Ulimit> ulimits;
  bool privileged = false;
  bool read_only = false;
  bool init = false;
  bool auto_remove = false;
  std::vector<std::string> cap_add, cap_drop, security_opt;
  std::vector<std::string> dns, dns_search, dns_options, extra_hosts, group_add;
  std::vector<std::string> sysctls;  // "k=v"
  int64_t memory = 0;                 // bytes, 0 = no limit
  int64_t memory_swap = 0;
  int64_t nano_cpus = 0;
  std::string cpuset_cpus;
  int64_t pids_limit = 0;
  std::vector<DeviceSpec> devices;
  std::vector<std::string> gpus;  // --gpus as given (docs/gpus.md)
  std::vector<std::string> cdi_devices;  // --device vendor/class=name (CDI)
  RestartPolicy restart;
  std::string log_max_size;  // --log-opt max-size
  int log_max_file = 1;
  std::string platform;
};

// What happened to it. Written by berth at create/start/stop and merged with what the
// monitor recorded (exit file) when read.
struct ContainerState {
  std::string status = "created";  // created|running|paused|restarting|exited|dead
  int pid = 0;
  uint64_t pid_start = 0;  // /proc start time of pid: a recycled pid is not ours
  int monitor_pid = 0;
  uint64_t monitor_start = 0;
  int exit_code = 0;
  bool oom_killed = false;
  std::string error;
  std::string started_at;   // RFC 3339 nano; "" = never
  std::string finished_at;  // idem
  int restart_count = 0;
  bool stopped_by_user = false;  // docker's HasBeenManuallyStopped: no restart
  bool removal = false;          // --rm: the monitor removes it when it exits
  // Network, when running.
  std::string ip_address;
  std::string mac_address;
  std::string gateway;
  int prefix_len = 0;
  // On an IPv6 network (network create --ipv6): docker's GlobalIPv6Address and friends.
  std::string ipv6_address;
  std::string ipv6_gateway;
  int ipv6_prefix_len = 0;
  std::vector<PortBinding> ports;  // as bound (host ports chosen)
  // Its addresses on more_networks (`network connect`), while running.
  struct Endpoint {
    std::string network, ip, mac, gateway;
    int prefix_len = 0;
    std::string ip6, gateway6;  // "" unless the network has IPv6
    int prefix_len6 = 0;
    std::string interface;  // in the container: eth1, eth2, ...
    friend bool operator==(const Endpoint&, const Endpoint&) = default;
  };
  std::vector<Endpoint> more_endpoints;
};

struct Container {
  std::string id;
  std::string name;
  std::string image_id;
  int64_t created = 0;  // unix nanoseconds
  ContainerSpec spec;
  ContainerState state;
};

nlohmann::json spec_to_json(const ContainerSpec& s);
Result<ContainerSpec> spec_from_json(const nlohmann::json& j);
nlohmann::json state_to_json(const ContainerState& s);
Result<ContainerState> state_from_json(const nlohmann::json& j);

// The endpoint `network connect` gave the container on `network`; nullptr when none.
const ContainerState::Endpoint* endpoint_on(const ContainerState& s, std::string_view network);

// "80/tcp" keys of published ports.
std::string port_key(uint16_t port, const std::string& proto);

}  // namespace berth::containers
