// globals.h - the options every berth command takes, and where they point by default.
#pragma once

#include <string>
#include <vector>

namespace berth::cli {

struct GlobalOptions {
  std::string root;     // the store: images, layers, containers (--root)
  std::string runroot;  // runtime state (--runroot)
  std::string config;   // client config: credentials (--config)
  bool debug = false;
  bool rootless = false;
  std::vector<std::string> cdi_spec_dirs;  // --cdi-spec-dir, repeatable
};

// Defaults like docker's for root, per-user (XDG) for everyone else.
GlobalOptions default_globals();

// berth's own errors exit 125, like docker's.
constexpr int kExitBerthError = 125;

}  // namespace berth::cli
