// A docker-registry serving TLS with a certificate from a CA made for the test.
#include <chrono>

#include "base/file.h"
#include "fixture.h"
#include "sinks.h"

namespace berth::regtest {
namespace {

class TlsRegistry : public RegistryTest<Variant::tls> {};

TEST_F(TlsRegistry, VerifiedWithTheCaFromCertsD) {
  auto c = client();
  EXPECT_EQ(c->endpoint().value(), "https://" + reg_->host());
  auto m = c->get_manifest(kRepo, "latest");
  ASSERT_TRUE(m) << m.error().trail();
  EXPECT_EQ(m->digest, image_.manifest_digest);
  StringSink sink;
  ASSERT_TRUE(c->fetch_blob(kRepo, image_.layer_digest, sink));
  EXPECT_EQ(sha256_hex(sink.data()), image_.layer_digest);
}

TEST_F(TlsRegistry, WithoutTheCaItFailsClearly) {
  Scratch empty;
  auto o = reg_->options();
  o.certs_dirs = {empty.path()};
  auto c = client(o);
  auto m = c->get_manifest(kRepo, "latest");
  ASSERT_FALSE(m);
  std::string msg = m.error().message();
  EXPECT_NE(msg.find("registry " + reg_->host() + ": TLS certificate not trusted"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find(empty.path() + "/" + reg_->host() + "/ca.crt"), std::string::npos) << msg;
}

TEST_F(TlsRegistry, InsecureLoopbackSkipsVerificationLikeDocker) {
  Scratch empty;
  auto o = reg_->options();
  o.certs_dirs = {empty.path()};
  o.loopback_insecure = true;
  auto c = client(o);
  EXPECT_EQ(c->endpoint().value(), "https://" + reg_->host());
  EXPECT_TRUE(c->get_manifest(kRepo, "latest"));
}

TEST_F(TlsRegistry, AClientCertificateWithoutItsKeyIsAnError) {
  Scratch certs;
  std::string d = certs / reg_->host();
  ASSERT_TRUE(mkdir_all(d));
  write_text(d + "/ca.crt", read_text(Pki::get().ca_crt));
  write_text(d + "/client.cert", read_text(Pki::get().server_crt));
  auto o = reg_->options();
  o.certs_dirs = {certs.path()};
  auto m = client(o)->get_manifest(kRepo, "latest");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().message(),
            "missing key " + d + "/client.key for client certificate " + d + "/client.cert");
  // With its key the pair is sent (the registry does not ask for one, so it just works).
  write_text(d + "/client.key", read_text(Pki::get().server_key));
  EXPECT_TRUE(client(o)->get_manifest(kRepo, "latest"));
}

// Timing of a 100 MB blob over TLS against curl; run with BERTH_REGISTRY_BENCH=1.
TEST_F(TlsRegistry, Bench100MBBlobAgainstCurl) {
  if (getenv("BERTH_REGISTRY_BENCH") == nullptr) {
    GTEST_SKIP() << "a benchmark: set BERTH_REGISTRY_BENCH=1 to run it";
  }
  auto c = client();
  std::string data = random_bytes(100 << 20, 8);
  std::string digest = sha256_hex(data);
  ASSERT_TRUE(c->push_blob("test/bench", blob_of(data, digest)));
  for (int round = 0; round < 3; ++round) {
    CountSink sink;
    auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(c->fetch_blob("test/bench", digest, sink));
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0);
    ASSERT_EQ(sink.n, data.size());
    auto t1 = std::chrono::steady_clock::now();
    Output o = run({"curl", "-sS", "--cacert", Pki::get().ca_crt, "-o", "/dev/null",
                    "https://" + reg_->host() + "/v2/test/bench/blobs/" + digest});
    auto curl_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1);
    ASSERT_EQ(o.status, 0) << o.err;
    printf("100 MB blob over TLS: berth %.0f ms, curl %.0f ms\n", ms.count(), curl_ms.count());
  }
}

}  // namespace
}  // namespace berth::regtest
