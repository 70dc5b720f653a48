// crypto_loader.cpp - libcrypto, loaded the first time berth hashes (a pull, a push, a
// commit, a build) instead of at every berth start: linked normally, loading and relocating it
// and its start-up constructor cost ~0.8 ms of every command, `run` included, which never
// hashes. These definitions of the few functions berth calls forward to the real ones, found
// with dlopen/dlsym on first use. libcurl, loaded later by a registry command, maps the same
// libcrypto.so.3, so one process never holds two copies.
#include <openssl/evp.h>

#include "base/lazy_library.h"

namespace {

constinit berth::LazyLibrary libcrypto{"libcrypto.so.3", "libcrypto", "install libssl3"};

template <typename F>
F real(const char* name) {
  return libcrypto.symbol<F>(name);
}

}  // namespace

extern "C" {

EVP_MD_CTX* EVP_MD_CTX_new(void) {
  static auto f = real<EVP_MD_CTX* (*)()>("EVP_MD_CTX_new");
  return f();
}

void EVP_MD_CTX_free(EVP_MD_CTX* ctx) {
  if (ctx == nullptr) return;  // nothing to free: no need to load the library for it
  static auto f = real<void (*)(EVP_MD_CTX*)>("EVP_MD_CTX_free");
  f(ctx);
}

int EVP_DigestInit_ex(EVP_MD_CTX* ctx, const EVP_MD* type, ENGINE* impl) {
  static auto f = real<int (*)(EVP_MD_CTX*, const EVP_MD*, ENGINE*)>("EVP_DigestInit_ex");
  return f(ctx, type, impl);
}

int EVP_DigestUpdate(EVP_MD_CTX* ctx, const void* d, size_t cnt) {
  static auto f = real<int (*)(EVP_MD_CTX*, const void*, size_t)>("EVP_DigestUpdate");
  return f(ctx, d, cnt);
}

int EVP_DigestFinal_ex(EVP_MD_CTX* ctx, unsigned char* md, unsigned int* s) {
  static auto f = real<int (*)(EVP_MD_CTX*, unsigned char*, unsigned int*)>("EVP_DigestFinal_ex");
  return f(ctx, md, s);
}

int EVP_Digest(const void* data, size_t count, unsigned char* md, unsigned int* size,
               const EVP_MD* type, ENGINE* impl) {
  static auto f = real<int (*)(const void*, size_t, unsigned char*, unsigned int*, const EVP_MD*,
                               ENGINE*)>("EVP_Digest");
  return f(data, count, md, size, type, impl);
}

const EVP_MD* EVP_sha256(void) {
  static auto f = real<const EVP_MD* (*)()>("EVP_sha256");
  return f();
}

const EVP_MD* EVP_sha512(void) {
  static auto f = real<const EVP_MD* (*)()>("EVP_sha512");
  return f();
}

}  // extern "C"
