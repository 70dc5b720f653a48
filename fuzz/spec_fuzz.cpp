// spec_fuzz.cpp - libFuzzer target for parse_spec.
//
// Any input may be rejected, but never crash, hang or leak. A spec that parses must survive
// to_json -> parse_spec unchanged: to_json(parse(to_json(s))) == to_json(s).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "oci/spec_json.h"

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "spec_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto spec = berth::oci::parse_spec(text);
  if (!spec.ok()) return 0;
  std::string once = berth::oci::to_json(*spec);
  auto again = berth::oci::parse_spec(once);
  if (!again.ok()) fail("to_json output does not parse", again.error().message() + "\n" + once);
  std::string twice = berth::oci::to_json(*again);
  if (twice != once) fail("to_json is not stable", once + "\n----\n" + twice);
  return 0;
}
