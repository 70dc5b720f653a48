// cgroup_state_fuzz.cpp - libFuzzer target for cgroup::Cgroup::from_json.
//
// The runtime saves a Cgroup handle in state.json at create and reads it back in another
// process (start, kill, delete), so the text is as trustworthy as the state directory.
// Any input may be rejected, but never crash, hang or leak. A handle that parses must have
// absolute, clean directories and survive to_json -> from_json with to_json unchanged.
#include <string>

#include "base/file.h"
#include "cgroup/cgroup.h"
#include "fuzz_util.h"

namespace {

using berth::cgroup::Cgroup;
using berth::fuzz::fail;

constexpr const char* kTarget = "cgroup_state_fuzz";

bool same(const Cgroup& a, const Cgroup& b) {
  if (a.path() != b.path() || a.dirs().size() != b.dirs().size()) return false;
  for (size_t i = 0; i < a.dirs().size(); ++i) {
    const auto& x = a.dirs()[i];
    const auto& y = b.dirs()[i];
    if (x.path != y.path || x.v2 != y.v2 || x.controllers != y.controllers) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto cg = Cgroup::from_json(berth::fuzz::as_text(data, size));
  if (!cg.ok()) return 0;
  std::string once = cg->to_json();
  if (cg->dirs().empty()) fail(kTarget, "from_json accepted a handle without directories", once);
  for (const auto& d : cg->dirs())
    if (d.path.empty() || d.path != berth::clean_path(d.path))
      fail(kTarget, "from_json accepted an unclean directory", d.path);
  (void)cg->primary();
  auto again = Cgroup::from_json(once);
  if (!again.ok())
    fail(kTarget, "to_json output does not parse", again.error().message() + "\n" + once);
  if (!same(*cg, *again)) fail(kTarget, "a field changed in the round trip", once);
  std::string twice = again->to_json();
  if (twice != once) fail(kTarget, "to_json is not stable", once + "\n----\n" + twice);
  return 0;
}
