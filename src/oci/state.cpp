#include "oci/state.h"

#include "oci/json_codec.h"

namespace berth::oci {
namespace codec {

template <>
struct Schema<State> {
  static constexpr auto fields = std::tuple{
      field("ociVersion", &State::oci_version, kAlways), field("id", &State::id, kAlways),
      field("status", &State::status, kAlways),          field("pid", &State::pid),
      field("bundle", &State::bundle, kAlways),          field("annotations", &State::annotations)};
};

}  // namespace codec

namespace {

bool is_status(std::string_view s) {
  return s == "creating" || s == "created" || s == "running" || s == "stopped" || s == "paused";
}

Status validate_state(const State& st) {
  if (st.oci_version.empty()) return Error::invalid("ociVersion must be set");
  if (st.id.empty()) return Error::invalid("id must be set");
  if (!is_status(st.status))
    return codec::path_error("status", codec::quote(st.status) +
                                           " is not one of creating, "
                                           "created, running, stopped, paused");
  if (st.pid < 0) return codec::path_error("pid", "must not be negative");
  if (st.bundle.empty() || st.bundle[0] != '/')
    return codec::path_error("bundle", codec::quote(st.bundle) + " is not an absolute path");
  return ok();
}

Result<State> parse_unprefixed(std::string_view json_text) {
  codec::Json doc = TRY(codec::parse_document(json_text));
  State st;
  TRY(codec::read_value(doc, "", st));
  TRY(validate_state(st));
  return st;
}

}  // namespace

std::string state_to_json(const State& state) {
  return codec::dump_compact(codec::write_value(state));
}

Result<State> parse_state(std::string_view json_text) {
  auto st = parse_unprefixed(json_text);
  if (!st) return codec::in_file("state.json", st.error());
  return st;
}

}  // namespace berth::oci
