// errors.h - a registry's error response as one line, the way docker shows it:
// {"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]} ->
// "manifest unknown: manifest unknown". Internal to src/registry.
#pragma once

#include <string>
#include <string_view>

namespace berth::registry {

// status: the HTTP status; reason: its phrase ("" when unknown); body: at most a few KiB.
std::string describe_error(long status, std::string_view reason, std::string_view body);

}  // namespace berth::registry
