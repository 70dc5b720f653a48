// reference_fuzz.cpp - libFuzzer target for image::parse_reference / parse_normalized_named.
//
// Any input may be rejected, with one of docker's two messages only. An accepted reference
// reads back from string() and from familiar() as the same Reference, and its parts obey the
// grammar's limits.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "image/reference.h"

namespace {

using berth::fuzz::fail;
using berth::image::Reference;

constexpr const char* kTarget = "reference_fuzz";

void check_error(const berth::Error& e) {
  const std::string m = e.message();
  if (m != "invalid reference format" &&
      m != "invalid reference format: repository name must be lowercase")
    fail(kTarget, "unexpected error message", m);
}

template <class Parse>
void check_round_trip(const Reference& ref, Parse parse) {
  if (ref.name().size() > 255) fail(kTarget, "name longer than 255", ref.name());
  if (ref.tag.size() > 128) fail(kTarget, "tag longer than 128", ref.tag);
  for (const std::string& text : {ref.string(), ref.familiar()}) {
    auto again = parse(text);
    if (!again.ok())
      fail(kTarget, "string form does not parse", text + ": " + again.error().message());
    if (!(*again == ref))
      fail(kTarget, "string form parses differently", text + " -> " + again->string());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = berth::fuzz::as_text(data, size);
  auto ref = berth::image::parse_reference(text);
  if (!ref.ok()) {
    check_error(ref.error());
  } else {
    if (ref->tag.empty() && ref->digest.empty()) fail(kTarget, "no default tag", ref->string());
    check_round_trip(*ref, [](std::string_view s) { return berth::image::parse_reference(s); });
  }
  auto named = berth::image::parse_normalized_named(text);
  if (named.ok() != ref.ok()) fail(kTarget, "the two parsers disagree", std::string(text));
  if (named.ok())
    check_round_trip(*named,
                     [](std::string_view s) { return berth::image::parse_normalized_named(s); });
  return 0;
}
