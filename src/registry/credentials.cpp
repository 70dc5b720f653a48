#include "registry/credentials.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>

#include "base/file.h"
#include "base/json_read.h"
#include "registry/codec.h"
#include "registry/cred_helper.h"

namespace berth::registry {
namespace {

constexpr std::string_view kHubKey = "https://index.docker.io/v1/";
constexpr size_t kMaxConfig = 16 << 20;

bool is_hub(std::string_view host) {
  return host == "docker.io" || host == "index.docker.io" || host == "registry-1.docker.io";
}

std::string user_name(uid_t uid) {
  struct passwd pw, *res = nullptr;
  char buf[4096];
  if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res != nullptr) return pw.pw_name;
  return std::to_string(uid);
}

// The owner of path, or of the nearest folder above it that can be stat'ed.
std::string owner_of(std::string path) {
  struct stat st;
  while (::stat(path.c_str(), &st) != 0 && path.size() > 1) path = dirname_of(path);
  return user_name(st.st_uid);
}

// The seeds' known problem: ~/.docker left owned by root by `sudo docker login`.
Error permission_error(const std::string& verb, const std::string& path, const std::string& dir) {
  std::string me = user_name(::geteuid());
  std::string owner = owner_of(path);
  if (owner == me) {
    return Error::invalid("cannot " + verb + " " + path + ": permission denied by its mode; " +
                          "fix it with: chmod -R u+rwX " + dir);
  }
  return Error::invalid("cannot " + verb + " " + path + ": permission denied: it belongs to " +
                        owner + ", not to " + me + " (as after `sudo docker login`); " +
                        "fix it with: sudo chown -R " + me + " " + dir);
}

Result<nlohmann::json> read_config(const std::string& path, const std::string& dir) {
  Result<std::string> text = read_file(path, kMaxConfig);
  if (!text) {
    int e = text.error().code();
    if (e == ENOENT || e == ENOTDIR) return nlohmann::json::object();
    if (e == EACCES || e == EPERM) return permission_error("read", path, dir);
    return std::move(text).error().context("read docker client config");
  }
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Error::invalid("invalid docker client config " + path + ": not a JSON object");
  }
  for (const char* key : {"auths", "credHelpers"}) {
    if (j.contains(key) && !j[key].is_object()) {
      return Error::invalid("invalid docker client config " + path + ": \"" + key +
                            "\" is not an object");
    }
  }
  if (j.contains("credsStore") && !j["credsStore"].is_string()) {
    return Error::invalid("invalid docker client config " + path +
                          ": \"credsStore\" is not a string");
  }
  return j;
}

// "user:pass" base64 -> AuthConfig; a bad one is treated as absent, like docker.
std::optional<AuthConfig> decode_auth(const nlohmann::json& entry) {
  AuthConfig a;
  std::string auth;
  json_read::string(entry, "auth", &auth);
  json_read::string(entry, "identitytoken", &a.identity_token);
  if (!auth.empty()) {
    std::optional<std::string> plain = base64_decode(auth);
    size_t colon = plain ? plain->find(':') : std::string::npos;
    if (colon == std::string::npos) return std::nullopt;
    a.username = plain->substr(0, colon);
    a.password = plain->substr(colon + 1);
  } else {
    json_read::string(entry, "username", &a.username);
    json_read::string(entry, "password", &a.password);
  }
  if (a.empty()) return std::nullopt;
  return a;
}

// The real file behind a symlinked config.json (docker writes through the link).
std::string resolve_target(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) != nullptr) return buf;
  return path;
}

}  // namespace

std::string credential_key(std::string_view registry) {
  if (is_hub(registry)) return std::string(kHubKey);
  return std::string(registry);
}

std::string key_hostname(std::string_view key) {
  size_t scheme = key.find("://");
  if (scheme != std::string_view::npos) key.remove_prefix(scheme + 3);
  key = key.substr(0, key.find('/'));
  if (is_hub(key)) return "index.docker.io";
  return std::string(key);
}

std::string default_config_dir() {
  if (const char* d = getenv("DOCKER_CONFIG"); d != nullptr && *d != '\0') return d;
  if (const char* h = getenv("HOME"); h != nullptr && *h != '\0') return path_join(h, ".docker");
  struct passwd pw, *res = nullptr;
  char buf[4096];
  if (getpwuid_r(::getuid(), &pw, buf, sizeof buf, &res) == 0 && res != nullptr) {
    return path_join(pw.pw_dir, ".docker");
  }
  return "/root/.docker";
}

Result<CredentialStore> CredentialStore::open(const std::string& config_dir, Mode mode) {
  std::string path = path_join(config_dir, "config.json");
  Result<nlohmann::json> j = read_config(path, config_dir);
  if (j) return CredentialStore(config_dir, std::move(j).value());
  if (mode == Mode::strict) return std::move(j).error();
  CredentialStore s(config_dir, nlohmann::json::object());
  s.problem_ = std::move(j).error();
  return s;
}

std::string CredentialStore::config_path() const {
  return path_join(dir_, "config.json");
}

std::string CredentialStore::helper_for(std::string_view registry) const {
  std::string key = credential_key(registry);
  std::string name;
  auto it = config_.find("credHelpers");
  if (it != config_.end()) {
    std::string host = key_hostname(key);
    for (const auto& [k, v] : it->items()) {
      if ((k == key || key_hostname(k) == host) && v.is_string()) return v.get<std::string>();
    }
  }
  json_read::string(config_, "credsStore", &name);
  return name;
}

const nlohmann::json* CredentialStore::auth_entry(std::string_view registry,
                                                  std::string* key) const {
  auto auths = config_.find("auths");
  if (auths == config_.end()) return nullptr;
  std::string want = credential_key(registry);
  if (auto e = auths->find(want); e != auths->end()) {
    *key = want;
    return &*e;
  }
  std::string host = key_hostname(want);
  for (const auto& [k, v] : auths->items()) {
    if (key_hostname(k) != host) continue;
    *key = k;
    return &v;
  }
  return nullptr;
}

std::optional<AuthConfig> CredentialStore::from_auths(std::string_view registry) const {
  std::string key;
  const nlohmann::json* e = auth_entry(registry, &key);
  if (e == nullptr || !e->is_object()) return std::nullopt;
  return decode_auth(*e);
}

Result<std::optional<AuthConfig>> CredentialStore::get(std::string_view registry) const {
  if (problem_) return std::optional<AuthConfig>();
  std::string helper = helper_for(registry);
  if (helper.empty()) return from_auths(registry);
  return helper_get(helper, credential_key(registry));
}

Status CredentialStore::save() const {
  struct stat st;
  if (::stat(dir_.c_str(), &st) != 0) {
    if (errno == EACCES) return permission_error("create", dir_, dirname_of(dir_));
    if (Status s = mkdir_all(dir_, 0700); !s) return s;
  }
  std::string path = resolve_target(config_path());
  Status s = write_file_atomic(
      path, config_.dump(1, '\t', false, nlohmann::json::error_handler_t::replace) + "\n", 0600);
  if (!s && (s.error().code() == EACCES || s.error().code() == EPERM)) {
    return permission_error("write", path, dir_);
  }
  return s;
}

Status CredentialStore::store(std::string_view registry, const AuthConfig& auth) {
  if (problem_) return *problem_;
  std::string key = credential_key(registry);
  std::string helper = helper_for(registry);
  nlohmann::json entry = nlohmann::json::object();
  if (!helper.empty()) {
    TRY(helper_store(helper, key, auth));
  } else {
    if (!auth.username.empty() || !auth.password.empty()) {
      entry["auth"] = base64_encode(auth.username + ":" + auth.password);
    }
    if (!auth.identity_token.empty()) entry["identitytoken"] = auth.identity_token;
  }
  std::string old_key;
  if (auth_entry(registry, &old_key) != nullptr) config_["auths"].erase(old_key);
  config_["auths"][key] = entry;
  return save();
}

Result<bool> CredentialStore::erase(std::string_view registry) {
  if (problem_) return *problem_;
  std::string helper = helper_for(registry);
  bool removed = false;
  if (!helper.empty()) removed = TRY(helper_erase(helper, credential_key(registry)));
  std::string key;
  if (auth_entry(registry, &key) == nullptr) return removed;
  config_["auths"].erase(key);
  TRY(save());
  return true;
}

}  // namespace berth::registry
