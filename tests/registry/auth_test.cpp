// Authentication against docker-registry: htpasswd Basic, and token auth through the
// TokenServer fixture (anonymous and with credentials, token reuse, login).
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "fixture.h"
#include "registry/codec.h"
#include "sinks.h"

namespace berth::regtest {
namespace {

registry::AuthConfig good() {
  return {Registry::kUser, Registry::kPassword, ""};
}

class BasicAuth : public RegistryTest<Variant::basic> {};

TEST_F(BasicAuth, WithoutCredentialsIsUnauthorized) {
  auto m = client()->get_manifest(kRepo, "latest");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().message(), "unauthorized: authentication required");
}

TEST_F(BasicAuth, CredentialsFromConfigJson) {
  Scratch dir;
  std::string auth =
      registry::base64_encode(std::string(Registry::kUser) + ":" + Registry::kPassword);
  write_text(dir / "config.json",
             R"({"auths":{"http://)" + reg_->host() + R"(/v2/":{"auth":")" + auth + "\"}}}");
  auto store = registry::CredentialStore::open(dir.path(), registry::CredentialStore::Mode::strict);
  ASSERT_TRUE(store);
  auto o = reg_->options();
  o.credentials = &*store;
  auto c = client(o);
  auto m = c->get_manifest(kRepo, "latest");
  ASSERT_TRUE(m) << m.error().message();
  StringSink sink;
  ASSERT_TRUE(c->fetch_blob(kRepo, image_.layer_digest, sink));
  EXPECT_EQ(sha256_hex(sink.data()), image_.layer_digest);
  EXPECT_EQ(c->token_requests(), 0);
}

TEST_F(BasicAuth, WrongPasswordAndLogin) {
  auto o = reg_->options();
  o.auth = registry::AuthConfig{Registry::kUser, "wrong", ""};
  auto c = client(o);
  EXPECT_TRUE(c->ping());  // reachable, asks for authentication
  Status s = c->login();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message(), "unauthorized: authentication required");
  o.auth = good();
  EXPECT_TRUE(client(o)->login());
}

class TokenAuth : public RegistryTest<Variant::token> {};

TEST_F(TokenAuth, AnonymousPullGetsOneTokenForEverything) {
  int before = reg_->tokens()->requests();
  auto c = client();
  auto m = c->get_manifest(kRepo, "latest");
  ASSERT_TRUE(m) << m.error().trail();
  for (const auto& d : {image_.config_digest, image_.layer_digest}) {
    StringSink sink;
    ASSERT_TRUE(c->fetch_blob(kRepo, d, sink));
    EXPECT_EQ(sha256_hex(sink.data()), d);
    EXPECT_TRUE(c->head_blob(kRepo, d).value());
  }
  EXPECT_EQ(c->token_requests(), 1);
  EXPECT_EQ(reg_->tokens()->requests() - before, 1);
}

TEST_F(TokenAuth, AnonymousPushIsRefused) {
  std::string data = "anonymous push";
  auto r = client()->push_blob("test/anon", blob_of(data, sha256_hex(data)));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "unauthorized: authentication required");
}

TEST_F(TokenAuth, CredentialsGetPushScopeAndTokensAreReusedAcrossScopes) {
  auto o = reg_->options();
  o.auth = good();
  auto c = client(o);
  int before = reg_->tokens()->requests();
  std::string data = random_bytes(100000, 3);
  auto r = c->push_blob("test/withcreds", blob_of(data, sha256_hex(data)));
  ASSERT_TRUE(r) << r.error().trail();
  EXPECT_EQ(*r, registry::PushOutcome::uploaded);
  auto again = c->push_blob("test/withcreds", blob_of(data, sha256_hex(data)));
  EXPECT_EQ(again.value(), registry::PushOutcome::existed);
  StringSink sink;
  ASSERT_TRUE(c->fetch_blob("test/withcreds", sha256_hex(data), sink));  // pull scope: new token
  EXPECT_TRUE(sink.data() == data);
  EXPECT_EQ(reg_->tokens()->requests() - before, 2);
  EXPECT_EQ(c->token_requests(), 2);
}

TEST_F(TokenAuth, LoginChecksCredentials) {
  auto o = reg_->options();
  o.auth = registry::AuthConfig{Registry::kUser, "wrong", ""};
  Status bad = client(o)->login();
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "unauthorized: incorrect username or password");
  o.auth = good();
  EXPECT_TRUE(client(o)->login());
}

TEST_F(TokenAuth, IdentityTokenUsesTheOAuthGrant) {
  auto o = reg_->options();
  o.auth = registry::AuthConfig{"", "", reg_->tokens()->config().refresh_token};
  std::string data = "pushed with a refresh token";
  auto r = client(o)->push_blob("test/oauth", blob_of(data, sha256_hex(data)));
  ASSERT_TRUE(r) << r.error().trail();
}

class TokenAuthNoAnonymous : public RegistryTest<Variant::token, false> {};

TEST_F(TokenAuthNoAnonymous, WithoutCredentials401) {
  auto m = client()->get_manifest(kRepo, "latest");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().message(), "unauthorized: authentication required");
}

TEST_F(TokenAuthNoAnonymous, WithCredentialsFromAStore) {
  Scratch dir;
  auto store =
      registry::CredentialStore::open(dir / "cfg", registry::CredentialStore::Mode::strict);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->store(reg_->host(), good()));
  auto o = reg_->options();
  o.credentials = &*store;
  auto m = client(o)->get_manifest(kRepo, "latest");
  ASSERT_TRUE(m) << m.error().trail();
  EXPECT_EQ(m->digest, image_.manifest_digest);
}

}  // namespace
}  // namespace berth::regtest
