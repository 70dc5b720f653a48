// codec.h - the small encodings the registry protocol needs: base64 (Basic auth, config.json
// "auth"), URL query escaping, sha256 digests of manifests. Internal to src/registry.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace berth::registry {

std::string base64_encode(std::string_view in);
// Standard alphabet; padding optional; whitespace and anything else: nullopt.
std::optional<std::string> base64_decode(std::string_view in);
// Percent-encodes everything but RFC 3986 unreserved characters.
std::string url_escape(std::string_view in);
// "sha256:<64 hex>" of data.
std::string sha256_digest(std::string_view data);

}  // namespace berth::registry
