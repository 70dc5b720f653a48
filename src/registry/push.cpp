// push.cpp - the write side of Client: blob uploads (monolithic or chunked), cross-repository
// mounts, manifests.
#include <algorithm>
#include <thread>

#include "base/log.h"
#include "base/strings.h"
#include "registry/client_impl.h"
#include "registry/codec.h"

namespace berth::registry {
namespace {

constexpr auto kMaxBackoff = std::chrono::milliseconds(10000);

std::string with_digest(const std::string& location, const std::string& digest) {
  char sep = location.find('?') == std::string::npos ? '?' : '&';
  return location + sep + "digest=" + url_escape(digest);
}

// Hands out exactly `size` bytes of the caller's source: one that ends early or runs on
// is an error, not a corrupt upload.
class ExactSource : public ByteSource {
 public:
  ExactSource(ByteSource& inner, uint64_t size) : inner_(inner), left_(size) {}
  Result<size_t> read(void* buf, size_t n) override {
    if (left_ == 0) return size_t{0};
    size_t got = TRY(inner_.read(buf, std::min<uint64_t>(n, left_)));
    if (got == 0)
      return Error::invalid("blob source ended " + std::to_string(left_) + " bytes early");
    left_ -= got;
    return got;
  }

 private:
  ByteSource& inner_;
  uint64_t left_;
};

Status read_exact(ByteSource& src, uint64_t n, std::string* out) {
  out->resize(n);
  size_t have = 0;
  while (have < n) {
    size_t got = TRY(src.read(out->data() + have, n - have));
    if (got == 0) return Error::invalid("blob source ended early");
    have += got;
  }
  return ok();
}

bool upload_retryable(const http::Response& r) {
  if (r.transport_failed()) return http::retryable_curl_code(r.curl_code);
  return r.status >= 500 || r.status == 429 || r.status == 408;
}

}  // namespace

// Starts an upload session, or mounts: 201 = mounted (location empty), 202 = session.
static Result<std::string> start_upload(Client::Impl& im, const std::string& repo,
                                        const std::string& scopes, const std::string& query,
                                        bool* mounted) {
  Call c{.method = "POST",
         .path = "/v2/" + repo + "/blobs/uploads/" + query,
         .scopes = scopes,
         .what = "starting an upload to " + repo};
  http::Response r = TRY(im.call(c));
  *mounted = r.status == 201;
  if (*mounted) return std::string();
  std::string loc = r.header("location");
  if (r.status != 202) return im.status_error(r, c);
  if (loc.empty())
    return Error::invalid("registry " + im.registry + " started an upload without a Location");
  return im.absolute_url(loc);
}

static Result<http::Response> put_chunks(Client::Impl& im, std::string& location, ByteSource& src,
                                         uint64_t size, uint64_t chunk, const std::string& scopes) {
  std::string buf;
  for (uint64_t off = 0; off < size;) {
    uint64_t n = std::min(chunk, size - off);
    TRY(read_exact(src, n, &buf));
    Call c{.method = "PATCH",
           .url = location,
           .scopes = scopes,
           .headers = {"Content-Type: application/octet-stream",
                       "Content-Range: " + std::to_string(off) + "-" + std::to_string(off + n - 1)},
           .body = std::move(buf),
           .has_body = true,
           .retry = false,
           .what = "uploading a chunk"};
    http::Response r = TRY(im.exchange(c));
    if (r.status != 202) return r;
    std::string loc = r.header("location");
    if (!loc.empty()) location = im.absolute_url(loc);
    off += n;
  }
  return http::Response{.status = 202};
}

// One upload attempt into the session at location: the final PUT's response, or the first
// one that was not what the protocol expects.
static Result<http::Response> upload_once(Client::Impl& im, std::string location,
                                          const BlobSource& blob, uint64_t chunk,
                                          const std::string& scopes) {
  std::unique_ptr<ByteSource> raw = TRY(blob.open());
  ExactSource src(*raw, blob.size);
  Call put{.method = "PUT",
           .scopes = scopes,
           .headers = {"Content-Type: application/octet-stream"},
           .has_body = true,
           .what = "uploading " + blob.digest};
  if (chunk > 0 && blob.size > chunk) {
    http::Response r = TRY(put_chunks(im, location, src, blob.size, chunk, scopes));
    if (r.status != 202) return r;
  } else {
    put.upload = &src;
    put.upload_size = blob.size;
  }
  put.url = with_digest(location, blob.digest);
  return im.exchange(put);
}

static Status check_uploaded(Client::Impl& im, const http::Response& r, const BlobSource& blob) {
  std::string d = r.header("docker-content-digest");
  if (!d.empty() && d != blob.digest) {
    return Error::invalid("registry " + im.registry + " stored " + blob.digest + " as " + d);
  }
  return ok();
}

static Status upload_with_retries(Client::Impl& im, const std::string& repo, std::string location,
                                  const BlobSource& blob, const PushOptions& opts,
                                  const std::string& scopes) {
  auto wait = im.opts.retry_backoff;
  for (int attempt = 1;; ++attempt) {
    bool mounted = false;
    if (location.empty()) location = TRY(start_upload(im, repo, scopes, "", &mounted));
    http::Response r = TRY(upload_once(im, location, blob, opts.chunk_size, scopes));
    Call what{.what = "uploading " + blob.digest + " to " + repo};
    if (r.status == 201 || r.status == 204) return check_uploaded(im, r, blob);
    if (attempt >= im.opts.max_attempts || !upload_retryable(r)) {
      return r.transport_failed() ? im.transport_error(r, what) : im.status_error(r, what);
    }
    log::debug("registry " + im.registry + ": retrying the upload of " + blob.digest);
    location.clear();
    std::this_thread::sleep_for(wait);
    wait = std::min(wait * 2, kMaxBackoff);
  }
}

Result<PushOutcome> Client::push_blob(const std::string& repo, const BlobSource& blob,
                                      const PushOptions& opts) {
  TRY(check_repo(repo));
  TRY(check_digest(blob.digest));
  if (!opts.mount_from.empty()) TRY(check_repo(opts.mount_from));
  std::string scopes = push_scope(repo);
  if (!opts.mount_from.empty() && opts.mount_from != repo) {
    scopes += " " + pull_scope(opts.mount_from);
  }
  Call head{.method = "HEAD",
            .path = "/v2/" + repo + "/blobs/" + blob.digest,
            .scopes = scopes,
            .what = "checking blob " + blob.digest};
  http::Response h = TRY(impl_->call(head));
  if (h.status == 200) return PushOutcome::existed;
  if (h.status != 404) return impl_->status_error(h, head);
  std::string location;
  if (!opts.mount_from.empty() && opts.mount_from != repo) {
    bool mounted = false;
    std::string q = "?mount=" + url_escape(blob.digest) + "&from=" + url_escape(opts.mount_from);
    location = TRY(start_upload(*impl_, repo, scopes, q, &mounted));
    if (mounted) return PushOutcome::mounted;
  }
  TRY(upload_with_retries(*impl_, repo, location, blob, opts, scopes));
  return PushOutcome::uploaded;
}

Result<bool> Client::mount_blob(const std::string& repo, const std::string& digest,
                                const std::string& from) {
  TRY(check_repo(repo));
  TRY(check_repo(from));
  TRY(check_digest(digest));
  std::string scopes = push_scope(repo) + " " + pull_scope(from);
  bool mounted = false;
  std::string q = "?mount=" + url_escape(digest) + "&from=" + url_escape(from);
  std::string location = TRY(start_upload(*impl_, repo, scopes, q, &mounted));
  if (mounted) return true;
  Call cancel{
      .method = "DELETE", .url = location, .scopes = scopes, .what = "cancelling an upload"};
  (void)impl_->call(cancel);  // best effort: the registry expires abandoned sessions anyway
  return false;
}

Result<std::string> Client::put_manifest(const std::string& repo, const std::string& ref,
                                         const std::string& media_type, const std::string& body) {
  TRY(check_repo(repo));
  TRY(check_reference(ref));
  std::string digest = sha256_digest(body);
  if (ref.find(':') != std::string::npos && ref != digest) {
    return Error::invalid("manifest digest " + digest + " does not match " + ref);
  }
  Call c{.method = "PUT",
         .path = "/v2/" + repo + "/manifests/" + ref,
         .scopes = push_scope(repo),
         .headers = {"Content-Type: " + media_type},
         .body = body,
         .has_body = true,
         .what = "pushing manifest " + repo + ":" + ref};
  http::Response r = TRY(impl_->call(c));
  if (r.status != 201 && r.status != 200) return impl_->status_error(r, c);
  std::string claimed = r.header("docker-content-digest");
  if (starts_with(claimed, "sha256:") && claimed != digest) {
    return Error::invalid("registry " + impl_->registry + " stored manifest " + digest + " as " +
                          claimed);
  }
  return digest;
}

}  // namespace berth::registry
