// client_impl.h - what client.cpp (endpoint, requests, pull) and push.cpp (uploads) share:
// one request with authentication, retries and Range resume, and the error it maps to.
// Internal to src/registry.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "registry/auth.h"
#include "registry/client.h"
#include "registry/http.h"

namespace berth::registry {

struct Call {
  std::string method = "GET";
  std::string path;  // "/v2/..." under the endpoint; or
  std::string url;   // an absolute URL (an upload's Location)
  std::string scopes;
  bool authenticate = true;
  std::vector<std::string> headers;
  std::string body;
  bool has_body = false;
  ByteSource* upload = nullptr;  // a streamed body: the call is then never repeated
  uint64_t upload_size = 0;
  ByteSink* sink = nullptr;  // a 2xx body goes here; offset advances as it does
  uint64_t offset = 0;
  size_t max_body = 1 << 20;
  bool retry = true;
  std::string what;  // "fetching sha256:..." for messages
};

struct Client::Impl {
  Impl(std::string reg, ClientOptions o);

  std::string registry;  // as given ("docker.io")
  std::string host;      // what we connect to ("registry-1.docker.io")
  ClientOptions opts;
  http::Transport transport;
  Authenticator auth;

  Result<std::string> resolve_endpoint();
  // A request whatever its status; transport failures and local errors as Error.
  Result<http::Response> call(Call& c);
  // The same, but a transport failure comes back as the Response (uploads decide
  // themselves whether to start over); Error only for local failures.
  Result<http::Response> exchange(Call& c);
  // The one-line error for a response the caller did not expect.
  Error status_error(const http::Response& r, const Call& c);
  Error transport_error(const http::Response& r, const Call& c);
  std::string absolute_url(const std::string& location);

 private:
  bool insecure() const;
  Result<const http::Tls*> tls_for(const std::string& url);
  http::Response send_with_retries(http::Request& req);
  Result<http::Request> make_request(const Call& c, const std::string& url);
  Result<std::optional<AuthConfig>> lookup_credentials();

  std::mutex endpoint_mu_;
  std::string endpoint_;
  std::mutex tls_mu_;
  std::map<std::string, http::Tls> tls_;
};

// Syntax checks for what goes into URLs.
Status check_repo(const std::string& repo);
Status check_digest(const std::string& digest);
Status check_reference(const std::string& ref);
std::string pull_scope(const std::string& repo);
std::string push_scope(const std::string& repo);

}  // namespace berth::registry
