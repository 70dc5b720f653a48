// time.h - timestamps as docker and the OCI tools write them.
#pragma once

#include <string>

namespace berth {

// "2026-11-24T14:06:25.376707453Z": UTC, nanoseconds.
std::string now_rfc3339();

}  // namespace berth
