#include "registry/client.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/file.h"
#include "base/log.h"
#include "base/strings.h"
#include "registry/client_impl.h"
#include "registry/codec.h"
#include "registry/errors.h"
#include "registry/tls.h"

namespace berth::registry {
namespace {

constexpr auto kMaxBackoff = std::chrono::milliseconds(10000);
constexpr auto kMaxRetryAfter = std::chrono::seconds(30);

// "https://host:5000/v2/x" -> "host:5000"
std::string url_host(const std::string& url) {
  size_t b = url.find("://");
  b = b == std::string::npos ? 0 : b + 3;
  return url.substr(b, url.find('/', b) - b);
}

std::string strip_port(const std::string& host) {
  if (!host.empty() && host[0] == '[') return host.substr(1, host.find(']') - 1);
  size_t colon = host.rfind(':');
  if (colon == std::string::npos || host.find(':') != colon) return host;
  return host.substr(0, colon);
}

bool is_loopback(const std::string& host) {
  std::string h = strip_port(host);
  return h == "localhost" || h == "::1" || starts_with(h, "127.");
}

bool retryable(const http::Response& r) {
  if (r.local_error || r.too_large || r.bad_range) return false;
  if (r.transport_failed()) return http::retryable_curl_code(r.curl_code);
  return r.status == 408 || r.status == 429 || r.status == 500 || r.status == 502 ||
         r.status == 503 || r.status == 504;
}

std::chrono::milliseconds retry_wait(const http::Response& r, std::chrono::milliseconds backoff) {
  std::optional<uint64_t> after = parse_uint(r.header("retry-after"));
  if (!after) return backoff;
  auto s = std::chrono::seconds(std::min<uint64_t>(*after, kMaxRetryAfter.count()));
  return std::max<std::chrono::milliseconds>(backoff, s);
}

bool valid_chars(const std::string& s, const char* extra) {
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr(extra, c) != nullptr;
  });
}

}  // namespace

const std::vector<std::string>& manifest_media_types() {
  static const std::vector<std::string> types = {
      "application/vnd.oci.image.index.v1+json",
      "application/vnd.docker.distribution.manifest.list.v2+json",
      "application/vnd.oci.image.manifest.v1+json",
      "application/vnd.docker.distribution.manifest.v2+json",
  };
  return types;
}

std::vector<std::string> default_certs_dirs(const std::string& config_dir) {
  return {"/etc/docker/certs.d", path_join(config_dir, "certs.d")};
}

Status check_repo(const std::string& repo) {
  bool ok_syntax = !repo.empty() && repo.size() <= 255 && valid_chars(repo, "._-/") &&
                   repo.front() != '/' && repo.back() != '/' &&
                   repo.find("//") == std::string::npos && repo.find("..") == std::string::npos;
  if (!ok_syntax) return Error::invalid("invalid repository name", repo);
  return ok();
}

Status check_digest(const std::string& digest) {
  size_t colon = digest.find(':');
  bool ok_syntax = colon != std::string::npos && colon > 0 && digest.size() - colon > 32 &&
                   valid_chars(digest.substr(0, colon), "+._-") &&
                   valid_chars(digest.substr(colon + 1), "ABCDEFGHIJKLMNOPQRSTUVWXYZ=_-") &&
                   digest.size() <= 256;
  if (!ok_syntax) return Error::invalid("invalid digest", digest);
  return ok();
}

Status check_reference(const std::string& ref) {
  if (ref.find(':') != std::string::npos) return check_digest(ref);
  bool ok_syntax = !ref.empty() && ref.size() <= 128 && ref[0] != '.' && ref[0] != '-' &&
                   valid_chars(ref, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_.-");
  if (!ok_syntax) return Error::invalid("invalid tag", ref);
  return ok();
}

std::string pull_scope(const std::string& repo) {
  return "repository:" + repo + ":pull";
}
std::string push_scope(const std::string& repo) {
  return "repository:" + repo + ":pull,push";
}

Client::Impl::Impl(std::string reg, ClientOptions o)
    : registry(std::move(reg)),
      host(registry == "docker.io" || registry == "index.docker.io" ? "registry-1.docker.io"
                                                                    : registry),
      opts(std::move(o)),
      auth([this](http::Request& r) { return send_with_retries(r); },
           [this] { return lookup_credentials(); }) {}

Result<std::optional<AuthConfig>> Client::Impl::lookup_credentials() {
  if (opts.auth) return opts.auth;
  if (opts.credentials == nullptr) return std::optional<AuthConfig>();
  return opts.credentials->get(registry);
}

bool Client::Impl::insecure() const {
  const auto& list = opts.insecure_registries;
  if (std::find(list.begin(), list.end(), registry) != list.end()) return true;
  return opts.loopback_insecure && is_loopback(host);
}

Result<const http::Tls*> Client::Impl::tls_for(const std::string& url) {
  std::string h = url_host(url);
  std::lock_guard<std::mutex> l(tls_mu_);
  auto it = tls_.find(h);
  if (it != tls_.end()) return &it->second;
  http::Tls tls = TRY(load_tls(opts.certs_dirs, h == host ? registry : h));
  if (h == host && insecure()) tls.verify = false;
  return &tls_.emplace(h, std::move(tls)).first->second;
}

// docker's order for an insecure registry: https without verification, then plain http.
Result<std::string> Client::Impl::resolve_endpoint() {
  std::lock_guard<std::mutex> l(endpoint_mu_);
  if (!endpoint_.empty()) return endpoint_;
  std::string https = "https://" + host;
  if (!insecure()) return endpoint_ = https;
  http::Request probe;
  probe.url = https + "/v2/";
  probe.tls = TRY(tls_for(probe.url));
  probe.connect_timeout = opts.connect_timeout;
  probe.stall_timeout = opts.stall_timeout;
  http::Response r = transport.perform(probe);
  endpoint_ = r.transport_failed() ? "http://" + host : https;
  log::debug("registry " + registry + ": using " + endpoint_);
  return endpoint_;
}

std::string Client::Impl::absolute_url(const std::string& location) {
  if (starts_with(location, "https://") || starts_with(location, "http://")) return location;
  Result<std::string> ep = resolve_endpoint();
  std::string base = ep ? *ep : "https://" + host;
  return base + (starts_with(location, "/") ? "" : "/") + location;
}

http::Response Client::Impl::send_with_retries(http::Request& req) {
  Result<const http::Tls*> tls = tls_for(req.url);
  req.tls = tls ? *tls : nullptr;
  req.connect_timeout = opts.connect_timeout;
  req.stall_timeout = opts.stall_timeout;
  auto wait = opts.retry_backoff;
  for (int attempt = 1;; ++attempt) {
    http::Response r = transport.perform(req);
    if (!retryable(r) || attempt >= opts.max_attempts) return r;
    std::this_thread::sleep_for(retry_wait(r, wait));
    wait = std::min(wait * 2, kMaxBackoff);
  }
}

Result<http::Request> Client::Impl::make_request(const Call& c, const std::string& url) {
  http::Request r;
  r.method = c.method;
  r.url = url;
  r.tls = TRY(tls_for(url));
  r.headers = c.headers;
  r.headers.push_back("User-Agent: " + opts.user_agent);
  r.body = c.body;
  r.has_body = c.has_body || c.upload != nullptr;
  r.upload = c.upload;
  r.upload_size = c.upload_size;
  r.sink = c.sink;
  r.range_from = c.sink != nullptr ? c.offset : 0;
  r.max_body = c.max_body;
  r.connect_timeout = opts.connect_timeout;
  r.stall_timeout = opts.stall_timeout;
  return r;
}

Result<http::Response> Client::Impl::call(Call& c) {
  http::Response r = TRY(exchange(c));
  if (r.transport_failed()) return transport_error(r, c);
  return r;
}

Result<http::Response> Client::Impl::exchange(Call& c) {
  std::string url = c.url.empty() ? TRY(resolve_endpoint()) + c.path : c.url;
  bool send_auth = c.authenticate && starts_with(url, TRY(resolve_endpoint()) + "/");
  bool auth_refreshed = false;
  auto wait = opts.retry_backoff;
  for (int attempt = 1;; ++attempt) {
    std::string authz = send_auth ? TRY(auth.header_for(c.scopes)) : std::string();
    http::Request req = TRY(make_request(c, url));
    if (!authz.empty()) req.headers.push_back("Authorization: " + authz);
    http::Response r = transport.perform(req);
    c.offset += r.delivered;
    if (r.local_error) return *r.local_error;
    if (r.status == 401 && send_auth && !auth_refreshed && c.upload == nullptr) {
      auth_refreshed = true;
      bool again = TRY(auth.on_unauthorized(r.headers["www-authenticate"], c.scopes, authz));
      if (again) continue;
    }
    bool again = c.retry && c.upload == nullptr && retryable(r) && attempt < opts.max_attempts;
    if (!again) return r;
    log::debug("registry " + registry + ": retrying " + c.what + " (" +
               (r.transport_failed() ? r.curl_error : "HTTP " + std::to_string(r.status)) + ")");
    std::this_thread::sleep_for(retry_wait(r, wait));
    wait = std::min(wait * 2, kMaxBackoff);
  }
}

Error Client::Impl::transport_error(const http::Response& r, const Call& c) {
  std::string reg = "registry " + registry;
  if (r.stalled) {
    auto s = std::chrono::duration_cast<std::chrono::seconds>(opts.stall_timeout).count();
    return Error::invalid(reg + " stalled: no data for " + std::to_string(s) + "s while " + c.what);
  }
  if (r.too_large) {
    return Error::invalid(reg + " sent too much while " + c.what + ": more than " +
                          std::to_string(c.max_body) + " bytes");
  }
  if (r.bad_range) {
    return Error::invalid(reg + " answered a Range request with the wrong range while " + c.what);
  }
  if (http::tls_verify_failure(r.curl_code)) {
    std::string dir = opts.certs_dirs.empty() ? "/etc/docker/certs.d" : opts.certs_dirs.front();
    return Error::invalid(reg + ": TLS certificate not trusted (" + r.curl_error +
                          "); put the registry's CA certificate in " + path_join(dir, registry) +
                          "/ca.crt");
  }
  return Error::invalid(reg + ": " + r.curl_error + " while " + c.what);
}

Error Client::Impl::status_error(const http::Response& r, const Call& c) {
  std::string msg = describe_error(r.status, r.reason, r.body);
  if (r.status == 401 && opts.credentials != nullptr && opts.credentials->problem()) {
    msg += " (no credentials were read: " + opts.credentials->problem()->message() + ")";
  }
  Error e = Error::invalid(msg);
  e.context(c.what + " from registry " + registry);
  return e;
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

Result<std::unique_ptr<Client>> Client::create(const std::string& registry, ClientOptions opts) {
  if (registry.empty() || registry.find_first_of("/?#@ \t\r\n") != std::string::npos) {
    return Error::invalid("invalid registry name", registry);
  }
  return std::unique_ptr<Client>(new Client(std::make_unique<Impl>(registry, std::move(opts))));
}

const std::string& Client::registry() const {
  return impl_->registry;
}

Result<std::string> Client::endpoint() {
  return impl_->resolve_endpoint();
}

int Client::token_requests() const {
  return impl_->auth.token_requests();
}

Status Client::ping() {
  Call c{.path = "/v2/", .authenticate = false, .what = "checking the v2 API"};
  http::Response r = TRY(impl_->call(c));
  if (r.status == 200 || r.status == 401) return ok();
  return impl_->status_error(r, c);
}

Status Client::login() {
  Call c{.path = "/v2/", .what = "logging in"};
  http::Response r = TRY(impl_->call(c));
  if (r.status == 200) return ok();
  return impl_->status_error(r, c);
}

}  // namespace berth::registry
