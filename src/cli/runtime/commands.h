// commands.h - berth-runtime's verbs (runc's command line), one registration per group.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "runtime/runtime.h"

namespace berth::cli {

struct Globals {
  std::string root = "/run/berth-runtime";
  std::string log_file;
  std::string log_format = "text";
  bool debug = false;
  bool systemd_cgroup = false;
  std::string rootless = "auto";
};

// A verb's action: returns the process exit status. Errors are reported by main.
using Action = std::function<Result<int>(runtime::Runtime&)>;

void add_lifecycle_commands(CLI::App& app,
                            Action& action);  // create start run kill delete pause resume
void add_query_commands(CLI::App& app, Action& action,
                        const Globals& g);  // state list ps spec features
void add_exec_command(CLI::App& app, Action& action);
void add_update_command(CLI::App& app, Action& action);

}  // namespace berth::cli
