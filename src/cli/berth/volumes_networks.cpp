// volumes_networks.cpp - volume and network commands, system reset (being written).
#include "cli/berth/context.h"

namespace berth::cli {

void add_volume_network_commands(CLI::App& app, Context& ctx) {
  (void)app;
  (void)ctx;
}

}  // namespace berth::cli
