// token_server.h - a token server the registry fixture trusts (docker's token auth): it
// checks Basic credentials (or an OAuth2 refresh token), grants the scopes asked for
// (anonymous callers: pull only, when allowed) and signs RS256 JWTs whose x5c certificate
// is in the registry's rootcertbundle. It counts the tokens it was asked for.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "http_server.h"

namespace berth::regtest {

struct TokenServerConfig {
  std::string key_pem_file;   // RSA private key
  std::string cert_pem_file;  // its self-signed certificate
  std::string issuer = "berth-test-issuer";
  std::string service = "berth-test-registry";
  std::string user = "tokenuser";
  std::string password = "tokenpass";
  std::string refresh_token = "berth-refresh-token";
  bool anonymous_pull = true;
};

class TokenServer {
 public:
  explicit TokenServer(TokenServerConfig cfg);
  ~TokenServer();
  std::string realm() const { return server_->url() + "/token"; }
  int requests() const { return requests_.load(); }
  const TokenServerConfig& config() const { return cfg_; }

 private:
  void handle(const HttpRequest& r, Conn& c);
  std::string sign(const std::string& subject, const std::string& access_json);

  TokenServerConfig cfg_;
  std::string cert_der_b64_;
  void* key_ = nullptr;  // EVP_PKEY*
  std::atomic<int> requests_{0};
  std::unique_ptr<HttpServer> server_;
};

}  // namespace berth::regtest
