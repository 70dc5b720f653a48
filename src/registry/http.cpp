#include "registry/http.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "base/strings.h"

namespace berth::registry::http {
namespace {

constexpr size_t kPoolMax = 32;

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

void global_init() {
  static CurlGlobal g;
}

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

// State of one transfer, seen by the callbacks.
struct Transfer {
  CURL* curl;
  const Request* req;
  Response* resp;
  uint64_t to_skip = 0;
  bool body_started = false;
  std::string_view body_left;
  curl_off_t last_dl = -1, last_ul = -1;
  std::chrono::steady_clock::time_point last_move;
};

bool is_2xx(long s) {
  return s >= 200 && s < 300;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (starts_with(line, "HTTP/")) {  // a new response (redirect, 100-continue): start over
    t->resp->headers.clear();
    size_t sp = line.find(' ');
    size_t sp2 = sp == std::string_view::npos ? sp : line.find(' ', sp + 1);
    if (sp2 != std::string_view::npos) t->resp->reason = std::string(trim(line.substr(sp2 + 1)));
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  std::string name(trim(line.substr(0, colon)));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  t->resp->headers[name].emplace_back(trim(line.substr(colon + 1)));
  return size * n;
}

long current_status(CURL* h) {
  long s = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &s);
  return s;
}

size_t keep_body(Transfer* t, std::string_view data) {
  if (t->resp->body.size() + data.size() > t->req->max_body) {
    t->resp->too_large = true;
    return 0;  // aborts the transfer
  }
  t->resp->body.append(data);
  return data.size();
}

// Content-Range: bytes START-END/TOTAL
bool range_starts_at(const Response& r, uint64_t offset) {
  std::string cr = r.header("content-range");
  if (!starts_with(cr, "bytes ")) return false;
  size_t dash = cr.find('-');
  if (dash == std::string::npos) return false;
  std::optional<uint64_t> start = parse_uint(std::string_view(cr).substr(6, dash - 6));
  return start && *start == offset;
}

size_t to_sink(Transfer* t, long status, std::string_view data) {
  if (!t->body_started) {
    t->body_started = true;
    if (status == 206) {
      t->to_skip = 0;
      if (!range_starts_at(*t->resp, t->req->range_from)) {
        t->resp->bad_range = true;
        return 0;
      }
    }
  }
  size_t all = data.size();
  size_t drop = static_cast<size_t>(std::min<uint64_t>(t->to_skip, data.size()));
  t->to_skip -= drop;
  data.remove_prefix(drop);
  if (data.empty()) return all;
  Status s = t->req->sink->write(data);
  if (!s) {
    t->resp->local_error = std::move(s).error();
    return 0;
  }
  t->resp->delivered += data.size();
  return all;
}

size_t on_write(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view chunk(data, size * n);
  long status = current_status(t->curl);
  if (status >= 300 && status < 400 && t->req->follow_redirects) return chunk.size();
  if (is_2xx(status) && t->req->sink != nullptr) return to_sink(t, status, chunk);
  return keep_body(t, chunk);
}

size_t on_read(char* buf, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t cap = size * n;
  if (t->req->upload == nullptr) {
    size_t k = std::min(cap, t->body_left.size());
    memcpy(buf, t->body_left.data(), k);
    t->body_left.remove_prefix(k);
    return k;
  }
  Result<size_t> r = t->req->upload->read(buf, cap);
  if (!r) {
    t->resp->local_error = std::move(r).error();
    return CURL_READFUNC_ABORT;
  }
  return *r;
}

int on_progress(void* user, curl_off_t, curl_off_t dlnow, curl_off_t, curl_off_t ulnow) {
  auto* t = static_cast<Transfer*>(user);
  auto now = std::chrono::steady_clock::now();
  if (dlnow != t->last_dl || ulnow != t->last_ul) {
    t->last_dl = dlnow;
    t->last_ul = ulnow;
    t->last_move = now;
    return 0;
  }
  if (now - t->last_move < t->req->stall_timeout) return 0;
  t->resp->stalled = true;
  return 1;
}

}  // namespace

struct Transport::Share {
  CURLSH* sh = nullptr;
  std::mutex locks[CURL_LOCK_DATA_LAST];
  static void lock(CURL*, curl_lock_data d, curl_lock_access, void* self) {
    static_cast<Share*>(self)->locks[d].lock();
  }
  static void unlock(CURL*, curl_lock_data d, void* self) {
    static_cast<Share*>(self)->locks[d].unlock();
  }
  Share() {
    sh = curl_share_init();
    curl_share_setopt(sh, CURLSHOPT_LOCKFUNC, &Share::lock);
    curl_share_setopt(sh, CURLSHOPT_UNLOCKFUNC, &Share::unlock);
    curl_share_setopt(sh, CURLSHOPT_USERDATA, this);
    curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  }
  ~Share() { curl_share_cleanup(sh); }
};

namespace {

void set_method(CURL* h, const Request& r) {
  if (r.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (r.has_body) {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    uint64_t n = r.upload != nullptr ? r.upload_size : r.body.size();
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(n));
    if (r.method != "PUT") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r.method.c_str());
  } else if (r.method == "POST") {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
  } else if (r.method != "GET") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r.method.c_str());
  }
}

void set_tls(CURL* h, const Tls* tls) {
  if (tls == nullptr) return;
  if (!tls->verify) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!tls->ca_pem.empty()) {
    curl_blob blob{const_cast<char*>(tls->ca_pem.data()), tls->ca_pem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
  }
  if (!tls->cert_file.empty()) {
    curl_easy_setopt(h, CURLOPT_SSLCERT, tls->cert_file.c_str());
    curl_easy_setopt(h, CURLOPT_SSLKEY, tls->key_file.c_str());
  }
}

void set_callbacks(CURL* h, Transfer* t) {
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, t);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &on_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(h, CURLOPT_READFUNCTION, &on_read);
  curl_easy_setopt(h, CURLOPT_READDATA, t);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &on_progress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, t);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
}

void set_common(CURL* h, const Request& r) {
  curl_easy_setopt(h, CURLOPT_URL, r.url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  // Parallel blob fetches want one TCP stream each, not one multiplexed HTTP/2 connection.
  curl_easy_setopt(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, r.follow_redirects ? 1L : 0L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(r.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 256L << 10);
}

}  // namespace

Transport::Transport() : share_(std::make_unique<Share>()) {
  global_init();
}

Transport::~Transport() {
  for (void* h : pool_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* Transport::take_handle() {
  {
    std::lock_guard<std::mutex> l(pool_mu_);
    if (!pool_.empty()) {
      void* h = pool_.back();
      pool_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void Transport::give_back(void* h) {
  curl_easy_reset(static_cast<CURL*>(h));  // keeps its live connections for the next user
  std::lock_guard<std::mutex> l(pool_mu_);
  if (pool_.size() < kPoolMax) {
    pool_.push_back(h);
    return;
  }
  curl_easy_cleanup(static_cast<CURL*>(h));
}

Response Transport::perform(const Request& req) {
  Response resp;
  CURL* h = static_cast<CURL*>(take_handle());
  if (h == nullptr) {
    resp.curl_code = CURLE_FAILED_INIT;
    resp.curl_error = "cannot create a curl handle";
    return resp;
  }
  Transfer t{
      h, &req, &resp, req.range_from, false, req.body, -1, -1, std::chrono::steady_clock::now()};
  Slist headers;
  for (const auto& hd : req.headers)
    headers.reset(curl_slist_append(headers.release(), hd.c_str()));
  headers.reset(curl_slist_append(headers.release(), "Expect:"));
  if (req.range_from > 0) {
    std::string range = "Range: bytes=" + std::to_string(req.range_from) + "-";
    headers.reset(curl_slist_append(headers.release(), range.c_str()));
  }
  char errbuf[CURL_ERROR_SIZE] = "";
  set_common(h, req);
  set_method(h, req);
  set_tls(h, req.tls);
  set_callbacks(h, &t);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_SHARE, share_->sh);
  CURLcode rc = curl_easy_perform(h);
  resp.status = current_status(h);
  resp.curl_code = rc;
  if (rc != CURLE_OK) resp.curl_error = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
  char* eff = nullptr;
  if (curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff) {
    resp.effective_url = eff;
  }
  give_back(h);
  return resp;
}

std::string Response::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() || it->second.empty() ? std::string() : it->second.front();
}

std::string default_ca_file() {
  global_init();
  const curl_version_info_data* v = curl_version_info(CURLVERSION_NOW);
  if (v != nullptr && v->age >= CURLVERSION_SEVENTH && v->cainfo != nullptr) return v->cainfo;
  return "/etc/ssl/certs/ca-certificates.crt";
}

bool retryable_curl_code(int code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_ABORTED_BY_CALLBACK:  // the stall detector
      return true;
    default:
      return false;
  }
}

bool tls_verify_failure(int code) {
  return code == CURLE_PEER_FAILED_VERIFICATION;
}

}  // namespace berth::registry::http
