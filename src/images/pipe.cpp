#include "images/pipe.h"

#include <algorithm>
#include <cstring>

namespace berth::images {

Status BytePipe::write(std::string_view data) {
  std::unique_lock<std::mutex> lk(mu_);
  while (!data.empty()) {
    cv_.wait(lk, [&] { return read_error_ || buffered_ < capacity_; });
    if (read_error_) {
      writer_saw_abort_ = true;
      return *read_error_;
    }
    if (closed_) return Error::invalid("write to a closed pipe");
    size_t n = std::min(data.size(), capacity_ - buffered_);
    chunks_.emplace_back(data.substr(0, n));
    buffered_ += n;
    data.remove_prefix(n);
    cv_.notify_all();
  }
  return ok();
}

void BytePipe::close(Status end) {
  std::lock_guard<std::mutex> lk(mu_);
  closed_ = true;
  if (!end) write_error_ = std::move(end).error();
  cv_.notify_all();
}

Result<size_t> BytePipe::read(void* buf, size_t n) {
  std::unique_lock<std::mutex> lk(mu_);
  cv_.wait(lk, [&] { return !chunks_.empty() || closed_; });
  if (chunks_.empty()) {
    if (write_error_) return *write_error_;
    return size_t{0};
  }
  size_t done = 0;
  while (done < n && !chunks_.empty()) {
    std::string& front = chunks_.front();
    size_t take = std::min(n - done, front.size() - front_offset_);
    std::memcpy(static_cast<char*>(buf) + done, front.data() + front_offset_, take);
    done += take;
    front_offset_ += take;
    if (front_offset_ == front.size()) {
      buffered_ -= front.size();
      chunks_.pop_front();
      front_offset_ = 0;
    }
  }
  cv_.notify_all();
  return done;
}

void BytePipe::abort(const Error& why) {
  std::lock_guard<std::mutex> lk(mu_);
  if (!read_error_) read_error_ = why;
  chunks_.clear();
  buffered_ = 0;
  front_offset_ = 0;
  cv_.notify_all();
}

}  // namespace berth::images
