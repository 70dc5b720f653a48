// push_test.cpp - `berth push`, `login` and `logout` against Debian's docker-registry (plain,
// TLS, Basic and token auth), checked from the outside with skopeo: the manifest the
// registry serves has the digest berth stored, and the pushed image copies completely.
#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "base/strings.h"
#include "images/install.h"
#include "images/store.h"
#include "images_fixture.h"
#include "registry/codec.h"

namespace berth::imgtest {
namespace {

using regtest::Variant;

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  for (auto l : split(s, '\n'))
    if (!l.empty()) out.emplace_back(l);
  return out;
}

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

std::string short_id(const std::string& digest) {
  return digest.substr(7, 12);
}

// skopeo's options to read from reg (TLS or not, credentials when it needs them).
std::vector<std::string> skopeo_src(const Registry& reg, const std::string& prefix) {
  std::vector<std::string> a;
  if (reg.variant() == Variant::tls) {
    a = {"--" + prefix + "cert-dir", reg.certs_root() + "/" + reg.host()};
  } else {
    a = {"--" + prefix + "tls-verify=false"};
  }
  if (reg.variant() == Variant::basic || reg.variant() == Variant::token)
    a.push_back("--" + prefix + "creds=" + std::string(Registry::kUser) + ":" +
                Registry::kPassword);
  return a;
}

// The manifest bytes the registry serves for ref, or "" with the failure reported.
std::string registry_manifest(const Registry& reg, const std::string& ref) {
  std::vector<std::string> argv = {"skopeo", "inspect", "--raw"};
  for (auto& a : skopeo_src(reg, "")) argv.push_back(a);
  argv.push_back("docker://" + reg.host() + "/" + ref);
  Output o = regtest::run(argv, "", 60);
  EXPECT_EQ(o.status, 0) << o.err;
  return o.status == 0 ? o.out : "";
}

// skopeo copies ref to an OCI layout: every blob is there and matches its digest.
std::string copy_out(const Registry& reg, const std::string& ref, const std::string& dir) {
  std::vector<std::string> argv = {"skopeo", "--insecure-policy", "copy", "--quiet"};
  for (auto& a : skopeo_src(reg, "src-")) argv.push_back(a);
  argv.push_back("docker://" + reg.host() + "/" + ref);
  argv.push_back("oci:" + dir + ":latest");
  Output o = regtest::run(argv, "", 120);
  return o.status == 0 ? "" : "skopeo copy failed: " + o.err + o.out;
}

// What the store says about an image after a push.
storage::ImageRecord stored_image(const BerthEnv& env, const std::string& id) {
  auto store = images::Store::open(env.root());
  EXPECT_TRUE(store) << store.error().message();
  if (!store) return {};
  auto rec = (*store)->db().find_by_id(id);
  EXPECT_TRUE(rec && *rec);
  return rec && *rec ? **rec : storage::ImageRecord{};
}

// One registry of variant V and one busybox fixture image for all tests of a suite; each
// test has its own berth (store and config) and pushes to its own repositories.
template <Variant V>
class PushRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_TOOLS();
    if (!reg_) {
      reg_ = std::make_unique<Registry>(V, /*anonymous_pull=*/true);
      scratch_ = std::make_unique<Scratch>();
      img_ = make_busybox_image(scratch_->path());
    }
    ASSERT_EQ(reg_->failure(), "");
    if (V == Variant::tls) {
      // berth finds the CA the way docker does: <config dir>/certs.d/HOST/ca.crt.
      std::string d = env_.config() + "/certs.d/" + reg_->host();
      ASSERT_TRUE(mkdir_all(d, 0700));
      regtest::write_text(d + "/ca.crt",
                          regtest::read_text(reg_->certs_root() + "/" + reg_->host() + "/ca.crt"));
    }
  }
  static void TearDownTestSuite() {
    reg_.reset();
    scratch_.reset();
  }

  std::string host() const { return reg_->host(); }
  std::string install(const std::vector<std::string>& repos_tags) {
    std::vector<std::string> tags;
    for (const auto& t : repos_tags) tags.push_back(host() + "/" + t);
    return install_fixture(env_, img_, tags);
  }
  Output login() {
    return env_.berth({"login", "-u", Registry::kUser, "--password-stdin", host()},
                      std::string(Registry::kPassword) + "\n");
  }
  // Pushes HOST/ref and checks the output, the registry's manifest and the copy.
  void push_and_verify(const std::string& repo, const std::string& tag,
                       const std::vector<std::string>& extra_env = {}) {
    std::vector<std::string> argv = {"env"};
    argv.insert(argv.end(), extra_env.begin(), extra_env.end());
    for (auto& a : env_.argv({"push", host() + "/" + repo + ":" + tag})) argv.push_back(a);
    Output o = regtest::run(argv, "", 180);
    ASSERT_EQ(o.status, 0) << o.err << o.out;
    EXPECT_TRUE(contains(o.out, "The push refers to repository [" + host() + "/" + repo + "]"))
        << o.out;
    EXPECT_TRUE(contains(o.out, tag + ": digest: " + img_.manifest_digest +
                                    " size: " + std::to_string(img_.manifest.size())))
        << o.out;
    EXPECT_EQ(regtest::sha256_hex(registry_manifest(*reg_, repo + ":" + tag)),
              img_.manifest_digest);
    Scratch out;
    EXPECT_EQ(copy_out(*reg_, repo + ":" + tag, out / "oci"), "");
    auto rec = stored_image(env_, img_.config_digest);
    EXPECT_TRUE(std::find(rec.repo_digests.begin(), rec.repo_digests.end(),
                          host() + "/" + repo + "@" + img_.manifest_digest) !=
                rec.repo_digests.end())
        << join(rec.repo_digests, ", ");
  }

  BerthEnv env_;
  inline static std::unique_ptr<Registry> reg_;
  inline static std::unique_ptr<Scratch> scratch_;
  inline static FixtureImage img_;
};

// ---- plain HTTP ----------------------------------------------------------------------

using PushPlainTest = PushRegistryTest<Variant::plain>;

TEST_F(PushPlainTest, PushesLayersConfigAndManifestUnchanged) {
  install({"plain/bb:latest"});
  Output o = env_.berth({"push", host() + "/plain/bb"});
  ASSERT_EQ(o.status, 0) << o.err << o.out;
  // Not a terminal: final states only, top layer first, like docker.
  std::vector<std::string> want = {
      "Using default tag: latest",
      "The push refers to repository [" + host() + "/plain/bb]",
      short_id(img_.diff_ids[2]) + ": Pushed",
      short_id(img_.diff_ids[1]) + ": Pushed",
      short_id(img_.diff_ids[0]) + ": Pushed",
      "latest: digest: " + img_.manifest_digest + " size: " + std::to_string(img_.manifest.size()),
  };
  EXPECT_EQ(lines_of(o.out), want) << o.out;
  EXPECT_EQ(o.err, "");
  EXPECT_EQ(regtest::sha256_hex(registry_manifest(*reg_, "plain/bb:latest")), img_.manifest_digest);
  Scratch out;
  EXPECT_EQ(copy_out(*reg_, "plain/bb:latest", out / "oci"), "");
  auto rec = stored_image(env_, img_.config_digest);
  EXPECT_EQ(rec.repo_digests,
            std::vector<std::string>{host() + "/plain/bb@" + img_.manifest_digest});
  // docker refuses to push by digest: the digest is the registry's to compute.
  Output d = env_.berth({"push", host() + "/plain/bb@" + img_.manifest_digest});
  EXPECT_EQ(d.status, 125);
  EXPECT_EQ(d.err, "Error: cannot push a digest reference\n");
}

TEST_F(PushPlainTest, SecondPushSaysLayerAlreadyExists) {
  install({"again/bb:v1"});
  ASSERT_EQ(env_.berth({"push", host() + "/again/bb:v1"}).status, 0);
  Output o = env_.berth({"push", host() + "/again/bb:v1"});
  ASSERT_EQ(o.status, 0) << o.err;
  for (const auto& d : img_.diff_ids)
    EXPECT_TRUE(contains(o.out, short_id(d) + ": Layer already exists\n")) << o.out;
  EXPECT_TRUE(contains(o.out, "v1: digest: " + img_.manifest_digest)) << o.out;
}

TEST_F(PushPlainTest, PushToAnotherRepositoryMounts) {
  install({"src/bb:latest", "dst/bb:latest"});
  ASSERT_EQ(env_.berth({"push", host() + "/src/bb:latest"}).status, 0);
  Output o = env_.berth({"push", host() + "/dst/bb:latest"});
  ASSERT_EQ(o.status, 0) << o.err;
  for (const auto& d : img_.diff_ids)
    EXPECT_TRUE(contains(o.out, short_id(d) + ": Mounted from src/bb\n")) << o.out;
  EXPECT_EQ(regtest::sha256_hex(registry_manifest(*reg_, "dst/bb:latest")), img_.manifest_digest);
  Scratch out;
  EXPECT_EQ(copy_out(*reg_, "dst/bb:latest", out / "oci"), "");
}

TEST_F(PushPlainTest, ChunkedPush) {
  install({"chunked/bb:latest"});
  // Layer 0 (busybox) is several 64 KiB chunks; --debug says the chunk size was used.
  std::vector<std::string> argv = {"env", "BERTH_PUSH_CHUNK_SIZE=65536"};
  for (auto& a : env_.argv({"--debug", "push", host() + "/chunked/bb"})) argv.push_back(a);
  Output o = regtest::run(argv, "", 180);
  ASSERT_EQ(o.status, 0) << o.err << o.out;
  EXPECT_TRUE(contains(o.err, "in chunks of 65536 bytes")) << o.err;
  EXPECT_EQ(regtest::sha256_hex(registry_manifest(*reg_, "chunked/bb:latest")),
            img_.manifest_digest);
  Scratch out;
  EXPECT_EQ(copy_out(*reg_, "chunked/bb:latest", out / "oci"), "");
}

TEST_F(PushPlainTest, ChunkedPushWithOddChunkSize) {
  install({"odd/bb:latest"});
  push_and_verify("odd/bb", "latest", {"BERTH_PUSH_CHUNK_SIZE=100003"});
}

TEST_F(PushPlainTest, BadChunkSizeIsAnError) {
  install({"badchunk/bb:latest"});
  std::vector<std::string> argv = {"env", "BERTH_PUSH_CHUNK_SIZE=lots"};
  for (auto& a : env_.argv({"push", host() + "/badchunk/bb"})) argv.push_back(a);
  Output o = regtest::run(argv, "", 60);
  EXPECT_EQ(o.status, 125);
  EXPECT_EQ(o.err, "Error: BERTH_PUSH_CHUNK_SIZE: not a number of bytes: lots\n");
}

TEST_F(PushPlainTest, UnknownTag) {
  install({"known/bb:latest"});
  Output o = env_.berth({"push", host() + "/known/bb:nope"});
  EXPECT_EQ(o.status, 125);
  EXPECT_EQ(o.err,
            "Error: An image does not exist locally with the tag: " + host() + "/known/bb\n");
  Output o2 = env_.berth({"push", "nothing-here"});
  EXPECT_EQ(o2.status, 125);
  EXPECT_EQ(o2.err, "Error: An image does not exist locally with the tag: nothing-here\n");
}

TEST_F(PushPlainTest, QuietPrintsTheReference) {
  install({"quiet/bb:v2"});
  Output o = env_.berth({"push", "-q", host() + "/quiet/bb:v2"});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, host() + "/quiet/bb:v2\n");
  EXPECT_EQ(regtest::sha256_hex(registry_manifest(*reg_, "quiet/bb:v2")), img_.manifest_digest);
}

TEST_F(PushPlainTest, AllTags) {
  install({"all/bb:a", "all/bb:b", "other/bb:c"});
  Output bad = env_.berth({"push", "-a", host() + "/all/bb:a"});
  EXPECT_EQ(bad.status, 125);
  EXPECT_EQ(bad.err, "Error: tag can't be used with --all-tags/-a\n");
  Output o = env_.berth({"push", "--all-tags", host() + "/all/bb"});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_TRUE(contains(o.out, "a: digest: " + img_.manifest_digest)) << o.out;
  EXPECT_TRUE(contains(o.out, "b: digest: " + img_.manifest_digest)) << o.out;
  EXPECT_FALSE(contains(o.out, "c: digest")) << o.out;
  EXPECT_EQ(lines_of(o.out).front(), "The push refers to repository [" + host() + "/all/bb]");
  EXPECT_EQ(regtest::sha256_hex(registry_manifest(*reg_, "all/bb:b")), img_.manifest_digest);
}

// Non-distributable (foreign) layers stay where their URLs say, as with docker: the
// manifest names them, the registry never gets their bytes. distribution refuses manifests
// with URLs unless its config allows them, so this test runs a registry of its own.
TEST(PushForeignTest, ForeignLayerIsNotPushed) {
  REQUIRE_TOOLS();
  Scratch dir;
  int port = regtest::free_port();
  std::string host = "127.0.0.1:" + std::to_string(port);
  regtest::write_text(dir / "config.yml",
                      "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
                      "    rootdirectory: " +
                          dir / "data" + "\nhttp:\n  addr: " + host +
                          "\nvalidation:\n  manifests:\n    urls:\n      allow:\n"
                          "        - ^https://example\\.com/\n");
  regtest::Child reg({"docker-registry", "serve", dir / "config.yml"}, dir / "registry.log");
  ASSERT_TRUE(regtest::wait_for_port(port, 15000)) << regtest::read_text(dir / "registry.log");

  FixtureImage img = make_busybox_image(dir.path());
  auto m = nlohmann::json::parse(img.manifest);
  m["layers"][2]["mediaType"] = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
  m["layers"][2]["urls"] = {"https://example.com/layer2.tar.gz"};
  images::InstallRequest req;
  req.config = img.config;
  req.manifest = m.dump();
  req.manifest_media_type = "application/vnd.oci.image.manifest.v1+json";
  req.tags = {host + "/foreign/bb:latest"};
  BerthEnv env;
  {
    auto store = images::Store::open(env.root());
    ASSERT_TRUE(store) << store.error().message();
    for (const auto& l : m["layers"]) {
      std::string digest = l["digest"];
      auto put = (*store)->blobs().put(
          regtest::read_text(img.oci_dir + "/blobs/sha256/" + digest.substr(7)));
      ASSERT_TRUE(put) << put.error().message();
      req.layers.push_back({digest, l["size"].get<int64_t>(), l["mediaType"]});
    }
    auto id = images::install_image(**store, req);
    ASSERT_TRUE(id) << id.error().message();
  }
  Output o = env.berth({"push", host + "/foreign/bb"});
  ASSERT_EQ(o.status, 0) << o.err << o.out;
  EXPECT_TRUE(contains(o.out, short_id(img.diff_ids[2]) + ": Skipped foreign layer\n")) << o.out;
  EXPECT_TRUE(contains(o.out, short_id(img.diff_ids[0]) + ": Pushed\n")) << o.out;
  Output raw = regtest::run(
      {"skopeo", "inspect", "--raw", "--tls-verify=false", "docker://" + host + "/foreign/bb"});
  EXPECT_EQ(raw.out, req.manifest) << raw.err;
  registry::ClientOptions co;
  co.max_attempts = 1;
  auto client = registry::Client::create(host, co);
  ASSERT_TRUE(client);
  auto has = (*client)->head_blob("foreign/bb", img.layer_digests[2]);
  ASSERT_TRUE(has) << has.error().message();
  EXPECT_FALSE(*has) << "the foreign layer was uploaded";
  auto base = (*client)->head_blob("foreign/bb", img.layer_digests[0]);
  ASSERT_TRUE(base) << base.error().message();
  EXPECT_TRUE(*base);
}

// ---- TLS -----------------------------------------------------------------------------

using PushTlsTest = PushRegistryTest<Variant::tls>;

TEST_F(PushTlsTest, PushWithCaFromCertsD) {
  install({"tls/bb:latest"});
  push_and_verify("tls/bb", "latest");
}

// ---- Basic auth ----------------------------------------------------------------------

using PushBasicTest = PushRegistryTest<Variant::basic>;

TEST_F(PushBasicTest, RefusedWithoutLoginInOneLine) {
  install({"basic/bb:latest"});
  Output o = env_.berth({"push", host() + "/basic/bb"});
  EXPECT_EQ(o.status, 125);
  EXPECT_EQ(lines_of(o.err).size(), 1u) << o.err;
  EXPECT_TRUE(starts_with(o.err, "Error: ")) << o.err;
  EXPECT_TRUE(contains(o.err, "unauthorized")) << o.err;
}

TEST_F(PushBasicTest, PushAfterLogin) {
  install({"basic/bb:v1"});
  ASSERT_EQ(login().status, 0);
  push_and_verify("basic/bb", "v1");
}

TEST_F(PushBasicTest, LoginStoresCredentials) {
  Output o = env_.berth({"login", "-u", Registry::kUser, "-p", Registry::kPassword, host()});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "Login Succeeded\n");
  EXPECT_TRUE(starts_with(
      o.err, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n"))
      << o.err;
  std::string path = env_.config() + "/config.json";
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(env_.config().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  auto cfg = nlohmann::json::parse(regtest::read_text(path));
  EXPECT_EQ(cfg["auths"][host()]["auth"],
            registry::base64_encode(std::string(Registry::kUser) + ":" + Registry::kPassword));
}

TEST_F(PushBasicTest, LoginWithWrongPasswordStoresNothing) {
  Output o = env_.berth({"login", "-u", Registry::kUser, "--password-stdin", host()}, "wrong\n");
  EXPECT_EQ(o.status, 125);
  EXPECT_TRUE(starts_with(o.err, "Error: login to " + host() + ": unauthorized")) << o.err;
  EXPECT_EQ(lines_of(o.err).size(), 1u) << o.err;
  EXPECT_FALSE(std::filesystem::exists(env_.config() + "/config.json"));
}

TEST_F(PushBasicTest, LoginPasswordStdinAndLogout) {
  Output o = login();
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "Login Succeeded\n");
  EXPECT_FALSE(contains(o.err, "--password via the CLI")) << o.err;
  // Logging in again without options uses what is stored.
  Output again = env_.berth({"login", host()});
  EXPECT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(again.out, "Authenticating with existing credentials...\nLogin Succeeded\n");

  Output out = env_.berth({"logout", host()});
  ASSERT_EQ(out.status, 0) << out.err;
  EXPECT_EQ(out.out, "Removing login credentials for " + host() + "\n");
  auto cfg = nlohmann::json::parse(regtest::read_text(env_.config() + "/config.json"));
  EXPECT_FALSE(cfg["auths"].contains(host())) << cfg.dump();
  Output twice = env_.berth({"logout", "https://" + host() + "/v2/"});
  EXPECT_EQ(twice.status, 0);
  EXPECT_EQ(twice.out, "Not logged in to " + host() + "\n");
}

TEST_F(PushBasicTest, LoginOptionErrors) {
  Output no_tty = env_.berth({"login", host()});
  EXPECT_EQ(no_tty.status, 125);
  EXPECT_EQ(no_tty.err, "Error: Cannot perform an interactive login from a non TTY device\n");
  Output no_user = env_.berth({"login", "--password-stdin", host()}, "x\n");
  EXPECT_EQ(no_user.status, 125);
  EXPECT_EQ(no_user.err, "Error: Must provide --username with --password-stdin\n");
  Output both = env_.berth({"login", "-u", "a", "-p", "b", "--password-stdin", host()}, "x\n");
  EXPECT_EQ(both.status, 125);
  EXPECT_TRUE(contains(both.err, "Error: --password and --password-stdin are mutually exclusive"))
      << both.err;
}

TEST_F(PushBasicTest, LoginRefusesBrokenConfig) {
  ASSERT_TRUE(mkdir_all(env_.config(), 0700));
  regtest::write_text(env_.config() + "/config.json", "{ not json", 0600);
  Output o = login();
  EXPECT_EQ(o.status, 125);
  EXPECT_EQ(lines_of(o.err).size(), 1u) << o.err;
  EXPECT_EQ(regtest::read_text(env_.config() + "/config.json"), "{ not json");
  Output out = env_.berth({"logout", host()});
  EXPECT_EQ(out.status, 125);
}

// ---- token auth ----------------------------------------------------------------------

using PushTokenTest = PushRegistryTest<Variant::token>;

TEST_F(PushTokenTest, LoginAndPush) {
  install({"token/bb:latest", "token2/bb:latest"});
  Output refused = env_.berth({"push", host() + "/token/bb"});
  EXPECT_EQ(refused.status, 125);
  EXPECT_EQ(lines_of(refused.err).size(), 1u) << refused.err;

  Output o = login();
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "Login Succeeded\n");
  auto cfg = nlohmann::json::parse(regtest::read_text(env_.config() + "/config.json"));
  EXPECT_TRUE(cfg["auths"].contains(host())) << cfg.dump();
  push_and_verify("token/bb", "latest");
  // A mount asks the token server for pull on the source repository too.
  Output m = env_.berth({"push", host() + "/token2/bb"});
  ASSERT_EQ(m.status, 0) << m.err;
  EXPECT_TRUE(contains(m.out, "Mounted from token/bb")) << m.out;
}

TEST_F(PushTokenTest, LoginWithWrongPassword) {
  Output o = env_.berth({"login", "-u", Registry::kUser, "--password-stdin", host()}, "nope\n");
  EXPECT_EQ(o.status, 125);
  EXPECT_TRUE(starts_with(o.err, "Error: login to " + host() + ": ")) << o.err;
  EXPECT_EQ(lines_of(o.err).size(), 1u) << o.err;
  EXPECT_FALSE(std::filesystem::exists(env_.config() + "/config.json"));
}

}  // namespace
}  // namespace berth::imgtest
