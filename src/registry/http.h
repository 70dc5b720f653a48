// http.h - one HTTP exchange over libcurl, with the registry client's needs built in: a 2xx
// body streamed into a ByteSink (or kept, up to a limit), other bodies kept for the error
// message, request bodies from memory or a ByteSource, TLS settings per host, and a stall
// detector (no byte moved for stall_timeout: abandoned). Easy handles are pooled (their
// connections are reused) and share DNS and TLS sessions; Transport is thread-safe.
// Internal to src/registry.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/io.h"

namespace berth::registry::http {

struct Tls {
  bool verify = true;     // false only for insecure registries
  std::string ca_pem;     // system bundle + certs.d CAs; empty = curl's default bundle
  std::string cert_file;  // client certificate (certs.d *.cert), may be empty
  std::string key_file;   // its key (*.key)
};

struct Request {
  std::string method = "GET";  // GET HEAD PUT POST PATCH DELETE
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  const Tls* tls = nullptr;
  // Request body (has_body): `body`, or `upload` (upload_size bytes) when set.
  std::string body;
  ByteSource* upload = nullptr;
  uint64_t upload_size = 0;
  bool has_body = false;
  // A 2xx body goes to sink when set, else into Response::body; non-2xx bodies always into
  // Response::body.
  ByteSink* sink = nullptr;
  // Asks for the body from this offset on (Range). A 206 must start there; a 200 (a server
  // that ignores Range) has its first range_from bytes dropped.
  uint64_t range_from = 0;
  size_t max_body = 1 << 20;  // kept bodies larger than this abort the transfer
  bool follow_redirects = true;
  std::chrono::milliseconds connect_timeout{30000};
  std::chrono::milliseconds stall_timeout{30000};
};

struct Response {
  long status = 0;  // 0: no HTTP response (see curl_code)
  std::string reason;
  std::map<std::string, std::vector<std::string>> headers;  // lower-case names, final response
  std::string body;
  uint64_t delivered = 0;            // bytes handed to the sink (after skip)
  int curl_code = 0;                 // CURLcode
  std::string curl_error;            // curl's message for curl_code
  bool stalled = false;              // no byte moved for stall_timeout
  bool too_large = false;            // kept body over max_body
  bool bad_range = false;            // a 206 that does not start at range_from
  std::optional<Error> local_error;  // the sink or the upload source failed
  std::string effective_url;

  // The first value of a header (name in lower case), "" when absent.
  std::string header(const std::string& name) const;
  bool transport_failed() const { return curl_code != 0; }
};

class Transport {
 public:
  Transport();
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Never fails as a Result: what went wrong is in the Response.
  Response perform(const Request& req);

 private:
  void* take_handle();
  void give_back(void* h);

  struct Share;
  std::unique_ptr<Share> share_;
  std::mutex pool_mu_;
  std::vector<void*> pool_;
};

// The system CA bundle curl uses by default ("" when unknown).
std::string default_ca_file();
// CURLcodes worth retrying: connection refused/reset, timeouts, truncated transfers.
bool retryable_curl_code(int code);
bool tls_verify_failure(int code);

}  // namespace berth::registry::http
