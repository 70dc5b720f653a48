#include "cli/berth/context.h"

#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <unistd.h>

#include "base/strings.h"

namespace berth::cli {

Result<images::Store*> Context::store() {
  if (!store_) store_ = TRY(images::Store::open(g_.root));
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
    char self[4096];
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return sys_error("readlink", "/proc/self/exe");
    o.berth_exe.assign(self, static_cast<size_t>(n));
    o.monitor_exe = o.berth_exe.substr(0, o.berth_exe.rfind('/') + 1) + "berth-monitor";
    if (const char* m = std::getenv("BERTH_MONITOR")) o.monitor_exe = m;
    o.init_exe = o.berth_exe.substr(0, o.berth_exe.rfind('/') + 1) + "berth-init";
    o.berth_global_args = {"--root", g_.root, "--runroot", g_.runroot, "--config", g_.config};
    if (g_.debug) o.berth_global_args.push_back("--debug");
    engine_ = std::make_unique<containers::Engine>(*s, std::move(o));
  }
  return engine_.get();
}

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

}  // namespace berth::cli
