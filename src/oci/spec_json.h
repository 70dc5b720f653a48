// spec_json.h - config.json <-> Spec: parse, validate, write, and the default spec.
//
// Errors are one line that names the field by its JSON path:
//   config.json: process.args[1]: expected string, got number
//   config.json: linux.namespaces[2].type: unknown namespace type "foo"
// Unknown fields are ignored (forward compatibility, as runc does); a known field of the
// wrong JSON type, or a number out of range for its field, is an error. A null field counts
// as absent. Nothing here throws.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.h"
#include "oci/spec.h"

namespace berth::oci {

// Parses config.json text and runs validate_spec() on the result. Errors start with
// "config.json: ".
Result<Spec> parse_spec(std::string_view json_text);

// Checks what the JSON types cannot: required fields, absolute paths, known names (namespace
// types, capabilities, rlimits, seccomp actions...), soft <= hard and the like. Errors are
// "<json path>: <problem>", without the "config.json: " prefix parse_spec() adds.
Status validate_spec(const Spec& spec);

// config.json text, indented by 2 spaces like `runc spec`. parse_spec(to_json(s)) gives back
// everything Spec models.
std::string to_json(const Spec& spec);

// What `runc spec` writes (ociVersion "1.1.0", hostname "berth"). rootless: what
// `runc spec --rootless` writes, mapping container root to the current euid/egid.
Spec default_spec(bool rootless);
// The rootless variant with explicit host ids, for tests and for callers that know better.
Spec default_rootless_spec(uint32_t host_uid, uint32_t host_gid);

}  // namespace berth::oci
