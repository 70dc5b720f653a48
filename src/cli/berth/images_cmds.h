// images_cmds.h - internal to the berth CLI: what images.cpp (images, tag, rmi, prune) and
// images_show.cpp (inspect, history, system df) share.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "cli/berth/context.h"
#include "images/remove.h"

namespace berth::cli {

// HOOK for the containers issue: the containers created from an image (none yet).
Result<std::vector<images::ContainerUse>> containers_using_image(const std::string& image_id);

// The subcommand NAME of parent (`image`, `system`), created when no other file made it yet.
CLI::App* subcommand(CLI::App& parent, const std::string& name, const std::string& help);
// "Error: MESSAGE" on stderr (the trail with --debug); the exit status becomes code.
void print_error(Context& ctx, const Error& e, int code);
int64_t now_unix();

// generic: `inspect` (any kind of object, --type), else `image inspect`.
void add_inspect(CLI::App* sub, Context& ctx, bool generic);
void add_history(CLI::App* sub, Context& ctx);
void add_df(CLI::App* sub, Context& ctx);

}  // namespace berth::cli
