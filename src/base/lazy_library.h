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
#include <mutex>

namespace berth {

// One library, opened once on the first symbol asked for. Constant-initialised, so a loader may
// keep one at namespace scope and use it from any static initialiser.
class LazyLibrary {
 public:
  // soname: "libcurl.so.4"; name: "libcurl" in errors; install_hint: ends the error when it
  // cannot be loaded; symbol_hint: ends the error when a symbol is missing.
  constexpr LazyLibrary(const char* soname, const char* name, const char* install_hint,
                        const char* symbol_hint = "")
      : soname_(soname), name_(name), install_hint_(install_hint), symbol_hint_(symbol_hint) {}
  LazyLibrary(const LazyLibrary&) = delete;
  LazyLibrary& operator=(const LazyLibrary&) = delete;

  // dlsym or exit: "berth: LIB has no NAME" and symbol_hint.
  template <typename F>
  F symbol(const char* symbol_name) {
    void* s = ::dlsym(handle(), symbol_name);
    if (s == nullptr) {
      std::fprintf(stderr, "berth: %s has no %s%s\n", name_, symbol_name, symbol_hint_);
      std::abort();
    }
    return reinterpret_cast<F>(s);
  }

 private:
  // dlopen once or exit: "berth: cannot load LIB (why): install_hint".
  void* handle() {
    std::call_once(once_, [this] {
      handle_ = ::dlopen(soname_, RTLD_NOW | RTLD_LOCAL);
      if (handle_ == nullptr) {
        std::fprintf(stderr, "berth: cannot load %s (%s): %s\n", name_, ::dlerror(), install_hint_);
        std::abort();
      }
    });
    return handle_;
  }

  const char* soname_;
  const char* name_;
  const char* install_hint_;
  const char* symbol_hint_;
  std::once_flag once_;
  void* handle_ = nullptr;
};

}  // namespace berth
