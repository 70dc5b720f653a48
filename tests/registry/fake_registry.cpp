#include "fake_registry.h"

#include <chrono>

#include "util.h"

namespace berth::regtest {
namespace {

const std::vector<std::pair<std::string, std::string>> kJson = {
    {"Content-Type", "application/json"}};

bool take(std::atomic<int>& n) {
  int v = n.load();
  while (v > 0) {
    if (n.compare_exchange_weak(v, v - 1)) return true;
  }
  return false;
}

// "/v2/<repo>/<kind>/<ref>" -> repo, kind, ref
bool split_path(const std::string& path, std::string* repo, std::string* kind, std::string* ref) {
  for (const char* k : {"/manifests/", "/blobs/"}) {
    size_t at = path.rfind(k);
    if (at == std::string::npos || path.compare(0, 4, "/v2/") != 0) continue;
    *repo = path.substr(4, at - 4);
    *kind = std::string(k).substr(1, std::string(k).size() - 2);
    *ref = path.substr(at + std::string(k).size());
    return true;
  }
  return false;
}

size_t range_start(const HttpRequest& r) {
  std::string range = r.header("range");
  if (range.rfind("bytes=", 0) != 0) return 0;
  return std::stoull(range.substr(6));
}

}  // namespace

FakeRegistry::FakeRegistry() {
  server_ = std::make_unique<HttpServer>([this](const HttpRequest& r, Conn& c) { handle(r, c); });
}

void FakeRegistry::add_blob(const std::string& digest, const std::string& data) {
  std::lock_guard<std::mutex> l(mu_);
  blobs_[digest] = data;
}

void FakeRegistry::add_manifest(const std::string& repo, const std::string& ref,
                                const std::string& body, const std::string& media_type) {
  std::lock_guard<std::mutex> l(mu_);
  manifests_[repo + "@" + ref] = {body, media_type};
}

std::vector<std::string> FakeRegistry::requests() {
  std::lock_guard<std::mutex> l(mu_);
  return log_;
}

void FakeRegistry::handle(const HttpRequest& r, Conn& c) {
  {
    std::lock_guard<std::mutex> l(mu_);
    std::string range = r.header("range");
    log_.push_back(r.method + " " + r.target + (range.empty() ? "" : " " + range));
  }
  if (r.path == "/token") {
    ++token_requests;
    return c.respond(200, kJson, R"({"token":"fake-token","expires_in":300})");
  }
  if (take(fail_500)) {
    return c.respond(500, kJson, R"({"errors":[{"code":"UNKNOWN","message":"injected failure"}]})");
  }
  if (unauthorized) {
    std::string challenge = "Bearer realm=\"" + server_->url() + "/token\",service=\"fake\"";
    return c.respond(401, {{"Content-Type", "application/json"}, {"WWW-Authenticate", challenge}},
                     R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]})");
  }
  if (r.path == "/v2/") return c.respond(200, kJson, "{}");
  std::string repo, kind, ref;
  if (!split_path(r.path, &repo, &kind, &ref)) return c.respond(404, kJson, "{}");
  if (kind == "manifests") return serve_manifest(r, c, repo + "@" + ref);
  std::string data;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = blobs_.find(ref);
    if (it == blobs_.end()) {
      return c.respond(
          404, kJson,
          R"({"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]})");
    }
    data = it->second;
  }
  serve_blob(r, c, data);
}

void FakeRegistry::serve_manifest(const HttpRequest& r, Conn& c, const std::string& key) {
  std::pair<std::string, std::string> m;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = manifests_.find(key);
    if (it == manifests_.end()) {
      return c.respond(404, kJson,
                       R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]})");
    }
    m = it->second;
  }
  std::vector<std::pair<std::string, std::string>> h = {
      {"Content-Type", m.second}, {"Docker-Content-Digest", sha256_hex(m.first)}};
  if (r.method == "HEAD") {
    h.emplace_back("Content-Length", std::to_string(m.first.size()));
    return c.head(200, h);
  }
  if (!no_content_length) return c.respond(200, h, m.first);
  c.head(200, h);
  c.send(m.first);
}

void FakeRegistry::serve_blob(const HttpRequest& r, Conn& c, const std::string& data) {
  size_t from = ignore_range ? 0 : std::min(range_start(r), data.size());
  std::vector<std::pair<std::string, std::string>> h = {
      {"Content-Type", "application/octet-stream"},
      {"Content-Length", std::to_string(data.size() - from)}};
  if (from > 0) {
    h.emplace_back("Content-Range", "bytes " + std::to_string(from) + "-" +
                                        std::to_string(data.size() - 1) + "/" +
                                        std::to_string(data.size()));
  }
  c.head(from > 0 ? 206 : 200, h);
  if (r.method == "HEAD") return;
  std::string_view body(data);
  body.remove_prefix(from);
  if (take(stall_blob)) {
    c.send(body.substr(0, stall_after));
    return c.stall(std::chrono::seconds(60));
  }
  if (take(cut_blob)) {
    c.send(body.substr(0, cut_after));
    return;  // the connection closes short of Content-Length
  }
  c.send(body);
}

}  // namespace berth::regtest
