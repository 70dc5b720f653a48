#include "fixture.h"

#include <sys/stat.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/file.h"

namespace berth::regtest {
namespace {

bool openssl(const std::vector<std::string>& args, std::string* err) {
  std::vector<std::string> argv = {"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  Output o = run(argv, "", 60);
  if (o.status != 0) *err += "openssl " + args[0] + ": " + o.err;
  return o.status == 0;
}

Pki make_pki() {
  static Scratch dir("/tmp/berth-regtest-pki-");
  Pki p;
  p.dir = dir.path();
  p.ca_crt = dir / "ca.crt";
  p.server_crt = dir / "server.crt";
  p.server_key = dir / "server.key";
  p.token_crt = dir / "token.crt";
  p.token_key = dir / "token.key";
  std::string err, ca_key = dir / "ca.key", csr = dir / "server.csr", ext = dir / "ext.cnf";
  write_text(ext, "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n");
  bool ok = openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                     "-nodes", "-keyout", ca_key, "-out", p.ca_crt, "-days", "2", "-subj",
                     "/CN=berth test CA"},
                    &err) &&
            openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", p.server_key, "-out", csr, "-subj", "/CN=127.0.0.1"},
                    &err) &&
            openssl({"x509", "-req", "-in", csr, "-CA", p.ca_crt, "-CAkey", ca_key,
                     "-CAcreateserial", "-out", p.server_crt, "-days", "2", "-extfile", ext},
                    &err) &&
            openssl({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p.token_key,
                     "-out", p.token_crt, "-days", "2", "-subj", "/CN=berth test token signer"},
                    &err);
  if (!ok) ADD_FAILURE() << "making test certificates: " << err;
  return p;
}

std::string blob_path(const std::string& oci, const std::string& digest) {
  return oci + "/blobs/sha256/" + digest.substr(7);
}

nlohmann::json descriptor(const std::string& media_type, const std::string& data,
                          const std::string& digest) {
  return {{"mediaType", media_type}, {"digest", digest}, {"size", data.size()}};
}

}  // namespace

const Pki& Pki::get() {
  static Pki p = make_pki();
  return p;
}

TestImage TestImage::make(const std::string& dir, const std::string& text) {
  TestImage img;
  std::string root = dir + "/rootfs";
  (void)mkdir_all(root + "/etc");
  write_text(root + "/hello.txt", text);
  write_text(root + "/etc/os-release", "ID=berth-test\n");
  Output tar = run({"tar", "--sort=name", "--owner=0", "--group=0", "--mtime=@0", "-C", root, "-cf",
                    dir + "/layer.tar", "."});
  EXPECT_EQ(tar.status, 0) << tar.err;
  std::string diff_id = sha256_hex(read_text(dir + "/layer.tar"));
  EXPECT_EQ(run({"gzip", "-n", "-f", dir + "/layer.tar"}).status, 0);
  img.layer = read_text(dir + "/layer.tar.gz");
  img.layer_digest = sha256_hex(img.layer);
  nlohmann::json config = {{"architecture", "amd64"},
                           {"os", "linux"},
                           {"config", {{"Cmd", {"/bin/sh"}}}},
                           {"rootfs", {{"type", "layers"}, {"diff_ids", {diff_id}}}}};
  img.config = config.dump();
  img.config_digest = sha256_hex(img.config);
  nlohmann::json manifest = {
      {"schemaVersion", 2},
      {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
      {"config",
       descriptor("application/vnd.oci.image.config.v1+json", img.config, img.config_digest)},
      {"layers",
       {descriptor("application/vnd.oci.image.layer.v1.tar+gzip", img.layer, img.layer_digest)}}};
  img.manifest = manifest.dump();
  img.manifest_digest = sha256_hex(img.manifest);
  img.oci_dir = dir + "/oci";
  (void)mkdir_all(img.oci_dir + "/blobs/sha256");
  write_text(img.oci_dir + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  for (const auto* b : {&img.layer, &img.config, &img.manifest}) {
    write_text(blob_path(img.oci_dir, sha256_hex(*b)), *b);
  }
  nlohmann::json desc =
      descriptor("application/vnd.oci.image.manifest.v1+json", img.manifest, img.manifest_digest);
  desc["annotations"] = {{"org.opencontainers.image.ref.name", "latest"}};
  nlohmann::json index = {{"schemaVersion", 2}, {"manifests", {desc}}};
  write_text(img.oci_dir + "/index.json", index.dump());
  return img;
}

Registry::Registry(Variant v, bool anonymous_pull) : variant_(v), dir_("/tmp/berth-regtest-reg-") {
  if (v == Variant::token) {
    const Pki& pki = Pki::get();
    TokenServerConfig tc;
    tc.key_pem_file = pki.token_key;
    tc.cert_pem_file = pki.token_crt;
    tc.user = kUser;
    tc.password = kPassword;
    tc.anonymous_pull = anonymous_pull;
    tokens_ = std::make_unique<TokenServer>(tc);
  }
  // A port found free may be taken before the registry binds it (tests run in parallel):
  // a registry that exits at once is started again on another port.
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = free_port();
    std::string cfg = write_config();
    if (!failure_.empty()) return;
    proc_ = Child({"docker-registry", "serve", cfg}, dir_ / "registry.log");
    bool up = wait_for_port(port_, 15000);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (up && proc_.alive()) return;
    proc_.stop();
  }
  failure_ = "docker-registry did not start on " + host() + ":\n" + log();
}

std::string Registry::write_config() {
  std::string yml =
      "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n"
      "storage:\n  filesystem:\n    rootdirectory: " +
      dir_ / "data" +
      "\n  delete:\n    enabled: true\n"
      "http:\n  addr: " +
      host() + "\n  secret: berth-test-secret\n";
  const Pki* pki = variant_ == Variant::plain ? nullptr : &Pki::get();
  if (variant_ == Variant::tls) {
    yml += "  tls:\n    certificate: " + pki->server_crt + "\n    key: " + pki->server_key + "\n";
    std::string d = certs_root() + "/" + host();
    (void)mkdir_all(d);
    write_text(d + "/ca.crt", read_text(pki->ca_crt));
  }
  if (variant_ == Variant::basic) {
    Output o = run({"htpasswd", "-Bbn", kUser, kPassword});
    if (o.status != 0) failure_ = "htpasswd: " + o.err;
    write_text(dir_ / "htpasswd", o.out);
    yml += "auth:\n  htpasswd:\n    realm: berth-test\n    path: " + dir_ / "htpasswd" + "\n";
  }
  if (variant_ == Variant::token) {
    const auto& tc = tokens_->config();
    yml += "auth:\n  token:\n    realm: " + tokens_->realm() + "\n    service: " + tc.service +
           "\n    issuer: " + tc.issuer + "\n    rootcertbundle: " + pki->token_crt + "\n";
  }
  write_text(dir_ / "config.yml", yml);
  return dir_ / "config.yml";
}

registry::ClientOptions Registry::options() const {
  registry::ClientOptions o;
  o.certs_dirs = {certs_root()};
  o.loopback_insecure = variant_ != Variant::tls;
  o.connect_timeout = std::chrono::milliseconds(5000);
  o.stall_timeout = std::chrono::milliseconds(10000);
  o.retry_backoff = std::chrono::milliseconds(20);
  o.max_attempts = 3;
  return o;
}

std::string Registry::push_with_skopeo(const TestImage& img, const std::string& ref) {
  std::vector<std::string> argv = {"skopeo", "--insecure-policy", "copy", "--quiet"};
  if (variant_ == Variant::tls) {
    argv.insert(argv.end(), {"--dest-cert-dir", certs_root() + "/" + host()});
  } else {
    argv.push_back("--dest-tls-verify=false");
  }
  if (variant_ == Variant::basic || variant_ == Variant::token) {
    argv.push_back("--dest-creds=" + std::string(kUser) + ":" + kPassword);
  }
  argv.push_back("oci:" + img.oci_dir + ":latest");
  argv.push_back("docker://" + host() + "/" + ref);
  Output o = run(argv, "", 120);
  return o.status == 0 ? "" : "skopeo copy failed: " + o.err + o.out;
}

std::string Registry::log() const {
  return read_text(dir_ / "registry.log");
}

}  // namespace berth::regtest
