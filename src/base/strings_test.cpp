#include "base/strings.h"

#include <gtest/gtest.h>

namespace berth {
namespace {

TEST(Strings, SplitJoinTrim) {
  EXPECT_EQ(split("a,b,,c", ','), (std::vector<std::string>{"a", "b", "", "c"}));
  EXPECT_EQ(join({"a", "b"}, ", "), "a, b");
  EXPECT_EQ(trim("  x y \n"), "x y");
  EXPECT_EQ(trim("   "), "");
}

TEST(Strings, ParseIntRejectsJunk) {
  EXPECT_EQ(parse_int("-42"), -42);
  EXPECT_FALSE(parse_int("42x").has_value());
  EXPECT_FALSE(parse_int("").has_value());
  EXPECT_FALSE(parse_uint("99999999999999999999999").has_value());
  EXPECT_EQ(parse_uint("18446744073709551615"), UINT64_MAX);
}

}  // namespace
}  // namespace berth
