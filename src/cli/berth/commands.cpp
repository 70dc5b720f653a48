#include "cli/berth/commands.h"

#include <CLI/CLI.hpp>

#include "cli/berth/context.h"

namespace berth::cli {

const std::vector<CommandGroup>& command_groups() {
  static const std::vector<CommandGroup> groups = {
      {"pull", add_pull_commands},
      {"push", add_push_commands},
      {"image", add_image_commands},
      {"archive", add_archive_commands},
      {"run", add_run_commands},
      {"container", add_container_commands},
      {"container_show", add_container_show_commands},
      {"commit_cp", add_commit_cp_commands},
      {"volume_network", add_volume_network_commands},
      {"build", add_build_commands},
      {"gpu", add_gpu_commands},
  };
  return groups;
}

// Kept in step with the groups by commands_test (it builds each group alone and compares).
const std::vector<std::vector<std::string_view>>& group_words() {
  static const std::vector<std::vector<std::string_view>> words = {
      /* pull */ {"pull"},
      /* push */ {"push", "login", "logout"},
      /* image */ {"images", "image", "tag", "rmi", "inspect", "history", "system"},
      /* archive */ {"save", "load", "import"},
      /* run */ {"run", "create", "container"},
      /* container */ {"attach", "container", "exec", "kill", "logs", "pause", "rename", "restart",
                       "rm", "start", "stop", "unpause", "wait"},
      /* container_show */ {"container", "port", "ps", "stats", "top"},
      /* commit_cp */ {"commit", "container", "cp", "export"},
      /* volume_network */ {"volume", "network", "system"},
      /* build */ {"build", "builder", "image"},
      /* gpu */ {"gpu"},
  };
  return words;
}

std::string command_word(int argc, const char* const* argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--") return i + 1 < argc ? argv[i + 1] : "";
    if (a == "--root" || a == "--runroot" || a == "--config" || a == "--cdi-spec-dir") {
      ++i;  // its value
      continue;
    }
    if (!a.empty() && a[0] == '-') continue;  // --root=X, -D, --debug, -h, ...
    return std::string(a);
  }
  return "";
}

void add_commands(CLI::App& app, Context& ctx, std::string_view word) {
  const auto& groups = command_groups();
  const auto& words = group_words();
  std::vector<bool> need(groups.size(), false);
  bool found = false;
  for (size_t g = 0; g < groups.size(); ++g)
    for (std::string_view w : words[g])
      if (w == word) need[g] = found = true;
  for (size_t g = 0; g < groups.size(); ++g)
    if (!found || need[g]) groups[g].add(app, ctx);
}

}  // namespace berth::cli
