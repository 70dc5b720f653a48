#include "cli/berth/context.h"

#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <unistd.h>

#include "base/file.h"
#include "base/strings.h"
#include "gpu/cdi.h"
#include "runtime/rootless.h"
#include "sys/process.h"

#include <nlohmann/json.hpp>

namespace berth::cli {

std::string Context::monitor_exe() const {
  if (const char* m = std::getenv("BERTH_MONITOR")) return m;
  return sys::sibling_exe("berth-monitor").value_or("berth-monitor");
}

Result<images::Store*> Context::store() {
  if (!store_) {
    // An ordinary user's berth works inside its own user and mount namespace
    // (docs/rootless.md); this is the first thing every store-using command does.
    TRY_CTX(runtime::enter_rootless_namespace(g_.runroot, monitor_exe()), "rootless mode");
    store_ = TRY(images::Store::open(g_.root));
  }
  return store_.get();
}

Result<registry::CredentialStore*> Context::credentials(registry::CredentialStore::Mode mode) {
  if (!creds_ || (mode == registry::CredentialStore::Mode::strict &&
                  creds_mode_ != registry::CredentialStore::Mode::strict)) {
    creds_ = TRY(registry::CredentialStore::open(g_.config, mode));
    creds_mode_ = mode;
  }
  return &*creds_;
}

Result<registry::ClientOptions> Context::client_options() {
  registry::ClientOptions o;
  o.credentials = TRY(credentials());
  o.certs_dirs = registry::default_certs_dirs(g_.config);
  if (const char* v = std::getenv("BERTH_INSECURE_REGISTRIES"); v != nullptr) {
    for (auto& r : split(v, ',')) {
      if (!r.empty()) o.insecure_registries.push_back(std::string(r));
    }
  }
  return o;
}

Result<containers::Engine*> Context::engine() {
  if (!engine_) {
    images::Store* s = TRY(store());
    containers::EngineOptions o;
    o.runroot = g_.runroot;
    o.berth_exe = TRY(sys::self_exe());
    o.monitor_exe = monitor_exe();
    o.init_exe = o.berth_exe.substr(0, o.berth_exe.rfind('/') + 1) + "berth-init";
    o.berth_global_args = {"--root", g_.root, "--runroot", g_.runroot, "--config", g_.config};
    for (const auto& d : g_.cdi_spec_dirs) o.berth_global_args.insert(o.berth_global_args.end(), {"--cdi-spec-dir", d});
    o.gpu_roots = gpu_roots();
    o.cdi_spec_dirs = cdi_spec_dirs();
    o.runtime_exe = TRY(runtime_exe());
    if (g_.debug) o.berth_global_args.push_back("--debug");
    engine_ = std::make_unique<containers::Engine>(*s, std::move(o));
  }
  return engine_.get();
}

// The config file's GPU keys (CONFIG/berth.json): "nvidia-driver-root", "nvidia-dev-root",
// "nvidia-proc-root", "nvidia-sys-root" and "cdi-spec-dirs". A file that does not parse is
// reported once and ignored.
void Context::load_gpu_config() {
  gpu::HostRoots base;
  std::vector<std::string> dirs;
  std::string path = path_join(g_.config, "berth.json");
  if (auto text = read_file(path, 1 << 20)) {
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      std::fprintf(stderr, "WARNING: %s is not a JSON object: ignored\n", path.c_str());
    } else {
      auto str = [&](const char* key, std::string& out) {
        if (j.contains(key) && j[key].is_string()) out = j[key].get<std::string>();
      };
      str("nvidia-driver-root", base.driver);
      str("nvidia-dev-root", base.dev);
      str("nvidia-proc-root", base.proc);
      str("nvidia-sys-root", base.sys);
      if (j.contains("cdi-spec-dirs") && j["cdi-spec-dirs"].is_array())
        for (const auto& d : j["cdi-spec-dirs"])
          if (d.is_string()) dirs.push_back(d.get<std::string>());
    }
  }
  gpu_roots_ = gpu::roots_from_env(base);
  if (const char* r = std::getenv("BERTH_NVIDIA_RUN_ROOT"); r && *r) gpu_roots_->run = r;
  cdi_dirs_ = !g_.cdi_spec_dirs.empty() ? g_.cdi_spec_dirs
              : !dirs.empty()           ? dirs
                                        : gpu::cdi::default_spec_dirs();
}

const gpu::HostRoots& Context::gpu_roots() {
  if (!gpu_roots_) load_gpu_config();
  return *gpu_roots_;
}

const std::vector<std::string>& Context::cdi_spec_dirs() {
  if (!gpu_roots_) load_gpu_config();
  return cdi_dirs_;
}

Result<std::string> Context::runtime_exe() { return sys::sibling_exe("berth-runtime"); }

std::vector<std::string>& command_line() {
  static std::vector<std::string> args;
  return args;
}

Status check_no_unknown_flags(const std::string& anchor, const std::vector<std::string>& rest) {
  if (rest.empty() || rest.front().empty() || rest.front()[0] != '-') return ok();
  const auto& all = command_line();
  auto a = std::find(all.begin(), all.end(), anchor);
  auto f = std::find(all.begin(), all.end(), rest.front());
  if (f < a) return Error::invalid("unknown flag: " + rest.front() + "\nSee 'berth run --help'.");
  return ok();
}

void Context::run(const std::function<Status()>& body) {
  Status st = body();
  if (st) return;
  std::fprintf(stderr, "Error: %s\n",
               (g_.debug ? st.error().trail() : st.error().message()).c_str());
  exit_code_ = kExitBerthError;
}

bool confirm(const std::string& warning) {
  std::printf("%s\nAre you sure you want to continue? [y/N] ", warning.c_str());
  std::fflush(stdout);
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  std::string a(trim(answer));
  return a == "y" || a == "Y" || a == "yes" || a == "Yes" || a == "YES";
}

}  // namespace berth::cli
