// lazy_library.h - a shared library opened on its first use. berth links none of libcurl,
// libnftables and libcrypto: each has a loader (registry/curl_loader.cpp,
// network/nft_loader.cpp, base/crypto_loader.cpp; storage/archive_loader.cpp is generated)
// that defines the functions berth calls and forwards them to the real ones, so commands
// that never need the library never pay for loading it. A library or symbol that is missing
// ends the process with one line naming it and what to install: there is no way on.
#pragma once

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

namespace berth {

// dlopen(soname) or exit: "berth: cannot load LIB (why): HINT".
inline void* open_library_or_die(const char* soname, const char* lib, const char* install_hint) {
  void* h = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (h == nullptr) {
    std::fprintf(stderr, "berth: cannot load %s (%s): %s\n", lib, ::dlerror(), install_hint);
    std::abort();
  }
  return h;
}

// dlsym(handle, name) or exit: "berth: LIB has no NAME" and what_else.
template <typename F>
F symbol_or_die(void* handle, const char* lib, const char* name, const char* what_else = "") {
  void* s = ::dlsym(handle, name);
  if (s == nullptr) {
    std::fprintf(stderr, "berth: %s has no %s%s\n", lib, name, what_else);
    std::abort();
  }
  return reinterpret_cast<F>(s);
}

}  // namespace berth
