// mount_options_fuzz.cpp - libFuzzer target for sys::parse_mount_options and sys::parse_signal.
//
// The input, split at commas, is a mount's option list (config.json "options"); the whole
// input is also a signal name or number (`kill`, "StopSignal" in an image config).
// Checks beyond "no crash":
//  - a flag bit is never both set and explicitly cleared; rbind implies bind;
//  - data holds only words that were given, and parses back to the same data (no flag word
//    leaks into it);
//  - parsing is deterministic;
//  - an accepted signal is in 1..SIGRTMAX, and its number parses back to itself.
#include <csignal>
#include <string>
#include <vector>

#include "base/strings.h"
#include "fuzz_util.h"
#include "sys/mount_options.h"
#include "sys/process.h"

namespace {

using berth::fuzz::fail;

constexpr const char* kTarget = "mount_options_fuzz";

bool same(const berth::sys::MountOptions& a, const berth::sys::MountOptions& b) {
  return a.flags == b.flags && a.clear_flags == b.clear_flags && a.propagation == b.propagation &&
         a.rec_attr_set == b.rec_attr_set && a.rec_attr_clr == b.rec_attr_clr && a.data == b.data &&
         a.bind == b.bind && a.recursive_bind == b.recursive_bind && a.tmpcopyup == b.tmpcopyup &&
         a.idmap == b.idmap;
}

void check_mount_options(const std::string& text) {
  std::vector<std::string> words = berth::split(text, ',');
  auto o = berth::sys::parse_mount_options(words);
  if ((o.flags & o.clear_flags) != 0) fail(kTarget, "a flag is both set and cleared", text);
  if (o.recursive_bind && !o.bind) fail(kTarget, "rbind without bind", text);
  if (!o.data.empty()) {
    // Every data word is one of the input words (so no flag leaked into data and nothing was
    // invented); re-parsing data alone gives back the same data.
    for (const auto& w : berth::split(o.data, ',')) {
      bool found = false;
      for (const auto& in : words) found = found || in == w;
      if (!found) fail(kTarget, "data holds a word that was not given", text + "\n" + o.data);
    }
    auto d = berth::sys::parse_mount_options(berth::split(o.data, ','));
    if (d.data != o.data) fail(kTarget, "data does not re-parse to itself", o.data + "\n" + d.data);
  }
  if (!same(o, berth::sys::parse_mount_options(words)))
    fail(kTarget, "parse_mount_options is not deterministic", text);
}

void check_signal(const std::string& text) {
  auto sig = berth::sys::parse_signal(text);
  if (!sig.ok()) return;
  if (*sig < 1 || *sig > SIGRTMAX)
    fail(kTarget, "parse_signal returned an out-of-range signal",
         text + " -> " + std::to_string(*sig));
  auto again = berth::sys::parse_signal(std::to_string(*sig));
  if (!again.ok() || *again != *sig)
    fail(kTarget, "a signal number does not parse back to itself", std::to_string(*sig));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(berth::fuzz::as_text(data, size));
  check_mount_options(text);
  check_signal(text);
  return 0;
}
