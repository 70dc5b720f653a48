#include "registry/tls.h"

#include <algorithm>
#include <cerrno>

#include "base/file.h"

namespace berth::registry {
namespace {

bool has_suffix(const std::string& s, const std::string& suffix) {
  return s.size() > suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string stem(const std::string& s) {
  return s.substr(0, s.rfind('.'));
}

Status add_ca(const std::string& path, http::Tls* tls) {
  std::string pem = TRY_CTX(read_file(path, 4 << 20), "read registry CA certificate");
  if (tls->ca_pem.empty()) {
    Result<std::string> system = read_file(http::default_ca_file(), 64 << 20);
    if (system) tls->ca_pem = std::move(*system);
  }
  if (!tls->ca_pem.empty() && tls->ca_pem.back() != '\n') tls->ca_pem += '\n';
  tls->ca_pem += pem;
  return ok();
}

Status add_client_pair(const std::string& dir, const std::string& name,
                       const std::vector<std::string>& names, http::Tls* tls) {
  bool is_cert = has_suffix(name, ".cert");
  std::string other = stem(name) + (is_cert ? ".key" : ".cert");
  if (std::find(names.begin(), names.end(), other) == names.end()) {
    return Error::invalid("missing " + std::string(is_cert ? "key " : "client certificate ") +
                          path_join(dir, other) + " for " +
                          (is_cert ? "client certificate " : "key ") + path_join(dir, name));
  }
  if (!is_cert) return ok();
  tls->cert_file = path_join(dir, name);
  tls->key_file = path_join(dir, other);
  return ok();
}

Status load_dir(const std::string& dir, http::Tls* tls) {
  Result<std::vector<std::string>> names = list_dir(dir);
  if (!names) {
    int e = names.error().code();
    if (e == ENOENT || e == ENOTDIR) return ok();
    return std::move(names).error().context("read registry certificates");
  }
  std::sort(names->begin(), names->end());
  for (const auto& n : *names) {
    if (has_suffix(n, ".crt")) {
      TRY(add_ca(path_join(dir, n), tls));
    } else if (has_suffix(n, ".cert") || has_suffix(n, ".key")) {
      TRY(add_client_pair(dir, n, *names, tls));
    }
  }
  return ok();
}

}  // namespace

Result<http::Tls> load_tls(const std::vector<std::string>& roots, const std::string& host) {
  http::Tls tls;
  for (const auto& root : roots) {
    if (host.empty() || host.find('/') != std::string::npos || host[0] == '.') break;
    TRY(load_dir(path_join(root, host), &tls));
  }
  return tls;
}

}  // namespace berth::registry
