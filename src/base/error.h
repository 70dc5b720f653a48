// error.h - the error value every fallible berth function returns.
//
// An Error holds the errno (0 when none applies), the operation that failed, the object it
// failed on, and a context trail added on the way up. message() is the one line users see;
// trail() is what --debug prints.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace berth {

class Error {
 public:
  Error() = default;
  // err: an errno value or 0; op: what was being done ("mount", "read config.json");
  // object: what it was done to (a path, a field name), may be empty.
  Error(int err, std::string op, std::string object = {})
      : errno_(err), op_(std::move(op)), object_(std::move(object)) {}

  // An error without an errno: a validation failure, a bad value.
  static Error invalid(std::string what, std::string object = {}) {
    return Error(0, std::move(what), std::move(object));
  }

  int code() const { return errno_; }
  const std::string& op() const { return op_; }
  const std::string& object() const { return object_; }
  const std::vector<std::string>& contexts() const { return context_; }

  // Adds an outer context ("create container abc"); returns *this for chaining.
  Error& context(std::string ctx) & {
    context_.push_back(std::move(ctx));
    return *this;
  }
  Error&& context(std::string ctx) && {
    context_.push_back(std::move(ctx));
    return std::move(*this);
  }

  // "op object: strerror" — one line, no trail.
  std::string message() const;
  // message() followed by "\n  while ..." for each context, innermost first.
  std::string trail() const;

 private:
  int errno_ = 0;
  std::string op_;
  std::string object_;
  std::vector<std::string> context_;
};

// An Error built from the current errno.
Error sys_error(std::string op, std::string object = {});

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value)
      : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error)
      : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T value_or(T fallback) const& { return ok() ? std::get<0>(v_) : std::move(fallback); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

  Error& error() & { return std::get<1>(v_); }
  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error)
      : err_(std::move(error)), ok_(false) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  void value() const {}

  Error& error() & { return err_; }
  const Error& error() const& { return err_; }
  Error&& error() && { return std::move(err_); }

 private:
  Error err_;
  bool ok_ = true;
};

using Status = Result<void>;

inline Status ok() {
  return {};
}

}  // namespace berth

// TRY(expr): evaluates a Result; returns its error from the enclosing function, else yields
// the value. Uses a GNU statement expression (g++ and clang).
#define TRY(expr)                                                   \
  ({                                                                \
    auto&& berth_try_r_ = (expr);                                   \
    if (!berth_try_r_.ok()) return std::move(berth_try_r_).error(); \
    std::move(berth_try_r_).value();                                \
  })

// TRY_CTX(expr, ctx): like TRY, adding a context line to the error on its way up.
#define TRY_CTX(expr, ctx)                                                       \
  ({                                                                             \
    auto&& berth_try_r_ = (expr);                                                \
    if (!berth_try_r_.ok()) return std::move(berth_try_r_).error().context(ctx); \
    std::move(berth_try_r_).value();                                             \
  })
