// strings.h - small string helpers used across berth.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth {

std::vector<std::string> split(std::string_view s, char sep);
std::string_view trim(std::string_view s);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
bool starts_with(std::string_view s, std::string_view prefix);
// Parses a whole string as a base-10 integer; nullopt on any junk or overflow.
std::optional<int64_t> parse_int(std::string_view s);
std::optional<uint64_t> parse_uint(std::string_view s);
// n random lowercase hex digits (std::random_device): container, network and volume ids.
std::string random_hex(size_t n);

}  // namespace berth
