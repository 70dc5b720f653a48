// tar_extract_fuzz.cpp - libFuzzer target for storage::unpack_layer (layer extraction).
//
// The input is a layer blob (a tar, or a gzip/zstd stream: detected by magic). Each run
// extracts it into <scratch>/run/root; <scratch>/canary/victim stands where an escape would
// land. Checks beyond "no crash":
//  - nothing exists under <scratch>/run but root/, nothing new under <scratch>, and the
//    canary is untouched: no name, symlink, hard link or whiteout led outside the root;
//  - a failure is one line naming the layer, of bounded length;
//  - a success reports a diff id that is the sha256 of the input when it was a plain tar.
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "base/file.h"
#include "fuzz_util.h"
#include "storage/fs_util.h"
#include "storage/sha256.h"
#include "storage/unpack.h"

namespace {

using berth::fuzz::fail;

constexpr const char* kTarget = "tar_extract_fuzz";

class ByteView : public berth::ByteSource {
 public:
  ByteView(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  berth::Result<size_t> read(void* buf, size_t n) override {
    size_t k = std::min(n, size_ - pos_);
    std::copy(data_ + pos_, data_ + pos_ + k, static_cast<uint8_t*>(buf));
    pos_ += k;
    return k;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

const std::string& scratch() {
  static berth::TempDir dir = berth::fuzz::make_scratch_dir(kTarget);
  static bool ready = [] {
    if (!berth::mkdir_all(dir.path() + "/canary").ok() ||
        !berth::write_file_atomic(dir.path() + "/canary/victim", "original").ok())
      fail(kTarget, "cannot prepare the scratch directory", dir.path());
    return true;
  }();
  (void)ready;
  return dir.path();
}

std::vector<std::string> sorted_names(const std::string& dir) {
  auto names = berth::list_dir(dir).value_or(std::vector<std::string>{"<unreadable>"});
  std::sort(names.begin(), names.end());
  return names;
}

void check_contained(const std::string& base) {
  if (sorted_names(base) != std::vector<std::string>{"canary", "run"})
    fail(kTarget, "something was created next to the run directory", base);
  if (sorted_names(base + "/run") != std::vector<std::string>{"root"})
    fail(kTarget, "something was created next to the layer root", base + "/run");
  if (sorted_names(base + "/canary") != std::vector<std::string>{"victim"} ||
      berth::read_file(base + "/canary/victim").value_or("") != "original")
    fail(kTarget, "the canary outside the root changed", base + "/canary");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& base = scratch();
  std::string root = base + "/run/root";
  if (!berth::mkdir_all(root).ok()) fail(kTarget, "cannot create the layer root", root);
  auto fd = berth::storage::open_dir(root);
  if (!fd.ok()) fail(kTarget, "cannot open the layer root", fd.error().message());

  berth::storage::UnpackOptions opts = berth::storage::UnpackOptions::for_current_user();
  opts.layer_name = "sha256:fuzz";
  opts.decompress_in_thread = false;  // deterministic, and one thread for libFuzzer
  ByteView src(data, size);
  auto r = berth::storage::unpack_layer(src, berth::storage::Compression::detect, fd->get(), opts);
  fd->reset();

  check_contained(base);
  if (!r.ok()) {
    std::string m = r.error().message();
    if (m.find('\n') != std::string::npos || m.size() > 2000 ||
        m.rfind("layer sha256:fuzz", 0) != 0)
      fail(kTarget, "the error is not one bounded line naming the layer", m);
  } else if (r->compression == berth::storage::Compression::none &&
             r->diff_id != berth::storage::sha256_digest(berth::fuzz::as_text(data, size))) {
    fail(kTarget, "the diff id is not the sha256 of the tar", r->diff_id);
  }
  if (!berth::storage::remove_unpacked(base + "/run").ok())
    fail(kTarget, "cannot remove the extracted tree", base + "/run");
  return 0;
}
