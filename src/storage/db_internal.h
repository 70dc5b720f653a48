// db_internal.h - what the Db's implementation files share (not a public header): the
// prepared-statement wrapper and the transaction helper.
#pragma once

#include <sqlite3.h>

#include <string>
#include <string_view>
#include <utility>

#include "storage/db.h"

namespace berth::storage {

// A prepared statement, finalized by its destructor.
class Db::Stmt {
 public:
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}
  Stmt(Stmt&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Stmt& operator=(Stmt&&) = delete;
  ~Stmt() { sqlite3_finalize(s_); }

  Stmt& bind(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& bind_null_if_empty(int i, std::string_view v) {
    if (v.empty()) {
      sqlite3_bind_null(s_, i);
      return *this;
    }
    return bind(i, v);
  }
  void reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step() { return sqlite3_step(s_); }
  std::string text(int col) const {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(s_, col))) : std::string();
  }
  int64_t integer(int col) const { return sqlite3_column_int64(s_, col); }

 private:
  sqlite3_stmt* s_;
};

// Runs body inside BEGIN IMMEDIATE ... COMMIT (the write lock taken up front, so two
// writers queue on the busy timeout instead of deadlocking); rolls back on any error.
template <class F>
auto Db::in_transaction(F&& body) -> decltype(body()) {
  TRY(exec("BEGIN IMMEDIATE"));
  auto r = body();
  if (!r.ok()) {
    (void)exec("ROLLBACK");
    return r;
  }
  if (Status s = exec("COMMIT"); !s) {
    (void)exec("ROLLBACK");
    return std::move(s).error();
  }
  return r;
}

}  // namespace berth::storage
