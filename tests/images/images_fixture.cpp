#include "images_fixture.h"

#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "base/file.h"
#include "images/install.h"
#include "images/store.h"
#include "storage/test_util.h"

namespace berth::imgtest {

using storage::testing::TarBuilder;

std::string berth_binary() {
  if (const char* d = ::getenv("BERTH_BUILD_DIR"); d != nullptr && *d != '\0')
    return std::string(d) + "/bin/berth";
  return BERTH_BIN;
}

BerthEnv::BerthEnv() : dir_("/tmp/berth-imgtest-") {}

std::vector<std::string> BerthEnv::argv(const std::vector<std::string>& args) const {
  std::vector<std::string> a = {berth_binary(), "--root",   root(),  "--runroot",
                                runroot(),      "--config", config()};
  a.insert(a.end(), args.begin(), args.end());
  return a;
}

Output BerthEnv::berth(const std::vector<std::string>& args, const std::string& input,
                       int timeout_s) const {
  return regtest::run(argv(args), input, timeout_s);
}

namespace {

nlohmann::json descriptor(const std::string& media_type, const std::string& data) {
  return {{"mediaType", media_type}, {"digest", regtest::sha256_hex(data)}, {"size", data.size()}};
}

std::string layer_media_type(storage::Compression c) {
  switch (c) {
    case storage::Compression::gzip:
      return "application/vnd.oci.image.layer.v1.tar+gzip";
    case storage::Compression::zstd:
      return "application/vnd.oci.image.layer.v1.tar+zstd";
    default:
      return "application/vnd.oci.image.layer.v1.tar";
  }
}

void write_blob(const std::string& oci, const std::string& data) {
  regtest::write_text(oci + "/blobs/sha256/" + regtest::sha256_hex(data).substr(7), data);
}

void write_layout(const std::string& oci) {
  (void)mkdir_all(oci + "/blobs/sha256");
  regtest::write_text(oci + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
}

void write_index(const std::string& oci, nlohmann::json desc) {
  desc["annotations"] = {{"org.opencontainers.image.ref.name", "latest"}};
  nlohmann::json index = {{"schemaVersion", 2},
                          {"mediaType", "application/vnd.oci.image.index.v1+json"},
                          {"manifests", {desc}}};
  regtest::write_text(oci + "/index.json", index.dump());
}

}  // namespace

FixtureImage make_busybox_image(const std::string& dir, const ImageOptions& o) {
  FixtureImage img;
  std::string busybox = regtest::read_text("/bin/busybox");
  EXPECT_FALSE(busybox.empty()) << "/bin/busybox (Debian's busybox-static) is needed";

  TarBuilder l0;
  l0.dir("bin").file("bin/busybox", busybox, 0755);
  for (const char* a : {"sh", "ls", "cat", "echo", "id", "sleep", "true", "false", "env", "stat",
                        "readlink", "getfattr", "find", "wc", "test"})
    l0.symlink(std::string("bin/") + a, "busybox");
  l0.dir("etc")
      .file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n")
      .file("etc/group", "root:x:0:\nnogroup:x:65534:\n")
      .file("etc/removed", "this file is deleted by layer 1\n")
      .dir("opt")
      .dir("opt/old")
      .file("opt/old/a", "a\n")
      .file("opt/old/b", "b\n")
      .dir("tmp", 01777)
      .dir("usr")
      .dir("usr/bin")
      .file("usr/bin/su-like", "#!/bin/sh\n", 04755)
      .dir("root", 0700);

  TarBuilder l1;
  l1.dir("etc")
      .file("etc/.wh.removed", "")
      .dir("opt")
      .dir("opt/old")
      .file("opt/old/.wh..wh..opq", "");
  l1.file("opt/old/c", "c\n").file("marker", o.marker + "\n").dir("data", 0750);
  l1.owner(1000, 1000).file("data/file", "shared content\n").owner(1000, 1000);
  l1.hardlink("data/link", "data/file");

  TarBuilder l2;
  l2.dir("data", 0750).owner(1000, 1000);
  l2.file("data/xattr", "with an xattr\n").xattr("user.berth", "yes");
  l2.fifo("data/fifo").symlink("data/sym", "../marker");

  std::vector<std::string> layers;
  for (TarBuilder* b : {&l0, &l1, &l2}) {
    std::string tar = b->build(storage::Compression::none);
    img.diff_ids.push_back(regtest::sha256_hex(tar));
    std::string blob = o.compression == storage::Compression::none
                           ? tar
                           : storage::testing::compress(tar, o.compression);
    img.layer_digests.push_back(regtest::sha256_hex(blob));
    img.layer_tars.push_back(std::move(tar));
    layers.push_back(std::move(blob));
  }

  nlohmann::json config = {
      {"architecture", o.arch},
      {"os", "linux"},
      {"created", "2024-05-01T10:00:00Z"},
      {"author", "berth tests"},
      {"config",
       {{"Cmd", {"/bin/sh"}},
        {"Env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "A=1"}},
        {"WorkingDir", "/data"},
        {"Labels", {{"org.berth.test", "yes"}}},
        {"ExposedPorts", {{"8888/tcp", nlohmann::json::object()}}},
        {"Volumes", {{"/vol", nlohmann::json::object()}}},
        {"StopSignal", "SIGINT"}}},
      {"rootfs", {{"type", "layers"}, {"diff_ids", img.diff_ids}}},
      {"history",
       {{{"created", "2024-05-01T10:00:00Z"}, {"created_by", "ADD busybox /bin/"}},
        {{"created", "2024-05-01T10:00:01Z"}, {"created_by", "RUN rm /etc/removed"}},
        {{"created", "2024-05-01T10:00:02Z"}, {"created_by", "ENV A=1"}, {"empty_layer", true}},
        {{"created", "2024-05-01T10:00:03Z"},
         {"created_by", "COPY data /data"},
         {"comment", "last layer"}}}}};
  img.config = config.dump();
  img.config_digest = regtest::sha256_hex(img.config);

  nlohmann::json layer_descs = nlohmann::json::array();
  for (const auto& l : layers)
    layer_descs.push_back(descriptor(layer_media_type(o.compression), l));
  nlohmann::json manifest = {
      {"schemaVersion", 2},
      {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
      {"config", descriptor("application/vnd.oci.image.config.v1+json", img.config)},
      {"layers", layer_descs}};
  img.manifest = manifest.dump();
  img.manifest_digest = regtest::sha256_hex(img.manifest);

  img.oci_dir = dir + "/oci";
  write_layout(img.oci_dir);
  for (const auto& l : layers) write_blob(img.oci_dir, l);
  write_blob(img.oci_dir, img.config);
  write_blob(img.oci_dir, img.manifest);
  nlohmann::json desc = descriptor("application/vnd.oci.image.manifest.v1+json", img.manifest);
  write_index(img.oci_dir, desc);
  return img;
}

std::string install_fixture(const BerthEnv& env, const FixtureImage& img,
                            const std::vector<std::string>& tags) {
  auto store = images::Store::open(env.root());
  EXPECT_TRUE(store) << store.error().message();
  if (!store) return "";
  images::InstallRequest req;
  req.config = img.config;
  req.manifest = img.manifest;
  req.manifest_media_type = "application/vnd.oci.image.manifest.v1+json";
  req.tags = tags;
  auto m = nlohmann::json::parse(img.manifest);
  for (const auto& l : m["layers"]) {
    std::string digest = l["digest"];
    std::string data = regtest::read_text(img.oci_dir + "/blobs/sha256/" + digest.substr(7));
    auto put = (*store)->blobs().put(data);
    EXPECT_TRUE(put) << put.error().message();
    req.layers.push_back({digest, l["size"].get<int64_t>(), l["mediaType"]});
  }
  auto id = images::install_image(**store, req);
  EXPECT_TRUE(id) << id.error().message();
  return id ? *id : "";
}

std::string make_index_layout(const std::string& dir, const std::vector<FixtureImage>& images) {
  std::string oci = dir + "/oci-index";
  write_layout(oci);
  nlohmann::json manifests = nlohmann::json::array();
  for (const auto& img : images) {
    for (const auto& entry : std::filesystem::directory_iterator(img.oci_dir + "/blobs/sha256")) {
      std::string data = regtest::read_text(entry.path());
      write_blob(oci, data);
    }
    nlohmann::json d = descriptor("application/vnd.oci.image.manifest.v1+json", img.manifest);
    d["platform"] = {{"os", "linux"},
                     {"architecture", nlohmann::json::parse(img.config)["architecture"]}};
    manifests.push_back(d);
  }
  nlohmann::json index = {{"schemaVersion", 2},
                          {"mediaType", "application/vnd.oci.image.index.v1+json"},
                          {"manifests", manifests}};
  std::string body = index.dump();
  write_blob(oci, body);
  write_index(oci, descriptor("application/vnd.oci.image.index.v1+json", body));
  return oci;
}

std::string skopeo_copy(const Registry& reg, const std::string& src, const std::string& ref,
                        const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {"skopeo", "--insecure-policy", "copy", "--quiet"};
  if (reg.variant() == regtest::Variant::tls) {
    argv.insert(argv.end(), {"--dest-cert-dir", reg.certs_root() + "/" + reg.host()});
  } else {
    argv.push_back("--dest-tls-verify=false");
  }
  if (reg.variant() == regtest::Variant::basic || reg.variant() == regtest::Variant::token)
    argv.push_back("--dest-creds=" + std::string(Registry::kUser) + ":" + Registry::kPassword);
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(src);
  argv.push_back("docker://" + reg.host() + "/" + ref);
  Output out = regtest::run(argv, "", 180);
  return out.status == 0 ? "" : "skopeo copy failed: " + out.err + out.out;
}

}  // namespace berth::imgtest
