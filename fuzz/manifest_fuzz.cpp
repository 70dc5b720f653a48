// manifest_fuzz.cpp - libFuzzer target for image::parse_manifest and select_platform.
//
// The input is the body; it is parsed under every content type a registry might send. Any
// input may be rejected, but never crash, hang or leak. An accepted manifest or index survives
// serialize -> parse_manifest (with its media type), and serialize of that is identical.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "image/manifest.h"

namespace {

namespace image = berth::image;
namespace mt = image::media_type;
using berth::fuzz::fail;

constexpr const char* kTarget = "manifest_fuzz";

constexpr std::string_view kContentTypes[] = {"",
                                              "application/json",
                                              "text/plain; charset=utf-8",
                                              mt::kDockerManifest,
                                              mt::kDockerManifestList,
                                              mt::kOciManifest,
                                              mt::kOciIndex,
                                              mt::kDockerSchema1Signed,
                                              "application/vnd.oci.artifact.manifest.v1+json"};

std::string serialize(const image::ParsedManifest& p) {
  return p.kind == image::ManifestKind::kIndex ? image::serialize(p.index)
                                               : image::serialize(p.manifest);
}

void exercise(const image::ParsedManifest& p) {
  if (p.kind == image::ManifestKind::kImage) {
    if (p.manifest.layers.size() > image::kMaxLayers) fail(kTarget, "too many layers", "");
    (void)image::check_image_manifest(p.manifest);
    return;
  }
  for (const char* want : {"linux/amd64", "linux/arm64/v8", "linux/arm/v7", "windows/amd64"}) {
    auto d = image::select_platform(p.index, image::parse_platform(want).value());
    if (d.ok() && d->digest.empty()) fail(kTarget, "selected an entry without digest", want);
  }
}

void check(std::string_view body, std::string_view content_type) {
  auto p = image::parse_manifest(body, content_type);
  if (!p.ok()) {
    if (p.error().message().find('\n') != std::string::npos)
      fail(kTarget, "multi-line error", p.error().message());
    return;
  }
  exercise(*p);
  std::string once = serialize(*p);
  auto again = image::parse_manifest(once, p->media_type);
  if (!again.ok())
    fail(kTarget, "serialized manifest does not parse", again.error().message() + "\n" + once);
  if (again->kind != p->kind) fail(kTarget, "kind changed", once);
  std::string twice = serialize(*again);
  if (twice != once) fail(kTarget, "serialize is not stable", once + "\n----\n" + twice);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body = berth::fuzz::as_text(data, size);
  for (std::string_view ct : kContentTypes) check(body, ct);
  return 0;
}
