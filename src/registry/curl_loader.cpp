// curl_loader.cpp - libcurl, loaded on the first registry request instead of at every berth
// start. Linked normally, libcurl brings ~25 shared libraries (TLS, Kerberos, LDAP, SSH,
// IDN, brotli...) that the dynamic loader maps and relocates before main() of every berth
// command, though only pull, push and login talk to a registry. These definitions of the
// libcurl functions http.cpp uses forward to the real ones, found with dlopen/dlsym on first
// use; the berth_registry library links libdl instead of libcurl.
//
// curl_easy_setopt, curl_share_setopt and curl_easy_getinfo are variadic: the one argument is
// read with the type libcurl itself reads for that option (its option numbers encode it) and
// passed on.
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <cstdarg>

#include "base/lazy_library.h"

namespace {

constinit berth::LazyLibrary libcurl{"libcurl.so.4", "libcurl", "install libcurl4 (Debian: apt-get install libcurl4)",
                           ": a libcurl 7.71 or newer is needed"};

template <typename F>
F real(const char* name) {
  return libcurl.symbol<F>(name);
}

}  // namespace

extern "C" {

CURLcode curl_global_init(long flags) {
  static auto f = real<CURLcode (*)(long)>("curl_global_init");
  return f(flags);
}

CURL* curl_easy_init(void) {
  static auto f = real<CURL* (*)()>("curl_easy_init");
  return f();
}

void curl_easy_cleanup(CURL* h) {
  static auto f = real<void (*)(CURL*)>("curl_easy_cleanup");
  f(h);
}

void curl_easy_reset(CURL* h) {
  static auto f = real<void (*)(CURL*)>("curl_easy_reset");
  f(h);
}

CURLcode curl_easy_perform(CURL* h) {
  static auto f = real<CURLcode (*)(CURL*)>("curl_easy_perform");
  return f(h);
}

const char* curl_easy_strerror(CURLcode code) {
  static auto f = real<const char* (*)(CURLcode)>("curl_easy_strerror");
  return f(code);
}

CURLcode curl_easy_setopt(CURL* h, CURLoption opt, ...) {
  static auto f = real<CURLcode (*)(CURL*, CURLoption, ...)>("curl_easy_setopt");
  va_list ap;
  va_start(ap, opt);
  CURLcode rc;
  if (opt < CURLOPTTYPE_OBJECTPOINT) rc = f(h, opt, va_arg(ap, long));
  else if (opt < CURLOPTTYPE_OFF_T) rc = f(h, opt, va_arg(ap, void*));  // data and function pointers
  else if (opt < CURLOPTTYPE_BLOB) rc = f(h, opt, va_arg(ap, curl_off_t));
  else rc = f(h, opt, va_arg(ap, void*));  // struct curl_blob*
  va_end(ap);
  return rc;
}

CURLcode curl_easy_getinfo(CURL* h, CURLINFO info, ...) {
  static auto f = real<CURLcode (*)(CURL*, CURLINFO, ...)>("curl_easy_getinfo");
  va_list ap;
  va_start(ap, info);
  CURLcode rc = f(h, info, va_arg(ap, void*));  // always a pointer to the result
  va_end(ap);
  return rc;
}

curl_slist* curl_slist_append(curl_slist* list, const char* s) {
  static auto f = real<curl_slist* (*)(curl_slist*, const char*)>("curl_slist_append");
  return f(list, s);
}

void curl_slist_free_all(curl_slist* list) {
  static auto f = real<void (*)(curl_slist*)>("curl_slist_free_all");
  f(list);
}

CURLSH* curl_share_init(void) {
  static auto f = real<CURLSH* (*)()>("curl_share_init");
  return f();
}

CURLSHcode curl_share_cleanup(CURLSH* sh) {
  static auto f = real<CURLSHcode (*)(CURLSH*)>("curl_share_cleanup");
  return f(sh);
}

CURLSHcode curl_share_setopt(CURLSH* sh, CURLSHoption opt, ...) {
  static auto f = real<CURLSHcode (*)(CURLSH*, CURLSHoption, ...)>("curl_share_setopt");
  va_list ap;
  va_start(ap, opt);
  CURLSHcode rc;
  if (opt == CURLSHOPT_SHARE || opt == CURLSHOPT_UNSHARE) rc = f(sh, opt, va_arg(ap, int));
  else rc = f(sh, opt, va_arg(ap, void*));  // lock/unlock functions, user data
  va_end(ap);
  return rc;
}

curl_version_info_data* curl_version_info(CURLversion v) {
  static auto f = real<curl_version_info_data* (*)(CURLversion)>("curl_version_info");
  return f(v);
}

}  // extern "C"
