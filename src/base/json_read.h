// json_read.h - typed reads of fields from JSON that may have been tampered with (state
// files, saved handles). They never throw: a field that is absent leaves *out alone and
// succeeds; a field of the wrong type, or a number out of [min, max], fails.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace berth::json_read {

bool string(const nlohmann::json& obj, const char* key, std::string* out);
bool boolean(const nlohmann::json& obj, const char* key, bool* out);
bool integer(const nlohmann::json& obj, const char* key, int64_t min, int64_t max, int64_t* out);
bool unsigned_integer(const nlohmann::json& obj, const char* key, uint64_t* out);
// An object whose values are all strings.
bool string_map(const nlohmann::json& obj, const char* key,
                std::map<std::string, std::string>* out);

}  // namespace berth::json_read
