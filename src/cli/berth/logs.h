// logs.h - `berth logs`: a container's json-file log (docs/monitor.md) read back as docker
// prints it.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/berth/context.h"

namespace berth::cli {

void add_logs(CLI::App* parent, Context& ctx);

}  // namespace berth::cli
