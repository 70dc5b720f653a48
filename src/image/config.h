// config.h - the image config JSON: OCI image-spec's config plus the fields docker adds
// (healthcheck, onbuild, shell, docker_version, ...), with docker's JSON names.
//
// Parsing follows Go's encoding/json as docker uses it: unknown fields are ignored, null or
// absent leaves the default, a wrong type is an error naming the field's JSON path
// ("image config: config.Env[2]: expected string, got number"). Cmd, Entrypoint and Shell
// also accept a lone string, as docker's strslice does. The image ID is the digest of the
// config bytes as stored (config_digest), not of serialize()'s output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "image/digest.h"

namespace berth::image {

inline constexpr size_t kMaxConfigBytes = size_t{8} << 20;

struct Healthcheck {
  std::vector<std::string> test;  // ["CMD-SHELL", "curl -f http://localhost/"], ["NONE"]
  int64_t interval = 0;           // nanoseconds; 0: docker's default
  int64_t timeout = 0;
  int64_t start_period = 0;
  int64_t start_interval = 0;
  int retries = 0;

  friend bool operator==(const Healthcheck&, const Healthcheck&) = default;
};

struct History {
  std::string created;  // RFC 3339
  std::string author;
  std::string created_by;
  std::string comment;
  bool empty_layer = false;

  friend bool operator==(const History&, const History&) = default;
};

struct ImageConfig {
  struct Config {
    std::string user;
    std::set<std::string> exposed_ports;  // "80/tcp"
    std::vector<std::string> env;         // "KEY=value"
    // Absent and empty differ: absent inherits, [] clears (docker's ENTRYPOINT [] / CMD []).
    std::optional<std::vector<std::string>> entrypoint;
    std::optional<std::vector<std::string>> cmd;
    std::set<std::string> volumes;
    std::string working_dir;
    std::map<std::string, std::string> labels;
    std::string stop_signal;
    std::optional<std::vector<std::string>> shell;
    std::vector<std::string> on_build;
    std::optional<Healthcheck> healthcheck;
    bool args_escaped = false;
    std::optional<int> stop_timeout;  // seconds

    friend bool operator==(const Config&, const Config&) = default;
  };
  struct RootFs {
    std::string type = "layers";
    std::vector<Digest> diff_ids;  // uncompressed layer digests, bottom first

    friend bool operator==(const RootFs&, const RootFs&) = default;
  };

  std::string architecture;
  std::string os;
  std::string variant;
  std::string os_version;
  std::vector<std::string> os_features;
  std::string created;  // RFC 3339; may be empty
  std::string author;
  Config config;
  RootFs rootfs;
  std::vector<History> history;
  std::string docker_version;
  std::string comment;
  std::string container;  // docker's: the container a commit was made from

  friend bool operator==(const ImageConfig&, const ImageConfig&) = default;
};

// Errors start with "image config: ". Besides types: at most kMaxConfigBytes, rootfs present
// with type "layers" and valid diff_ids, created times RFC 3339.
Result<ImageConfig> parse_image_config(std::string_view json);
// Compact JSON, docker's field names and order; empty fields left out (a present
// Entrypoint/Cmd/Shell is written even when empty). Parses back to the same ImageConfig.
std::string serialize(const ImageConfig& config);

// The image ID: sha256 of the config exactly as stored.
Digest config_digest(const std::string& json);

// OCI chain IDs: ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " +
// DiffID(Ln)), each as "sha256:<hex>". The store keys unpacked layers by them.
std::vector<std::string> chain_ids(const std::vector<Digest>& diff_ids);

// Seconds since the epoch of an RFC 3339 time as Go writes and reads it
// ("2024-01-31T12:00:00.123456789Z", "...+01:00"); fractions of a second are dropped.
Result<int64_t> parse_rfc3339(std::string_view text);

}  // namespace berth::image
