// auth.h - the registry's authentication dance: a 401's WWW-Authenticate challenges (Bearer
// realm/service/scope, Basic), tokens fetched from the realm with credentials (Basic, or an
// identity token through OAuth2) or anonymously, and cached per scope so that every request
// of a pull or push reuses one token. Once a registry has said how it authenticates, later
// scopes get their token before the request, saving a 401 round trip. Thread-safe; a token
// for one scope is fetched once even when many transfers ask at the same moment.
// Internal to src/registry.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "registry/credentials.h"
#include "registry/http.h"

namespace berth::registry {

struct Challenge {
  std::string scheme;                         // lower case: "bearer", "basic"
  std::map<std::string, std::string> params;  // lower-case names
};

// Parses WWW-Authenticate header values (each may hold several challenges).
std::vector<Challenge> parse_challenges(const std::vector<std::string>& headers);

class Authenticator {
 public:
  // Performs a request (TLS settings for its host, retries for 5xx and broken connections).
  using Send = std::function<http::Response(http::Request&)>;
  // Looked up only when a registry asks for authentication.
  using Credentials = std::function<Result<std::optional<AuthConfig>>()>;

  Authenticator(Send send, Credentials creds) : send_(std::move(send)), creds_(std::move(creds)) {}

  // The Authorization value to send for scopes (space-separated, "" for /v2/ itself):
  // a cached token, one fetched now when the registry's realm is known, Basic, or "".
  Result<std::string> header_for(const std::string& scopes);
  // After a 401 to a request that carried `sent` ("" = none): true when a new authorization
  // for scopes is ready (retry the request), false when there is nothing else to try.
  Result<bool> on_unauthorized(const std::vector<std::string>& www_authenticate,
                               const std::string& scopes, const std::string& sent);
  // Token requests made so far (tests check that tokens are reused).
  int token_requests() const { return token_requests_.load(); }
  // Whether credentials were found (after they were looked up).
  bool have_credentials();

 private:
  struct Token {
    std::string value;
    std::chrono::steady_clock::time_point expires;
  };
  enum class Scheme { unknown, bearer, basic };

  Result<std::optional<AuthConfig>> credentials();
  Result<std::string> bearer_for(const std::string& scopes, bool force);
  Result<Token> fetch_token(const std::string& scopes);
  http::Request token_request(const std::string& scopes, const std::optional<AuthConfig>& c);
  Result<std::string> basic_header();

  Send send_;
  Credentials creds_;
  std::atomic<int> token_requests_{0};

  std::mutex mu_;  // guards everything below
  Scheme scheme_ = Scheme::unknown;
  std::string realm_, service_;
  std::map<std::string, Token> tokens_;
  bool creds_loaded_ = false;
  std::optional<AuthConfig> creds_value_;

  std::mutex fetch_mu_;  // one token fetch at a time
};

}  // namespace berth::registry
