#include "base/error.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace berth {
namespace {

Result<int> half(int v) {
  if (v % 2) return Error::invalid("odd value", std::to_string(v));
  return v / 2;
}

Result<int> quarter(int v) {
  int h = TRY_CTX(half(v), "halving once");
  return TRY(half(h));
}

TEST(Error, MessageHasOpObjectAndErrno) {
  Error e(ENOENT, "open", "/x/config.json");
  EXPECT_EQ(e.message(), "open /x/config.json: No such file or directory");
}

TEST(Error, InvalidHasNoErrnoText) {
  EXPECT_EQ(Error::invalid("process.args must not be empty").message(),
            "process.args must not be empty");
}

TEST(Error, TryPropagatesWithContextTrail) {
  EXPECT_EQ(quarter(8).value(), 2);
  auto r = quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "odd value 3");
  auto r2 = quarter(5);
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.error().trail(), "odd value 5\n  while halving once");
}

}  // namespace
}  // namespace berth
