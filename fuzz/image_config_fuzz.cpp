// image_config_fuzz.cpp - libFuzzer target for image::parse_image_config.
//
// Any input may be rejected, but never crash, hang or leak. An accepted config survives
// serialize -> parse_image_config unchanged, and serialize of the result is identical.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "image/config.h"

namespace {

using berth::fuzz::fail;
constexpr const char* kTarget = "image_config_fuzz";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto config = berth::image::parse_image_config(berth::fuzz::as_text(data, size));
  if (!config.ok()) {
    if (config.error().message().find('\n') != std::string::npos)
      fail(kTarget, "multi-line error", config.error().message());
    return 0;
  }
  auto chain = berth::image::chain_ids(config->rootfs.diff_ids);
  if (chain.size() != config->rootfs.diff_ids.size()) fail(kTarget, "chain id count", "");
  if (!config->created.empty() && !berth::image::parse_rfc3339(config->created).ok())
    fail(kTarget, "accepted a bad created time", config->created);
  std::string once = berth::image::serialize(*config);
  auto again = berth::image::parse_image_config(once);
  if (!again.ok())
    fail(kTarget, "serialized config does not parse", again.error().message() + "\n" + once);
  if (!(*again == *config)) fail(kTarget, "round trip changed the config", once);
  std::string twice = berth::image::serialize(*again);
  if (twice != once) fail(kTarget, "serialize is not stable", once + "\n----\n" + twice);
  return 0;
}
