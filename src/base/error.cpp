#include "base/error.h"

#include <cerrno>
#include <cstring>

namespace berth {

std::string Error::message() const {
  std::string m = op_;
  if (!object_.empty()) {
    if (!m.empty()) m += ' ';
    m += object_;
  }
  if (errno_ != 0) {
    m += ": ";
    m += std::strerror(errno_);
  }
  return m;
}

std::string Error::trail() const {
  std::string t = message();
  for (const auto& c : context_) {
    t += "\n  while ";
    t += c;
  }
  return t;
}

Error sys_error(std::string op, std::string object) {
  return Error(errno, std::move(op), std::move(object));
}

}  // namespace berth
