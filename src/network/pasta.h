// pasta.h - the rootless default network (docs/rootless.md): pasta (Debian package passt)
// gives a container's namespace a tap device with the host's addresses and routes, carries
// its outgoing traffic through ordinary sockets of the user, and forwards published ports
// from the host into it. No root is needed; pasta quits when the namespace goes.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/error.h"
#include "network/nat.h"

namespace berth::network {

struct PastaOptions {
  std::string netns_path;            // the container's persistent namespace
  std::vector<PortMapping> ports;    // published ports (host side bound by pasta)
  std::string pid_file;              // where pasta writes its pid
  std::string exe = "pasta";         // BERTH_PASTA overrides, for tests
};

// Starts pasta in the background for the namespace and returns its pid once the namespace
// is configured. Errors carry pasta's own message.
Result<pid_t> start_pasta(const PastaOptions& o);
// Stops the pasta of pid_file, if it still runs (it also quits by itself when the namespace
// is unmounted). Missing files are fine.
void stop_pasta(const std::string& pid_file);

// The argument list start_pasta runs (without the executable), for tests.
std::vector<std::string> pasta_args(const PastaOptions& o);

// Checks that an ordinary user may bind host_port ("ports below N need root" otherwise, N
// from net.ipv4.ip_unprivileged_port_start).
Status check_unprivileged_port(uint16_t host_port);

}  // namespace berth::network
