// archive_fuzz.cpp - libFuzzer target for what `load` and `import` parse from untrusted input:
// docker's manifest.json (images::parse_docker_manifest), archive entry names
// (images::clean_archive_path) and Dockerfile change instructions (images::apply_changes).
//
// Any input may be rejected, but never crash, hang or leak. Every path manifest.json yields is
// clean: relative, no "." / ".." / empty components, and cleaning it again changes nothing.
// An accepted name is clean the same way.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "image/config.h"
#include "image/manifest.h"
#include "images/archive.h"

namespace {

namespace images = berth::images;
using berth::fuzz::fail;

constexpr const char* kTarget = "archive_fuzz";

void check_clean(const std::string& p, const char* what) {
  if (p.empty() || p.front() == '/' || p.back() == '/') fail(kTarget, what, p);
  for (const auto& part : berth::split(p, '/')) {
    if (part.empty() || part == "." || part == "..") fail(kTarget, what, p);
  }
  auto again = images::clean_archive_path(p);
  if (!again.ok() || *again != p) fail(kTarget, "cleaning a clean path changed it", p);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = berth::fuzz::as_text(data, size);

  if (auto entries = images::parse_docker_manifest(text); entries.ok()) {
    for (const auto& e : *entries) {
      check_clean(e.config, "manifest.json Config not clean");
      if (e.layers.size() > berth::image::kMaxLayers) fail(kTarget, "too many layers", "");
      for (const auto& l : e.layers) check_clean(l, "manifest.json layer not clean");
    }
  } else if (!entries.error().message().starts_with("manifest.json: ")) {
    fail(kTarget, "error without the file name", entries.error().message());
  }

  if (auto name = images::clean_archive_path(text.substr(0, 8192)); name.ok())
    check_clean(*name, "accepted name not clean");

  // Each line a change instruction, as `import -c` takes them.
  std::vector<std::string> changes;
  for (const auto& line : berth::split(text.substr(0, 65536), '\n')) {
    changes.push_back(line);
    if (changes.size() == 64) break;
  }
  berth::image::ImageConfig::Config config;
  (void)images::apply_changes(config, changes);
  if (config.exposed_ports.size() > 65536) fail(kTarget, "unbounded EXPOSE", "");
  return 0;
}
