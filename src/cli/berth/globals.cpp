#include "cli/berth/globals.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

#include "sys/ns.h"

namespace berth::cli {
namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

std::string home_dir() {
  if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0') return h;
  struct passwd* pw = ::getpwuid(::geteuid());
  return pw != nullptr ? pw->pw_dir : "/";
}

}  // namespace

GlobalOptions default_globals() {
  GlobalOptions g;
  g.rootless = sys::rootless();
  std::string home = home_dir();
  g.config = env_or("DOCKER_CONFIG", home + "/.docker");
  if (!g.rootless) {
    g.root = "/var/lib/berth";
    g.runroot = "/run/berth";
    return g;
  }
  g.root = env_or("XDG_DATA_HOME", home + "/.local/share") + "/berth";
  g.runroot = env_or("XDG_RUNTIME_DIR", "/tmp/berth-run-" + std::to_string(::geteuid())) + "/berth";
  return g;
}

}  // namespace berth::cli
