// sha256.h - SHA-256 over streamed bytes (OpenSSL EVP) and "sha256:<hex>" digest strings.
//
// The storage code hashes every blob and every uncompressed layer while the bytes stream
// past; nothing from a registry or a tar is trusted until its digest matched.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/error.h"
#include "base/io.h"

namespace berth::storage {

class Sha256 {
 public:
  Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  ~Sha256();

  void update(std::string_view data);
  void update(const void* data, size_t n) { update({static_cast<const char*>(data), n}); }
  // "sha256:<64 lowercase hex>"; the hasher is reset afterwards.
  std::string digest();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

// "sha256:<hex>" of data in one call.
std::string sha256_digest(std::string_view data);

// True for "sha256:" followed by exactly 64 lowercase hex digits: the only form that may
// become part of a path in the store.
bool is_valid_digest(std::string_view digest);
// The hex part of a valid digest; an error naming the digest otherwise.
Result<std::string> digest_hex(std::string_view digest);

// A ByteSource that hashes and counts what passes through it.
class HashingSource : public ByteSource {
 public:
  explicit HashingSource(ByteSource& inner) : inner_(inner) {}
  Result<size_t> read(void* buf, size_t n) override;
  uint64_t bytes() const { return bytes_; }
  std::string digest() { return hash_.digest(); }

 private:
  ByteSource& inner_;
  Sha256 hash_;
  uint64_t bytes_ = 0;
};

}  // namespace berth::storage
