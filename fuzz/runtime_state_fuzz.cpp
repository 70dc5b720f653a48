// runtime_state_fuzz.cpp - libFuzzer target for runtime::StateStore::load (state.json).
//
// The input is written to <root>/x/state.json under a fixed per-process temp dir and read
// back with load("x"). Any input may be rejected, but never crash, hang or leak. A record
// that loads must survive save -> load with every field unchanged (saved under id "x": the
// id in the file is not trusted as a directory name here).
#include <string>

#include "base/file.h"
#include "fuzz_util.h"
#include "runtime/state_store.h"

namespace {

using berth::fuzz::fail;
using berth::runtime::ContainerRecord;
using berth::runtime::StateStore;

constexpr const char* kTarget = "runtime_state_fuzz";
constexpr const char* kId = "x";

// The store's root, created once (with the container directory) and removed at exit.
const StateStore& store() {
  static const berth::TempDir dir = berth::fuzz::make_scratch_dir(kTarget);
  static const StateStore s = [] {
    StateStore st(dir.path());
    if (auto r = st.reserve(kId); !r.ok()) fail(kTarget, "cannot reserve", r.error().message());
    return st;
  }();
  return s;
}

bool same(const ContainerRecord& a, const ContainerRecord& b) {
  return a.id == b.id && a.bundle == b.bundle && a.rootfs == b.rootfs && a.pid == b.pid &&
         a.pid_start == b.pid_start && a.created == b.created && a.cgroup == b.cgroup &&
         a.annotations == b.annotations && a.stopped_by_delete == b.stopped_by_delete;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const StateStore& s = store();
  std::string file = s.dir(kId) + "/state.json";
  if (auto w = berth::write_file_atomic(file, berth::fuzz::as_text(data, size), 0600,
                                        berth::Durability::volatile_ok);
      !w.ok())
    fail(kTarget, "cannot write the input", w.error().message());
  auto rec = s.load(kId);
  if (!rec.ok()) return 0;
  ContainerRecord saved = *rec;
  saved.id = kId;
  if (auto w = s.save(saved); !w.ok()) fail(kTarget, "save failed", w.error().message());
  auto back = s.load(kId);
  if (!back.ok()) fail(kTarget, "a saved record does not load", back.error().message());
  if (!same(saved, *back)) fail(kTarget, "a field changed in the save/load round trip", file);
  return 0;
}
