// commit_cp.cpp - commit, export and cp (being written).
#include "cli/berth/context.h"

namespace berth::cli {

void add_commit_cp_commands(CLI::App& app, Context& ctx) {
  (void)app;
  (void)ctx;
}

}  // namespace berth::cli
