// pipe.h - a bounded, in-memory byte pipe between two threads: the registry client pushes a
// layer's bytes in (ByteSink, from libcurl's write callback) and the unpacker pulls them out
// (ByteSource). The bound keeps memory flat however big the layer; a full pipe makes the
// download wait for the disk, an empty one the unpacker wait for the network.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>

#include "base/error.h"
#include "base/io.h"

namespace berth::images {

class BytePipe {
 public:
  explicit BytePipe(size_t capacity = size_t{8} << 20) : capacity_(capacity) {}

  // Producer side. write() blocks while the pipe is full and fails once the reader aborted.
  Status write(std::string_view data);
  // End of stream: ok() for a complete stream, an error to make the reader fail with it.
  void close(Status end);

  // Consumer side. read() blocks until bytes, the end, or the writer's error.
  Result<size_t> read(void* buf, size_t n);
  // The reader gives up (its error); the writer's next write fails with it.
  void abort(const Error& why);

  // True when a write failed because the reader had aborted (the writer's error is then
  // a consequence, not a cause).
  bool writer_saw_abort() {
    std::lock_guard<std::mutex> lk(mu_);
    return writer_saw_abort_;
  }

  // The two ends as the interfaces the registry client and the unpacker take.
  ByteSink& sink() { return sink_; }
  ByteSource& source() { return source_; }

 private:
  struct Sink : ByteSink {
    BytePipe* p;
    explicit Sink(BytePipe* pipe) : p(pipe) {}
    Status write(std::string_view d) override { return p->write(d); }
  };
  struct Source : ByteSource {
    BytePipe* p;
    explicit Source(BytePipe* pipe) : p(pipe) {}
    Result<size_t> read(void* b, size_t n) override { return p->read(b, n); }
  };

  size_t capacity_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> chunks_;
  size_t front_offset_ = 0;  // bytes of chunks_.front() already read
  size_t buffered_ = 0;
  bool closed_ = false;
  bool writer_saw_abort_ = false;
  std::optional<Error> write_error_;  // the writer's error, given to the reader
  std::optional<Error> read_error_;   // the reader's abort, given to the writer
  Sink sink_{this};
  Source source_{this};
};

// Reads one source to its end, then the next: a resumed download replays the bytes already
// on disk before the rest arrives from the network.
class ConcatSource : public ByteSource {
 public:
  ConcatSource(ByteSource* first, ByteSource& second) : first_(first), second_(second) {}
  Result<size_t> read(void* buf, size_t n) override {
    if (first_ != nullptr) {
      size_t got = TRY(first_->read(buf, n));
      if (got > 0) return got;
      first_ = nullptr;
    }
    return second_.read(buf, n);
  }

 private:
  ByteSource* first_;
  ByteSource& second_;
};

}  // namespace berth::images
