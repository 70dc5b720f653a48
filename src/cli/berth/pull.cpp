// pull.cpp - `berth pull [-q] [--platform P] NAME[:TAG|@DIGEST]`, with docker's output.
#include "images/pull.h"

#include <unistd.h>

#include <cstdio>

#include "cli/berth/context.h"
#include "cli/berth/progress.h"
#include "image/platform.h"
#include "image/reference.h"

namespace berth::cli {

namespace {

struct PullArgs {
  std::string name;
  std::string platform;
  bool quiet = false;
};

Status do_pull(Context& ctx, const PullArgs& a) {
  image::Reference named = TRY(image::parse_normalized_named(a.name));
  image::Reference ref = TRY(image::parse_reference(a.name));
  images::PullOptions o;
  if (!a.platform.empty()) o.platform = TRY(image::parse_platform(a.platform));
  o.client = TRY(ctx.client_options());
  images::Store* store = TRY(ctx.store());

  bool tty = !a.quiet && ::isatty(STDOUT_FILENO) == 1;
  LayerDisplay display(stdout, tty);
  if (!a.quiet) {
    if (named.tag.empty() && named.digest.empty()) std::printf("Using default tag: latest\n");
    std::string path = ref.familiar_name();
    // docker: "latest: Pulling from library/ubuntu" (the path as the registry knows it).
    std::printf("%s: Pulling from %s\n", (ref.digest.empty() ? ref.tag : ref.digest).c_str(),
                ref.path.c_str());
    std::fflush(stdout);
    o.on_layers = [&](const std::vector<std::string>& ids) { display.set_layers(ids); };
    o.on_progress = [&](const images::LayerProgressEvent& e) {
      display.update(e.digest, std::string(images::layer_state_text(e.state)), e.current, e.total);
    };
  }
  images::PullResult r = TRY(images::pull(*store, ref, o));
  display.finish();
  if (a.quiet) {
    std::printf("%s\n", r.name.c_str());
    return ok();
  }
  std::printf("Digest: %s\n", r.digest.c_str());
  std::printf("Status: %s for %s\n",
              r.downloaded ? "Downloaded newer image" : "Image is up to date",
              ref.familiar().c_str());
  std::printf("%s\n", r.name.c_str());
  return ok();
}

}  // namespace

Status pull_image(Context& ctx, const std::string& name, const std::string& platform, bool quiet) {
  return do_pull(ctx, PullArgs{.name = name, .platform = platform, .quiet = quiet});
}

void add_pull_commands(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<PullArgs>();
  auto* cmd = app.add_subcommand("pull", "Download an image from a registry");
  cmd->add_option("NAME", a->name, "NAME[:TAG|@DIGEST]")->required();
  cmd->add_flag("-q,--quiet", a->quiet, "Suppress verbose output");
  cmd->add_option("--platform", a->platform, "Set platform if server is multi-platform capable");
  cmd->callback([&ctx, a] { ctx.run([&] { return do_pull(ctx, *a); }); });
}

}  // namespace berth::cli
