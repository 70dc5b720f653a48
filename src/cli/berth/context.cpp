#include "cli/berth/context.h"

#include <cstdio>
#include <cstdlib>

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

void Context::run(const std::function<Status()>& body) {
  Status st = body();
  if (st) return;
  std::fprintf(stderr, "Error: %s\n",
               (g_.debug ? st.error().trail() : st.error().message()).c_str());
  exit_code_ = kExitBerthError;
}

}  // namespace berth::cli
