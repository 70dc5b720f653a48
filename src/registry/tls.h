// tls.h - a registry's TLS settings from docker's certs.d layout: for HOST[:PORT], each root
// (/etc/docker/certs.d, <config dir>/certs.d) may hold HOST[:PORT]/*.crt (CA certificates,
// trusted in addition to the system's) and *.cert + *.key pairs (a client certificate).
// Internal to src/registry.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "registry/http.h"

namespace berth::registry {

// A .cert without its .key (or the reverse) is an error naming both, as in docker.
Result<http::Tls> load_tls(const std::vector<std::string>& roots, const std::string& host);

}  // namespace berth::registry
