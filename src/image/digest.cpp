#include "image/digest.h"

#include <openssl/evp.h>

#include <algorithm>

namespace berth::image {
namespace {

constexpr size_t kMaxQuoted = 80;  // messages quote input; keep them one short line

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s.substr(0, kMaxQuoted)) {
    auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u >= 0x7f || c == '"' || c == '\\') ? '?' : c;
  }
  if (s.size() > kMaxQuoted) out += "...";
  return out + "\"";
}

bool is_lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Hex length for the algorithms berth accepts; 0 for the others.
size_t hex_length(std::string_view algorithm) {
  if (algorithm == "sha256") return 64;
  if (algorithm == "sha512") return 128;
  return 0;
}

const EVP_MD* evp_for(std::string_view algorithm) {
  if (algorithm == "sha256") return EVP_sha256();
  if (algorithm == "sha512") return EVP_sha512();
  return nullptr;
}

std::string to_hex(const unsigned char* data, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 0xf];
  }
  return out;
}

}  // namespace

std::string Digest::string() const {
  if (empty()) return {};
  return algorithm + ":" + hex;
}

Result<Digest> parse_digest(std::string_view text) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0)
    return Error::invalid("invalid digest " + quoted(text) + ": expected algorithm:hex");
  std::string_view algorithm = text.substr(0, colon);
  std::string_view hex = text.substr(colon + 1);
  size_t want = hex_length(algorithm);
  if (want == 0)
    return Error::invalid("unsupported digest algorithm " + quoted(algorithm) + " in " +
                          quoted(text));
  if (hex.size() != want || !is_lower_hex(hex))
    return Error::invalid("invalid digest " + quoted(text) + ": expected " + std::to_string(want) +
                          " lowercase hex digits");
  return Digest{std::string(algorithm), std::string(hex)};
}

// ---- Hasher -------------------------------------------------------------------------------

struct Hasher::State {
  EVP_MD_CTX* ctx = nullptr;
  std::string result;  // set once finished
  bool finished = false;

  ~State() { EVP_MD_CTX_free(ctx); }
};

Hasher::Hasher(std::string algorithm)
    : algorithm_(std::move(algorithm)), state_(std::make_unique<State>()) {
  state_->ctx = EVP_MD_CTX_new();
  const EVP_MD* md = evp_for(algorithm_);
  // Without a context the hash ends as "" and so never matches a digest: fails closed.
  if (state_->ctx != nullptr &&
      (md == nullptr || EVP_DigestInit_ex(state_->ctx, md, nullptr) != 1)) {
    EVP_MD_CTX_free(state_->ctx);
    state_->ctx = nullptr;
  }
}

Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;
Hasher::~Hasher() = default;

Result<Hasher> Hasher::create(std::string_view algorithm) {
  if (evp_for(algorithm) == nullptr)
    return Error::invalid("unsupported digest algorithm " + quoted(algorithm));
  return Hasher(std::string(algorithm));
}

void Hasher::update(std::string_view data) {
  if (!state_ || state_->finished || state_->ctx == nullptr || data.empty()) return;
  EVP_DigestUpdate(state_->ctx, data.data(), data.size());
}

std::string Hasher::hex_digest() {
  if (!state_) return {};
  if (!state_->finished) {
    state_->finished = true;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (state_->ctx != nullptr && EVP_DigestFinal_ex(state_->ctx, md, &len) == 1)
      state_->result = to_hex(md, len);
  }
  return state_->result;
}

std::string sha256_hex(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.hex_digest();
}

Digest sha256_digest(std::string_view data) {
  return {"sha256", sha256_hex(data)};
}

// ---- VerifyingSource ----------------------------------------------------------------------

VerifyingSource::VerifyingSource(ByteSource& inner, Digest expected, int64_t expected_size)
    : inner_(inner),
      expected_(std::move(expected)),
      expected_size_(expected_size),
      hasher_(Hasher::create(expected_.algorithm)) {}

Error VerifyingSource::fail(Error e) {
  error_ = std::make_unique<Error>(e);
  return e;
}

Status VerifyingSource::finish() {
  if (expected_size_ >= 0 && read_ != static_cast<uint64_t>(expected_size_))
    return fail(Error::invalid("size mismatch for " + expected_.string() + ": expected " +
                               std::to_string(expected_size_) + " bytes, got " +
                               std::to_string(read_)));
  Digest got = hasher_->digest();
  if (got != expected_)
    return fail(
        Error::invalid("digest mismatch for " + expected_.string() + ": got " + got.string()));
  verified_ = true;
  return ok();
}

Result<size_t> VerifyingSource::read(void* buf, size_t n) {
  if (error_) return *error_;
  if (!hasher_.ok())
    return fail(Error::invalid("cannot verify blob " + quoted(expected_.string()) + ": " +
                               hasher_.error().message()));
  if (n == 0 || verified_) return size_t{0};
  auto got = inner_.read(buf, n);
  if (!got.ok()) return got;
  size_t len = std::min(*got, n);
  if (len == 0) {
    Status st = finish();
    if (!st.ok()) return std::move(st).error();
    return size_t{0};
  }
  read_ += len;
  if (expected_size_ >= 0 && read_ > static_cast<uint64_t>(expected_size_))
    return fail(Error::invalid("size mismatch for " + expected_.string() + ": expected " +
                               std::to_string(expected_size_) + " bytes, got more"));
  hasher_->update(std::string_view(static_cast<const char*>(buf), len));
  return len;
}

}  // namespace berth::image
