#include "registry/auth.h"

#include <gtest/gtest.h>

namespace berth::registry {
namespace {

TEST(Challenges, BearerWithQuotedParams) {
  auto cs = parse_challenges(
      {R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull")"});
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].scheme, "bearer");
  EXPECT_EQ(cs[0].params["realm"], "https://auth.docker.io/token");
  EXPECT_EQ(cs[0].params["service"], "registry.docker.io");
  EXPECT_EQ(cs[0].params["scope"], "repository:library/ubuntu:pull");
}

TEST(Challenges, SeveralSchemesAndOddSpacing) {
  auto cs = parse_challenges(
      {R"(Basic realm="Registry Realm", Bearer  realm = "http://t/x?a=b" ,error="insufficient_scope")",
       "Negotiate"});
  ASSERT_EQ(cs.size(), 3u);
  EXPECT_EQ(cs[0].scheme, "basic");
  EXPECT_EQ(cs[0].params["realm"], "Registry Realm");
  EXPECT_EQ(cs[1].scheme, "bearer");
  EXPECT_EQ(cs[1].params["realm"], "http://t/x?a=b");
  EXPECT_EQ(cs[1].params["error"], "insufficient_scope");
  EXPECT_EQ(cs[2].scheme, "negotiate");
}

TEST(Challenges, EscapesAndGarbage) {
  auto cs = parse_challenges({R"(Bearer realm="a\"b", service=plain)"});
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].params["realm"], "a\"b");
  EXPECT_EQ(cs[0].params["service"], "plain");
  for (const char* junk : {"", "=", "==,,", "\"", "realm=\"unterminated", "Bearer realm="}) {
    parse_challenges({junk});  // must not crash or loop
  }
  EXPECT_LE(parse_challenges({"=x"}).size(), 1u);
}

// A fake token endpoint behind Send: counts requests, checks what was sent.
struct FakeRealm {
  int calls = 0;
  std::string last_url, last_auth;
  long status = 200;
  std::string body = R"({"token":"tok123","expires_in":300})";
  http::Response operator()(http::Request& r) {
    ++calls;
    last_url = r.url;
    last_auth.clear();
    for (const auto& h : r.headers) {
      if (h.rfind("Authorization: ", 0) == 0) last_auth = h.substr(15);
    }
    http::Response resp;
    resp.status = status;
    resp.body = body;
    return resp;
  }
};

const std::vector<std::string> kBearer = {
    R"(Bearer realm="https://auth.example/token",service="reg")"};

TEST(Authenticator, FetchesAnonymousTokenOnceAndReusesIt) {
  FakeRealm realm;
  Authenticator a([&](http::Request& r) { return realm(r); }, nullptr);
  EXPECT_EQ(a.header_for("repository:x:pull").value(), "");
  ASSERT_TRUE(a.on_unauthorized(kBearer, "repository:x:pull", "").value());
  EXPECT_EQ(realm.last_url, "https://auth.example/token?service=reg&scope=repository%3Ax%3Apull");
  EXPECT_EQ(realm.last_auth, "");
  EXPECT_EQ(a.header_for("repository:x:pull").value(), "Bearer tok123");
  EXPECT_EQ(a.header_for("repository:x:pull").value(), "Bearer tok123");
  EXPECT_EQ(realm.calls, 1);
  // A new scope gets its token up front, without waiting for a 401.
  EXPECT_EQ(a.header_for("repository:y:pull").value(), "Bearer tok123");
  EXPECT_EQ(realm.calls, 2);
  EXPECT_EQ(a.token_requests(), 2);
}

TEST(Authenticator, SendsBasicCredentialsToTheRealm) {
  FakeRealm realm;
  Authenticator a([&](http::Request& r) { return realm(r); },
                  [] {
                    return Result<std::optional<AuthConfig>>(AuthConfig{"u", "p", ""});
                  });
  ASSERT_TRUE(a.on_unauthorized(kBearer, "", "").value());
  EXPECT_EQ(realm.last_auth, "Basic dTpw");
  EXPECT_EQ(realm.last_url, "https://auth.example/token?service=reg&account=u");
}

TEST(Authenticator, IdentityTokenUsesOAuthPost) {
  http::Request seen;
  Authenticator a(
      [&](http::Request& r) {
        seen = r;
        http::Response resp;
        resp.status = 200;
        resp.body = R"({"access_token":"acc"})";
        return resp;
      },
      [] {
        return Result<std::optional<AuthConfig>>(AuthConfig{"", "", "refresh!"});
      });
  ASSERT_TRUE(a.on_unauthorized(kBearer, "repository:x:pull", "").value());
  EXPECT_EQ(seen.method, "POST");
  EXPECT_NE(seen.body.find("grant_type=refresh_token"), std::string::npos);
  EXPECT_NE(seen.body.find("refresh_token=refresh%21"), std::string::npos);
  EXPECT_EQ(a.header_for("repository:x:pull").value(), "Bearer acc");
}

TEST(Authenticator, RefusedTokenIsFetchedAgainOnce) {
  FakeRealm realm;
  Authenticator a([&](http::Request& r) { return realm(r); }, nullptr);
  ASSERT_TRUE(a.on_unauthorized(kBearer, "s", "").value());
  ASSERT_TRUE(a.on_unauthorized(kBearer, "s", "Bearer tok123").value());
  EXPECT_EQ(realm.calls, 2);
}

TEST(Authenticator, TokenServerErrors) {
  FakeRealm realm;
  realm.status = 401;
  realm.body = "";
  Authenticator anon([&](http::Request& r) { return realm(r); }, nullptr);
  auto r = anon.on_unauthorized(kBearer, "s", "");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "unauthorized: authentication required");
  Authenticator creds([&](http::Request& req) { return realm(req); },
                      [] {
                        return Result<std::optional<AuthConfig>>(AuthConfig{"u", "bad", ""});
                      });
  auto r2 = creds.on_unauthorized(kBearer, "s", "");
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().message(), "unauthorized: incorrect username or password");
  realm.status = 200;
  realm.body = R"({"token":"has space\r\nX-Evil: 1"})";
  auto r3 = anon.on_unauthorized(kBearer, "t", "");
  ASSERT_FALSE(r3);
  EXPECT_NE(r3.error().message().find("no usable token"), std::string::npos);
}

TEST(Authenticator, BasicChallenge) {
  Authenticator none([](http::Request&) { return http::Response{}; }, nullptr);
  EXPECT_FALSE(none.on_unauthorized({R"(Basic realm="r")"}, "s", "").value());
  Authenticator a([](http::Request&) { return http::Response{}; },
                  [] {
                    return Result<std::optional<AuthConfig>>(AuthConfig{"u", "p", ""});
                  });
  EXPECT_TRUE(a.on_unauthorized({R"(Basic realm="r")"}, "s", "").value());
  EXPECT_EQ(a.header_for("other").value(), "Basic dTpw");
  EXPECT_FALSE(a.on_unauthorized({R"(Basic realm="r")"}, "s", "Basic dTpw").value());
}

TEST(Authenticator, HelperFailureIsTheError) {
  Authenticator a([](http::Request&) { return http::Response{}; },
                  [] { return Result<std::optional<AuthConfig>>(Error::invalid("helper broke")); });
  auto r = a.on_unauthorized(kBearer, "s", "");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "helper broke");
}

}  // namespace
}  // namespace berth::registry
