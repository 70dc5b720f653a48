// cred_helper.h - the docker-credential-NAME protocol: `get` and `erase` read the server on
// stdin, `store` reads {"ServerURL","Username","Secret"}; `get` prints the same JSON. The
// helper is run directly (execvp on PATH), never through a shell. Internal to src/registry.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"
#include "registry/credentials.h"

namespace berth::registry {

// helper: the suffix ("pass" runs docker-credential-pass). nullopt when it has none.
Result<std::optional<AuthConfig>> helper_get(const std::string& helper, std::string_view server);
Status helper_store(const std::string& helper, std::string_view server, const AuthConfig& auth);
// false when the helper had nothing for server.
Result<bool> helper_erase(const std::string& helper, std::string_view server);

}  // namespace berth::registry
