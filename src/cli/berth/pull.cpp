#include "cli/berth/context.h"

namespace berth::cli {

void add_pull_commands(CLI::App& app, Context& ctx) {
  (void)app;
  (void)ctx;
}

}  // namespace berth::cli
