#include "registry/auth.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "base/json_read.h"
#include "base/log.h"
#include "base/strings.h"
#include "registry/codec.h"
#include "registry/errors.h"

namespace berth::registry {
namespace {

constexpr int64_t kMinTokenLifetime = 60;  // seconds, as docker
constexpr auto kExpiryMargin = std::chrono::seconds(5);

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool is_sep(char c) {
  return c == ' ' || c == '\t' || c == ',';
}

std::string read_token(std::string_view h, size_t* i) {
  size_t b = *i;
  while (*i < h.size() && !is_sep(h[*i]) && h[*i] != '=') ++*i;
  return std::string(h.substr(b, *i - b));
}

std::string read_value(std::string_view h, size_t* i) {
  if (*i >= h.size() || h[*i] != '"') return read_token(h, i);
  std::string v;
  for (++*i; *i < h.size() && h[*i] != '"'; ++*i) {
    if (h[*i] == '\\' && *i + 1 < h.size()) ++*i;
    v += h[*i];
  }
  if (*i < h.size()) ++*i;  // the closing quote
  return v;
}

void parse_one(std::string_view h, std::vector<Challenge>* out) {
  size_t i = 0;
  while (i < h.size()) {
    while (i < h.size() && is_sep(h[i])) ++i;
    std::string tok = read_token(h, &i);
    if (tok.empty()) {
      ++i;  // a stray '='
      continue;
    }
    while (i < h.size() && (h[i] == ' ' || h[i] == '\t')) ++i;
    if (i < h.size() && h[i] == '=' && !out->empty()) {
      ++i;
      while (i < h.size() && (h[i] == ' ' || h[i] == '\t')) ++i;
      out->back().params[lower(tok)] = read_value(h, &i);
    } else if (i >= h.size() || h[i] != '=') {
      out->push_back(Challenge{lower(tok), {}});
    }
  }
}

// A token goes into a header: nothing but visible ASCII.
bool header_safe(const std::string& s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return c > 0x20 && c < 0x7f; });
}

const Challenge* find_scheme(const std::vector<Challenge>& cs, const std::string& scheme) {
  for (const auto& c : cs) {
    if (c.scheme == scheme) return &c;
  }
  return nullptr;
}

}  // namespace

std::vector<Challenge> parse_challenges(const std::vector<std::string>& headers) {
  std::vector<Challenge> out;
  for (const auto& h : headers) parse_one(h, &out);
  return out;
}

Result<std::optional<AuthConfig>> Authenticator::credentials() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (creds_loaded_) return creds_value_;
  }
  Result<std::optional<AuthConfig>> c =
      creds_ ? creds_() : Result<std::optional<AuthConfig>>(std::optional<AuthConfig>());
  if (!c) return c;
  std::lock_guard<std::mutex> l(mu_);
  creds_loaded_ = true;
  creds_value_ = *c;
  return c;
}

bool Authenticator::have_credentials() {
  std::lock_guard<std::mutex> l(mu_);
  return creds_loaded_ && creds_value_.has_value();
}

http::Request Authenticator::token_request(const std::string& scopes,
                                           const std::optional<AuthConfig>& c) {
  http::Request r;
  std::vector<std::string> scope_list;
  for (auto& s : split(scopes, ' ')) {
    if (!s.empty()) scope_list.push_back(s);
  }
  if (c && !c->identity_token.empty()) {  // OAuth2 refresh-token grant, as docker
    r.method = "POST";
    r.url = realm_;
    std::string form =
        "grant_type=refresh_token&client_id=berth&refresh_token=" + url_escape(c->identity_token) +
        "&service=" + url_escape(service_);
    if (!scope_list.empty()) form += "&scope=" + url_escape(join(scope_list, " "));
    r.headers.push_back("Content-Type: application/x-www-form-urlencoded");
    r.body = std::move(form);
    r.has_body = true;
    return r;
  }
  std::string q;
  if (!service_.empty()) q += "&service=" + url_escape(service_);
  for (const auto& s : scope_list) q += "&scope=" + url_escape(s);
  if (c && !c->username.empty()) {
    q += "&account=" + url_escape(c->username);
    r.headers.push_back("Authorization: Basic " + base64_encode(c->username + ":" + c->password));
  }
  r.url = realm_;
  if (!q.empty()) r.url += (realm_.find('?') == std::string::npos ? "?" : "&") + q.substr(1);
  return r;
}

Result<Authenticator::Token> Authenticator::fetch_token(const std::string& scopes) {
  std::optional<AuthConfig> c = TRY(credentials());
  http::Request req;
  {
    std::lock_guard<std::mutex> l(mu_);
    req = token_request(scopes, c);
  }
  token_requests_++;
  log::debug("registry: token request to " + req.url);
  http::Response resp = send_(req);
  if (resp.transport_failed()) {
    return Error::invalid("cannot get a token from " + req.url.substr(0, req.url.find('?')) + ": " +
                          resp.curl_error);
  }
  if (resp.status == 401 && c && resp.body.find("errors") == std::string::npos) {
    return Error::invalid("unauthorized: incorrect username or password");
  }
  if (resp.status != 200)
    return Error::invalid(describe_error(resp.status, resp.reason, resp.body));
  nlohmann::json j = nlohmann::json::parse(resp.body, nullptr, false);
  Token t;
  int64_t lifetime = kMinTokenLifetime;
  if (j.is_object()) {
    json_read::string(j, "token", &t.value);
    if (t.value.empty()) json_read::string(j, "access_token", &t.value);
    json_read::integer(j, "expires_in", 0, 1 << 30, &lifetime);
  }
  if (!header_safe(t.value)) {
    return Error::invalid("token server " + realm_ + " returned no usable token");
  }
  lifetime = std::max(lifetime, kMinTokenLifetime);
  t.expires = std::chrono::steady_clock::now() + std::chrono::seconds(lifetime);
  return t;
}

Result<std::string> Authenticator::bearer_for(const std::string& scopes, bool force) {
  std::lock_guard<std::mutex> single(fetch_mu_);
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = tokens_.find(scopes);
    if (!force && it != tokens_.end() && it->second.expires - kExpiryMargin > now) {
      return "Bearer " + it->second.value;
    }
  }
  Token t = TRY(fetch_token(scopes));
  std::lock_guard<std::mutex> l(mu_);
  tokens_[scopes] = t;
  return "Bearer " + t.value;
}

Result<std::string> Authenticator::basic_header() {
  std::optional<AuthConfig> c = TRY(credentials());
  if (!c || (c->username.empty() && c->password.empty())) return std::string();
  return "Basic " + base64_encode(c->username + ":" + c->password);
}

Result<std::string> Authenticator::header_for(const std::string& scopes) {
  Scheme s;
  {
    std::lock_guard<std::mutex> l(mu_);
    s = scheme_;
  }
  if (s == Scheme::bearer) return bearer_for(scopes, false);
  if (s == Scheme::basic) return basic_header();
  return std::string();
}

Result<bool> Authenticator::on_unauthorized(const std::vector<std::string>& www_authenticate,
                                            const std::string& scopes, const std::string& sent) {
  std::vector<Challenge> cs = parse_challenges(www_authenticate);
  if (const Challenge* b = find_scheme(cs, "bearer")) {
    auto realm = b->params.find("realm");
    if (realm == b->params.end() ||
        !(starts_with(realm->second, "https://") || starts_with(realm->second, "http://"))) {
      return Error::invalid("registry sent a Bearer challenge without a usable realm");
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      scheme_ = Scheme::bearer;
      realm_ = realm->second;
      auto svc = b->params.find("service");
      service_ = svc == b->params.end() ? "" : svc->second;
    }
    TRY(bearer_for(scopes, !sent.empty()));
    return true;
  }
  if (find_scheme(cs, "basic") != nullptr) {
    {
      std::lock_guard<std::mutex> l(mu_);
      scheme_ = Scheme::basic;
    }
    if (starts_with(sent, "Basic ")) return false;  // these credentials were refused
    std::string h = TRY(basic_header());
    return !h.empty();
  }
  return false;
}

}  // namespace berth::registry
