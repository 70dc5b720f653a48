// pull.cpp - the read side of Client: manifests and blobs.
#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "registry/client_impl.h"
#include "registry/codec.h"

namespace berth::registry {
namespace {

std::string accept_header(const std::vector<std::string>& accept) {
  const auto& types = accept.empty() ? manifest_media_types() : accept;
  return "Accept: " + join(types, ", ");
}

std::string media_type_of(const http::Response& r) {
  std::string ct = r.header("content-type");
  return std::string(trim(ct.substr(0, ct.find(';'))));
}

// The registry's own digest for what it sent must be the one we compute, and a manifest
// asked for by digest must have that digest.
Status check_manifest_digest(const std::string& ref, const std::string& computed,
                             const http::Response& r, const std::string& what) {
  bool by_digest = ref.find(':') != std::string::npos;
  if (by_digest && !starts_with(ref, "sha256:")) {
    return Error::invalid("unsupported digest algorithm in " + ref);
  }
  if (by_digest && ref != computed) {
    return Error::invalid("manifest digest mismatch while " + what + ": got " + computed);
  }
  std::string claimed = r.header("docker-content-digest");
  if (starts_with(claimed, "sha256:") && claimed != computed) {
    return Error::invalid("manifest digest mismatch while " + what + ": registry says " + claimed +
                          ", content is " + computed);
  }
  return ok();
}

// Refuses bytes beyond the size the manifest gave the blob.
class BoundedSink : public ByteSink {
 public:
  BoundedSink(ByteSink& inner, std::optional<uint64_t> limit, uint64_t already, std::string what)
      : inner_(inner), limit_(limit), seen_(already), what_(std::move(what)) {}
  Status write(std::string_view data) override {
    seen_ += data.size();
    if (limit_ && seen_ > *limit_) {
      return Error::invalid("registry sent more than the " + std::to_string(*limit_) +
                            " bytes expected while " + what_);
    }
    return inner_.write(data);
  }

 private:
  ByteSink& inner_;
  std::optional<uint64_t> limit_;
  uint64_t seen_;
  std::string what_;
};

}  // namespace

Result<Manifest> Client::get_manifest(const std::string& repo, const std::string& ref,
                                      const std::vector<std::string>& accept) {
  TRY(check_repo(repo));
  TRY(check_reference(ref));
  Call c{
      .path = "/v2/" + repo + "/manifests/" + ref,
      .scopes = pull_scope(repo),
      .headers = {accept_header(accept)},
      .max_body = impl_->opts.max_manifest_bytes,
      .what = "fetching manifest " + repo + (ref.find(':') == std::string::npos ? ":" : "@") + ref};
  http::Response r = TRY(impl_->call(c));
  if (r.status != 200) return impl_->status_error(r, c);
  Manifest m{std::move(r.body), media_type_of(r), ""};
  m.digest = sha256_digest(m.body);
  TRY(check_manifest_digest(ref, m.digest, r, c.what));
  nlohmann::json j = nlohmann::json::parse(m.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Error::invalid("invalid manifest while " + c.what + ": not a JSON object");
  }
  if (m.media_type.empty() || m.media_type == "application/json") {
    if (auto mt = j.find("mediaType"); mt != j.end() && mt->is_string()) m.media_type = *mt;
  }
  return m;
}

Result<std::optional<Descriptor>> Client::head_manifest(const std::string& repo,
                                                        const std::string& ref,
                                                        const std::vector<std::string>& accept) {
  TRY(check_repo(repo));
  TRY(check_reference(ref));
  Call c{.method = "HEAD",
         .path = "/v2/" + repo + "/manifests/" + ref,
         .scopes = pull_scope(repo),
         .headers = {accept_header(accept)},
         .what = "checking manifest " + repo + " " + ref};
  http::Response r = TRY(impl_->call(c));
  if (r.status == 404) return std::optional<Descriptor>();
  if (r.status != 200) return impl_->status_error(r, c);
  Descriptor d{media_type_of(r), r.header("docker-content-digest"), 0};
  d.size = parse_uint(r.header("content-length")).value_or(0);
  return std::optional<Descriptor>(d);
}

Result<std::optional<uint64_t>> Client::head_blob(const std::string& repo,
                                                  const std::string& digest) {
  TRY(check_repo(repo));
  TRY(check_digest(digest));
  Call c{.method = "HEAD",
         .path = "/v2/" + repo + "/blobs/" + digest,
         .scopes = pull_scope(repo),
         .what = "checking blob " + digest};
  http::Response r = TRY(impl_->call(c));
  if (r.status == 404) return std::optional<uint64_t>();
  if (r.status != 200) return impl_->status_error(r, c);
  return std::optional<uint64_t>(parse_uint(r.header("content-length")).value_or(0));
}

Status Client::fetch_blob(const std::string& repo, const std::string& digest, ByteSink& sink,
                          const FetchOptions& opts) {
  TRY(check_repo(repo));
  TRY(check_digest(digest));
  std::string what = "fetching " + digest;
  BoundedSink bounded(sink, opts.size, opts.offset, what);
  Call c{.path = "/v2/" + repo + "/blobs/" + digest,
         .scopes = pull_scope(repo),
         .sink = &bounded,
         .offset = opts.offset,
         .what = what};
  http::Response r = TRY(impl_->call(c));
  if (r.status != 200 && r.status != 206) return impl_->status_error(r, c);
  if (opts.size && c.offset != *opts.size) {
    return Error::invalid("registry " + impl_->registry + " sent " + std::to_string(c.offset) +
                          " of " + std::to_string(*opts.size) + " bytes while " + what);
  }
  return ok();
}

}  // namespace berth::registry
