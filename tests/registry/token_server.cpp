#include "token_server.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <ctime>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "registry/codec.h"

namespace berth::regtest {
namespace {

std::string b64url(std::string_view in) {
  std::string s = registry::base64_encode(in);
  for (char& c : s) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

std::string cert_der(const std::string& pem_file) {
  FILE* f = fopen(pem_file.c_str(), "r");
  if (f == nullptr) throw std::runtime_error("open " + pem_file);
  X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
  fclose(f);
  if (x == nullptr) throw std::runtime_error("parse " + pem_file);
  unsigned char* der = nullptr;
  int n = i2d_X509(x, &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  X509_free(x);
  return out;
}

EVP_PKEY* load_key(const std::string& pem_file) {
  FILE* f = fopen(pem_file.c_str(), "r");
  if (f == nullptr) throw std::runtime_error("open " + pem_file);
  EVP_PKEY* k = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
  fclose(f);
  if (k == nullptr) throw std::runtime_error("parse " + pem_file);
  return k;
}

// "repository:a/b:pull,push" -> access entry; anonymous callers get pull at most.
nlohmann::json grant(const std::string& scope, bool anonymous) {
  size_t a = scope.find(':'), b = scope.rfind(':');
  if (a == std::string::npos || a == b) return nullptr;
  nlohmann::json actions = nlohmann::json::array();
  std::string list = scope.substr(b + 1);
  for (size_t pos = 0; pos <= list.size();) {
    size_t comma = list.find(',', pos);
    if (comma == std::string::npos) comma = list.size();
    std::string act = list.substr(pos, comma - pos);
    if (!act.empty() && (!anonymous || act == "pull")) actions.push_back(act);
    pos = comma + 1;
  }
  return {
      {"type", scope.substr(0, a)}, {"name", scope.substr(a + 1, b - a - 1)}, {"actions", actions}};
}

}  // namespace

TokenServer::TokenServer(TokenServerConfig cfg) : cfg_(std::move(cfg)) {
  cert_der_b64_ = registry::base64_encode(cert_der(cfg_.cert_pem_file));
  key_ = load_key(cfg_.key_pem_file);
  server_ = std::make_unique<HttpServer>([this](const HttpRequest& r, Conn& c) { handle(r, c); });
}

TokenServer::~TokenServer() {
  server_.reset();
  EVP_PKEY_free(static_cast<EVP_PKEY*>(key_));
}

std::string TokenServer::sign(const std::string& subject, const std::string& access_json) {
  nlohmann::json header = {{"typ", "JWT"}, {"alg", "RS256"}, {"x5c", {cert_der_b64_}}};
  int64_t now = time(nullptr);
  static std::atomic<int> jti{0};
  nlohmann::json claims = {{"iss", cfg_.issuer},
                           {"sub", subject},
                           {"aud", cfg_.service},
                           {"exp", now + 300},
                           {"nbf", now - 10},
                           {"iat", now},
                           {"jti", std::to_string(++jti)},
                           {"access", nlohmann::json::parse(access_json)}};
  std::string input = b64url(header.dump()) + "." + b64url(claims.dump());
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, static_cast<EVP_PKEY*>(key_));
  EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                 input.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                 reinterpret_cast<const unsigned char*>(input.data()), input.size());
  EVP_MD_CTX_free(ctx);
  sig.resize(len);
  return input + "." + b64url(sig);
}

void TokenServer::handle(const HttpRequest& r, Conn& c) {
  if (r.path != "/token") return c.respond(404, {}, "");
  ++requests_;
  std::string subject;
  std::string auth = r.header("authorization");
  std::vector<std::string> refresh = r.params("refresh_token");
  if (!refresh.empty()) {
    if (refresh[0] == cfg_.refresh_token) subject = cfg_.user;
  } else if (auth.rfind("Basic ", 0) == 0) {
    auto plain = registry::base64_decode(auth.substr(6));
    if (plain && *plain == cfg_.user + ":" + cfg_.password) subject = cfg_.user;
  }
  bool presented = !refresh.empty() || !auth.empty();
  if (presented && subject.empty()) {
    return c.respond(401, {{"Content-Type", "application/json"}},
                     R"({"details":"incorrect username or password"})");
  }
  if (!presented && !cfg_.anonymous_pull) {
    return c.respond(401, {{"Content-Type", "application/json"}},
                     R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]})");
  }
  nlohmann::json access = nlohmann::json::array();
  std::vector<std::string> scopes;
  for (const auto& s : r.params("scope")) {
    for (size_t pos = 0; pos <= s.size();) {  // a POST joins them with spaces
      size_t sp = s.find(' ', pos);
      if (sp == std::string::npos) sp = s.size();
      if (sp > pos) scopes.push_back(s.substr(pos, sp - pos));
      pos = sp + 1;
    }
  }
  for (const auto& s : scopes) {
    nlohmann::json g = grant(s, subject.empty());
    if (!g.is_null()) access.push_back(g);
  }
  std::string token = sign(subject, access.dump());
  nlohmann::json body = {{"token", token}, {"access_token", token}, {"expires_in", 300}};
  c.respond(200, {{"Content-Type", "application/json"}}, body.dump());
}

}  // namespace berth::regtest
