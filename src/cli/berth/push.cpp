// push.cpp - `berth push`, `login`, `logout`: docker's options and output over
// images::push_image and registry::CredentialStore.
#include "images/push.h"

#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/berth/context.h"
#include "image/reference.h"

namespace berth::cli {
namespace {

// ---- push ------------------------------------------------------------------------------

// docker's progress bar: "[=====>        ]  1.2MB/3.4MB".
std::string progress_bar(uint64_t sent, uint64_t total) {
  constexpr int kWidth = 50;
  std::string bar;
  if (total > 0) {
    int n = static_cast<int>(static_cast<double>(std::min(sent, total)) / total * kWidth);
    bar = "[" + std::string(n, '=') + (n < kWidth ? ">" : "") +
          std::string(n < kWidth ? kWidth - n - 1 : 0, ' ') + "] ";
  }
  char sizes[64];
  std::snprintf(sizes, sizeof sizes, "%8s/%s",
                images::human_size(static_cast<int64_t>(sent)).c_str(),
                images::human_size(static_cast<int64_t>(total)).c_str());
  return bar + sizes;
}

// Draws the push like docker: on a terminal one line per layer, redrawn in place; elsewhere
// (logs, pipes) only each layer's final state, top layer first, as soon as it is known.
class PushView : public images::PushProgress {
 public:
  PushView(bool tty, bool quiet) : tty_(tty), quiet_(quiet) {}

  void repository(const std::string& name) override {
    if (!quiet_) std::printf("The push refers to repository [%s]\n", name.c_str());
    std::fflush(stdout);
  }
  void layers(const std::vector<std::string>& ids) override {
    ids_ = ids;
    text_.assign(ids.size(), "");
    final_.assign(ids.size(), false);
    drawn_.assign(ids.size(), {});
    printed_ = 0;
    if (tty_ && !quiet_) {
      for (const auto& id : ids_) std::printf("%s: Preparing\n", id.c_str());
      std::fflush(stdout);
    }
  }
  void update(const images::PushLayerUpdate& u) override {
    size_t i = index(u.id);
    if (i >= ids_.size() || final_[i]) return;
    std::string text = images::push_state_text(u.state, u.mounted_from);
    if (u.state == images::PushState::pushing) text += " " + progress_bar(u.sent, u.total);
    text_[i] = text;
    final_[i] = images::is_final(u.state);
    if (quiet_) return;
    if (tty_) return redraw(i, u.state == images::PushState::pushing);
    while (printed_ < ids_.size() && final_[printed_]) {
      std::printf("%s: %s\n", ids_[printed_].c_str(), text_[printed_].c_str());
      ++printed_;
    }
    std::fflush(stdout);
  }
  void tag_done(const images::PushedTag& t) override {
    if (quiet_) return;
    std::printf("%s: digest: %s size: %lld\n", t.tag.c_str(), t.digest.c_str(),
                static_cast<long long>(t.size));
    std::fflush(stdout);
  }

 private:
  size_t index(const std::string& id) const {
    size_t i = 0;
    while (i < ids_.size() && ids_[i] != id) ++i;
    return i;
  }
  // Rewrites line i in place: up to it, clear it, print, back down (the cursor rests below
  // the last line). Byte counts are redrawn at most ten times a second per line.
  void redraw(size_t i, bool throttle) {
    auto now = std::chrono::steady_clock::now();
    if (throttle && now - drawn_[i] < std::chrono::milliseconds(100)) return;
    drawn_[i] = now;
    int up = static_cast<int>(ids_.size() - i);
    std::printf("\x1b[%dA\r\x1b[2K%s: %s\x1b[%dB\r", up, ids_[i].c_str(), text_[i].c_str(), up);
    std::fflush(stdout);
  }

  bool tty_, quiet_;
  std::vector<std::string> ids_, text_;
  std::vector<bool> final_;
  std::vector<std::chrono::steady_clock::time_point> drawn_;
  size_t printed_ = 0;
};

struct PushArgs {
  std::string name;
  bool quiet = false;
  bool all_tags = false;
};

Status do_push(Context& ctx, const PushArgs& a) {
  images::PushRequest req;
  req.name = a.name;
  req.all_tags = a.all_tags;
  req.chunk_size = TRY(images::chunk_size_from_env());
  image::Reference ref = TRY(image::parse_normalized_named(a.name));
  if (!a.all_tags && ref.tag.empty() && ref.digest.empty() && !a.quiet)
    std::printf("Using default tag: %s\n", std::string(image::kDefaultTag).c_str());
  images::Store* store = TRY(ctx.store());
  registry::ClientOptions opts = TRY(ctx.client_options());
  PushView view(::isatty(STDOUT_FILENO) == 1, a.quiet);
  auto pushed = TRY(images::push_image(*store, req, opts, &view));
  if (a.quiet) {
    // docker -q prints the reference it pushed: with its tag, or the name alone for -a.
    std::printf("%s\n", a.all_tags ? ref.name().c_str() : pushed.front().name.c_str());
  }
  return ok();
}

void add_push(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<PushArgs>();
  auto* cmd = app.add_subcommand("push", "Upload an image to a registry");
  cmd->add_option("NAME", a->name, "NAME[:TAG]")->required();
  cmd->add_flag("-q,--quiet", a->quiet, "Suppress verbose output");
  cmd->add_flag("-a,--all-tags", a->all_tags, "Push all tags of an image to the repository");
  cmd->callback([&ctx, a] { ctx.run([&] { return do_push(ctx, *a); }); });
}

// ---- login / logout --------------------------------------------------------------------

struct LoginArgs {
  std::string server, username, password;
  bool password_stdin = false;
};

// What SERVER names: the registry to talk to, and how messages show it. No SERVER is
// Docker Hub, which docker shows by its credential key.
struct Server {
  std::string registry;  // "docker.io", "localhost:5000"
  std::string display;   // "https://index.docker.io/v1/", "localhost:5000"
};

Server server_of(const std::string& arg) {
  if (arg.empty()) return {"docker.io", registry::credential_key("docker.io")};
  std::string host = registry::key_hostname(arg);  // "https://h:5000/v2/" -> "h:5000"
  if (host == "index.docker.io") return {"docker.io", registry::credential_key("docker.io")};
  return {host, host};
}

// A line from stdin, without its newline; echo off for passwords (restored on return).
std::string prompt(const char* what, bool echo) {
  std::printf("%s", what);
  std::fflush(stdout);
  struct termios saved {};
  bool restore = !echo && ::tcgetattr(STDIN_FILENO, &saved) == 0;
  if (restore) {
    struct termios t = saved;
    t.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &t);
  }
  std::string line;
  std::getline(std::cin, line);
  if (restore) {
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    std::printf("\n");
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// The password given with --password-stdin: all of stdin, trailing newlines dropped.
std::string read_stdin_password() {
  std::string s((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// Asks the registry whether auth is good (GET /v2/ with it).
Status check_login(Context& ctx, const Server& s, const registry::AuthConfig& auth) {
  registry::ClientOptions o = TRY(ctx.client_options());
  o.credentials = nullptr;
  o.auth = auth;
  auto client = TRY(registry::Client::create(s.registry, o));
  if (Status st = client->login(); !st) {
    return Error::invalid("login to " + s.display + ": " + st.error().message());
  }
  return ok();
}

// Fills in what the command line left out: docker prompts on a terminal, and refuses
// elsewhere rather than wait on a pipe.
Status ask_missing(LoginArgs& a, const std::optional<registry::AuthConfig>& stored) {
  bool tty = ::isatty(STDIN_FILENO) == 1;
  if ((a.username.empty() || a.password.empty()) && !tty)
    return Error::invalid("Cannot perform an interactive login from a non TTY device");
  if (a.username.empty()) {
    std::string def = stored ? stored->username : "";
    a.username = prompt(def.empty() ? "Username: " : ("Username (" + def + "): ").c_str(), true);
    if (a.username.empty()) a.username = def;
    if (a.username.empty()) return Error::invalid("Non-null Username Required");
  }
  if (a.password.empty()) {
    a.password = prompt("Password: ", false);
    if (a.password.empty()) return Error::invalid("Password Required");
  }
  return ok();
}

Status do_login(Context& ctx, LoginArgs a) {
  if (!a.password.empty()) {
    std::fprintf(stderr,
                 "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n");
    if (a.password_stdin)
      return Error::invalid("--password and --password-stdin are mutually exclusive");
  }
  if (a.password_stdin) {
    if (a.username.empty()) return Error::invalid("Must provide --username with --password-stdin");
    a.password = read_stdin_password();
  }
  Server s = server_of(a.server);
  // strict: a config.json that cannot be read is an error here, not an empty config that
  // the new credentials would then overwrite.
  registry::CredentialStore* creds = TRY(ctx.credentials(registry::CredentialStore::Mode::strict));
  std::optional<registry::AuthConfig> stored = TRY(creds->get(s.registry));

  if (a.username.empty() && a.password.empty() && stored && !stored->empty()) {
    std::printf("Authenticating with existing credentials...\n");
    std::fflush(stdout);
    Status st = check_login(ctx, s, *stored);
    if (st) {
      std::printf("Login Succeeded\n");
      return ok();
    }
    std::fprintf(stderr, "Login did not succeed, error: %s\n", st.error().message().c_str());
  }
  TRY(ask_missing(a, stored));
  registry::AuthConfig auth{.username = a.username, .password = a.password};
  TRY(check_login(ctx, s, auth));
  TRY(creds->store(s.registry, auth));
  if (creds->helper_for(s.registry).empty()) {
    std::fprintf(stderr,
                 "WARNING! Your credentials are stored unencrypted in '%s'.\n"
                 "Configure a credential helper to remove this warning. See\n"
                 "https://docs.docker.com/go/credential-store/\n\n",
                 creds->config_path().c_str());
  }
  std::printf("Login Succeeded\n");
  return ok();
}

void add_login(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<LoginArgs>();
  auto* cmd = app.add_subcommand("login", "Log in to a registry");
  cmd->add_option("SERVER", a->server, "registry (default: Docker Hub)");
  cmd->add_option("-u,--username", a->username, "Username");
  cmd->add_option("-p,--password", a->password, "Password");
  cmd->add_flag("--password-stdin", a->password_stdin, "Take the password from stdin");
  cmd->callback([&ctx, a] { ctx.run([&] { return do_login(ctx, *a); }); });
}

Status do_logout(Context& ctx, const std::string& server) {
  Server s = server_of(server);
  registry::CredentialStore* creds = TRY(ctx.credentials(registry::CredentialStore::Mode::strict));
  bool removed = TRY(creds->erase(s.registry));
  if (removed) {
    std::printf("Removing login credentials for %s\n", s.display.c_str());
  } else {
    std::printf("Not logged in to %s\n", s.display.c_str());
  }
  return ok();
}

void add_logout(CLI::App& app, Context& ctx) {
  auto server = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("logout", "Log out from a registry");
  cmd->add_option("SERVER", *server, "registry (default: Docker Hub)");
  cmd->callback([&ctx, server] { ctx.run([&] { return do_logout(ctx, *server); }); });
}

}  // namespace

void add_push_commands(CLI::App& app, Context& ctx) {
  add_push(app, ctx);
  add_login(app, ctx);
  add_logout(app, ctx);
}

}  // namespace berth::cli
