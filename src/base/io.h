// io.h - byte streams between the parts of the pull and push pipelines: the registry client
// produces bytes, the blob store and the layer unpacker consume them, without a temp copy.
#pragma once

#include <cstddef>
#include <string_view>

#include "base/error.h"

namespace berth {

// Pull side: read up to n bytes; 0 means end of stream.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual Result<size_t> read(void* buf, size_t n) = 0;
};

// Push side: consume all of data or fail.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual Status write(std::string_view data) = 0;
};

}  // namespace berth
