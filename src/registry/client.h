// client.h - a client for one registry: Registry API v2 / OCI distribution spec over libcurl.
//
// It resolves the endpoint like docker (https, verified; for insecure registries, which by
// default include localhost, 127.0.0.0/8 and ::1, https without verification and then plain
// http), takes CA and client certificates from certs.d folders, authenticates on demand
// (Bearer tokens cached per scope, Basic), retries 5xx, 429 and broken connections with
// backoff, resumes blob downloads with Range, and gives up on a stalled transfer with a
// clear error instead of hanging. Registry errors come back as docker's one line
// ("manifest unknown: manifest unknown", "unauthorized: authentication required").
//
// Names are taken as strings: repo "library/ubuntu", ref a tag or "sha256:<hex>". The
// client checks their syntax (they go into URLs) but resolves nothing: that is src/image's.
// Every method may be called from many threads at once (parallel layer fetches).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/io.h"
#include "registry/credentials.h"

namespace berth::registry {

// Accept list for manifests: OCI index/manifest, Docker schema2 list/manifest.
const std::vector<std::string>& manifest_media_types();
// docker's certs.d roots: /etc/docker/certs.d, then <config dir>/certs.d.
std::vector<std::string> default_certs_dirs(const std::string& config_dir);

struct ClientOptions {
  // Looked up only when the registry asks for authentication; nullptr: anonymous only.
  const CredentialStore* credentials = nullptr;
  // Credentials to use instead (login checks them before they are stored).
  std::optional<AuthConfig> auth;
  // Registries ("host[:port]") allowed over unverified TLS or plain HTTP.
  std::vector<std::string> insecure_registries;
  // docker's default: localhost, 127.0.0.0/8 and ::1 are insecure registries. Tests that
  // check TLS verification on a loopback registry turn this off.
  bool loopback_insecure = true;
  // certs.d roots searched for "<registry>/" (CA *.crt, client *.cert + *.key).
  std::vector<std::string> certs_dirs = default_certs_dirs(default_config_dir());
  std::chrono::milliseconds connect_timeout{30000};
  // A transfer that moves no byte for this long is abandoned, then retried (with Range).
  // Resolution is about a second (libcurl's progress callback when idle).
  std::chrono::milliseconds stall_timeout{30000};
  int max_attempts = 5;                          // per request: 5xx, 429, broken, stalled
  std::chrono::milliseconds retry_backoff{500};  // first wait; doubled, at most 10 s
  size_t max_manifest_bytes = 4 << 20;           // docker's limit
  std::string user_agent = "berth/0.1";
};

struct Manifest {
  std::string body;
  std::string media_type;  // the Content-Type the registry sent
  std::string digest;      // sha256 of body; checked against the reference and the registry
};

struct Descriptor {
  std::string media_type;
  std::string digest;  // may be empty when a registry's HEAD does not say
  uint64_t size = 0;
};

struct FetchOptions {
  uint64_t offset = 0;           // bytes the caller already has: resumed with Range
  std::optional<uint64_t> size;  // the blob's size from the manifest: more or less is an error
};

struct BlobSource {
  std::string digest;
  uint64_t size = 0;
  // Opens the blob's bytes from the start; called for each upload attempt, never when the
  // registry already has the blob.
  std::function<Result<std::unique_ptr<ByteSource>>()> open;
};

struct PushOptions {
  std::string mount_from;   // a repository on the same registry that may hold the blob
  uint64_t chunk_size = 0;  // 0: monolithic (one PUT); else PATCH chunks of this size
};

enum class PushOutcome { existed, mounted, uploaded };

class Client {
 public:
  // registry: "host[:port]" as in references; "docker.io" talks to registry-1.docker.io.
  static Result<std::unique_ptr<Client>> create(const std::string& registry,
                                                ClientOptions opts = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const std::string& registry() const;
  // "https://host[:port]" or "http://..." once resolved.
  Result<std::string> endpoint();

  // The registry answers the v2 API (200, or 401 asking for authentication).
  Status ping();
  // Authenticates against /v2/ with the configured credentials (login).
  Status login();

  // accept: media types, best first; empty = manifest_media_types().
  Result<Manifest> get_manifest(const std::string& repo, const std::string& ref,
                                const std::vector<std::string>& accept = {});
  // nullopt when the registry has no such manifest.
  Result<std::optional<Descriptor>> head_manifest(const std::string& repo, const std::string& ref,
                                                  const std::vector<std::string>& accept = {});
  // Returns the digest of body (checked against what the registry says).
  Result<std::string> put_manifest(const std::string& repo, const std::string& ref,
                                   const std::string& media_type, const std::string& body);

  // The blob's size; nullopt when the registry has no such blob in repo.
  Result<std::optional<uint64_t>> head_blob(const std::string& repo, const std::string& digest);
  // Streams the blob into sink (from opts.offset on). The caller verifies the digest.
  Status fetch_blob(const std::string& repo, const std::string& digest, ByteSink& sink,
                    const FetchOptions& opts = {});
  // Skips a blob the registry has (HEAD), else mounts it from opts.mount_from, else uploads.
  Result<PushOutcome> push_blob(const std::string& repo, const BlobSource& blob,
                                const PushOptions& opts = {});
  // Cross-repository mount alone: false when the registry started an upload instead.
  Result<bool> mount_blob(const std::string& repo, const std::string& digest,
                          const std::string& from);

  // Token requests made so far (to check reuse).
  int token_requests() const;

  struct Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::registry
