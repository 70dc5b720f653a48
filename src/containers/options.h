// options.h - docker's run/create flag grammars, parsed into the container model. Pure
// functions: each bad value gets one error naming the flag and the value, as docker words it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "containers/container.h"

namespace berth::containers {

// -p [IP:][HOST[-HOST]:]CONTAINER[-CONTAINER][/tcp|udp|sctp]; IPv6 addresses in brackets.
Result<std::vector<PortBinding>> parse_publish(std::string_view spec);
// --expose PORT[-PORT][/PROTO] -> "80/tcp" keys.
Result<std::vector<std::string>> parse_expose(std::string_view spec);
// -v [SRC:]DST[:OPTS]: SRC absolute -> bind, a name -> named volume, none -> anonymous.
// OPTS: ro, rw, z, Z, nocopy, [r]shared, [r]slave, [r]private.
Result<MountSpec> parse_volume(std::string_view spec);
// --mount type=bind|volume|tmpfs,source=,target=,readonly,bind-propagation=,tmpfs-size=,...
Result<MountSpec> parse_mount(std::string_view spec);
// --tmpfs /path[:opts]
Result<MountSpec> parse_tmpfs(std::string_view spec);
// --ulimit name=soft[:hard]; -1 or "unlimited" for no limit.
Result<Ulimit> parse_ulimit(std::string_view spec);
// docker's RAMInBytes: 512, 512b, 100k, 512m, 2g, 1.5g (binary units). Negative: error.
Result<int64_t> parse_bytes(std::string_view spec);
// --cpus 1.5 -> nano cpus.
Result<int64_t> parse_cpus(std::string_view spec);
// --restart no | on-failure[:N] | always | unless-stopped
Result<RestartPolicy> parse_restart(std::string_view spec);
// --env-file: KEY=value lines, # comments, a bare KEY takes the value from the environment.
Result<std::vector<std::string>> parse_env_file(std::string_view content, std::string_view path);
// -e KEY=value, or KEY (from berth's environment; dropped when unset, as docker does).
std::optional<std::string> resolve_env(std::string_view spec);
// --add-host name:ip (or name=ip); "host-gateway" allowed as ip.
Result<std::string> parse_add_host(std::string_view spec);
// --device /dev/x[:/dev/y][:rwm]
Result<DeviceSpec> parse_device(std::string_view spec);
// --name: docker's [a-zA-Z0-9][a-zA-Z0-9_.-]+ (a leading '/' is dropped).
Result<std::string> validate_name(std::string_view name);

}  // namespace berth::containers
