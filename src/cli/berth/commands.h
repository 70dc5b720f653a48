// commands.h - which command groups a command line needs. Building every group's CLI11
// subcommands (about a hundred commands and their options) costs ~1 ms of every berth
// command; main builds only the groups that add something under the command's first word,
// and all of them when that word is missing or unknown (help, errors, completion).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace CLI {
class App;
}

namespace berth::cli {

class Context;

struct CommandGroup {
  const char* name;
  void (*add)(CLI::App&, Context&);
};

// Every group, in the order their commands appear in `berth --help`.
const std::vector<CommandGroup>& command_groups();
// The top-level words each group registers (or adds subcommands under): group index -> words.
const std::vector<std::vector<std::string_view>>& group_words();
// The first word of a berth command line that is not a global option or its value; "" when
// there is none.
std::string command_word(int argc, const char* const* argv);
// Registers the groups command_word needs, or every group.
void add_commands(CLI::App& app, Context& ctx, std::string_view word);

}  // namespace berth::cli
