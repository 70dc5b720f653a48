// state.h - the OCI runtime state (what `berth state` prints and hooks read on stdin).
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "base/error.h"

namespace berth::oci {

struct State {
  std::string oci_version;
  std::string id;
  std::string status;  // creating created running stopped paused
  int pid = 0;         // 0: no process (omitted from the JSON)
  std::string bundle;  // absolute path of the bundle directory
  std::map<std::string, std::string> annotations;
};

// {"ociVersion", "id", "status", "pid", "bundle", "annotations"}, 2-space indent.
// One line of compact JSON (hooks read it with `read`).
std::string state_to_json(const State& state);

// Parses and checks state JSON: id and ociVersion set, status one of the five, pid >= 0,
// bundle absolute. Errors start with "state.json: " and name the field.
Result<State> parse_state(std::string_view json_text);

}  // namespace berth::oci
