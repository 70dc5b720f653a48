// credentials.h - docker's client configuration: DIR/config.json (`--config DIR`, default
// $DOCKER_CONFIG or ~/.docker) with its `auths`, `credsStore` and `credHelpers`, so that
// credentials saved by `docker login` just work, and `berth login` / `logout` write them the
// way docker does (config.json 0600 in a 0700 folder, or through the credential helper).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"

namespace berth::registry {

struct AuthConfig {
  std::string username;
  std::string password;
  // An OAuth2 refresh token (config.json "identitytoken"; a helper's Username "<token>").
  std::string identity_token;
  bool empty() const { return username.empty() && password.empty() && identity_token.empty(); }
};

// The key config.json and credential helpers know a registry by: Docker Hub's
// ("docker.io", "index.docker.io", "registry-1.docker.io") is "https://index.docker.io/v1/",
// any other is host[:port] as given.
std::string credential_key(std::string_view registry);
// What a config.json key names: "https://host:5000/v2/" -> "host:5000" (docker's
// ConvertToHostname); Docker Hub's aliases -> "index.docker.io".
std::string key_hostname(std::string_view key);
// $DOCKER_CONFIG, else $HOME/.docker (else the passwd entry's home).
std::string default_config_dir();

class CredentialStore {
 public:
  // strict: a config that cannot be read or parsed is an error (login, logout).
  // soft: it is kept in problem(), lookups find nothing, and commands that need no
  // credentials still work (pull of a public image with a root-owned ~/.docker).
  enum class Mode { strict, soft };

  // Reads DIR/config.json; a missing file or folder is an empty config.
  static Result<CredentialStore> open(const std::string& config_dir, Mode mode);

  const std::string& dir() const { return dir_; }
  std::string config_path() const;
  // Why the config could not be used (soft mode); nullopt when it could.
  const std::optional<Error>& problem() const { return problem_; }
  // The helper program's suffix for registry ("osxkeychain", "pass"), "" for config.json.
  std::string helper_for(std::string_view registry) const;

  // Credentials for registry from its helper (credHelpers, then credsStore) or from
  // `auths`; nullopt when there are none.
  Result<std::optional<AuthConfig>> get(std::string_view registry) const;
  // Saves credentials (login): through the helper when one is configured (config.json then
  // lists the registry with an empty entry, as docker does), else base64 in `auths`.
  Status store(std::string_view registry, const AuthConfig& auth);
  // Forgets them (logout); false when there was nothing to forget.
  Result<bool> erase(std::string_view registry);

 private:
  CredentialStore(std::string dir, nlohmann::json config)
      : dir_(std::move(dir)), config_(std::move(config)) {}
  std::optional<AuthConfig> from_auths(std::string_view registry) const;
  const nlohmann::json* auth_entry(std::string_view registry, std::string* key) const;
  Status save() const;

  std::string dir_;
  nlohmann::json config_;
  std::optional<Error> problem_;
};

}  // namespace berth::registry
