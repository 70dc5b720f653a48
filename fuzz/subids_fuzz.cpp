// subids_fuzz.cpp - libFuzzer target for runtime::parse_subids (/etc/subuid, /etc/subgid).
//
// Input: the file's text. It is looked up for user "alice" (uid 1000). Checks beyond "no
// crash": an accepted range is non-empty and ends within 32 bits, and the lookup is stable
// when unrelated lines are appended.
#include <string>

#include "fuzz_util.h"
#include "runtime/rootless.h"

namespace {
constexpr const char* kTarget = "subids_fuzz";
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(berth::fuzz::as_text(data, size));
  auto r = berth::runtime::parse_subids(text, "alice", 1000);
  if (!r.ok()) {
    if (r.error().message().empty()) berth::fuzz::fail(kTarget, "empty error", text);
    return 0;
  }
  if (*r) {
    const auto& range = **r;
    if (range.count == 0) berth::fuzz::fail(kTarget, "empty range accepted", text);
    if (uint64_t{range.start} + range.count > UINT32_MAX)
      berth::fuzz::fail(kTarget, "range past 32 bits", text);
  }
  auto again = berth::runtime::parse_subids(text + "\nbob:1:2\n", "alice", 1000);
  if (!again.ok() || again->has_value() != r->has_value() ||
      (*r && ((*again)->start != (*r)->start || (*again)->count != (*r)->count)))
    berth::fuzz::fail(kTarget, "another user's line changed the answer", text);
  return 0;
}
