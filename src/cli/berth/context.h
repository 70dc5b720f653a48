// context.h - what every berth command gets: the global options, the image store (opened on
// first use), registry client options with the user's credentials, and one way to report an
// error. Each command group lives in its own file and registers its verbs here.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/error.h"
#include "cli/berth/globals.h"
#include "images/store.h"
#include "registry/client.h"
#include "registry/credentials.h"

namespace berth::cli {

class Context {
 public:
  // g: bound to the command line's options; read when a command runs.
  explicit Context(GlobalOptions& g) : g_(g) {}

  const GlobalOptions& globals() const { return g_; }

  // The store at --root, opened once.
  Result<images::Store*> store();
  // docker's config dir (--config): credentials read leniently (a broken config.json is
  // reported only when credentials are needed).
  Result<registry::CredentialStore*> credentials(
      registry::CredentialStore::Mode mode = registry::CredentialStore::Mode::soft);
  // Client options for pulls and pushes: credentials, certs.d under /etc/docker and --config,
  // BERTH_INSECURE_REGISTRIES (comma-separated host[:port]) as docker's insecure-registries.
  Result<registry::ClientOptions> client_options();

  // Runs a command body: an error is printed as "Error: <message>" (the full trail with
  // --debug) and the exit status becomes 125; a body may set another status itself.
  void run(const std::function<Status()>& body);
  int exit_code() const { return exit_code_; }
  void set_exit_code(int code) { exit_code_ = code; }

 private:
  GlobalOptions& g_;
  std::unique_ptr<images::Store> store_;
  std::optional<registry::CredentialStore> creds_;
  registry::CredentialStore::Mode creds_mode_ = registry::CredentialStore::Mode::soft;
  int exit_code_ = 0;
};

// Command groups (one file each).
void add_pull_commands(CLI::App& app, Context& ctx);     // pull.cpp: pull
void add_push_commands(CLI::App& app, Context& ctx);     // push.cpp: push, login, logout
void add_image_commands(CLI::App& app, Context& ctx);    // images.cpp: images, image ..., tag,
                                                         // rmi, inspect, history, system df
void add_archive_commands(CLI::App& app, Context& ctx);  // archive.cpp: save, load, import

}  // namespace berth::cli
