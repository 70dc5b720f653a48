// nft_loader.cpp - libnftables, loaded when berth first changes nftables rules (a network's
// NAT, a published port) instead of at every berth start: linked normally it brings
// libnftnl, libxtables, libjansson and libgmp into every command. These definitions of the
// functions nat.cpp uses forward to the real ones, found with dlopen/dlsym on first use.
#include <nftables/libnftables.h>

#include "base/lazy_library.h"

namespace {

constinit berth::LazyLibrary libnftables{"libnftables.so.1", "libnftables", "install libnftables1"};

template <typename F>
F real(const char* name) {
  return libnftables.symbol<F>(name);
}

}  // namespace

extern "C" {

struct nft_ctx* nft_ctx_new(uint32_t flags) {
  static auto f = real<struct nft_ctx* (*)(uint32_t)>("nft_ctx_new");
  return f(flags);
}

void nft_ctx_free(struct nft_ctx* ctx) {
  static auto f = real<void (*)(struct nft_ctx*)>("nft_ctx_free");
  f(ctx);
}

void nft_ctx_output_set_flags(struct nft_ctx* ctx, unsigned int flags) {
  static auto f = real<void (*)(struct nft_ctx*, unsigned int)>("nft_ctx_output_set_flags");
  f(ctx, flags);
}

int nft_ctx_buffer_output(struct nft_ctx* ctx) {
  static auto f = real<int (*)(struct nft_ctx*)>("nft_ctx_buffer_output");
  return f(ctx);
}

const char* nft_ctx_get_output_buffer(struct nft_ctx* ctx) {
  static auto f = real<const char* (*)(struct nft_ctx*)>("nft_ctx_get_output_buffer");
  return f(ctx);
}

int nft_ctx_buffer_error(struct nft_ctx* ctx) {
  static auto f = real<int (*)(struct nft_ctx*)>("nft_ctx_buffer_error");
  return f(ctx);
}

const char* nft_ctx_get_error_buffer(struct nft_ctx* ctx) {
  static auto f = real<const char* (*)(struct nft_ctx*)>("nft_ctx_get_error_buffer");
  return f(ctx);
}

int nft_run_cmd_from_buffer(struct nft_ctx* nft, const char* buf) {
  static auto f = real<int (*)(struct nft_ctx*, const char*)>("nft_run_cmd_from_buffer");
  return f(nft, buf);
}

}  // extern "C"
