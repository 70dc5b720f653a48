// mount_layer_fuzz.cpp - libFuzzer target for gpu::MountLayer::parse, the reader of the GPU
// mount layer's plan and manifest files under RUNROOT/gpu/layers (gpu/mount_layer.h).
//
// Input: the file's bytes. Checks beyond "no crash":
//  - an accepted manifest prints back to the very same text (it is canonical, so a layer's
//    name always matches its content);
//  - every accepted path is absolute, clean and not "/"; nothing lies inside an entry that is
//    not a folder of the image ('p'); a link's target is one file name (no '/', space, "."
//    or ".."); a folder's mode fits in 07777;
//  - errors are one line starting "GPU mount layer manifest: ".
#include <cstdint>
#include <string>

#include "base/file.h"
#include "fuzz_util.h"
#include "gpu/mount_layer.h"

namespace {
constexpr const char* kTarget = "mount_layer_fuzz";
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(berth::fuzz::as_text(data, size));
  auto layer = berth::gpu::MountLayer::parse(text);
  if (!layer.ok()) {
    std::string m = layer.error().message();
    if (m.rfind("GPU mount layer manifest: ", 0) != 0) berth::fuzz::fail(kTarget, "error without its prefix", m);
    if (m.find('\n') != std::string::npos) berth::fuzz::fail(kTarget, "error is not one line", m);
    return 0;
  }
  if (layer->manifest() != text) berth::fuzz::fail(kTarget, "accepted text is not canonical", text);
  for (const auto& [path, e] : layer->entries()) {
    if (path.empty() || path[0] != '/' || path == "/" || berth::clean_path(path) != path)
      berth::fuzz::fail(kTarget, "bad path accepted", path);
    if (e.type == 'l' && (e.target.empty() || e.target.find('/') != std::string::npos ||
                          e.target == "." || e.target == ".."))
      berth::fuzz::fail(kTarget, "bad link target accepted", e.target);
    if (e.type != 'l' && !e.target.empty()) berth::fuzz::fail(kTarget, "target on a non-link", path);
    if (e.mode > 07777) berth::fuzz::fail(kTarget, "mode out of range", path);
    for (std::string dir = berth::dirname_of(path); dir != "/"; dir = berth::dirname_of(dir))
      if (auto it = layer->entries().find(dir); it != layer->entries().end() && it->second.type != 'p')
        berth::fuzz::fail(kTarget, "an entry inside a non-folder", path);
  }
  return 0;
}
