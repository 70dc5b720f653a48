// fixture.h - Debian's docker-registry (distribution 2.8) on a free loopback port with a
// temp storage folder, in four variants: plain HTTP, TLS with a CA made for the test,
// htpasswd Basic auth, and token auth backed by TokenServer. Plus a tiny OCI image made on
// the spot and pushed by skopeo. Everything is killed and removed on teardown, and the
// registry dies with the test process if that crashes.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "registry/client.h"
#include "token_server.h"
#include "util.h"

namespace berth::regtest {

// Certificates for the whole test binary: a CA, a server certificate for 127.0.0.1 and
// localhost signed by it, and the token server's signing key and certificate.
struct Pki {
  std::string dir, ca_crt, server_crt, server_key, token_crt, token_key;
  static const Pki& get();  // made on first use (openssl CLI)
};

// A one-layer OCI image in an OCI layout folder.
struct TestImage {
  std::string layer, config, manifest;  // the bytes
  std::string layer_digest, config_digest, manifest_digest;
  std::string oci_dir;
  static TestImage make(const std::string& dir, const std::string& text);
};

enum class Variant { plain, tls, basic, token };

class Registry {
 public:
  static constexpr const char* kUser = "berth";
  static constexpr const char* kPassword = "s3cret-pw";

  explicit Registry(Variant v, bool anonymous_pull = true);
  ~Registry() = default;
  // Empty when it started; else why not (the registry's log included).
  const std::string& failure() const { return failure_; }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  Variant variant() const { return variant_; }
  // A certs.d root holding <host>/ca.crt (TLS variant).
  std::string certs_root() const { return dir_ / "certs.d"; }
  TokenServer* tokens() { return tokens_.get(); }
  // Options for a client of this registry: short timeouts, the test's certs.d root.
  registry::ClientOptions options() const;
  // skopeo copy oci:DIR:latest docker://HOST/ref (with credentials when needed); "" = ok.
  std::string push_with_skopeo(const TestImage& img, const std::string& ref);
  std::string log() const;

 private:
  std::string write_config();

  Variant variant_;
  Scratch dir_;
  int port_ = 0;
  std::unique_ptr<TokenServer> tokens_;
  Child proc_;
  std::string failure_;
};

// Skip (with the reason) when a tool the fixture needs is missing.
#define REQUIRE_TOOLS()                                                              \
  do {                                                                               \
    for (const char* t : {"docker-registry", "skopeo", "openssl", "htpasswd"}) {     \
      if (!::berth::regtest::have(t))                                                \
        GTEST_SKIP() << t << " not installed (scripts/install-deps.sh installs it)"; \
    }                                                                                \
  } while (0)

// A registry of variant V shared by the tests of a suite, holding TestImage as
// "test/small:latest" (pushed by skopeo).
template <Variant V, bool AnonymousPull = true>
class RegistryTest : public ::testing::Test {
 protected:
  static constexpr const char* kRepo = "test/small";

  void SetUp() override {
    REQUIRE_TOOLS();
    if (!reg_) {
      reg_ = std::make_unique<Registry>(V, AnonymousPull);
      scratch_ = std::make_unique<Scratch>();
      image_ = TestImage::make(scratch_->path(), "hello from the registry tests\n");
      if (reg_->failure().empty())
        push_error_ = reg_->push_with_skopeo(image_, "test/small:latest");
    }
    ASSERT_EQ(reg_->failure(), "");
    ASSERT_EQ(push_error_, "");
  }
  static void TearDownTestSuite() {
    reg_.reset();
    scratch_.reset();
  }
  static std::unique_ptr<registry::Client> client(const registry::ClientOptions& o) {
    auto c = registry::Client::create(reg_->host(), o);
    EXPECT_TRUE(c);
    return std::move(c).value();
  }
  static std::unique_ptr<registry::Client> client() { return client(reg_->options()); }

  inline static std::unique_ptr<Registry> reg_;
  inline static std::unique_ptr<Scratch> scratch_;
  inline static TestImage image_;
  inline static std::string push_error_;
};

}  // namespace berth::regtest
