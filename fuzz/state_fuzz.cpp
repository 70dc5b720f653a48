// state_fuzz.cpp - libFuzzer target for oci::parse_state (the state JSON hooks read on stdin).
//
// Any input may be rejected, but never crash, hang or leak. A state that parses must survive
// state_to_json -> parse_state with every field unchanged, and state_to_json must be stable.
#include <string>

#include "fuzz_util.h"
#include "oci/state.h"

namespace {

using berth::fuzz::fail;
using berth::oci::State;

constexpr const char* kTarget = "state_fuzz";

bool same(const State& a, const State& b) {
  return a.oci_version == b.oci_version && a.id == b.id && a.status == b.status && a.pid == b.pid &&
         a.bundle == b.bundle && a.annotations == b.annotations;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto state = berth::oci::parse_state(berth::fuzz::as_text(data, size));
  if (!state.ok()) return 0;
  std::string once = berth::oci::state_to_json(*state);
  auto again = berth::oci::parse_state(once);
  if (!again.ok())
    fail(kTarget, "state_to_json output does not parse", again.error().message() + "\n" + once);
  if (!same(*state, *again)) fail(kTarget, "a field changed in the round trip", once);
  std::string twice = berth::oci::state_to_json(*again);
  if (twice != once) fail(kTarget, "state_to_json is not stable", once + "\n----\n" + twice);
  return 0;
}
