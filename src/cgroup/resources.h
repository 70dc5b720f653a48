// resources.h - applying linux.resources to one cgroup directory (internal to berth_cgroup).
//
// v1_* write a v1 hierarchy's files, v2_* the unified hierarchy's. Each writes only the
// fields that are set, in the order runc uses, and names file and value when a write fails.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/error.h"
#include "oci/spec.h"

namespace berth::cgroup::detail {

// True when r.cpu sets anything for the cpu controller (not cpuset).
bool cpu_fields_set(const oci::Cpu& c);

Status v1_memory(const std::string& dir, const oci::Memory& m);
Status v1_cpu(const std::string& dir, const oci::Cpu& c);
Status v1_blkio(const std::string& dir, const oci::BlockIo& b);
Status v1_hugetlb(const std::string& dir, const std::vector<oci::HugepageLimit>& limits);
Status v1_devices(const std::string& dir, const std::vector<oci::DeviceCgroup>& rules);

Status v2_memory(const std::string& dir, const oci::Memory& m);
Status v2_cpu(const std::string& dir, const oci::Cpu& c);
Status v2_io(const std::string& dir, const oci::BlockIo& b);
Status v2_hugetlb(const std::string& dir, const std::vector<oci::HugepageLimit>& limits);
Status v2_unified(const std::string& dir, const std::map<std::string, std::string>& files);

// Same file names on v1 and v2.
Status cpuset(const std::string& dir, const oci::Cpu& c);
Status pids_max(const std::string& dir, const oci::Pids& p);

// "2MB" and the like; rejects anything that is not digits followed by letters.
Status validate_page_size(const std::string& size);

}  // namespace berth::cgroup::detail
