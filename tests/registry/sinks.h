// sinks.h - ByteSink/ByteSource test doubles for the registry tests.
#pragma once

#include <cstring>
#include <memory>
#include <string>

#include "base/io.h"
#include "registry/client.h"

namespace berth::regtest {

class StringSink : public ByteSink {
 public:
  Status write(std::string_view data) override {
    data_.append(data);
    return ok();
  }
  const std::string& data() const { return data_; }

 private:
  std::string data_;
};

class CountSink : public ByteSink {
 public:
  Status write(std::string_view d) override {
    n += d.size();
    return ok();
  }
  size_t n = 0;
};

class StringSource : public ByteSource {
 public:
  explicit StringSource(std::string data) : data_(std::move(data)) {}
  Result<size_t> read(void* buf, size_t n) override {
    size_t k = std::min(n, data_.size() - pos_);
    memcpy(buf, data_.data() + pos_, k);
    pos_ += k;
    return k;
  }

 private:
  std::string data_;
  size_t pos_ = 0;
};

inline registry::BlobSource blob_of(const std::string& data, const std::string& digest) {
  return {digest, data.size(), [data]() -> Result<std::unique_ptr<ByteSource>> {
            return std::unique_ptr<ByteSource>(std::make_unique<StringSource>(data));
          }};
}

}  // namespace berth::regtest
