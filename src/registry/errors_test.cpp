#include "registry/errors.h"

#include <gtest/gtest.h>

namespace berth::registry {
namespace {

TEST(RegistryErrors, OneLineLikeDocker) {
  struct Case {
    long status;
    std::string body, want;
  } cases[] = {
      {404, R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]})",
       "manifest unknown: manifest unknown"},
      {401, R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]})",
       "unauthorized: authentication required"},
      {403,
       R"({"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]})",
       "denied: requested access to the resource is denied"},
      {404, R"({"errors":[{"code":"BLOB_UNKNOWN"},{"code":"NAME_UNKNOWN","message":"x"}]})",
       "blob unknown; name unknown: x"},
      {401, R"({"details":"incorrect username or password"})", "incorrect username or password"},
      {401, "", "unauthorized: authentication required"},
      {403, "<html>nope</html>", "denied: requested access to the resource is denied"},
      {500, "oops", "received unexpected HTTP status: 500 Internal Server Error"},
      {404, "{}", "not found"},
      {400, R"({"errors":[{"code":"X","message":"a\nb\u001b[31m"}]})", "x: a b [31m"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(describe_error(c.status, "Internal Server Error", c.body), c.want) << c.body;
  }
}

TEST(RegistryErrors, LongMessagesAreCut) {
  std::string body = R"({"errors":[{"code":"X","message":")" + std::string(5000, 'a') + "\"}]}";
  EXPECT_LT(describe_error(400, "", body).size(), 600u);
}

}  // namespace
}  // namespace berth::registry
