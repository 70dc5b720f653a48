#include "storage/sha256.h"

#include <openssl/evp.h>

#include <cstdlib>

namespace berth::storage {

struct Sha256::Ctx {
  EVP_MD_CTX* md = nullptr;
  ~Ctx() { EVP_MD_CTX_free(md); }
};

namespace {

void init(EVP_MD_CTX* md) {
  // Only fails on allocation failure inside OpenSSL; a hasher that silently hashes nothing
  // would let a bad blob through, so stop instead.
  if (EVP_DigestInit_ex(md, EVP_sha256(), nullptr) != 1) std::abort();
}

}  // namespace

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
  ctx_->md = EVP_MD_CTX_new();
  if (ctx_->md == nullptr) std::abort();
  init(ctx_->md);
}

Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;
Sha256::~Sha256() = default;

void Sha256::update(std::string_view data) {
  if (!data.empty()) EVP_DigestUpdate(ctx_->md, data.data(), data.size());
}

std::string Sha256::digest() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_->md, out, &len);
  init(ctx_->md);
  static const char kHex[] = "0123456789abcdef";
  std::string s = "sha256:";
  for (unsigned int i = 0; i < len; ++i) {
    s += kHex[out[i] >> 4];
    s += kHex[out[i] & 0xf];
  }
  return s;
}

std::string sha256_digest(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.digest();
}

bool is_valid_digest(std::string_view digest) {
  constexpr std::string_view kPrefix = "sha256:";
  if (digest.size() != kPrefix.size() + 64 || digest.substr(0, kPrefix.size()) != kPrefix)
    return false;
  for (char c : digest.substr(kPrefix.size())) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Result<std::string> digest_hex(std::string_view digest) {
  if (!is_valid_digest(digest)) {
    std::string shown(digest.substr(0, 80));
    return Error::invalid("invalid digest", "\"" + shown + "\"");
  }
  return std::string(digest.substr(7));
}

Result<size_t> HashingSource::read(void* buf, size_t n) {
  size_t got = TRY(inner_.read(buf, n));
  hash_.update(buf, got);
  bytes_ += got;
  return got;
}

}  // namespace berth::storage
