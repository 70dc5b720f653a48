// fs.h - reading and writing cgroupfs files (internal to berth_cgroup).
//
// Every failure names the file, and writes name the value too:
// "write 1000 to /sys/fs/cgroup/memory/x/memory.limit_in_bytes: Device or resource busy".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"

namespace berth::cgroup::detail {

// Writes value to dir/file (O_WRONLY|O_TRUNC, one write, retried on EINTR).
Status write_value(const std::string& dir, std::string_view file, std::string_view value);
// Reads dir/file, trailing whitespace trimmed.
Result<std::string> read_value(const std::string& dir, std::string_view file);
// Reads a single unsigned number; "max" reads as nullopt.
Result<std::optional<uint64_t>> read_limit(const std::string& dir, std::string_view file);
Result<uint64_t> read_uint(const std::string& dir, std::string_view file);
// Reads "key value" lines (memory.stat, cpu.stat, cgroup.events).
Result<std::map<std::string, uint64_t>> read_keyed(const std::string& dir, std::string_view file);
bool has_file(const std::string& dir, std::string_view file);

}  // namespace berth::cgroup::detail
