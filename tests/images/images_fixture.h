// images_fixture.h - what the image tests stand on: the berth binary run with a private
// --root/--runroot/--config, busybox fixture images written as OCI layouts (crafted tars:
// whiteouts, opaque dirs, hard links, setuid, xattrs), and skopeo to put them in a real
// registry in any format (OCI, Docker schema2, zstd, a two-platform index).
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fixture.h"  // tests/registry: Registry, Scratch, run, Output
#include "storage/decompress.h"

namespace berth::imgtest {

using regtest::Output;
using regtest::Registry;
using regtest::Scratch;

// build/bin/berth (BERTH_BIN at build time; BERTH_BUILD_DIR overrides the build folder).
std::string berth_binary();

// A private berth: its own store, run root and client config, removed afterwards.
class BerthEnv {
 public:
  BerthEnv();
  std::string root() const { return dir_ / "root"; }
  std::string runroot() const { return dir_ / "run"; }
  std::string config() const { return dir_ / "config"; }
  std::string path(const std::string& name) const { return dir_ / name; }
  // berth --root R --runroot RR --config C args...
  std::vector<std::string> argv(const std::vector<std::string>& args) const;
  Output berth(const std::vector<std::string>& args, const std::string& input = "",
               int timeout_s = 120) const;

 private:
  Scratch dir_;
};

struct ImageOptions {
  std::string arch = "amd64";
  storage::Compression compression = storage::Compression::gzip;
  std::string marker = "one";  // written to /marker, so two fixture images differ
};

// A busybox image in an OCI layout folder (index.json names it "latest"):
//   layer 0: /bin/busybox and applet links, /etc/passwd, /etc/group, /etc/removed,
//            /opt/old/{a,b}, /tmp (1777), /usr/bin/su-like (setuid 4755)
//   layer 1: deletes /etc/removed (whiteout), makes /opt/old opaque with /opt/old/c,
//            adds /marker, /data/file and a hard link /data/link to it
//   layer 2: /data/xattr with user.berth=yes, a fifo /data/fifo, a symlink /data/sym
// The config has Cmd, Env, WorkingDir, Labels, ExposedPorts, Volumes and history
// (one empty_layer entry).
struct FixtureImage {
  std::string oci_dir;
  std::string manifest, config;
  std::string manifest_digest, config_digest;  // config_digest is the image id
  std::vector<std::string> layer_digests, diff_ids;
  std::vector<std::string> layer_tars;  // uncompressed
};
FixtureImage make_busybox_image(const std::string& dir, const ImageOptions& o = {});

// Puts img into env's store in process (blobs, layers, database) with the given full tags
// ("docker.io/library/bb:latest"), as a pull would; returns the image id. For tests of
// commands that need an image without depending on `berth pull`.
std::string install_fixture(const BerthEnv& env, const FixtureImage& img,
                            const std::vector<std::string>& tags);

// An OCI layout at dir holding an index over images (each with its platform), named "latest".
std::string make_index_layout(const std::string& dir, const std::vector<FixtureImage>& images);

// skopeo copy SRC docker://HOST/REF (credentials and TLS as the registry needs); extra
// arguments e.g. {"--format", "v2s2"}, {"--dest-compress-format", "zstd"}, {"--all"}.
// "" on success, else why not.
std::string skopeo_copy(const Registry& reg, const std::string& src, const std::string& ref,
                        const std::vector<std::string>& extra = {});

}  // namespace berth::imgtest
